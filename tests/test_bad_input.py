"""Bad input gets a clear one-line error and a distinct exit code, never a traceback."""

import struct
import subprocess
import sys

import pytest

from simmcu import ConfigError, ElfError, ExitCode, Simulator, load_board
from simmcu.firmware import firmware_dir


def prebuilt(example, core):
    return firmware_dir() / "prebuilt" / f"{example}-{core}.elf"


def cli(*args, cwd=None):
    p = subprocess.run([sys.executable, "-m", "simmcu", *args], capture_output=True, text=True, cwd=cwd)
    return p.returncode, p.stdout, p.stderr


# -- files that are not usable ELFs ---------------------------------------------------------
def test_not_an_elf(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("hello")
    with pytest.raises(ElfError, match="is not an ELF file"):
        Simulator(f, core="rv32imc")


def test_truncated_elf(tmp_path):
    f = tmp_path / "cut.elf"
    f.write_bytes(prebuilt("hello", "rv32imc").read_bytes()[:100])
    with pytest.raises(ElfError, match="broken ELF"):
        Simulator(f, core="rv32imc")


def test_64bit_elf(tmp_path):
    f = tmp_path / "host.elf"
    f.write_bytes(open(sys.executable, "rb").read(1 << 16))
    with pytest.raises(ElfError, match="64-bit"):
        Simulator(f, core="cortex-m4")


def test_wrong_machine(tmp_path):
    data = bytearray(prebuilt("hello", "cortex-m4").read_bytes())
    struct.pack_into("<H", data, 0x12, 3)  # EM_386
    f = tmp_path / "x86.elf"
    f.write_bytes(data)
    with pytest.raises(ElfError, match="machine 386"):
        Simulator(f, core="cortex-m4")


def test_riscv_elf_on_arm_core():
    with pytest.raises(ElfError, match="machine RISCV, core cortex-m4 is ARM"):
        Simulator(prebuilt("hello", "rv32imc"), core="cortex-m4")


def test_armv7m_elf_on_m0plus():
    with pytest.raises(ElfError, match="built for ARM v7, core cortex-m0plus runs v6-M"):
        Simulator(prebuilt("hello", "cortex-m3"), core="cortex-m0plus")


def test_hard_float_elf_on_core_without_fpu(tmp_path):
    data = bytearray(prebuilt("hello", "cortex-m0plus").read_bytes())
    flags = struct.unpack_from("<I", data, 0x24)[0]
    struct.pack_into("<I", data, 0x24, flags | 0x400)
    f = tmp_path / "hf.elf"
    f.write_bytes(data)
    with pytest.raises(ElfError, match="hard-float ABI but cortex-m0plus has no FPU"):
        Simulator(f, core="cortex-m0plus")


def _board(tmp_path, rom_base, extra=""):
    """An RV32 board whose code region sits at ``rom_base``; ``extra`` adds regions."""
    f = tmp_path / "board.toml"
    f.write_text(f"""
name = "test"
arch = "riscv"
irq_lines = 16
code_region = "rom"
[[regions]]
name = "rom"
base = {rom_base:#x}
size = "4 KiB"
kind = "flash"
[[regions]]
name = "sram"
base = 0x80000000
size = "256 KiB"
kind = "sram"
{extra}""")
    return f


def test_segment_outside_every_region(tmp_path):
    with pytest.raises(ElfError, match="outside every memory region"):
        Simulator(prebuilt("hello", "rv32imc"), core="rv32imc", board=_board(tmp_path, 0x1000_0000))


def test_segment_inside_mmio_region(tmp_path):
    board = _board(tmp_path, 0x1000_0000, '[[regions]]\nname = "mmio"\nbase = 0x20000000\nsize = "64 KiB"\nkind = "mmio"\n')
    with pytest.raises(ElfError, match="lies in MMIO region 'mmio'"):
        Simulator(prebuilt("hello", "rv32imc"), core="rv32imc", board=board)


@pytest.mark.parametrize("text, message", [
    ('name = "b"\narch = "arm"\n', "needs at least one"),
    ('name = "b"\narch = "mips"\n[[regions]]\nname="f"\nbase=0\nsize=4096\nkind="flash"\n', "not one of"),
    ('name = "b"\narch = "arm"\nspeed = 3\n[[regions]]\nname="f"\nbase=0\nsize=4096\nkind="flash"\n', "unknown key 'speed'"),
    ('name = "b"\narch = "arm"\n[[regions]]\nname="flash"\nbase=0\nsize="lots"\nkind="flash"\n', "is not like"),
    ('name = "b" = 3', "not valid TOML"),
])
def test_bad_board_files(tmp_path, text, message):
    f = tmp_path / "b.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_board(f)


def test_unknown_core_and_board():
    with pytest.raises(ConfigError, match="unknown core 'cortex-m99'.*valid: rv32imc"):
        Simulator(prebuilt("hello", "rv32imc"), core="cortex-m99")
    with pytest.raises(ConfigError, match="unknown board"):
        Simulator(prebuilt("hello", "rv32imc"), core="rv32imc", board="nosuch")


# -- firmware that misbehaves at run time ---------------------------------------------------
@pytest.mark.parametrize("core", ["rv32imc", "cortex-m4"])
def test_write_to_flash(run, core):
    r = run("misbehave.c", core, "write-flash")
    assert r.exit_code == ExitCode.FAULT
    assert r.fault.access == "write" and r.fault.pc_symbol.startswith("write_flash")
    assert "flash region 'flash' (rx)" in r.message


@pytest.mark.parametrize("core", ["rv32imc", "cortex-m4", "cortex-m0plus"])
def test_illegal_instruction(run, core):
    r = run("misbehave.c", core, "illegal")
    assert r.exit_code == ExitCode.FAULT
    assert "illegal instruction" in r.message or "UNDEFINSTR" in r.message
    assert r.fault.pc_symbol.startswith("main")


def test_invstate_usage_fault(run):
    r = run("misbehave.c", "cortex-m4", "invstate")
    assert r.exit_code == ExitCode.FAULT and "INVSTATE" in r.message


def test_svc_with_interrupts_masked_is_a_hard_fault(run):
    r = run("misbehave.c", "cortex-m4", "svc-masked")
    assert r.exit_code == ExitCode.FAULT and r.fault.kind == "hard-fault"


@pytest.mark.parametrize("core", ["rv32imc", "cortex-m4"])
def test_breakpoint_without_debugger(run, core):
    r = run("misbehave.c", core, "breakpoint")
    assert r.exit_code == ExitCode.FAULT and "no debugger attached" in r.message


@pytest.mark.parametrize("core", ["rv32imc", "cortex-m4"])
def test_instruction_limit(run, core):
    r = run("misbehave.c", core, "spin", max_instructions=50_000)
    assert (r.exit_code, r.exit_reason) == (ExitCode.INSTRUCTION_LIMIT, "instruction-limit")
    assert r.instructions == 50_000
    assert "spin" in r.message


def test_wall_clock_timeout(run):
    r = run("misbehave.c", "rv32imc", "spin", timeout=0.3)
    assert (r.exit_code, r.exit_reason) == (ExitCode.TIMEOUT, "timeout")


@pytest.mark.parametrize("core", ["rv32imc", "cortex-m4"])
def test_wfi_without_wakeup_source_is_a_deadlock(run, core):
    r = run("misbehave.c", core, "wfi-forever")
    assert (r.exit_code, r.exit_reason) == (ExitCode.DEADLOCK, "deadlock")


@pytest.mark.parametrize("core", ["rv32imc", "cortex-m4"])
def test_unsupported_semihosting_call(run, core):
    r = run("misbehave.c", core, "system")
    assert r.exit_code == ExitCode.UNSUPPORTED
    assert "unsupported semihosting operation 0x12 (SYS_SYSTEM)" in r.message


def test_host_files_refused_without_sandbox(run):
    r = run("misbehave.c", "rv32imc", "open-file")
    assert r.exit_code == ExitCode.UNSUPPORTED and "--semihost-dir" in r.message


def test_host_files_inside_sandbox(run, tmp_path):
    r = run("misbehave.c", "cortex-m4", "file-roundtrip", semihost_dir=tmp_path)
    assert r.exit_code == 0, r.message
    assert (tmp_path / "out.txt").read_text() == "data 42"
    assert r.console == "read back: data 42\nescape: -1\n"
    assert not (tmp_path.parent / "escape").exists()


def test_firmware_exit_code_passes_through(run):
    r = run("misbehave.c", "cortex-m4", "exit-7")
    assert (r.exit_reason, r.exit_code) == ("exit", 7)


# -- the command line never shows a traceback -----------------------------------------------
@pytest.mark.parametrize("args, code, text", [
    (["run", "nosuch.elf"], ExitCode.BAD_INPUT, "cannot open firmware nosuch.elf"),
    (["run", "hello", "--core", "z80"], ExitCode.BAD_INPUT, "unknown core 'z80'"),
    (["run", "fault", "--core", "cortex-m4"], ExitCode.FAULT, "read_sensor+0x"),
    (["run", "hello", "--core", "rv32imc", "--board", "generic-cortex-m"], ExitCode.BAD_INPUT, "is for arm cores"),
    (["build", "nosuch", "--core", "rv32imc", "-o", "x.elf"], ExitCode.BAD_INPUT, "no source file or example"),
    (["run"], ExitCode.USAGE, "error"),
])
def test_cli_errors_are_one_line(tmp_path, args, code, text):
    rc, out, err = cli(*args, cwd=tmp_path)
    assert rc == code, (out, err)
    assert text in out + err
    assert "Traceback" not in out + err
    if code in (ExitCode.BAD_INPUT, ExitCode.USAGE):
        assert len(err.strip().splitlines()) == 1


def test_compile_error_is_a_toolchain_error(tmp_path):
    src = tmp_path / "bad.c"
    src.write_text("int main(void) { return undefined_thing; }\n")
    rc, out, err = cli("build", str(src), "--core", "rv32imc", "-o", str(tmp_path / "x.elf"))
    assert rc == ExitCode.TOOLCHAIN and "undefined_thing" in err and "Traceback" not in err


def test_missing_bundled_compiler_is_a_toolchain_error(tmp_path, monkeypatch):
    import importlib.util

    from simmcu import ToolchainError
    from simmcu.firmware import build

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ziglang" else real(name, *a))
    with pytest.raises(ToolchainError, match=r"pip install 'simmcu\[build\]'"):
        build("hello", "rv32imc", tmp_path / "x.elf")
