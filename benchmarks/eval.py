"""N inferences of the MLPerf Tiny KWS model with full timing through ``simmcu.evaluate``: the
figure a neural-architecture-search loop pays per scored candidate.

    python benchmarks/eval.py [--models DIR] [--cores cortex-m4,rv32imc] [-n 100] [--reference]

The build is made (or found in the cache) first and timed apart; then N seeded random inputs
run through one build, each a fresh run from reset with full timing. Printed per core: host
seconds (wall clock, and the process's CPU time, which a machine shared with other jobs does not
inflate) for the N inferences and per inference, simulated MIPS (per CPU second), the cycles per inference
(min/median/max) and, with --reference, agreement with the TFLite reference interpreter.
Host seconds are not deterministic (docs/tinyml.md quotes a run); cycles are.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from simmcu import evaluate
from simmcu.firmware import load_model, model_elf
from simmcu.firmware._io import inputs_of

KWS = "kws_ref_model.tflite"


def main() -> None:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=Path, default=here.parents[1] / "shared" / "models")
    ap.add_argument("--cores", default="cortex-m4,rv32imc")
    ap.add_argument("-n", type=int, default=100, help="inferences (default 100)")
    ap.add_argument("--reference", action="store_true", help="also compare with the reference interpreter")
    a = ap.parse_args()
    model = a.models / KWS
    if not model.is_file():
        print(f"skipped: no {KWS} in {a.models} (the MLPerf Tiny files are not part of the repository)")
        return
    (tensor,) = inputs_of(load_model(model))
    data = np.random.default_rng(0).integers(-128, 128, (a.n, *tensor.shape), dtype=np.int8)
    print(f"{'core':12s} {'build s':>8s} {'N':>5s} {'wall s':>8s} {'CPU s':>8s} {'s/inf':>7s} {'MIPS':>6s} "
          f"{'cycles min':>12s} {'median':>12s} {'max':>12s}  reference")
    for core in a.cores.split(","):
        start = time.perf_counter()
        model_elf(model, core)
        build = time.perf_counter() - start
        start, cpu = time.perf_counter(), time.process_time()
        r = evaluate(model, data, core=core, reference=a.reference)
        host, cpu = time.perf_counter() - start, time.process_time() - cpu
        ref = f"{r.reference['exact']}/{r.reference['total']} identical" if r.reference else ""
        cycles = sorted(r.model_cycles)
        print(f"{core:12s} {build:8.2f} {a.n:5d} {host:8.2f} {cpu:8.2f} {host / a.n:7.3f} "
              f"{sum(r.instructions) / cpu / 1e6:6.1f} "
              f"{cycles[0]:12,d} {cycles[(len(cycles) - 1) // 2]:12,d} {cycles[-1]:12,d}  {ref}")


if __name__ == "__main__":
    main()
