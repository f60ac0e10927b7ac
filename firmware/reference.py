"""Bit-exact numpy references of TFLite's int8 arithmetic (reference_integer_ops).

These are the oracles firmware and accelerator models are checked against:
fixed-point requantisation exactly as TFLite's reference interpreter rounds,
and the per-channel int8 convolution built on it.
"""

from __future__ import annotations

import numpy as np

def quantize_multiplier(scale: float) -> tuple[int, int]:
    """TFLite's QuantizeMultiplier: a Q31 multiplier in [2^30, 2^31) and a power-of-two shift."""
    if scale == 0.0:
        return 0, 0
    mantissa, shift = np.frexp(scale)
    q = int(round(mantissa * (1 << 31)))
    if q == 1 << 31:
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q, int(shift)


def multiply_by_quantized_multiplier(x: np.ndarray, multiplier: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """x * multiplier * 2^(shift - 31) with one rounding, half up: how the reference interpreter
    (ai-edge-litert) requantises FULLY_CONNECTED (TFLITE_SINGLE_ROUNDING)."""
    total = 31 - np.asarray(shift, dtype=np.int64)
    product = np.asarray(x, dtype=np.int64) * np.asarray(multiplier, dtype=np.int64)
    return (product + (np.int64(1) << (total - 1))) >> total


def multiply_by_quantized_multiplier_gemmlowp(x: np.ndarray, multiplier: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """The same with gemmlowp's two roundings (the doubling high multiply, then the shift, each half
    away from zero): how the reference interpreter requantises CONV_2D, DEPTHWISE_CONV_2D and ADD.
    The two differ by one where the exact value is just below a half."""
    shift = np.asarray(shift, dtype=np.int64)
    x = np.asarray(x, dtype=np.int64) << np.maximum(shift, 0)
    ab = x * np.asarray(multiplier, dtype=np.int64)
    ab = ab + np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    high = np.where(ab >= 0, ab >> 31, -((-ab) >> 31))
    right = np.maximum(-shift, 0)
    mask = (np.int64(1) << right) - 1
    threshold = (mask >> 1) + (high < 0)
    return (high >> right) + ((high & mask) > threshold)


def conv2d_int8(x: np.ndarray, w: np.ndarray, bias: np.ndarray, input_zero_point: int, output_zero_point: int,
                multiplier: np.ndarray, shift: np.ndarray, stride: int = 1, pad: int = 0,
                act_min: int = -128, act_max: int = 127) -> np.ndarray:
    """TFLite ConvPerChannel for one image: x is HWC int8, w is OHWI int8, result HWC int8."""
    h, wd, cin = x.shape
    cout, kh, kw, _ = w.shape
    ho = (h + 2 * pad - kh) // stride + 1
    wo = (wd + 2 * pad - kw) // stride + 1
    shifted = x.astype(np.int64) - input_zero_point
    padded = np.zeros((h + 2 * pad, wd + 2 * pad, cin), dtype=np.int64)  # padding is zero after the offset
    padded[pad:pad + h, pad:pad + wd] = shifted
    acc = np.zeros((ho, wo, cout), dtype=np.int64)
    for dy in range(kh):
        for dx in range(kw):
            patch = padded[dy:dy + stride * ho:stride, dx:dx + stride * wo:stride]
            acc += np.einsum("hwc,oc->hwo", patch, w[:, dy, dx, :].astype(np.int64))
    acc += bias.astype(np.int64)
    out = multiply_by_quantized_multiplier_gemmlowp(acc, multiplier, shift) + output_zero_point
    return np.clip(out, act_min, act_max).astype(np.int8)


def fnv1a32(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h
