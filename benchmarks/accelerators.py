"""conv2d (16x16x8 -> 16x16x8, 3x3, int8) on the CPU, with the cfu, and on the conv coprocessor.

    python benchmarks/accelerators.py

For each core: the kernel's cycles as the firmware measures them (cycle counter around the call),
the speedup over the C kernel, and what the unit reports. Deterministic: these are modeled
cycles, not host time (docs/accelerators.md quotes the output).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from simmcu import Simulator
from simmcu.firmware import build

RUNS = [("conv2d", "C on the CPU", []), ("conv2d_cfu", "cfu (default latencies)", ["cfu"]),
        ("conv2d_conv", "conv, polling (default 8x8 PEs)", ["conv"]),
        ("conv2d_conv_irq", "conv, WFI until its interrupt", ["conv"]),
        ("conv2d_conv", "conv, 16x16 PEs, 8 B/cycle DMA", ["conv:pe_rows=16,pe_cols=16,dma_bytes_per_cycle=8"])]


def main() -> None:
    print(f"{'core':10s} {'variant':34s} {'kernel cycles':>13s} {'speedup':>8s}  unit")
    with tempfile.TemporaryDirectory() as tmp:
        for core in ("rv32imc", "cortex-m4"):
            base = None
            for example, label, accels in RUNS:
                elf = build(example, core, Path(tmp) / f"{example}-{core}.elf")
                r = Simulator(elf, core=core, accelerators=accels).run()
                assert r.exit_code == 0, r.console
                kernel = int(re.search(r"(\d+) cycles", r.console).group(1))
                base = base or kernel
                unit = ""
                if r.accelerators:
                    a = r.accelerators[0]
                    unit = (f"busy {a['busy_cycles']:,}, {a['macs']:,} MACs, DMA {a['dma_read_bytes']:,} B in"
                            if a["name"] == "conv" else f"{a['instructions']:,} custom instructions")
                print(f"{core:10s} {label:34s} {kernel:13,d} {base / kernel:7.1f}x  {unit}")


if __name__ == "__main__":
    main()
