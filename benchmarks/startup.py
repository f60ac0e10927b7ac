"""Start-up of ``simmcu`` commands: best wall and CPU time of each over several processes.

The machine is usually shared, so the figure is the minimum (what the command costs when nothing
else runs) next to the median, with the load average before and after. ``--cold`` adds the first
run with an empty hooks cache (a fresh ``NUMBA_CACHE_DIR`` each time), which compiles.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

COMMANDS = (("run", "hello"), ("--help",), ("cores",), ("boards",), ("accels",))


def timed(argv: list[str], env: dict | None = None) -> tuple[float, float]:
    """Wall and CPU (user + system, the process and its threads) seconds of one process."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    if status:
        raise SystemExit(f"{' '.join(argv)} failed (status {status})")
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def report(label: str, runs: list[tuple[float, float]]) -> None:
    walls = [w for w, _ in runs]
    print(f"{label:28s} wall best {min(walls):.3f} s  median {statistics.median(walls):.3f} s  "
          f"CPU best {min(c for _, c in runs):.3f} s  ({len(runs)} runs)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9, help="processes per command (default 9)")
    ap.add_argument("--cold", type=int, default=0, metavar="N", help="also N cold runs of `run hello`")
    a = ap.parse_args()
    simmcu = [sys.executable, "-m", "simmcu"]
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs")
    timed(simmcu + ["run", "hello"])  # the hooks cache and the bytecode are warm, as after any earlier run
    for command in COMMANDS:
        report(" ".join(command), [timed(simmcu + list(command)) for _ in range(a.runs)])
    cold = []
    for _ in range(a.cold):
        with tempfile.TemporaryDirectory() as cache:
            cold.append(timed(simmcu + ["run", "hello"], {**os.environ, "NUMBA_CACHE_DIR": cache}))
    if cold:
        report("run hello (cold cache)", cold)
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
