"""simmcu's RISC-V profiles against the cores' RTL (simmcu.validate, tests/rtl/compare.py).

Each RTL is built once (cached by content hash in $XDG_CACHE_HOME/simmcu/rtl; measured on 2
shared cores: 13-20 s per Verilator core, 100 s for PicoRV32 with Yosys' first WebAssembly
compilation; this file takes about 3 minutes cold, about 1 minute cached); every kernel of
tests/rtl/kernels.c runs as the same ELF on the RTL and on simmcu, must compute the same result,
and its error must stay within the bound measured today (docs/cores/*.md). The bounds are loose
where the models are known to be off: they catch regressions and will be tightened when the
profiles are. PicoRV32 with comb memory is held to 3% by tests/test_picorv32_rtl.py;
tests/test_validate.py holds every core to generated programs.
"""

import sys
from pathlib import Path

import pytest

from simmcu import validate

sys.path.insert(0, str(Path(__file__).parent / "rtl"))
import compare  # noqa: E402

#: (core, memory, wait states) -> the largest |error| per kernel allowed today. With comb memory
#: Ibex and CV32E40P match the RTL to the reset latency (a few cycles per kernel, -0.3% on the
#: shortest); with wait states Ibex is within 0.4%, PicoRV32 2.2% and CV32E40P 5.1%
#: (docs/cores/*.md).
BOUNDS = {
    ("picorv32", "registered", 1): 0.03,
    ("ibex", "comb", 0): 0.005,
    ("ibex", "registered", 1): 0.01,
    ("ibex:single_cycle_multiplier=true", "comb", 0): 0.005,
    ("ibex:single_cycle_multiplier=true", "registered", 1): 0.01,
    ("cv32e40p", "comb", 0): 0.005,
    ("cv32e40p", "registered", 1): 0.07,
}


def _skip(core):
    why = validate.available(core)
    return pytest.mark.skipif(why is not None, reason=f"{core} RTL: {why}")


@pytest.fixture(scope="module")
def elf_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("rtl-kernels")


@pytest.mark.parametrize("core", [pytest.param(c, marks=_skip(c)) for c in dict.fromkeys(c for c, _, _ in BOUNDS)])
def test_rtl_builds(core):
    exe = validate.build(core)
    assert exe.exists() and validate.build(core) == exe  # the second call is the cache


@pytest.mark.parametrize("core,memory,wait_states",
                         [pytest.param(*k, marks=_skip(k[0]), id=f"{k[0]}-{k[1]}{k[2]}") for k in BOUNDS])
def test_kernels_against_the_rtl(core, memory, wait_states, elf_dir):
    exe = validate.build(core)
    rows = [compare.compare(exe, k, elf_dir, core, memory, wait_states) for k in compare.KERNELS]
    assert all(r.same_result for r in rows), [r.kernel for r in rows if not r.same_result]
    worst = max(rows, key=lambda r: abs(r.error))
    assert abs(worst.error) < BOUNDS[core, memory, wait_states], \
        f"{worst.kernel}: RTL {worst.rtl}, simmcu {worst.simmcu} ({100 * worst.error:+.1f}%)"
