"""Start-up: what a command imports, and the native hooks' own cache (simulator/_hooks.py).

Behaviour, not time: listings and configuration checks load neither Numba nor Unicorn, a run with
the hooks' cache warm loads their machine code without Numba, and only a cold cache compiles
(saying so on stderr, never on stdout)."""

import json
import os
import subprocess
import sys

import pytest

from simmcu import core_names, get_core

HEAVY = ("numba", "unicorn", "capstone", "llvmlite")


def _python(code: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


def _loaded_after(code: str, env: dict | None = None) -> dict:
    """Run ``code`` in a fresh interpreter; which of HEAVY it left in sys.modules, and its stderr."""
    done = _python(code + f"\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))", env)
    assert done.returncode == 0, done.stderr
    return dict(loaded=json.loads(done.stdout.splitlines()[-1]), stdout=done.stdout, stderr=done.stderr)


@pytest.mark.parametrize("argv", [["cores"], ["cores", "--json"], ["cores", "--timing"], ["boards"],
                                  ["boards", "--json", "--params"], ["accels"], ["accels", "--json"], ["--help"]])
def test_listings_import_neither_numba_nor_unicorn(argv):
    run = _loaded_after(f"import simmcu.cli\ntry:\n    simmcu.cli.main({argv!r})\nexcept SystemExit:\n    pass")
    assert run["loaded"] == [] and run["stderr"] == ""
    if argv[0] == "accels":  # the models' names, descriptions and parameters, as before
        assert "cfu" in run["stdout"] and "mac_latency" in run["stdout"] and "conv" in run["stdout"]


def test_the_packages_import_their_names_on_first_use():
    run = _loaded_after("import simmcu, simmcu.accelerators, simmcu.firmware\n"
                        "simmcu.get_core('cortex-m4'); simmcu.load_board('generic-rv32'); simmcu.load_profile('ibex')\n"
                        "simmcu.accelerators.available(); simmcu.accelerators.Param")
    assert run["loaded"] == []
    for module in ("simmcu", "simmcu.accelerators", "simmcu.firmware"):
        api = __import__(module, fromlist=["__all__"])
        assert all(hasattr(api, name) for name in api.__all__) and set(api.__all__) <= set(dir(api))
        with pytest.raises(AttributeError):
            api.no_such_name


def test_every_bundled_core_names_a_unicorn_cpu_model():
    """Checked when a run creates the CPU, no longer when the core table is read: each must resolve."""
    assert all(isinstance(get_core(name).uc_cpu_model, int) for name in core_names())


def test_a_cold_hook_cache_compiles_once_and_says_so_on_stderr_only(tmp_path):
    """An empty NUMBA_CACHE_DIR is a first run: the hooks compile, with one line on stderr and none on
    stdout (--json -); the next run loads the cached machine code without importing Numba and counts
    the same cycles as this process's own run."""
    from simmcu import Simulator
    from simmcu._hooks import COMPILING

    expected = Simulator("hello", core="cortex-m4").run()
    env = {"NUMBA_CACHE_DIR": str(tmp_path)}
    code = ("import simmcu.cli\n"
            "try:\n    simmcu.cli.main(['run', 'hello', '--core', 'cortex-m4', '--quiet', '--json', '-'])\n"
            "except SystemExit:\n    pass")
    cold = _loaded_after(code, env)
    assert cold["stderr"].count(COMPILING) == 1 and COMPILING not in cold["stdout"]
    assert "numba" in cold["loaded"]
    assert [p.name.startswith("simmcu-hooks-") for p in (tmp_path / "simmcu").iterdir()] == [True]
    warm = _loaded_after(code, env)
    assert COMPILING not in warm["stderr"] and "numba" not in warm["loaded"] and "unicorn" in warm["loaded"]
    for run in (cold, warm):
        result = json.loads(run["stdout"][:run["stdout"].rindex("\n[")])
        assert (result["cycles"], result["instructions"]) == (expected.cycles, expected.instructions)
