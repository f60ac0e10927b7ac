"""The MLPerf Tiny int8 models compiled to firmware, per core and accelerator variant.

    python benchmarks/models.py [--models DIR] [--cores rv32imc,cortex-m4,...]

Per run: modeled cycles per inference and per MAC, milliseconds at the board clock, flash
(code, weights, parameters), RAM (static: arena, scratch, runtime; plus the stack peak), the
arena alone, and the host seconds the simulation took (full timing). Next to them, the
published MLPerf Tiny latencies as cycles per MAC (../shared/models/README.md) for the
plausibility band. Cycles are deterministic; host seconds are not (docs/tinyml.md quotes a run).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from simmcu import get_core
from simmcu.firmware import run_model
from simmcu.firmware._examples import cfu_capable

MODELS = {"kws": "kws_ref_model.tflite", "resnet": "pretrainedResnet_quant.tflite", "ad": "ad01_int8.tflite"}
#: published latency (ms) x clock (MHz) / MACs, from ../shared/models/README.md
PUBLISHED = {
    "kws": "TFLM ref. M4F 8.2, X-CUBE-AI M4 3.4, M33 2.7, M7 1.8",
    "resnet": "TFLM ref. M4F 6.8",
    "ad": "TFLM ref. M4F 4.6",
}
VARIANTS = {"CPU": [], "cfu": ["cfu"], "conv": ["conv"]}


def arguments(description: str, cores: str, **more: dict) -> argparse.Namespace:
    """``--models DIR`` (checked: the MLPerf Tiny files are not part of the repository), ``--cores`` and
    ``more`` options (name: add_argument keywords)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--models", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "models")
    ap.add_argument("--cores", default=cores)
    for name, kw in more.items():
        ap.add_argument(f"--{name}", **kw)
    a = ap.parse_args()
    if not a.models.is_dir():
        raise SystemExit(f"no models in {a.models} (the MLPerf Tiny files are not part of the repository)")
    return a


def main() -> None:
    a = arguments(__doc__.splitlines()[0], "rv32imc,cortex-m4,cortex-m33,cortex-m7,cortex-m0plus")
    print(f"{'model':7s} {'core':14s} {'variant':8s} {'cycles':>12s} {'cyc/MAC':>8s} {'ms':>8s} {'flash B':>9s} "
          f"{'RAM B':>8s} {'arena B':>8s} {'host s':>7s}  published cyc/MAC")
    for short, file in MODELS.items():
        for core in a.cores.split(","):
            for variant, accels in VARIANTS.items():
                if variant == "cfu" and not cfu_capable(get_core(core)):
                    continue
                run_model(a.models / file, core, accelerators=accels)  # compiled (cached) and warmed up once
                start = time.perf_counter()
                r = run_model(a.models / file, core, accelerators=accels)
                host = time.perf_counter() - start
                assert r.exit_code == 0, r.message
                m, mem = r.model, r.memory
                ram = mem["ram_static_bytes"] + mem["stack_peak_bytes"]
                print(f"{short:7s} {core:14s} {variant:8s} {m['cycles']:12,d} {m['cycles_per_mac']:8.2f} "
                      f"{m['cycles'] / r.clock_hz * 1e3:8.2f} {mem['flash_bytes']:9,d} {ram:8,d} "
                      f"{m['arena_bytes']:8,d} {host:7.2f}  {PUBLISHED[short] if variant == 'CPU' else ''}")


if __name__ == "__main__":
    main()
