"""The command line: bundled examples run by name, JSON keys users script against, listings."""

import json
import subprocess
import sys


def cli(*args, cwd=None):
    p = subprocess.run([sys.executable, "-m", "simmcu", *args], capture_output=True, text=True, cwd=cwd)
    return p.returncode, p.stdout, p.stderr


def test_run_bundled_example_writes_json(tmp_path):
    out = tmp_path / "r.json"
    rc, stdout, _ = cli("run", "conv2d", "--core", "cortex-m4", "--json", str(out))
    assert rc == 0
    assert "checksum" in stdout and "firmware exited with code 0" in stdout
    d = json.loads(out.read_text())
    for key in ("exit_code", "exit_reason", "instructions", "cycles", "core", "board", "message", "console",
                "fault", "interrupts", "clock_hz", "seconds", "elf"):
        assert key in d
    assert (d["exit_code"], d["exit_reason"], d["core"], d["board"]) == (0, "exit", "cortex-m4", "generic-cortex-m")
    assert d["cycles"] >= d["instructions"] > 0


def test_fault_json_names_pc_symbol_address(tmp_path):
    rc, stdout, stderr = cli("run", "fault", "--core", "rv32imc", "--json", "-", "--quiet")
    d = json.loads(stdout)
    assert rc == d["exit_code"] == 121
    assert d["fault"]["address"] == 0x60000000 and d["fault"]["pc_symbol"].startswith("read_sensor+")
    assert d["fault"]["access"] == "read"


def test_json_is_deterministic_apart_from_wall_time():
    runs = []
    for _ in range(2):
        _, stdout, _ = cli("run", "hello", "--core", "rv32imc", "--json", "-", "--quiet")
        d = json.loads(stdout)
        d.pop("wall_seconds")
        runs.append(d)
    assert runs[0] == runs[1]


def test_listings():
    rc, out, _ = cli("cores")
    assert rc == 0 and all(c in out for c in ("rv32imc", "cortex-m0plus", "cortex-m33"))
    rc, out, _ = cli("boards", "--params")
    assert rc == 0 and "generic-rv32" in out and "clock_hz" in out and "wait_states" in out


def test_build_then_run(tmp_path):
    elf = tmp_path / "h.elf"
    rc, out, err = cli("build", "hello", "--core", "cortex-m0plus", "-o", str(elf))
    assert rc == 0 and elf.exists(), err
    rc, out, _ = cli("run", str(elf), "--core", "cortex-m0plus")
    assert rc == 0 and "Hello from simmcu on cortex-m0plus!" in out


def test_docs_list_every_board_parameter():
    from pathlib import Path

    from simmcu._board import BOARD_PARAMS, REGION_PARAMS

    text = (Path(__file__).parent.parent / "docs" / "boards.md").read_text()
    for name in (*BOARD_PARAMS, *REGION_PARAMS):
        assert f"`{name}`" in text


def test_closed_stdout_keeps_the_run_and_its_exit_code():
    """`simmcu run ... | head -c 1`: no traceback, and simmcu still returns the firmware's code."""
    p = subprocess.run(["bash", "-c", f"set -o pipefail; '{sys.executable}' -m simmcu run fault --core rv32imc"
                        " | head -c 1 > /dev/null"], capture_output=True, text=True)
    assert p.returncode == 121
    assert "Traceback" not in p.stderr and "BrokenPipe" not in p.stderr
