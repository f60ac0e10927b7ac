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


def test_docs_tables_show_board_defaults_and_units_as_the_listing_prints_them():
    """`simmcu boards --params` and docs/boards.md: the same default (hex addresses, KiB sizes, bare strings)."""
    import re
    from pathlib import Path

    from simmcu._board import BOARD_PARAMS, REGION_PARAMS
    from simmcu._params import describe

    text = (Path(__file__).parent.parent / "docs" / "boards.md").read_text()
    rows = {name: (default.strip().strip("`"), unit.strip()) for name, default, unit in
            re.findall(r"^\| `(\w+)` \|([^|]*)\|([^|]*)\|", text, re.M)}
    for name, default, unit, _ in (*describe(BOARD_PARAMS), *describe(REGION_PARAMS)):
        assert rows[name] == (default, unit), name
    _, out, _ = cli("boards", "--params")
    assert re.search(r"stack_bytes +default 8 KiB +bytes", out) and re.search(r"clint_base +default 0x2000000 ", out)


def test_closed_stdout_keeps_the_run_and_its_exit_code():
    """`simmcu run ... | head -c 1`: no traceback, and simmcu still returns the firmware's code."""
    p = subprocess.run(["bash", "-c", f"set -o pipefail; '{sys.executable}' -m simmcu run fault --core rv32imc"
                        " | head -c 1 > /dev/null"], capture_output=True, text=True)
    assert p.returncode == 121
    assert "Traceback" not in p.stderr and "BrokenPipe" not in p.stderr


def test_profile_outputs_agree_with_each_other_and_the_totals(tmp_path):
    """JSON functions, the CSV and the folded stacks are three views of one call tree."""
    import csv

    paths = {k: tmp_path / k for k in ("r.json", "p.csv", "f.txt")}
    rc, out, _ = cli("run", "conv2d", "--core", "cortex-m4", "--json", str(paths["r.json"]),
                     "--profile-csv", str(paths["p.csv"]), "--folded", str(paths["f.txt"]), "--top", "3")
    assert rc == 0
    d = json.loads(paths["r.json"].read_text())
    rows = list(csv.DictReader(paths["p.csv"].open()))
    assert [r["name"] for r in rows] == [f["name"] for f in d["functions"]]
    assert all(int(r["cycles_exclusive"]) == f["cycles_exclusive"] for r, f in zip(rows, d["functions"]))
    assert sum(int(r["cycles_exclusive"]) for r in rows) == d["cycles"]
    folded = [line.rsplit(" ", 1) for line in paths["f.txt"].read_text().splitlines()]
    assert sum(int(c) for _, c in folded) == d["cycles"]
    kernel = [int(c) for path, c in folded if path.endswith(";main;conv2d_3x3")]
    assert kernel == [d["functions"][0]["cycles_exclusive"]] and d["functions"][0]["name"] == "conv2d_3x3"
    table = out[out.index("cycles incl"):].splitlines()[1:4]  # --top 3
    assert [line.split()[0] for line in table] == [f["name"] for f in d["functions"][:3]]
    assert f"{d['cycles']:,}" in out and f"CPI {d['cpi']:.3f}" in out
    assert f"stack peak {d['memory']['stack_peak_bytes']:,} B" in out


def test_only_one_output_on_stdout_and_the_rest_on_stderr():
    rc, _, err = cli("run", "hello", "--json", "-", "--folded", "-")
    assert rc == 2 and "only one of" in err
    rc, out, err = cli("run", "hello", "--core", "cortex-m0plus", "--folded", "-")
    assert rc == 0 and "Hello from simmcu" in err and "cycles" in err
    assert all(line.rsplit(" ", 1)[1].isdigit() for line in out.splitlines())


def test_check_timing_and_a_user_timing_profile(tmp_path):
    rc, out, _ = cli("run", "hello", "--core", "cortex-m4", "--check-timing", "--quiet")
    assert rc == 0 and "native model agrees with the reference model" in out
    from simmcu import load_profile

    base = json.loads(cli("run", "hello", "--core", "cortex-m4", "--json", "-", "--quiet")[1])
    mine = tmp_path / "slow-loads.toml"
    mine.write_text('name = "slow-loads"\nisa = "thumb"\nsources = ["test"]\n[cycles]\nload = 5\n'
                    f"[taken]\nbranch = {load_profile('cortex-m4').taken['branch']}\n")
    rc, out, err = cli("run", "hello", "--core", "cortex-m4", "--timing", str(mine), "--json", "-", "--quiet")
    d = json.loads(out)
    assert rc == 0 and d["timing"] == "slow-loads" and d["instructions"] == base["instructions"]
    assert d["cycles"] != base["cycles"] and d["stalls"]["memory"] > base["stalls"]["memory"]
    rc, _, err = cli("run", "hello", "--core", "rv32imc", "--timing", str(mine))
    assert rc == 120 and "is for thumb" in err


def test_cores_lists_timing_profiles_with_their_options():
    from simmcu import bundled_profiles

    rc, out, _ = cli("cores", "--timing")
    assert rc == 0 and "option barrel_shifter" in out and "not modeled:" in out
    assert all(f"timing profile {p}:" in out for p in bundled_profiles())


def test_docs_list_every_json_key():
    from pathlib import Path

    text = (Path(__file__).parent.parent / "docs" / "json.md").read_text()
    d = json.loads(cli("run", "hello", "--json", "-", "--quiet")[1])
    keys = [*d, *(f"memory.{k}" for k in d["memory"]), *(f"stalls.{k}" for k in d["stalls"]),
            *(f"functions[].{k}" for k in d["functions"][0])]
    assert [k for k in keys if f"`{k}`" not in text] == []


def test_version():
    import simmcu

    rc, out, _ = cli("--version")
    assert rc == 0 and out == f"simmcu {simmcu.__version__}\n"


def test_listings_as_json():
    from simmcu import bundled_boards, core_names, load_profile

    rc, out, _ = cli("cores", "--json")
    cores = {c["name"]: c for c in json.loads(out)}
    assert rc == 0 and list(cores) == core_names()
    pico = cores["picorv32"]
    assert (pico["isa"], pico["arch"], pico["timing"]) == ("rv32imc", "riscv", "picorv32") and pico["description"]
    assert pico["timing_options"]["barrel_shifter"] == dict(
        default=True, description=load_profile("picorv32").options["barrel_shifter"].description)
    rc, out, _ = cli("boards", "--json")
    boards = {b["name"]: b for b in json.loads(out)}
    assert rc == 0 and list(boards) == bundled_boards()
    rv = boards["generic-rv32"]
    assert rv["arch"] == "riscv" and rv["clock_hz"] == 100_000_000 and rv["description"]
    assert {"name": "sram", "base": 0x8000_0000, "size": 256 << 10, "kind": "sram"}.items() <= rv["regions"][1].items()
    rc, out, _ = cli("accels", "--json")
    accels = {a["name"]: a for a in json.loads(out)}
    assert rc == 0 and {"conv", "cfu"} <= set(accels)
    assert accels["conv"]["origin"].startswith("simmcu.accelerators.conv:") and accels["conv"]["description"]
    assert accels["conv"]["params"]["pe_rows"] == dict(default=8, unit="PEs", description=accels["conv"]["params"]
                                                       ["pe_rows"]["description"])
    rc, out, _ = cli("accels")  # the human listing is unchanged
    assert rc == 0 and out.startswith("cfu: ") and not out.startswith("[")


def test_example_names_work_wherever_an_elf_is_taken(tmp_path):
    from simmcu import Simulator

    r = Simulator("hello", core="cortex-m3").run()  # cortex-m3 has its own prebuilt hello
    assert r.exit_code == 0 and r.console == "Hello from simmcu on cortex-m3!\n"
    assert Simulator("hello", core="picorv32").run().console == "Hello from simmcu on rv32imc!\n"  # firmware_as
    rc, out, _ = cli("run", "conv2d_conv", "--core", "cortex-m4", "--accel", "conv", "--baseline", "conv2d",
                     "--json", "-", "--quiet")
    d = json.loads(out)
    assert rc == 0 and d["baseline"]["elf"].endswith("conv2d-cortex-m4.elf") and d["baseline"]["speedup"] > 1
    rc, _, err = cli("run", "conv2d_cfu", "--core", "cortex-m0plus")
    assert rc == 120 and err.count("\n") == 1 and "example conv2d_cfu is not built for cortex-m0plus" in err
    (tmp_path / "hello").write_text("not an ELF")  # a file of that name wins over the example
    rc, _, err = cli("run", "hello", cwd=tmp_path)
    assert rc == 120 and "hello is not an ELF file" in err


def test_core_defaults_to_rv32imc_on_every_command(tmp_path):
    from simmcu.cli import _parser

    subs = _parser()._subparsers._group_actions[0].choices
    helps = {cmd: next(a.help for a in subs[cmd]._actions if "--core" in a.option_strings)
             for cmd in ("run", "build", "compile")}
    assert len(set(helps.values())) == 1 and "default rv32imc" in helps["run"]
    rc, out, err = cli("build", "hello", "-o", str(tmp_path / "h.elf"))
    assert rc == 0 and "for rv32imc" in out, err
    rc, out, _ = cli("run", str(tmp_path / "h.elf"))
    assert rc == 0 and "Hello from simmcu on rv32imc!" in out
