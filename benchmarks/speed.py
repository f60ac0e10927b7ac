"""The speed suite: simulated MIPS of simmcu next to plain Unicorn (no hooks) on the same ELF, in the same run.

    python benchmarks/speed.py [--rows conv,control,...] [--quick] [--runs N]

One table, one row per program and mode: the int8 convolution loop (benchmarks/conv_loop.c, long
basic blocks), control-heavy firmware (benchmarks/control.c: lists, a state machine, sorting,
hashing, strings, calls; short blocks), float work on the FPU cores (benchmarks/float.c), the
MLPerf Tiny KWS and ResNet-8 models CPU-only, with the cfu and with the conv accelerator (when
../shared/models holds them), the Cortex-M7 with its caches, --exact-memory, and --timing none.
"simmcu" is a normal ``Simulator(elf, core, ...).run()``: its MIPS are over ``run()`` (the machine's
per-run set-up included); "set-up s" is the ``Simulator`` construction before it (loading and decoding
the ELF once, which any number of runs share);
"Unicorn" is the same ELF on a bare ``Uc`` with no hooks but a Python one at each semihosting call
(a few per run), which answers -1 and goes on until the firmware exits. An accelerated build needs
the unit's instructions or registers, which plain Unicorn does not have: its row's Unicorn figure
is the CPU-only build of the same model, so its ratio compares speeds, not one piece of work. The
ratio is Unicorn MIPS over simmcu MIPS (on one ELF: simmcu's wall time over Unicorn's). Blocks per
second are simmcu's: basic blocks executed (counted by a native block hook on plain Unicorn, or by
a Python block observer for an accelerated build) over its wall time. Each figure is the median of
--runs runs (3). QEMU is not measured (no column): neither qemu-system-riscv32 nor
qemu-system-arm was on PATH where this suite was written. Then it times `simmcu run hello` as a
user would run it, with the compiled-hook cache warm. This is a benchmark, not a test:
wall-clock numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numba
import numpy as np
import unicorn as U
from numba import carray, types

from simmcu import Observer, Simulator, get_core, load_board
from simmcu._elf import load_elf
from simmcu.firmware import build

HERE = Path(__file__).resolve().parent
MODELS = HERE.parents[1] / "shared" / "models"
_PROT = {"r": U.UC_PROT_READ, "w": U.UC_PROT_WRITE, "x": U.UC_PROT_EXEC}
_EXIT_OPS = (0x18, 0x20)  # SYS_EXIT, SYS_EXIT_EXTENDED


@numba.cfunc(types.void(types.voidptr, types.uint64, types.uint32, types.CPointer(types.int64)), nopython=True)
def _count_block(uc, address, size, counts):
    c = carray(counts, 2)
    c[0] += 1
    c[1] += size


def plain_unicorn(elf: Path, core_name: str, count_blocks: bool = False) -> tuple[float, int, int]:
    """Seconds bare Unicorn takes to run ``elf`` from reset to its exit, and (``count_blocks``: with a
    near-empty native block hook) the basic blocks it ran and their bytes."""
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
    counts = np.zeros(2, dtype=np.int64)
    if count_blocks:
        import ctypes

        from unicorn.unicorn_py3 import unicorn as ucmod

        handle = ctypes.c_size_t()
        ucmod.uclib.uc_hook_add(uc._uch, ctypes.byref(handle), U.UC_HOOK_BLOCK, ctypes.c_void_p(_count_block.address),
                                ctypes.c_void_p(counts.ctypes.data), ctypes.c_uint64(1), ctypes.c_uint64(0))
    if core.arch == "arm":
        # The PPB (DWT enable in the start-up code) as plain RAM; semihosting is BKPT 0xAB -> interrupt hook.
        uc.mem_map(0xE000_0000, 0x10_0000)
        sp, pc = (int.from_bytes(uc.mem_read(board.code.base + o, 4), "little") for o in (0, 4))
        uc.reg_write(U.arm_const.UC_ARM_REG_MSP, sp)
        uc.hook_add(U.UC_HOOK_INTR, lambda uc, intno, _: uc.emu_stop())
        op_reg, pc_reg = U.arm_const.UC_ARM_REG_R0, U.arm_const.UC_ARM_REG_PC
    else:
        pc = image.entry
        uc.hook_add(U.UC_HOOK_INSN_INVALID, lambda uc, _: False)  # the semihosting ebreak stops it
        op_reg, pc_reg = U.riscv_const.UC_RISCV_REG_A0, U.riscv_const.UC_RISCV_REG_PC
    start = time.perf_counter()
    while True:
        try:
            uc.emu_start(pc | (core.arch == "arm"), 0xFFFF_FFFF)
        except U.UcError:
            pass
        pc = _after_semihosting(uc, core.arch, uc.reg_read(pc_reg))
        if pc is None or uc.reg_read(op_reg) in _EXIT_OPS:
            break
        uc.reg_write(op_reg, 0xFFFF_FFFF)  # every call fails: no command line, no console
    return time.perf_counter() - start, int(counts[0]), int(counts[1])


def _after_semihosting(uc, arch: str, pc: int) -> int | None:
    """Where execution goes on after the semihosting call Unicorn stopped at (None: it stopped elsewhere)."""
    if arch == "arm":
        for at in (pc, pc - 2):
            if bytes(uc.mem_read(at, 2)) == b"\xab\xbe":  # BKPT 0xAB
                return at + 2
        return None
    if bytes(uc.mem_read(pc, 4)) == (0x00100073).to_bytes(4, "little"):  # EBREAK, then SRAI x0, x0, 7
        return pc + 8
    return None


class _Blocks(Observer):
    def __init__(self):
        self.count = 0

    def block(self, address: int, cycle: int) -> None:
        self.count += 1


@dataclass
class Row:
    name: str
    core: str
    elf: Path
    options: dict = field(default_factory=dict)
    plain_elf: Path | None = None  #: what plain Unicorn runs, when not ``elf`` (an accelerated build)
    plain_core: str | None = None


def measure(row: Row, runs: int) -> dict:
    def once():
        start = time.perf_counter()
        sim = Simulator(row.elf, core=row.core, **row.options)
        built = time.perf_counter()
        r = sim.run()
        assert r.exit_code == 0, f"{row.name}: {r.message}"
        return built - start, time.perf_counter() - built, r.instructions

    once()  # compiles what this mode's hooks need (cached) and warms the build
    sim = [once() for _ in range(runs)]
    n = sim[0][2]
    plain_core = row.plain_core or row.core.split(":")[0]
    plain_elf = row.plain_elf or row.elf
    plain_s = statistics.median(plain_unicorn(plain_elf, plain_core)[0] for _ in range(runs))
    block_bytes = None
    if row.plain_elf is None:
        _, blocks, size = plain_unicorn(row.elf, plain_core, count_blocks=True)
        block_bytes = size / blocks
    else:
        counter = _Blocks()
        Simulator(row.elf, core=row.core, observers=[counter], **row.options).run()
        blocks = counter.count
    if row.plain_elf is not None:  # the CPU-only build's instructions: its MIPS
        plain_n = Simulator(plain_elf, core=plain_core, timing="none").run().instructions
    else:
        plain_n = n
    setup_s = statistics.median(t for t, _, _ in sim)
    sim_s = statistics.median(t for _, t, _ in sim)
    return dict(n=n, setup_s=setup_s, sim_mips=n / sim_s / 1e6, plain_mips=plain_n / plain_s / 1e6,
                ratio=(plain_n / plain_s) / (n / sim_s), blocks_per_s=blocks / sim_s, block_bytes=block_bytes)


def breakdown(row: Row, runs: int) -> None:
    """Where the time goes on one program: MIPS of plain Unicorn, with one near-empty native block hook,
    --timing none (the counting hook and the address-scoped functional hooks), the same without the
    alignment hooks (LDRD/LDM/VLDR sites), and full timing."""
    n = Simulator(row.elf, core=row.core, timing="none").run().instructions

    def mips(f) -> float:
        return n / statistics.median(f() for _ in range(runs)) / 1e6

    def run(sim) -> float:
        start = time.perf_counter()
        sim.run()
        return time.perf_counter() - start

    none, full = Simulator(row.elf, core=row.core, timing="none"), Simulator(row.elf, core=row.core)
    unaligned = Simulator(row.elf, core=row.core, timing="none")
    sites = len(unaligned.code.alignment_sites)
    unaligned.code.alignment_sites = []
    figures = [("plain Unicorn", mips(lambda: plain_unicorn(row.elf, row.core)[0])),
               ("+ empty native block hook", mips(lambda: plain_unicorn(row.elf, row.core, True)[0])),
               (f"--timing none without the {sites} alignment hooks", mips(lambda: run(unaligned))),
               ("--timing none", mips(lambda: run(none))), ("full timing", mips(lambda: run(full)))]
    print(f"{row.name}: " + ", ".join(f"{what} {v:.0f}" for what, v in figures) + " MIPS", flush=True)


def rows(tmp: Path, quick: bool) -> dict[str, Callable[[], list[Row]]]:
    """The suite's rows by group name (``--rows``), each built when asked for."""
    scale = 10 if quick else 1
    sizes = {"conv_loop.c": 140 // scale, "control.c": 400 // scale, "float.c": 800 // scale}

    @functools.cache
    def make(source: str, core: str) -> Path:
        # No command-line fetch at start-up: one semihosting call fewer for the plain Unicorn loop.
        return build(HERE / source, core, tmp / f"{Path(source).stem}-{core}.elf",
                     defines={"REPS": str(sizes[source]), "SIMMCU_NO_CMDLINE": "1"})

    caches = "cortex-m7:icache=true,dcache=true"
    pair = ("rv32imc", "cortex-m4")
    return {
        "conv": lambda: [Row(f"conv {c}", c, make("conv_loop.c", c)) for c in pair],
        "control": lambda: [Row(f"control {c}", c, make("control.c", c)) for c in pair],
        "float": lambda: [Row(f"float {c}", c, make("float.c", c)) for c in ("cortex-m4", "cortex-m7")],
        "models": _model_rows,
        "m7-caches": lambda: [Row(f"{what} cortex-m7 + caches", caches, make(f"{src}.c", "cortex-m7"))
                              for what, src in (("conv", "conv_loop"), ("control", "control"))],
        "exact-memory": lambda: [Row(f"{what} {c} --exact-memory", c, make(f"{src}.c", c), dict(exact_memory=True))
                                 for what, src, cores in (("conv", "conv_loop", pair), ("control", "control",
                                                                                      ("cortex-m4",)))
                                 for c in cores],
        "none": lambda: [Row(f"{what} {c} --timing none", c, make(f"{src}.c", c), dict(timing="none"))
                         for what, src in (("conv", "conv_loop"), ("control", "control")) for c in pair],
    }


def _model_rows() -> list[Row]:
    """KWS and ResNet-8 on the Cortex-M4: CPU-only, with the cfu, with the conv unit (when the models are there)."""
    from simmcu.firmware._deploy import model_elf

    out = []
    for short, file in (("kws", "kws_ref_model.tflite"), ("resnet", "pretrainedResnet_quant.tflite")):
        path = MODELS / file
        if not path.is_file():
            continue
        cpu = model_elf(path, "cortex-m4")
        out.append(Row(f"{short} cortex-m4 CPU", "cortex-m4", cpu))
        for accel in ("cfu", "conv"):
            out.append(Row(f"{short} cortex-m4 {accel}", "cortex-m4", model_elf(path, "cortex-m4", accels=[accel]),
                           dict(accelerators=[accel]), plain_elf=cpu))
    return out


def cli_seconds(*args: str) -> float:
    """Wall time of one ``simmcu`` process, interpreter start-up included."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "simmcu", *args], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    groups = ("conv", "control", "float", "models", "m7-caches", "exact-memory", "none")
    ap.add_argument("--rows", default=",".join(groups), help=f"comma-separated groups of rows ({', '.join(groups)})")
    ap.add_argument("--quick", action="store_true", help="programs a tenth of the size, one run each")
    ap.add_argument("--runs", type=int, default=3, help="runs per figure; the median is shown (default 3)")
    ap.add_argument("--no-startup", action="store_true", help="skip the `simmcu run hello` timing")
    ap.add_argument("--breakdown", action="store_true",
                    help="instead of the table: MIPS by hooks installed for the rows' programs (no models)")
    a = ap.parse_args()
    wanted = a.rows.split(",")
    unknown = sorted(set(wanted) - set(groups))
    if unknown:
        ap.error(f"unknown rows {', '.join(unknown)} (valid: {', '.join(groups)})")
    runs = 1 if a.quick else a.runs
    with tempfile.TemporaryDirectory() as tmp:
        suite = rows(Path(tmp), a.quick)
        if a.breakdown:
            for group in wanted:
                for row in suite[group]():
                    if not row.options and row.plain_elf is None and ":" not in row.core:
                        breakdown(row, runs)
            return
        print(f"{'row':40s} {'instructions':>13s} {'simmcu MIPS':>12s} {'Unicorn MIPS':>13s} {'ratio':>6s} "
              f"{'blocks/s':>10s} {'B/block':>8s} {'set-up s':>9s}")
        for group in wanted:
            group_rows = suite[group]()
            if group == "models" and not group_rows:
                print(f"(models: none in {MODELS})")
            for row in group_rows:
                m = measure(row, runs)
                print(f"{row.name:40s} {m['n']:13,d} {m['sim_mips']:12.0f} {m['plain_mips']:13.0f} "
                      f"{m['ratio']:6.1f} {m['blocks_per_s'] / 1e6:9.1f}M "
                      + (f"{m['block_bytes']:8.1f}" if m["block_bytes"] else f"{'-':>8s}")
                      + f" {m['setup_s']:9.2f}", flush=True)
    if not a.no_startup:
        cli_seconds("run", "hello")  # warms the on-disk cache of compiled hooks, as any earlier run would
        print(f"simmcu run hello, warm cache: {min(cli_seconds('run', 'hello') for _ in range(3)):.2f} s wall")


if __name__ == "__main__":
    main()
