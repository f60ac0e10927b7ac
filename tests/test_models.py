"""Each Cortex-M core runs as its own Unicorn model: an instruction the model lacks faults on it.

The probe instructions are raw encodings, so the compiler target does not decide anything:
M0+ lacks SDIV, M3 lacks the FPU, M4 and M33 lack double precision, M7 lacks ARMv8-M TT.
"""

import pytest

from simmcu import ExitCode

SDIV = '"0xfb90, 0xf0f1"'       # sdiv r0, r0, r1
VADD_F32 = '"0xee30, 0x0a00"'   # vadd.f32 s0, s0, s0
VADD_F64 = '"0xee30, 0x0b00"'   # vadd.f64 d0, d0, d0
TT = '"0xe840, 0xf000"'         # tt r0, r0

HAS = {
    "cortex-m0plus": set(),
    "cortex-m3": {SDIV},
    "cortex-m4": {SDIV, VADD_F32},
    "cortex-m7": {SDIV, VADD_F32, VADD_F64},
    "cortex-m33": {SDIV, VADD_F32, TT},
}


@pytest.mark.parametrize("probe", [SDIV, VADD_F32, VADD_F64, TT], ids=["sdiv", "vadd.f32", "vadd.f64", "tt"])
@pytest.mark.parametrize("core", list(HAS))
def test_core_model_instruction_set(run, core, probe):
    r = run("isa_probe.c", core, defines={"PROBE": probe})
    if probe in HAS[core]:
        assert (r.exit_code, r.console) == (0, "probe executed\n"), r.message
    else:
        assert r.exit_code == ExitCode.FAULT, r.message
        assert "UsageFault" in r.message and r.fault.pc_symbol.startswith("main")


def test_cpuid_reports_the_core(run, tmp_path):
    from simmcu import get_core

    for core in ("cortex-m0plus", "cortex-m7"):
        r = run("cpuid.c", core)
        assert r.console.strip() == f"cpuid {get_core(core).cpuid:08x}"
