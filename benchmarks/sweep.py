"""`simmcu sweep` throughput: points per minute locally (--jobs 2) and on Dask, and the cost a
point adds over a bare `simmcu run` of the same configuration.

    python benchmarks/sweep.py [--models DIR] [--points N]

The spec sweeps the conv unit's pe_rows over the MLPerf Tiny anomaly-detection model (AD, the
quickest; ../shared/models) on a Cortex-M4. Firmware is compiled once beforehand (a warm-up
sweep), so the numbers are simulation plus sweep machinery, not the compiler. The Dask run uses
a LocalCluster of two single-thread worker processes. Overhead per point: the sweep's wall time
per point with one worker process against the wall time of `simmcu run` (a fresh interpreter each
time, as a shell loop over configurations would pay), and against the run itself in the worker.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import simmcu


def spec(model: Path, points: int) -> dict:
    return {"base": {"model": str(model), "core": "cortex-m4", "accel": {"conv": {"buffer_kib": 64}}},
            "axes": {"accel.conv.pe_rows": list(range(2, 2 + points))}}


def timed(**kwargs) -> tuple[float, list]:
    started = time.monotonic()
    rows = simmcu.sweep(plots=False, **kwargs)
    return time.monotonic() - started, rows


def main() -> None:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=Path, default=here.parents[1] / "shared" / "models")
    ap.add_argument("--points", type=int, default=8)
    a = ap.parse_args()
    model = a.models / "ad01_int8.tflite"
    if not model.is_file():
        raise SystemExit(f"no {model} (the MLPerf Tiny files are not part of the repository)")
    s = spec(model, a.points)
    timed(spec=s, jobs=2)  # warm-up: compiles every configuration into the cache
    n = a.points + 1       # the points and the CPU-only baseline
    with tempfile.TemporaryDirectory() as tmp:
        local, _ = timed(spec=s, out_dir=Path(tmp) / "local", jobs=2)
        one, rows = timed(spec=s, out_dir=Path(tmp) / "one", jobs=1)
        from dask.distributed import LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
            dask, _ = timed(spec=s, out_dir=Path(tmp) / "dask", scheduler=cluster)
    bare = []
    for pe_rows in (2, 2 + a.points - 1):
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "simmcu", "run", str(model), "--core", "cortex-m4", "--quiet",
                        "--accel", f"conv:buffer_kib=64,pe_rows={pe_rows}"], check=True, stdout=subprocess.DEVNULL)
        bare.append(time.monotonic() - started)
    in_worker = sum(r["wall_seconds"] for r in rows) / len(rows)  # points only, jobs=1
    bare_run = sum(bare) / len(bare)
    print(f"{n} runs ({a.points} points + baseline) of {model.name} on cortex-m4, compile cached")
    print(f"  local --jobs 2       {local:6.1f} s  {60 * n / local:6.1f} points/min (spawning the workers included)")
    print(f"  dask (2 workers)     {dask:6.1f} s  {60 * n / dask:6.1f} points/min (workers already running)")
    print(f"  local --jobs 1       {one:6.1f} s  {one / n:6.2f} s/point (in the worker: {in_worker:.2f} s)")
    print(f"  bare `simmcu run`    {bare_run:6.2f} s/run  -> sweep overhead per point {one / n - bare_run:+.2f} s "
          f"(worker start-up amortised; the bare run pays an interpreter each time)")


if __name__ == "__main__":
    main()
