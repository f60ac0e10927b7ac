"""The picorv32 profile against the PicoRV32 RTL itself (simmcu.validate): real kernels, -O2,
memory answering within the cycle. Built with zig every kernel of every configuration matches to
the reset latency (3-4 cycles, -0.0%; docs/cores/picorv32.md): held within 0.5% per kernel and
0.2% in total. Built with GCC (last measured before misaligned_fallthrough: -2.2% worst,
shifts without the barrel shifter) within 3% and 1%.

Each configuration's RTL is translated by Yosys (CXXRTL) and compiled once (cached); every kernel
runs as the same ELF on the RTL and on simmcu, and both must compute the same result.
"""

import shutil
import sys
from pathlib import Path

import pytest

from simmcu import validate

sys.path.insert(0, str(Path(__file__).parent / "rtl"))
import compare  # noqa: E402

CONFIGS = [c for c in validate.RTL_CORES if c.startswith("picorv32")]
pytestmark = pytest.mark.skipif(validate.available("picorv32") is not None, reason=str(validate.available("picorv32")))
#: toolchain -> (largest |error| of one kernel, |error| of the total)
BOUNDS = {"zig": (0.005, 0.002), "gnu": (0.03, 0.01)}
TOOLCHAINS = ["zig", pytest.param("gnu", marks=pytest.mark.skipif(
    shutil.which("riscv64-unknown-elf-gcc") is None, reason="riscv64-unknown-elf-gcc not on PATH"))]


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
@pytest.mark.parametrize("core", CONFIGS)
def test_kernels_against_the_rtl(tmp_path, core, toolchain):
    exe = validate.build(core)
    rows = [compare.compare(exe, k, tmp_path, core, toolchain=toolchain) for k in compare.KERNELS]
    assert all(r.same_result for r in rows)
    worst = max(rows, key=lambda r: abs(r.error))
    one, total = BOUNDS[toolchain]
    assert abs(worst.error) < one, f"{worst.kernel}: RTL {worst.rtl}, simmcu {worst.simmcu}"
    # The total over all kernels is tighter still (docs/cores/picorv32.md quotes the table).
    assert abs(sum(r.simmcu for r in rows) / sum(r.rtl for r in rows) - 1) < total
