"""Simulated MIPS of the MLPerf Tiny models CPU-only, with the cfu and with the conv unit (issue 15).

    python benchmarks/accel_speed.py [--models DIR] [--cores cortex-m4,rv32imc] [--reps 3]

Per model, core and variant: instructions, modeled cycles, host CPU seconds of ``Simulator.run`` (best
of ``--reps`` after a warm-up run: the compiled model and the hooks' caches are warm, the decode
of the ELF is outside the timed part) and MIPS, with the ratio to the CPU-only run's MIPS. Process
time, not wall time, so that other load on the machine counts less. A benchmark, not a test.
"""

from __future__ import annotations

import time
from pathlib import Path

from models import arguments  # benchmarks/models.py

from simmcu import Simulator
from simmcu.firmware._deploy import as_inputs, io_symbols, load_model, make_units, model_elf

MODELS = {"kws": "kws_ref_model.tflite", "resnet": "pretrainedResnet_quant.tflite"}
VARIANTS = {"cpu": [], "cfu": ["cfu"], "conv": ["conv"]}


def timed_run(path: Path, core: str, accels: list[str], reps: int):
    """(result, best CPU seconds of Simulator.run) over a warm-up and ``reps`` runs."""
    model = load_model(path)
    symbols = io_symbols(model, as_inputs(model, None, 0))
    best, result = None, None
    for _ in range(reps + 1):
        units = make_units(accels)
        sim = Simulator(model_elf(path, core, accels=units), core=core, accelerators=units)
        start = time.process_time()
        result = sim.run(**symbols)
        took = time.process_time() - start
        best = took if best is None else min(best, took)
    return result, best


def main() -> None:
    a = arguments(__doc__.splitlines()[0], "cortex-m4,rv32imc", reps=dict(type=int, default=3))
    print(f"{'model':7s} {'core':10s} {'variant':7s} {'instructions':>12s} {'cycles':>12s} {'CPU s':>7s} "
          f"{'MIPS':>6s} {'vs CPU':>6s}")
    for short, file in MODELS.items():
        for core in a.cores.split(","):
            cpu_mips = None
            for variant, accels in VARIANTS.items():
                r, took = timed_run(a.models / file, core, accels, a.reps)
                assert r.exit_code == 0, r.message
                mips = r.instructions / took / 1e6
                cpu_mips = cpu_mips or mips
                print(f"{short:7s} {core:10s} {variant:7s} {r.instructions:12,d} {r.cycles:12,d} {took:7.3f} "
                      f"{mips:6.1f} {mips / cpu_mips:6.2f}")


if __name__ == "__main__":
    main()
