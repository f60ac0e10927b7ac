"""Bad input gets a clear one-line error and a distinct exit code, never a traceback."""

import math
import struct
import subprocess
import sys
from pathlib import Path

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


# -- hostile input (issue 14): every size a file gives is bounded before it is used -----------
def _section(data: bytes, name: str) -> tuple[int, dict]:
    """(offset of the section header, its fields) of section ``name``."""
    import io

    from elftools.elf.elffile import ELFFile

    elf = ELFFile(io.BytesIO(data))
    for i, sec in enumerate(elf.iter_sections()):
        if sec.name == name:
            return elf["e_shoff"] + i * elf["e_shentsize"], sec.header
    raise KeyError(name)


def _mutated(tmp_path, example, core, edit) -> str:
    data = bytearray(prebuilt(example, core).read_bytes())
    edit(data)
    f = tmp_path / "mutated.elf"
    f.write_bytes(data)
    return f


@pytest.mark.parametrize("core, name", [("cortex-m4", ".symtab"), ("cortex-m4", ".ARM.attributes"),
                                        ("rv32imc", ".riscv.attributes")])
def test_special_section_of_another_type(tmp_path, core, name):
    def edit(data):
        at, _ = _section(data, name)
        struct.pack_into("<I", data, at + 4, 1)  # SHT_PROGBITS
    with pytest.raises(ElfError, match=rf"{name} is not a"):
        Simulator(_mutated(tmp_path, "hello", core, edit), core=core)


def test_unknown_machine_is_named_by_number(tmp_path):
    f = _mutated(tmp_path, "hello", "cortex-m4", lambda d: struct.pack_into("<H", d, 0x12, 0x1234))
    with pytest.raises(ElfError, match="machine #4660, core cortex-m4 is ARM"):
        Simulator(f, core="cortex-m4")


@pytest.mark.parametrize("addr", [0xFFFFF000, 0x2000_0000])
def test_executable_section_must_lie_in_the_code_region(tmp_path, addr):
    """A second executable section far from the first would size the decoder's tables by the gap."""
    def edit(data):
        at, _ = _section(data, ".rodata")
        struct.pack_into("<I", data, at + 8, 6)      # SHF_ALLOC | SHF_EXECINSTR
        struct.pack_into("<I", data, at + 12, addr)
    with pytest.raises(ElfError, match=r"executable section .rodata \[.*\) lies outside the code region 'flash'"):
        Simulator(_mutated(tmp_path, "hello", "cortex-m4", edit), core="cortex-m4")


@pytest.mark.parametrize("stated, payload, message", [(0xFFFF_FFFF, 1 << 24, "lies outside the code region"),
                                                      (0x40000, 1000, "Decompressed data is 1000 bytes long"),
                                                      (64, 1 << 24, "differs from the bytes segment")])
def test_compressed_text_is_bounded_before_it_is_inflated(tmp_path, stated, payload, message):
    """A zlib bomb in .text: the stated size is checked against the code region first, and no more
    than it is ever inflated (a stream that ends short of it is refused; one that goes on is cut,
    and then differs from the compressed bytes the segment loads, which is what would run)."""
    import time
    import zlib

    from simmcu import get_core
    from simmcu._elf import load_elf

    def edit(data):
        at, sec = _section(data, ".text")
        bomb = zlib.compress(bytes(payload), 9)[:sec["sh_size"] - 12]
        struct.pack_into("<I", data, at + 8, sec["sh_flags"] | 0x800)  # SHF_COMPRESSED
        struct.pack_into("<III", data, sec["sh_offset"], 1, stated, 4)
        data[sec["sh_offset"] + 12:sec["sh_offset"] + 12 + len(bomb)] = bomb
    f = _mutated(tmp_path, "hello", "cortex-m4", edit)
    started = time.monotonic()
    with pytest.raises(ElfError, match=message):
        load_elf(f, get_core("cortex-m4"), load_board("generic-cortex-m"))
    assert time.monotonic() - started < 5


def test_corrupt_compressed_text_is_a_broken_elf(tmp_path):
    """A compressed .text whose stream is not zlib (fuzz seed 2028, case 7659): a one-line ElfError."""
    from simmcu import get_core
    from simmcu._elf import load_elf

    def edit(data):
        at, sec = _section(data, ".text")
        struct.pack_into("<I", data, at + 8, sec["sh_flags"] | 0x800)  # SHF_COMPRESSED
        struct.pack_into("<III", data, sec["sh_offset"], 1, 64, 4)
        data[sec["sh_offset"] + 12:sec["sh_offset"] + 16] = b"\x78\x9c\xff\xff"  # header, then an invalid block type
    f = _mutated(tmp_path, "hello", "cortex-m4", edit)
    with pytest.raises(ElfError, match="compressed section .text is corrupt"):
        load_elf(f, get_core("cortex-m4"), load_board("generic-cortex-m"))


def test_executable_section_must_be_what_the_segments_load(tmp_path):
    """Section bytes (what the timing tables are built from) that differ from the segment's (what
    runs; fuzz seed 2029): refused, instead of pricing other instructions than those executed."""
    from simmcu import get_core
    from simmcu._elf import load_elf

    def edit(data):
        at, sec = _section(data, ".text")
        struct.pack_into("<I", data, at + 16, sec["sh_offset"] + 4)  # sh_offset: the section's bytes moved
    f = _mutated(tmp_path, "hello", "cortex-m4", edit)
    with pytest.raises(ElfError, match="executable section .text .* differs from the bytes segment"):
        load_elf(f, get_core("cortex-m4"), load_board("generic-cortex-m"))


def _phdr(data: bytes, i: int, field: int) -> int:
    phoff = struct.unpack_from("<I", data, 0x1C)[0]
    return phoff + 32 * i + 4 * field


def test_segment_file_image_past_the_end_of_the_file(tmp_path):
    f = _mutated(tmp_path, "hello", "rv32imc", lambda d: struct.pack_into("<I", d, _phdr(d, 0, 4), 0x00FF_0000))
    with pytest.raises(ElfError, match=r"segment 0 file image .* runs past the end of the file"):
        Simulator(f, core="rv32imc")


def test_section_past_the_end_of_the_file(tmp_path):
    def edit(data):
        at, _ = _section(data, ".symtab")
        struct.pack_into("<I", data, at + 20, 0x7FFF_FFF0)
    with pytest.raises(ElfError, match=r"section .symtab .* runs past the end of the file"):
        Simulator(_mutated(tmp_path, "hello", "rv32imc", edit), core="rv32imc")


def test_overlapping_load_segments(tmp_path):
    def edit(data):
        first = struct.unpack_from("<I", data, _phdr(data, 0, 2))[0]
        for i in range(1, struct.unpack_from("<H", data, 0x2C)[0]):
            if struct.unpack_from("<I", data, _phdr(data, i, 0))[0] == 1:  # PT_LOAD
                struct.pack_into("<II", data, _phdr(data, i, 2), first, first)
                return
    with pytest.raises(ElfError, match=r"segment \d .* overlaps segment 0"):
        Simulator(_mutated(tmp_path, "hello", "cortex-m4", edit), core="cortex-m4")


def test_non_regular_firmware_files_are_refused_before_open(tmp_path):
    import os

    os.mkfifo(tmp_path / "fifo.elf")  # open() would block until a writer came
    for path in (tmp_path / "fifo.elf", tmp_path):
        with pytest.raises(ElfError, match="not a regular file"):
            Simulator(path, core="rv32imc")


# -- semihosting at the edges ----------------------------------------------------------------
@pytest.fixture
def sandbox(tmp_path):
    import os

    box = tmp_path / "box"
    box.mkdir()
    (box / "a.txt").write_text("hello")
    (box / "dir").mkdir()
    os.mkfifo(box / "fifo")
    return box


@pytest.mark.parametrize("core", ["rv32imc", "cortex-m4"])
@pytest.mark.parametrize("what, console", [
    ("write0-end", "hi\n"),                                              # no read past the end of RAM
    ("nul-name", "open -1 errno 22\n"),
    ("wrong-direction", "read from a write handle: 4 left, errno 9\nwrite to a read handle: 4 left, errno 9\n"),
    ("many-opens", "opened 64, then errno 24; after a close: opens\n"),
    ("read-huge", "read 5 bytes: hello\n"),                              # never allocates 4 GiB
    ("open-special", "fifo -1 errno 22, directory -1 errno 22\n"),       # the FIFO does not block
])
def test_semihosting_edges_are_errors_to_the_firmware(run, sandbox, core, what, console):
    # The limit only guards against a hang (a FIFO that blocks): these take seconds, but a loaded
    # CI machine with cold caches once needed more than 60 s for the 65 opens.
    r = run("semihost_edges.c", core, what, semihost_dir=sandbox, timeout=600)
    assert (r.exit_code, r.console) == (0, console), r.message


@pytest.mark.parametrize("what, call", [("read-into-flash", "SYS_READ"), ("heapinfo-into-flash", "SYS_HEAPINFO"),
                                        ("cmdline-into-flash", "SYS_GET_CMDLINE")])
@pytest.mark.parametrize("stdin", [b"data", b""])  # a read at the end of input faults too
def test_semihosting_into_flash_is_a_fault(run, what, call, stdin):
    r = run("semihost_edges.c", "cortex-m4", what, stdin=stdin)
    assert r.exit_code == ExitCode.FAULT and r.fault.kind == "semihosting-bad-pointer", r.message
    assert f"{call} passes a bad pointer: write of" in r.message and r.fault.address_symbol == "rom"


@pytest.mark.parametrize("core", ["rv32imc", "cortex-m4"])
@pytest.mark.parametrize("what, call, access", [
    ("write-unmapped", "SYS_WRITE", "read"), ("write-huge", "SYS_WRITE", "read"),
    ("write0-unmapped", "SYS_WRITE0", "read"), ("open-unmapped", "SYS_OPEN", "read"),
    ("heapinfo-unmapped", "SYS_HEAPINFO", "write"), ("elapsed-unmapped", "SYS_ELAPSED", "write"),
    ("block-unmapped", "SYS_WRITE", "read")])
def test_semihosting_bad_pointers_are_firmware_faults(run, core, what, call, access):
    """Each pointer (and length) the firmware hands the host is checked against guest memory."""
    r = run("semihost_edges.c", core, what, semihost_dir=None)
    assert r.exit_code == ExitCode.FAULT and r.fault.kind == "semihosting-bad-pointer", r.message
    assert f"{call} passes a bad pointer: {access} of" in r.message and "\n" not in r.message


def _patched_reset_vector(tmp_path, value: int) -> Path:
    """The prebuilt Cortex-M hello with its vector table's reset entry replaced."""
    from elftools.elf.elffile import ELFFile

    src = prebuilt("hello", "cortex-m4")
    data = bytearray(src.read_bytes())
    with src.open("rb") as f:
        seg = next(s for s in ELFFile(f).iter_segments() if s["p_type"] == "PT_LOAD" and s["p_paddr"] == 0)
        offset = seg["p_offset"] + 4
    data[offset:offset + 4] = value.to_bytes(4, "little")
    out = tmp_path / f"reset-{value:x}.elf"
    out.write_bytes(data)
    return out


@pytest.mark.parametrize("value, text", [(0, "reset vector"), (0x100, "reset vector"), (0x6000_0001, "reset vector")])
def test_bad_reset_vector_is_a_fault_not_a_traceback(tmp_path, value, text):
    """0, an even address (not Thumb) and unmapped memory: a fault at reset, in the run's result."""
    r = Simulator(_patched_reset_vector(tmp_path, value), core="cortex-m4").run()
    assert r.exit_code == ExitCode.FAULT and text in r.message.lower() and "\n" not in r.message, r.message


# -- boards, profiles and options ------------------------------------------------------------
_RV_BOARD = 'name = "b"\narch = "riscv"\n[[regions]]\nname = "flash"\nbase = 0x20000000\nsize = "64 KiB"\nkind = "flash"\n' \
            '[[regions]]\nname = "sram"\nbase = 0x80000000\nsize = "64 KiB"\nkind = "sram"\n'


@pytest.mark.parametrize("text, message", [
    (b'name = "b\xff"\n', r"is not UTF-8 text \(byte 9\)"),
    ('name = "b"\narch = "arm"\n[[regions]]\nname = "flash"\nbase = 0\nsize = 4096\nkind = "flash"\n'
     '[[regions]]\nname = "sram"\nbase = 0xE0000000\nsize = 4096\nkind = "sram"\n',
     r"region 'sram' \[0xe0000000, 0xe0001000\) overlaps the Cortex-M private peripheral bus"),
    (_RV_BOARD + "[[regions]]\nname = 'x'\nbase = 0x02008000\nsize = 4096\nkind = 'mmio'\n",
     r"region 'x' .* overlaps the CLINT \(clint_base\) \[0x02000000, 0x02010000\)"),
    (_RV_BOARD.replace('arch = "riscv"', 'arch = "riscv"\nclint_base = 0x80000000'), "overlaps the CLINT"),
    (_RV_BOARD.replace('arch = "riscv"', 'arch = "riscv"\nclint_base = -4096'), "clint_base: value -4096 is out of range"),
    (_RV_BOARD.replace('arch = "riscv"', 'arch = "riscv"\nclint_base = 0xFFFFF000'), "clint_base: value .* out of range"),
    (_RV_BOARD.replace('kind = "sram"', 'kind = "sram"\nread_wait_states = 4611686018427387904'),
     "read_wait_states: value .* is out of range"),
])
def test_bad_board_values(tmp_path, text, message):
    f = tmp_path / "b.toml"
    f.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError, match=message):
        load_board(f)


def _profile(tmp_path, base: str, edit) -> str:
    from simmcu.fuzz import to_toml
    from simmcu._params import load_toml
    from importlib import resources

    with resources.as_file(resources.files("simmcu").joinpath("timing", f"{base}.toml")) as p:
        raw = load_toml(p, "timing profile")
    edit(raw)
    f = tmp_path / "t.toml"
    f.write_text(to_toml(raw))
    return f


@pytest.mark.parametrize("base, edit, message", [
    ("cortex-m4", lambda r: r["cycles"].update(alu=1 << 62), r"\[cycles\] alu must be a whole number of cycles in \[0, 1048576\)"),
    ("cortex-m4", lambda r: r.update(exception_entry=1 << 20), "exception_entry: value 1048576 is out of range"),
    ("cortex-m7", lambda r: r["cache"].update(icache_bytes="16 GiB"), r"icache_bytes: value 17179869184 is out of range"),
    ("cortex-m7", lambda r: r["cache"].update(miss_cycles=1 << 40), "miss_cycles: value .* is out of range"),
    ("cortex-m4", lambda r: r["hazards"].update(load_use=-10 ** 12), r"\[hazards\] load_use must be a whole number"),
    ("cortex-m4", lambda r: r["hazards"].update(load_use=-1), "load_use = -1 would make instructions cost less than nothing"),
    ("cortex-m4", lambda r: r["hazards"].update(back_to_back_load=-2), r"back_to_back_load = -2 .*at least -1 \(1 - cycles.load\)"),
    ("cortex-m4", lambda r: r["latency"].update(div=[1]), r"\[latency\] div = \[1\] is not a model"),
    ("cortex-m7", lambda r: r["options"]["icache"].update(when_true=3), "when_true and when_false must be tables"),
])
def test_bad_profile_values(tmp_path, base, edit, message):
    from simmcu import load_profile

    with pytest.raises(ConfigError, match=message):
        load_profile(_profile(tmp_path, base, edit))


@pytest.mark.parametrize("args, text", [
    (["--max-instructions", str(1 << 63)], "max_instructions 9223372036854775808 is out of range"),
    (["--max-instructions", "0"], "max_instructions 0 is out of range"),
    (["--timeout", "nan"], "timeout nan is out of range"),
    (["--timeout", "inf"], "timeout inf is out of range"),
    (["--timeout", "-1"], "timeout -1.0 is out of range"),
])
def test_run_limits_out_of_range(args, text, capsys):
    from simmcu.cli import main

    assert main(["run", "hello", *args]) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert text in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("limits", [dict(max_instructions=1 << 63), dict(timeout=math.nan), dict(timeout=math.inf)])
def test_run_limits_out_of_range_in_the_api(limits):
    with pytest.raises(ConfigError, match="out of range"):
        Simulator(prebuilt("hello", "rv32imc"), core="rv32imc", **limits).run()


# -- models ----------------------------------------------------------------------------------
def _model_cli(*args):
    from simmcu.cli import main

    return main(["run", *args, "--core", "rv32imc"])


@pytest.mark.parametrize("content, text", [
    (None, "cannot read model .*m.tflite: No such file or directory"),
    ("dir", "cannot read model .*m.tflite: not a regular file"),
    ("cut", "is not a TensorFlow Lite flatbuffer"),
    (b"\x10\x00\x00\x00TFL3" + bytes(range(256)) * 4, "is not a TensorFlow Lite flatbuffer"),
])
def test_bad_model_files_are_bad_input(tmp_path, capsys, content, text):
    import re

    import tflite_models

    model = tmp_path / "m.tflite"
    if content == "dir":
        model.mkdir()
    elif content is not None:
        model.write_bytes(tflite_models.classifier()[:300] if content == "cut" else content)
    assert _model_cli(str(model)) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert re.search(text, err) and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("scales, bias, text", [
    (3, 8, "weights t1 have 3 scales and 3 zero points for 8 output channels"),  # fuzz seed 2028, case 14021
    (8, 5, "bias t2 has 5 values for 8 output channels")])
def test_quantisation_that_does_not_match_the_channels_is_bad_input(tmp_path, capsys, scales, bias, text):
    """Per-channel scales and biases must cover the output channels: a one-line error, not numpy's."""
    import numpy as np
    import tflite_models

    m = tflite_models.ModelWriter(3)
    x = m.activation([1, 4, 4, 2], 0.05, 0)
    w = m.tensor([8, 1, 1, 2], [0.01] * scales, [0] * scales, np.ones((8, 1, 1, 2), np.int8))
    b = m.tensor([bias], [0.0005] * bias, [0] * bias, np.zeros(bias, np.int32), dtype=np.int32)
    y = m.activation([1, 4, 4, 8], 0.05, 0)
    m.op("CONV_2D", [x, w, b], [y], Padding=tflite_models.VALID, StrideH=1, StrideW=1,
         FusedActivationFunction=tflite_models.NONE, DilationHFactor=1, DilationWFactor=1)
    model = tmp_path / "m.tflite"
    model.write_bytes(m.bytes([x], [y]))
    assert _model_cli(str(model)) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert text in err and len(err.strip().splitlines()) == 1, err


def test_a_graph_output_no_operator_produces_is_bad_input(tmp_path, capsys):
    """Fuzz seed 2029, case 3127: the arena planner met an output nothing computes (KeyError)."""
    import tflite_models

    m = tflite_models.ModelWriter(4)
    x = m.activation([1, 8], 0.05, 0)
    y = m.activation([1, 8], 0.05, 0)
    orphan = m.activation([1, 8], 0.05, 0)
    m.op("RESHAPE", [x], [y])
    model = tmp_path / "m.tflite"
    model.write_bytes(m.bytes([x], [orphan]))
    assert _model_cli(str(model)) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert "graph output tensor 2 (t2) is neither a graph input nor produced by an operator" in err, err


def test_bad_model_input_and_seed_are_bad_input(tmp_path, capsys):
    import tflite_models

    model = tmp_path / "m.tflite"
    model.write_bytes(tflite_models.classifier())
    npy = tmp_path / "x.npy"
    npy.write_bytes(b"\x93NUMPY\x01\x00v\x00{'descr': '|i1', 'fortran_order': False, 'shape': (100000000000,), }"
                    .ljust(128, b" ")[:127] + b"\n")
    assert _model_cli(str(model), "--input", str(npy)) == ExitCode.BAD_INPUT  # not 100 GB allocated
    assert "its header says [100000000000] int8, more than the file holds" in capsys.readouterr().err
    assert _model_cli(str(model), "--seed", "-1") == ExitCode.BAD_INPUT
    assert "seed -1 must be a non-negative integer" in capsys.readouterr().err


def test_code_spread_over_a_huge_region_is_refused_before_allocating(tmp_path):
    """Two tiny executable sections 64 MiB apart in a board's huge flash: the decoder's tables would
    take 4 bytes per byte of the span, so the span is bounded (16 MiB) with a one-line error."""
    from simmcu._codemap import build as build_codemap
    from simmcu._elf import CodeSection, ElfImage, Segment
    from simmcu import get_core, load_board, load_profile
    from simmcu import ElfError

    nop = bytes.fromhex("01000100")  # two c.nop
    image = ElfImage(path="spread.elf", arch="riscv", entry=0x2000_0000, symbols={},
                     segments=[Segment(0x2000_0000, 0x2000_0000, nop, 4, True)],
                     code=[CodeSection(".text", 0x2000_0000, nop), CodeSection(".far", 0x2400_0000, nop)])
    core = get_core("rv32imc")
    with pytest.raises(ElfError, match="spans 64.0 MiB; simmcu decodes at most 16 MiB"):
        build_codemap(image, "riscv", load_profile(core.timing), load_board(core.board))


def test_errors_quoting_the_input_stay_one_line():
    """A name taken from a hostile file (a section name with a newline in it) is escaped in the message
    (fuzz seed 2027 case 9454)."""
    from simmcu import ElfError

    assert str(ElfError("section .te\nxt\x1b[2J")) == "section .te\\nxt\\x1b[2J"


def test_an_activation_bound_beyond_float32_is_clamped():
    """A tiny output scale puts relu6's bound out of float32 range (fuzz seed 2027 cases 13467, 15767)."""
    from simmcu.firmware._compile import _activation_range

    assert _activation_range("relu6", 1e-45, 0) == (0, 127)
