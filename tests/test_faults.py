"""Faults reported where they happen: the faulting instruction's PC and encoding, the data address,
the architecture's fault name, for what Unicorn raises imprecisely or not at all."""

from __future__ import annotations

import pytest

from simmcu import ConfigError, ExitCode, Simulator


def fault(run, core, what):
    r = run("faults.c", core, what)
    assert r.exit_code == ExitCode.FAULT, r.message
    return r


@pytest.mark.parametrize("what, text", [("illegal-32", "illegal instruction fe000033"),
                                        ("illegal-16", "illegal instruction 0000")])
def test_riscv_illegal_instruction_at_its_own_pc(run, elf, what, text):
    """Unicorn reports an illegal instruction 4 bytes on: the report names the instruction itself."""
    from simmcu._codemap import decode_image
    from simmcu._elf import load_elf
    from simmcu import get_core, load_board

    r = fault(run, "rv32imc", what)
    assert text in r.message
    core = get_core("rv32imc")
    insns = {i.addr: i for i in decode_image(load_elf(elf("faults.c", "rv32imc"), core, load_board(core.board)),
                                             "riscv")}
    assert insns[r.fault.pc].text == text.split()[-1]


@pytest.mark.parametrize("what, size, access, offset", [("ldrd", 8, "read", 5), ("strd", 8, "write", 2),
                                                        ("ldm", 8, "read", 1)])
@pytest.mark.parametrize("core", ["cortex-m4", "cortex-m7", "cortex-m33"])
def test_armv7m_word_alignment_usage_fault(run, elf, core, what, size, access, offset):
    """LDRD/STRD and LDM/STM need word-aligned addresses on ARMv7-M (UNALIGNED UsageFault); an unaligned
    LDR does not fault (CCR.UNALIGN_TRP is 0)."""
    r = fault(run, core, what)
    assert "UsageFault (UNALIGNED)" in r.message
    assert (r.fault.access, r.fault.size, r.fault.address_symbol) == (access, size, f"words+{offset:#x}")
    assert r.fault.pc_symbol.startswith("main")
    assert run("faults.c", core, "unaligned-ldr").exit_reason == "exit"


@pytest.mark.parametrize("what", ["literal-ldrd", "literal-vldr"])
@pytest.mark.parametrize("core", ["cortex-m4", "cortex-m7", "cortex-m33"])
def test_a_literal_load_from_a_halfword_aligned_pc_is_aligned(run, core, what):
    """LDRD and VLDR from the literal pool address Align(PC, 4) + imm: never unaligned, whatever the
    PC (a VLDR in a float kernel was reported as an UNALIGNED UsageFault)."""
    r = run("faults.c", core, what)
    assert (r.exit_reason, r.exit_code) == ("exit", 42), r.message


@pytest.mark.parametrize("core", ["cortex-m0plus"])
def test_armv6m_unaligned_access_hard_fault_names_the_address(run, core):
    r = fault(run, core, "unaligned-ldr")
    assert r.message.startswith("HardFault: unaligned read of 4 bytes at")
    assert r.fault.address_symbol == "words+0x1"


@pytest.mark.parametrize("core", ["rv32imc", "cortex-m4", "cortex-m0plus"])
def test_fetch_from_a_device_window_names_the_address(run, core):
    r = fault(run, core, "fetch-mmio")
    assert r.fault.access == "fetch" and r.fault.address == 0x40000000
    assert "MMIO region 'periph'" in r.message


@pytest.mark.parametrize("core", ["cortex-m4", "cortex-m0plus"])
def test_vectors_and_frames_outside_memory_are_faults(run, core):
    assert "SVCall vector at 0x6000002c (VTOR 0x60000000) is not in readable memory" in \
        fault(run, core, "vtor-svc").message
    r = fault(run, core, "unstack")
    assert r.fault.kind == "unstacking-fault" and r.fault.address == 0x60000000


def test_custom_instruction_unit_refused_on_armv6m(elf):
    with pytest.raises(ConfigError, match="ARMv6-M"):
        Simulator(elf("hello", "cortex-m0plus"), core="cortex-m0plus", accelerators=["cfu"]).run()
