"""simmcu's RISC-V timing profiles next to the cores' RTL, cycle for cycle, on real kernels.

    python tests/rtl/compare.py [--core ibex ...] [--memory comb registered] [--wait-states 0 1 2 3]
                                [--toolchain gnu]

prints, for each RTL configuration (simmcu.validate.RTL_CORES), memory condition and kernel in
``kernels.c`` (built -O2 for RV32IMC), the RTL's cycles, simmcu's, and the error. The same ELF
runs on both; simmcu gets the board ``validate/rtl-board.toml`` with the wait states the memory condition
adds over the comb memory on every fetch, read and write (``board_for``).
tests/test_rtl.py asserts the bounds; docs/cores/*.md quote the tables.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from simmcu import validate
from simmcu.validate import board_for, extra_wait_states

HERE = Path(__file__).resolve().parent
BOARD = validate.BOARD
KERNELS = ("conv_int8()", "matmul_int32()", "crc32_bitwise()", "copy_bytes()", "insertion_sort()",
           "decimal()", "fib(15)", "shifts()")


@dataclass
class Row:
    kernel: str
    instructions: int
    simmcu: int
    rtl: int
    same_result: bool

    @property
    def error(self) -> float:
        """simmcu's cycles relative to the RTL's (positive: simmcu is slower)."""
        return self.simmcu / self.rtl - 1


def kernel_elf(kernel: str, core: str, work: Path, toolchain: str = "zig", source: Path = HERE / "kernels.c") -> Path:
    """``kernel`` built -O2 for the core's base name (all RV32IMC), once per work directory."""
    from simmcu.firmware import build

    base = core.split(":")[0]
    elf = work / f"{base}-{toolchain}-{kernel.split('(')[0]}.elf"
    if not elf.exists():
        build(source, base, elf, board=BOARD, toolchain=toolchain,
              defines={"KERNEL": kernel, "SIMMCU_NO_CMDLINE": "1"})  # the testbench stops at the first EBREAK
    return elf


def compare(exe: Path, kernel: str, work: Path, core: str, memory: str = "comb", wait_states: int = 0,
            toolchain: str = "zig", prefetch: bool = False) -> Row:
    """``kernel`` on simmcu as ``core`` and on the RTL ``exe``: the same ELF, the same memory."""
    from simmcu import Simulator

    elf = kernel_elf(kernel, core, work, toolchain)
    board = board_for(core, memory, wait_states, work, prefetch)
    result = Simulator(elf, core=validate.RTL_CORES[core].spec, board=board).run()
    if not result.ok and result.exit_reason != "exit":
        raise RuntimeError(f"{kernel}: {result.message}")
    rtl = validate.run(exe, elf, BOARD, memory, wait_states, max_cycles=100 * result.cycles + 10_000)
    return Row(kernel, result.instructions, result.cycles, rtl.cycles, rtl.result & 0xFF == result.exit_code)


def conditions(memories, wait_states):
    for memory in memories:
        for n in (wait_states if memory == "registered" else (0,)):
            yield memory, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--core", nargs="+", default=list(validate.RTL_CORES), choices=list(validate.RTL_CORES))
    ap.add_argument("--memory", nargs="+", default=["comb", "registered"], choices=("comb", "registered"))
    ap.add_argument("--wait-states", nargs="+", type=int, default=[0, 1, 2, 3], choices=range(4))
    ap.add_argument("--toolchain", default="zig", choices=("zig", "gnu"), help="compiler for the kernels")
    ap.add_argument("--prefetch", action="store_true", help="give simmcu's board a prefetch buffer")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for core in a.core:
            why = validate.available(core)
            if why:
                sys.exit(f"{core}: {why}")
            exe = validate.build(core)
            rtl = validate.RTL_CORES[core]
            params = ", ".join(f"{k}={v}" for k, v in rtl.params.items())
            for memory, n in conditions(a.memory, a.wait_states):
                board = extra_wait_states(core, memory, n)
                print(f"\nRTL {rtl.top} {params}; memory {memory}" + (f" N={n}" if memory == "registered" else ""))
                pf = "" if board == 0 else f", prefetch {str(a.prefetch).lower()}"
                print(f"simmcu --core {rtl.spec}, board wait states {board}{pf}; kernels built with {a.toolchain} -O2")
                print(f"{'kernel':18s} {'instructions':>12s} {'RTL cycles':>11s} {'simmcu':>11s} {'error':>7s}")
                for k in KERNELS:
                    r = compare(exe, k, Path(tmp), core, memory, n, a.toolchain, a.prefetch)
                    flag = "" if r.same_result else "  RESULT DIFFERS"
                    print(f"{k:18s} {r.instructions:12,d} {r.rtl:11,d} {r.simmcu:11,d} {100 * r.error:+6.1f}%{flag}",
                          flush=True)


if __name__ == "__main__":
    main()
