"""Depthwise convolution cycles per MAC by depth multiplier, at equal MACs (16x16 image, 3x3, SAME),
per core, on the CPU and with the cfu: the figures docs/tinyml.md quotes.

    python benchmarks/depthwise.py [CORE ...]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import tflite_models as t  # noqa: E402  (the test suite's model writer)

from simmcu.firmware import run_model  # noqa: E402

SHAPES = ((16, 1), (8, 2), (4, 4), (2, 8), (3, 2))  # (input channels, multiplier): 16 outputs but the last


def model(cin: int, mult: int) -> bytes:
    m = t.ModelWriter(5)
    x = m.activation([1, 16, 16, cin], 0.03, 5)
    w = m.weights([1, 3, 3, cin * mult], True, axis=3)
    y = m.activation([1, 16, 16, cin * mult], 0.02, -10)
    m.op("DEPTHWISE_CONV_2D", [x, w, m.bias(cin * mult, 0.03, w)], [y], Padding=t.SAME, StrideH=1, StrideW=1,
         DepthMultiplier=mult, FusedActivationFunction=t.NONE, DilationHFactor=1, DilationWFactor=1)
    return m.bytes([x], [y])


def main() -> None:
    cores = sys.argv[1:] or ["rv32imc", "cortex-m4", "cortex-m0plus"]
    print("core           variant  " + "  ".join(f"{c}ch x{m}" for c, m in SHAPES) + "  (cycles/MAC)")
    with tempfile.TemporaryDirectory() as tmp:
        for core in cores:
            for variant in ([], ["cfu"]) if core != "cortex-m0plus" else ([],):
                row = []
                for cin, mult in SHAPES:
                    path = Path(tmp) / f"dw{cin}x{mult}.tflite"
                    path.write_bytes(model(cin, mult))
                    layer = run_model(path, core, accelerators=variant).layers[0]
                    row.append(f"{layer['cycles'] / (16 * 16 * 9 * cin * mult):8.2f}")
                print(f"{core:14s} {'+'.join(variant) or 'cpu':7s}  " + "  ".join(row))


if __name__ == "__main__":
    main()
