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


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="counts threads through /proc")
def test_a_run_starts_no_blas_threads():
    """numpy's OpenBLAS would start a spinning thread per CPU on import; the command's run needs none
    (unless the user asks for them through OPENBLAS_NUM_THREADS)."""
    code = ("import simmcu.cli\ntry:\n    simmcu.cli.main(['run', 'hello', '--json', '-'])\n"
            "except SystemExit:\n    pass\n"
            "print([line.split()[1] for line in open('/proc/self/status') if line.startswith('Threads:')][0])")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "1"
    asked = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                           env={**env, "OPENBLAS_NUM_THREADS": "2"})
    assert asked.stdout.splitlines()[-1] == "2"


def test_a_cold_hook_cache_compiles_once_and_says_so_on_stderr_only(tmp_path):
    """An empty NUMBA_CACHE_DIR is a first run: the entry points the run uses compile, with one line on
    stderr and none on stdout (--json -), and each is cached in a file of its own (a timed run does
    not compile the functional count hook); the next run loads them without importing Numba (nor, on
    x86-64 Linux, llvmlite: ``_objfile`` maps them) and counts the same cycles as this process's run."""
    from simmcu import Simulator
    from simmcu._hooks import COMPILING, _cache_key

    expected = Simulator("hello", core="cortex-m4").run()
    env = {"NUMBA_CACHE_DIR": str(tmp_path)}
    code = ("import simmcu.cli, simmcu._hooks\n"
            "try:\n    simmcu.cli.main(['run', 'hello', '--core', 'cortex-m4', '--quiet', '--json', '-'])\n"
            "except SystemExit:\n    pass\n"
            "print(json.dumps(sorted(simmcu._hooks.entry_points())))")
    cold = _loaded_after("import json\n" + code, env)
    assert cold["stderr"].count(COMPILING) == 1 and COMPILING not in cold["stdout"]
    assert "numba" in cold["loaded"]
    used = json.loads(cold["stdout"].splitlines()[-2])
    assert "block_hook" in used and "count_hook" not in used
    files = {p.name for p in (tmp_path / "simmcu").glob("simmcu-hooks-*")}
    assert files == {f"simmcu-hooks-{_cache_key()}-{name.replace(':', '-')}.bin" for name in used}
    warm = _loaded_after("import json\n" + code, env)
    assert COMPILING not in warm["stderr"] and "numba" not in warm["loaded"] and "unicorn" in warm["loaded"]
    if sys.platform == "linux" and os.uname().machine == "x86_64":
        assert "llvmlite" not in warm["loaded"]
    assert json.loads(warm["stdout"].splitlines()[-2]) == used
    for run in (cold, warm):
        result = json.loads(run["stdout"][:run["stdout"].rindex("\n[", 0, run["stdout"].rindex("\n["))])
        assert (result["cycles"], result["instructions"]) == (expected.cycles, expected.instructions)


@pytest.mark.skipif(sys.platform != "linux" or os.uname().machine != "x86_64", reason="_objfile maps x86-64 code")
@pytest.mark.parametrize("name", ["cv32e40p-serial", "arm-early-termination"])
def test_the_object_mapper_and_mcjit_load_the_same_working_code(name):
    """A cached latency rule mapped by ``_objfile`` and loaded by MCJIT (its fallback) computes what
    the rule's reference does, on edge operands and generated ones."""
    import ctypes
    import random

    from simmcu import _hooks
    from simmcu._latency import LATENCY_MODELS
    from simmcu._objfile import map_object

    _hooks.latency_address(name)  # compiled and cached if it was not
    header, _, code = _hooks.cache_file(f"latency:{name}").read_bytes().partition(b"\n")
    meta = json.loads(header)
    symbol = meta["symbols"][f"latency:{name}"]
    keep = []
    mapped = map_object(code, [symbol], _hooks._resolve, keep)[symbol]
    jit = _hooks._load_mcjit(code, meta)[symbol]
    assert keep and mapped != jit
    rng = random.Random(name)
    pairs = [(a, b) for a in (0, 1, 31, 0x8000_0000, 0xFFFF_FFFF) for b in (0, 1, 7, 0x7FFF_FFFF, 0xFFFF_FFFF)]
    pairs += [(rng.getrandbits(rng.randint(0, 32)), rng.getrandbits(rng.randint(0, 32))) for _ in range(2000)]
    reference = [LATENCY_MODELS[name].reference(a, b) for a, b in pairs]
    for address in (mapped, jit):
        rule = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64, ctypes.c_int64)(address)
        assert [rule(a, b) for a, b in pairs] == reference


@pytest.mark.skipif(sys.platform != "linux" or os.uname().machine != "x86_64", reason="_objfile maps x86-64 code")
def test_the_object_mapper_refuses_what_it_cannot_map_exactly():
    """Another machine's object, an unknown relocation type or an unresolvable symbol is ``Unsupported``
    (and then loaded by MCJIT), never mapped wrongly."""
    import struct

    from simmcu import _hooks
    from simmcu._objfile import ObjectFile, Unsupported, map_object

    name = "latency:arm-early-termination"  # its code refers to its constants and to Python's C API
    _hooks.entry_points()[name]
    header, _, code = _hooks.cache_file(name).read_bytes().partition(b"\n")
    symbol = json.loads(header)["symbols"][name]
    assert map_object(code, [symbol], _hooks._resolve, [])[symbol]
    other_machine = code[:18] + struct.pack("<H", 183) + code[20:]  # EM_AARCH64
    with pytest.raises(Unsupported, match="not x86-64"):
        map_object(other_machine, [symbol], _hooks._resolve, [])
    with pytest.raises(Unsupported, match="not a 64-bit"):
        ObjectFile(code[:40])
    with pytest.raises(Unsupported, match="defines no"):
        map_object(code, ["no_such_symbol"], _hooks._resolve, [])
    with pytest.raises(Unsupported, match="no address for (Py|numba_)"):
        map_object(code, [symbol], lambda name: None, [])
    rel = next(s for s in ObjectFile(code).sections if s.name == ".rela.ltext")
    unknown = bytearray(code)
    struct.pack_into("<I", unknown, rel.offset + 8, 0x7F)  # the first relocation's type
    with pytest.raises(Unsupported, match="relocation type 127"):
        map_object(bytes(unknown), [symbol], _hooks._resolve, [])


def test_a_loaded_firmware_image_is_reused_for_the_same_bytes_core_and_board(tmp_path):
    """The second run of one ELF reads its image back without pyelftools; other bytes (a copy with
    one byte changed), another core or a damaged copy of the cache file load from the ELF again, and
    a broken ELF is never cached."""
    import shutil

    from simmcu import get_core
    from simmcu.firmware import example_elf

    elf = tmp_path / "hello.elf"
    shutil.copy(example_elf("hello", get_core("rv32imc")), elf)
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    code = (f"import simmcu\nr = simmcu.Simulator({str(elf)!r}, core={{core!r}}).run()\n"
            "print(r.cycles, r.instructions)")

    def images():
        return sorted((tmp_path / "cache" / "simmcu").glob("simmcu-elf-*.pickle"))

    first = _loaded_after(code.format(core="rv32imc"), env)
    assert len(images()) == 1
    again = _loaded_after(code.format(core="rv32imc") + "\nimport sys\nassert 'elftools' not in sys.modules", env)
    assert again["stdout"].splitlines()[0] == first["stdout"].splitlines()[0]
    assert len(images()) == 1
    _loaded_after(code.format(core="ibex"), env)
    assert len(images()) == 2
    images()[0].write_bytes(b"not a pickle")
    images()[1].write_bytes(b"not a pickle")
    damaged = _loaded_after(code.format(core="rv32imc"), env)
    assert damaged["stdout"].splitlines()[0] == first["stdout"].splitlines()[0]
    data = bytearray(elf.read_bytes())
    data[0x18] ^= 0xFF  # the entry point: another image, not the cached one
    elf.write_bytes(bytes(data))
    before = len(images())
    _python(code.format(core="rv32imc"), env)
    assert len(images()) == before + 1
    elf.write_bytes(bytes(data[:0x34]))  # a header without its sections: broken
    broken = _python(code.format(core="rv32imc"), env)
    assert broken.returncode != 0 and "simmcu._errors.ElfError" in broken.stderr
    assert len(images()) == before + 1
