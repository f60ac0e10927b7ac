"""System details firmware relies on: exact counter reads, VTOR relocation, semihosting semantics."""

import shutil
import struct

import pytest

from simmcu import get_core
from simmcu._semihosting import Exit, Semihosting, SemihostingRefused
from simmcu.firmware import build


@pytest.mark.parametrize("core, expected", [
    # cv32e40p: csrr mcycle and csrr minstret 4 cycles each (counter CSRs stall: csr_status_o), 10 NOPs 1 each
    ("rv32imc", "cycles 18 instret 12 after-write 1000\n"),
    ("cortex-m4", "cycles 12\n"),  # LDR 2 + 10 NOPs; the first LDR's address stall precedes its read
    ("cortex-m33", "cycles 12\n"),
])
def test_counter_reads_are_exact(run, core, expected):
    r = run("counters.c", core)
    assert r.exit_code == 0 and r.console == expected


#: What each core's documentation says it lacks of simmcu's counter CSRs (picorv32.v's
#: ENABLE_COUNTERS decode, ibex_cs_registers.sv, cv32e40p_cs_registers.sv); rv32imc has them all.
_LACKS = {
    "rv32imc": set(),
    "picorv32": {"mcycle", "mcycleh", "minstret", "minstreth", "mcountinhibit"},
    "ibex": {"cycle", "cycleh", "time", "timeh", "instret", "instreth"},
    "cv32e40p": {"time", "timeh"},
}
_CSRS = ("cycle", "cycleh", "time", "timeh", "instret", "instreth", "mcycle", "mcycleh", "minstret", "minstreth",
         "mcountinhibit")


@pytest.mark.parametrize("core", list(_LACKS))
def test_each_core_has_its_own_counter_csrs(run, core):
    """The same binary reads each CSR: the ones the core lacks are illegal instructions there."""
    for csr in _CSRS:
        r = run("counter_csrs.c", core, csr)
        if csr in _LACKS[core]:
            assert r.exit_reason == "fault" and f"{core} has no CSR {csr}" in r.message, (csr, r.message)
        else:
            assert r.exit_code == 0 and r.console.startswith(f"{csr} "), (csr, r.message)


def test_picorv32_decodes_counters_only_as_rdcounter(tmp_path):
    """PicoRV32 matches RDCYCLE as csrrs rd, cycle, x0 exactly: csrrc of the same CSR is illegal."""
    from simmcu import Simulator

    src = tmp_path / "rdc.c"
    src.write_text('#include "simmcu.h"\nint main(void){ uint32_t v; __asm__ volatile("csrrc %0, cycle, x0" : "=r"(v));'
                   ' return (int)(v & 1); }\n')
    elf = build(src, "rv32imc", tmp_path / "rdc.elf")
    assert Simulator(elf, core="rv32imc").run().exit_reason == "exit"
    r = Simulator(elf, core="picorv32").run()
    assert r.exit_reason == "fault" and "reads cycle only as csrrs rd, cycle, x0" in r.message


@pytest.mark.parametrize("core, expected", [
    # CV32E40P resets mcountinhibit to CY|IR|HPM3: nothing counts until firmware clears it; its
    # counter CSR reads take 4 cycles (the [csr] table), so csrr + 10 NOPs span 14 cycles.
    ("cv32e40p", ["d: mcycle +0 minstret +0", "0: mcycle +14 minstret +11", "1: mcycle +0 minstret +11"]),
    ("ibex", ["0: mcycle +11 minstret +11", "0: mcycle +11 minstret +11", "1: mcycle +0 minstret +11"]),
])
def test_mcountinhibit_stops_and_restarts_the_counters(run, core, expected):
    """csrr + 10 NOPs span 11 instructions, and 11 cycles on Ibex (1 cycle each)."""
    r = run("counter_csrs.c", core, "inhibit")
    assert r.exit_code == 0, r.message
    assert r.console.splitlines() == [f"mcountinhibit {line}" for line in expected]


def test_vector_table_relocation(run):
    r = run("vtor.c", "cortex-m4")
    assert r.exit_code == 0 and r.console == "flash 0 ram 1\n"


@pytest.mark.parametrize("core", ["rv32imc", "cortex-m4"])
def test_gnu_toolchain_when_present(tmp_path, run, core):
    if shutil.which(get_core(core).gnu_cc) is None:
        pytest.skip(f"{get_core(core).gnu_cc} is not installed")
    from simmcu import Simulator

    elf = build("conv2d", core, tmp_path / "gnu.elf", toolchain="gnu")
    assert Simulator(elf, core=core).run().exit_code == 0


class FakeMemory:
    def __init__(self):
        self.mem = bytearray(0x1000)

    def read(self, addr, n):
        return bytes(self.mem[addr:addr + n])

    def write(self, addr, data):
        self.mem[addr:addr + len(data)] = data


def semihosting(**kw):
    m = FakeMemory()
    out = []
    sh = Semihosting(read=m.read, write=m.write, cycles=lambda: 250_000_000, clock_hz=100_000_000,
                     console=out.append, **kw)
    return sh, m, out


def test_semihosting_exit_reasons():
    sh, m, _ = semihosting()
    assert sh.call(0x18, 0x20026) == Exit(0, "SYS_EXIT")
    assert sh.call(0x18, 0x20023).code == 1  # any other reason is a failure
    m.write(0x100, struct.pack("<II", 0x20026, 42))
    assert sh.call(0x20, 0x100).code == 42


def test_semihosting_console_and_time_are_modeled():
    sh, m, out = semihosting()
    m.write(0x200, b"hi\0")
    sh.call(0x04, 0x200)
    assert out == ["hi"]
    assert sh.call(0x10, 0) == 250  # centiseconds of modeled time: 2.5 s at 100 MHz
    assert sh.call(0x11, 0) == 2
    sh.call(0x30, 0x300)
    assert struct.unpack_from("<Q", m.mem, 0x300)[0] == 250_000_000
    assert sh.call(0x31, 0) == 100_000_000


def test_semihosting_refuses_system_and_unknown():
    sh, _, _ = semihosting()
    with pytest.raises(SemihostingRefused, match="SYS_SYSTEM"):
        sh.call(0x12, 0)
    with pytest.raises(SemihostingRefused, match="0x99"):
        sh.call(0x99, 0)


def test_semihosting_feature_file_and_stdin():
    sh, m, _ = semihosting(stdin=b"ab")
    m.write(0x400, b":semihosting-features")
    m.write(0x100, struct.pack("<III", 0x400, 0, 21))
    fd = sh.call(0x01, 0x100)
    m.write(0x120, struct.pack("<III", fd, 0x500, 5))
    assert sh.call(0x06, 0x120) == 0  # 5 requested, 5 read
    assert m.read(0x500, 5) == b"SHFB\x03"
    assert sh.call(0x07, 0) == ord("a")


@pytest.mark.parametrize("core, cycles", [("cortex-m3", 1000), ("cortex-m4", 1000), ("cortex-m7", 702),
                                          ("cortex-m33", 1000)])
def test_instructions_skipped_by_it_blocks_are_counted(run, core, cycles):
    # From the first counter read to the second: LDR 2 + MOVS 1, then 100 passes of TST.W, ITTE and
    # three ADDs (one skipped, still 1 cycle), SUBS, BNE = 7 cycles, plus on the 99 taken passes the
    # refill P = 2 and 1 because the target TST.W is a 32-bit instruction at a 2-mod-4 address:
    # 3 + 100 * 7 + 99 * (2 + 1) = 1000. Cortex-M7: LDR (1) pairs with MOVS and SUBS with BNE (6 a
    # pass); the BTAC predicts BNE after its first taken pass, so only that one pays P = 1, each
    # taken pass the misaligned target's 1, and the exit, predicted taken, P: 1 + 600 + 2 + 98 + 1.
    r = run("it_count.c", core)
    assert r.console == f"cycles {cycles} a 50 b 250\n"
