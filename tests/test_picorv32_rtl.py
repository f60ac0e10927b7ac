"""The picorv32 profile against the PicoRV32 RTL itself (tests/rtl): real kernels, -O2, within 5%.

Each configuration's RTL is translated by Yosys (CXXRTL) and compiled once; every kernel runs
as the same ELF on the RTL and on simmcu, and both must compute the same result.
"""

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "rtl"))
import picorv32_rtl as rtl  # noqa: E402

pytestmark = pytest.mark.skipif(rtl.available() is not None, reason=str(rtl.available()))
TOOLCHAINS = ["zig", pytest.param("gnu", marks=pytest.mark.skipif(
    shutil.which("riscv64-unknown-elf-gcc") is None, reason="riscv64-unknown-elf-gcc not on PATH"))]


@pytest.fixture(scope="module")
def rtl_sim(tmp_path_factory):
    built = {}

    def get(core):
        if core not in built:
            built[core] = rtl.build_rtl(tmp_path_factory.mktemp("rtl"), core)
        return built[core]

    return get


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
@pytest.mark.parametrize("core", list(rtl.CONFIGS))
def test_kernels_within_5_percent_of_the_rtl(rtl_sim, tmp_path, core, toolchain):
    rows = [rtl.compare(rtl_sim(core), k, tmp_path, core, toolchain) for k in rtl.KERNELS]
    assert all(r.same_result for r in rows)
    worst = max(rows, key=lambda r: abs(r.error))
    assert abs(worst.error) < 0.05, f"{worst.kernel}: RTL {worst.rtl}, simmcu {worst.simmcu}"
    # The total over all kernels is tighter still (docs/cores/picorv32.md quotes the table).
    assert abs(sum(r.simmcu for r in rows) / sum(r.rtl for r in rows) - 1) < 0.02

