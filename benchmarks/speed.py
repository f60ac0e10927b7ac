"""Simulated MIPS of simmcu next to plain Unicorn (no hooks) on the same ELF, in the same run.

    python benchmarks/speed.py [--reps N]

Builds benchmarks/conv_loop.c for rv32imc and cortex-m4 (>= 50M instructions on both at the
default REPS), runs it with simmcu (full timing: block costs, interlocks, taken branches,
data-dependent latencies, wait states, call tree, stack peak) and with a bare Unicorn loop that
only stops at the firmware's first semihosting call (its exit), and prints both speeds and
their ratio. Each figure is the best of three runs; simmcu's includes its per-run set-up; one run
with --exact-memory shows what hooking every data access costs. Then
it times `simmcu run hello` as a user would run it, with the compiled-hook cache warm. This is
a benchmark, not a test: wall-clock numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import unicorn as U

from simmcu import Simulator, get_core, load_board
from simmcu._elf import load_elf
from simmcu.firmware import build

HERE = Path(__file__).resolve().parent
_PROT = {"r": U.UC_PROT_READ, "w": U.UC_PROT_WRITE, "x": U.UC_PROT_EXEC}


def plain_unicorn(elf: Path, core_name: str) -> float:
    """Seconds for bare Unicorn to run ``elf`` from reset to its first semihosting trap."""
    core = get_core(core_name)
    board = load_board(core.board)
    image = load_elf(elf, core, board)
    uc = U.Uc(core.uc_arch, core.uc_mode, cpu=core.uc_cpu_model)
    for r in board.regions:
        if r.kind != "mmio":
            perms = 0
            for c in r.perms:
                perms |= _PROT[c]
            uc.mem_map(r.base, r.size, perms)
    for seg in image.segments:
        uc.mem_write(seg.load_addr, seg.data)
    if core.arch == "arm":
        # The PPB (DWT enable in the start-up code) as plain RAM; exit is BKPT -> interrupt hook.
        uc.mem_map(0xE000_0000, 0x10_0000)
        sp, pc = (int.from_bytes(uc.mem_read(board.code.base + o, 4), "little") for o in (0, 4))
        uc.reg_write(U.arm_const.UC_ARM_REG_MSP, sp)
        uc.hook_add(U.UC_HOOK_INTR, lambda uc, intno, _: uc.emu_stop())
    else:
        pc = image.entry
        uc.hook_add(U.UC_HOOK_INSN_INVALID, lambda uc, _: False)  # the semihosting ebreak ends it
    start = time.perf_counter()
    try:
        uc.emu_start(pc, 0xFFFF_FFFF)
    except U.UcError:
        pass
    return time.perf_counter() - start


def simmcu_run(elf: Path, core: str, **options) -> tuple[float, int, int]:
    start = time.perf_counter()
    result = Simulator(elf, core=core, **options).run()
    return time.perf_counter() - start, result.instructions, result.cycles


def cli_seconds(*args: str) -> float:
    """Wall time of one ``simmcu`` process, interpreter start-up included."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "simmcu", *args], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=140,
                    help="kernel passes (140: about 77M instructions on rv32imc, 54M on cortex-m4)")
    a = ap.parse_args()
    print(f"{'core':10s} {'instructions':>13s} {'cycles':>13s} {'simmcu MIPS':>12s} {'Unicorn MIPS':>13s} {'ratio':>6s}")
    with tempfile.TemporaryDirectory() as tmp:
        for core in ("rv32imc", "cortex-m4"):
            # No command-line fetch at start-up: the plain Unicorn loop stops at the first semihosting call.
            elf = build(HERE / "conv_loop.c", core, Path(tmp) / f"{core}.elf",
                        defines={"REPS": str(a.reps), "SIMMCU_NO_CMDLINE": "1"})
            sim_s, n, cycles = min(simmcu_run(elf, core) for _ in range(3))
            plain_s = min(plain_unicorn(elf, core) for _ in range(3))
            print(f"{core:10s} {n:13,d} {cycles:13,d} {n / sim_s / 1e6:12.0f} {n / plain_s / 1e6:13.0f} "
                  f"{sim_s / plain_s:6.1f}")
            exact_s, _, _ = simmcu_run(elf, core, exact_memory=True)
            print(f"{'  --exact-memory (every data access hooked)':50s} {n / exact_s / 1e6:12.0f}")
    cli_seconds("run", "hello")  # warms the on-disk cache of compiled hooks, as any earlier run would
    print(f"simmcu run hello, warm cache: {min(cli_seconds('run', 'hello') for _ in range(3)):.2f} s wall")


if __name__ == "__main__":
    main()
