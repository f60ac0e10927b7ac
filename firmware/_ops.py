"""Lowering of the elementwise, data-movement and reduction operators to the kernels of
``firmware/kernels/elementwise.c`` and ``movement.c``: their parameter blocks and tables, computed
with the arithmetic of the reference interpreter's kernels (ai-edge-litert BUILTIN_REF), so the
firmware is bit-exact with it.

An int8 -> int8 unary operator's output depends on the input byte alone: the table of all 256
results is computed here (LOGISTIC and TANH as the interpreter's prepare-time float tables,
HARD_SWISH in its int16 fixed point, LEAKY_RELU and requantising QUANTIZE with gemmlowp's
rounding), and the kernel is a lookup, the same on every core. Float tensors (a model's QUANTIZE
input, DEQUANTIZE output) need no float arithmetic in the firmware either: DEQUANTIZE is a table
of float32 bit patterns, QUANTIZE a search among 255 thresholds.

The int16x8 ADD (broadcasting or a constant input), MUL, MAXIMUM, MINIMUM, MEAN and the copies
(``INT16``) are lowered here too: the reference's int16 paths are the int8 ones with int16 elements
and zero points 0 (ADD with 15 bits of headroom instead of 20), so they differ only in the kernel's
element type (the ``_s16`` kernels, instantiated from the same C).
"""

from __future__ import annotations

import math

import numpy as np

from ._layer import Layer, LayerCode, LayerTensor, c_array, c_struct
from .reference import quantize_multiplier

MAX_DIMS = 6  #: NN_MAX_DIMS in simmcu_nn.h
UNARY = ("LOGISTIC", "TANH", "HARD_SWISH", "LEAKY_RELU")
BINARY = {"ADD": "nn_add_broadcast", "MUL": "nn_mul", "MAXIMUM": "nn_maximum", "MINIMUM": "nn_minimum"}
COPIES = ("PAD", "PADV2", "CONCATENATION", "STRIDED_SLICE")
OPS = (*UNARY, *BINARY, *COPIES, "MEAN", "QUANTIZE", "DEQUANTIZE")
#: Operators lowered here with int16 activations too (firmware/_int16.py sends them here).
INT16 = ("ADD", "MUL", "MAXIMUM", "MINIMUM", "MEAN", "PAD", "PADV2", "CONCATENATION", "STRIDED_SLICE")
_CTYPES = {"int8": "int8_t", "int16": "int16_t"}
_VALUES = np.arange(-128, 128, dtype=np.int64)


def lowers(layer: Layer) -> bool:
    """Whether this module lowers ``layer`` (ADD only with broadcasting or a constant input; two
    same-shape activations keep nn_add)."""
    if layer.op == "ADD":
        a, b = layer.inputs[:2]
        return a.shape != b.shape or a.data is not None or b.data is not None
    return layer.op in OPS


def cpu_code(layer: Layer) -> LayerCode:
    if layer.op in UNARY or layer.op == "QUANTIZE" and layer.inputs[0].dtype == "int8":
        return _lut(layer, "int8_t", "nn_lut", _unary_table(layer))
    if layer.op == "DEQUANTIZE":
        x = layer.inputs[0]
        values = (float(np.float32(x.scale[0])) * (_VALUES - int(x.zero_point[0]))).astype(np.float32)
        return _lut(layer, "uint32_t", "nn_lut32", values.view(np.uint32))
    if layer.op == "QUANTIZE":
        return _lut(layer, "int32_t", "nn_quantize", _quantize_thresholds(layer.outputs[0]), "thresholds")
    if layer.op in BINARY:
        return _binary(layer)
    if layer.op == "MEAN":
        return _mean(layer)
    return _copies(layer)


def _address(t: LayerTensor) -> str:
    """An activation's arena address as the kernels take it: int8 as it is, int16 typed, float32 as
    its words (the kernels never do float arithmetic)."""
    if t.dtype == "float32":
        return f"(uint32_t *)(void *)({t.address})"
    return f"(int16_t *)(void *)({t.address})" if t.dtype == "int16" else t.address


def _kernel(name: str, t: LayerTensor) -> str:
    """The kernel for ``t``'s element type: ``name`` for int8, ``name_s16`` for int16."""
    return f"{name}_s16" if t.dtype == "int16" else name


def _lut(layer: Layer, ctype: str, kernel: str, table, field: str = "table") -> LayerCode:
    """A kernel over the flat tensor with one constant ``table`` (``<kernel>_params``: table, size)."""
    name, x, (y,) = layer.name, layer.inputs[0], layer.outputs
    consts = (c_array(ctype, f"{name}_table", table),
              c_struct(f"{kernel}_params", f"{name}_params", {field: f"{name}_table", "size": int(np.prod(y.shape))}))
    return LayerCode(consts, f"    {kernel}(&{name}_params, {_address(x)}, {_address(y)});\n")


# --- unary int8 -> int8: the reference's result for each input byte ------------------------------

def _unary_table(layer: Layer) -> np.ndarray:
    x, y = layer.inputs[0], layer.outputs[0]
    si, zi, so, zo = np.float32(x.scale[0]), int(x.zero_point[0]), np.float32(y.scale[0]), int(y.zero_point[0])
    q = _VALUES - zi
    if layer.op in ("LOGISTIC", "TANH"):
        # the interpreter's PopulateLookupTable: dequantise in float32, transform, round(v / scale) + zp
        real = (si * q.astype(np.float32)).astype(np.float32)
        if layer.op == "LOGISTIC":  # 1.0f / (1.0f + std::exp(-v)), each step rounded to float32
            with np.errstate(over="ignore"):  # exp beyond float32: inf, and the result 0, as in float32
                exp = np.array([math.exp(min(-float(v), 700.0)) for v in real], np.float32)
                transformed = np.float32(1) / (np.float32(1) + exp)
        else:
            transformed = np.array([math.tanh(float(v)) for v in real], np.float32)
        out = _round(transformed * (np.float32(1) / so)) + zo
    elif layer.op == "HARD_SWISH":
        out = _hard_swish(q, si, so) + zo
    elif layer.op == "LEAKY_RELU":
        (mi, ei), (ma, ea), alpha_negative = leaky_relu_multipliers(layer)
        negative = _requantize(q, ma, ea) * (-1 if alpha_negative else 1)
        out = np.where(q >= 0, _requantize(q, mi, ei), negative) + zo
    else:  # QUANTIZE int8 -> int8: Requantize with the double ratio of the scales
        m, e = quantize_multiplier(float(si) / float(so))
        out = _requantize(q, m, e) + zo
    return np.clip(out, -128, 127).astype(np.int8)


def leaky_relu_multipliers(layer: Layer) -> tuple[tuple[int, int], tuple[int, int], bool]:
    """LEAKY_RELU's Prepare (int8 and int16): (multiplier, shift) of input / output scale and of
    |alpha| x input / output scale, both in float32 as the reference forms them; whether alpha < 0."""
    si, so = np.float32(layer.inputs[0].scale[0]), np.float32(layer.outputs[0].scale[0])
    alpha = np.float32(layer.options["alpha"])
    return quantize_multiplier(float(si / so)), quantize_multiplier(abs(float(si * alpha / so))), bool(alpha < 0)


def _round(v) -> np.ndarray:
    """std::round: half away from zero (exact in float64 for float32 values)."""
    v = np.asarray(v, np.float64)
    return np.where(v >= 0, np.floor(v + 0.5), np.ceil(v - 0.5)).astype(np.int64)


def _high_mul(a, b, bits: int) -> np.ndarray:
    """gemmlowp SaturatingRoundingDoublingHighMul for int<bits>."""
    a = np.asarray(a, np.int64)
    ab = a * b
    v = ab + np.where(ab >= 0, 1 << (bits - 2), 1 - (1 << (bits - 2)))
    high = np.where(v >= 0, v >> (bits - 1), -((-v) >> (bits - 1)))
    lowest = -(1 << (bits - 1))
    return np.where((a == b) & (a == lowest), -lowest - 1, high)


def _divide_pot(x, e: int) -> np.ndarray:
    """gemmlowp RoundingDivideByPOT: half away from zero."""
    x = np.asarray(x, np.int64)
    mask = (1 << e) - 1
    return (x >> e) + ((x & mask) > (mask >> 1) + (x < 0))


def _requantize(x, multiplier: int, shift: int) -> np.ndarray:
    """MultiplyByQuantizedMultiplier as the interpreter rounds these operators (gemmlowp, twice)."""
    x = np.asarray(x, np.int64)
    if shift > 0:
        return _high_mul(x << shift, multiplier, 32)
    return _divide_pot(_high_mul(x, multiplier, 32), -shift)


def _int16_multiplier(m: int) -> int:
    """DownScaleInt32ToInt16Multiplier."""
    return 32767 if m >= (1 << 31) - 1 - (1 << 15) else (m + (1 << 15)) >> 16


def _hard_swish(q: np.ndarray, si: np.float32, so: np.float32) -> np.ndarray:
    """reference_ops::HardSwish (int16 fixed point) with the parameters of its Prepare."""
    hires = np.float32(1 / 128) * si
    om, oe = quantize_multiplier(float(hires / so))
    rm, re = quantize_multiplier(float(hires / np.float32(3 / 32768)))
    om, rm = _int16_multiplier(om), _int16_multiplier(rm)
    hires_input = q * 128
    preshift = _high_mul(hires_input, om, 16)
    reluish = hires_input
    if re > 0:
        reluish = np.clip(reluish * (1 << (re - 1)), -32768, 32767)
    reluish = _high_mul(reluish, rm, 16)
    if re > 0:
        reluish = np.clip(reluish * 2, -32768, 32767)
    elif re < 0:
        reluish = _divide_pot(reluish, -re)
    reluish = (reluish + (1 << 15)) >> 1
    product = reluish * preshift  # SaturatingDoublingHighMul: truncating, no overflow from these ranges
    preshift_out = np.where(product >= 0, product >> 15, -((-product) >> 15))
    return _divide_pot(preshift_out, -oe)


def _quantize_thresholds(y: LayerTensor) -> np.ndarray:
    """For k = -127 .. 127 the smallest order key (nn_quantize) of a float32 x whose
    clamp(round(x / scale) + zp) (float32 division, as the interpreter divides) is at least k."""
    scale, zp = np.float32(y.scale[0]), int(y.zero_point[0])
    targets = np.arange(-127, 128, dtype=np.int64)
    lo = np.full(targets.shape, -(1 << 31), np.int64)   # output(lo) < target, or lo is the lowest key
    hi = np.full(targets.shape, (1 << 31) - 1, np.int64)
    while np.any(hi - lo > 1):
        mid = (lo + hi) // 2
        below = _quantized(mid, scale, zp) < targets
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return np.where(_quantized(lo, scale, zp) >= targets, lo, hi).astype(np.int32)


def _quantized(key: np.ndarray, scale: np.float32, zp: int) -> np.ndarray:
    """The reference's QUANTIZE of the float32 whose order key is ``key``; NaNs as infinities of their sign."""
    key = np.asarray(key, np.int64)
    bits = np.where(key < 0, key ^ 0x7FFFFFFF, key).astype(np.int32)
    x = bits.view(np.float32).astype(np.float64)
    x = np.where(np.isnan(x), np.where(key < 0, -np.inf, np.inf), x)
    with np.errstate(over="ignore", invalid="ignore"):
        quotient = (x.astype(np.float32) / scale).astype(np.float64)
    return np.clip(_round(np.clip(quotient, -1e6, 1e6)) + zp, -128, 127)


# --- shapes --------------------------------------------------------------------------------------

def _strides(shape) -> list[int]:
    """Contiguous element strides of ``shape``."""
    out, step = [], 1
    for d in reversed(shape):
        out.insert(0, step)
        step *= d
    return out


def _collapse(dims, *strides) -> tuple[list[int], list[list[int]]]:
    """``dims`` with one stride list per operand, without unit dimensions and with adjacent
    dimensions merged where every operand steps through them contiguously; padded to MAX_DIMS."""
    kept = [(d, [s[i] for s in strides]) for i, d in enumerate(dims) if d != 1]
    merged: list[tuple[int, list[int]]] = []
    for d, s in kept:
        if merged and all(prev == cur * d for prev, cur in zip(merged[-1][1], s)):
            merged[-1] = (merged[-1][0] * d, s)
        else:
            merged.append((d, s))
    if len(merged) > MAX_DIMS:
        raise ValueError(f"more than {MAX_DIMS} dimensions after merging")
    pad = MAX_DIMS - len(merged)
    return [1] * pad + [d for d, _ in merged], [[0] * pad + [s[k] for _, s in merged] for k in range(len(strides))]


def _array_fields(**arrays) -> dict:
    return {k: "{" + ", ".join(map(str, v)) + "}" for k, v in arrays.items()}


def _operand(layer: Layer, k: int, consts: list) -> str:
    """The C address of input k: in the arena, or a constant array written into the layer's constants."""
    t = layer.inputs[k]
    if t.data is None:
        return _address(t)
    consts.append(c_array(_CTYPES[t.dtype], f"{layer.name}_input{k}", t.data))
    return f"{layer.name}_input{k}"


# --- binary operators with broadcasting ----------------------------------------------------------

def mul_scale(a: LayerTensor, b: LayerTensor, y: LayerTensor) -> float:
    """MUL's real multiplier as its Prepare forms it: input1 scale x input2 scale / output scale in
    float32 (the tensors' float scales; only the result is widened to double)."""
    return float(np.float32(a.scale[0]) * np.float32(b.scale[0]) / np.float32(y.scale[0]))


def _binary(layer: Layer) -> LayerCode:
    from ._compile import _activation_range

    name = layer.name
    a, b = layer.inputs[:2]
    (y,) = layer.outputs
    out = tuple(y.shape)
    rank = len(out)
    strides = []
    for t in (a, b):
        shape = (1,) * (rank - len(t.shape)) + tuple(t.shape)
        strides.append([0 if d == 1 and o != 1 else s for d, o, s in zip(shape, out, _strides(shape))])
    dims, (s1, s2, _) = _collapse(out, *strides, _strides(out))
    fields = _array_fields(dims=dims, stride1=s1, stride2=s2)
    if layer.op == "ADD":
        p = layer.params
        fields.update({k: p[k] for k in ("in1_offset", "in1_multiplier", "in1_shift", "in2_offset", "in2_multiplier",
                                         "in2_shift", "out_multiplier", "out_shift", "out_zp", "act_min", "act_max")})
    elif layer.op == "MUL":
        m, e = quantize_multiplier(mul_scale(a, b, y))
        lo, hi = _activation_range(layer.options["activation"], float(y.scale[0]), int(y.zero_point[0]), y.dtype)
        fields.update(in1_offset=-int(a.zero_point[0]), in2_offset=-int(b.zero_point[0]), out_multiplier=m,
                      out_shift=e, out_zp=int(y.zero_point[0]), act_min=lo, act_max=hi)
    consts: list[str] = []
    in1, in2 = _operand(layer, 0, consts), _operand(layer, 1, consts)
    consts.append(c_struct("nn_binary_params", f"{name}_params", fields))
    return LayerCode(tuple(consts), f"    {_kernel(BINARY[layer.op], y)}(&{name}_params, {in1}, {in2}, "
                                    f"{_address(y)});\n")


# --- MEAN ----------------------------------------------------------------------------------------

def axes_of(values, rank: int) -> list[int]:
    """Axes as TFLite resolves them: negative from the end, each once, in order."""
    return sorted({int(v) + rank if v < 0 else int(v) for v in np.asarray(values).ravel()})


def _mean(layer: Layer) -> LayerCode:
    """QuantizedMeanOrSum: the input/output scale ratio's multiplier, folded with 1/count."""
    name = layer.name
    x, axes_t = layer.inputs[:2]
    (y,) = layer.outputs
    shape = tuple(x.shape)
    axes = axes_of(axes_t.data, len(shape))
    count = int(np.prod([shape[a] for a in axes]))
    kept = [i for i in range(len(shape)) if i not in axes]
    out_strides = dict(zip(kept, _strides([shape[i] for i in kept])))
    acc = [out_strides.get(i, 0) for i in range(len(shape))]
    dims, (_, acc_stride) = _collapse(shape, _strides(shape), acc)
    m, e = quantize_multiplier(float(np.float32(x.scale[0])) / float(np.float32(y.scale[0])))
    shift = min(count.bit_length() - 1, 32, 31 + e)
    out_size = int(np.prod(y.shape))
    fields = dict(acc="(int32_t *)(void *)nn_scratch", **_array_fields(dims=dims, acc_stride=acc_stride),
                  out_size=out_size, zp_sum=int(x.zero_point[0]) * count, multiplier=(m << shift) // count,
                  shift=e - shift, out_zp=int(y.zero_point[0]))
    return LayerCode((c_struct("nn_mean_params", f"{name}_params", fields),),
                     f"    {_kernel('nn_mean', y)}(&{name}_params, {_address(x)}, {_address(y)});\n", 4 * out_size)


# --- PAD, PADV2, CONCATENATION, STRIDED_SLICE ----------------------------------------------------

def _copy_call(layer: Layer, tag: str, src: str, dims, in_strides, out_strides, in_start=0, out_start=0,
               fill_size=0, fill=0) -> tuple[str, str]:
    d, (si, so) = _collapse(dims, in_strides, out_strides)
    fields = dict(**_array_fields(dims=d, in_stride=si, out_stride=so), in_start=in_start, out_start=out_start,
                  fill_size=fill_size, fill=fill)
    block, y = f"{layer.name}_{tag}", layer.outputs[0]
    return c_struct("nn_copy_params", block, fields), f"    {_kernel('nn_copy', y)}(&{block}, {src}, {_address(y)});\n"


def _copies(layer: Layer) -> LayerCode:
    y = layer.outputs[0]
    out_strides = _strides(y.shape)
    consts: list[str] = []
    calls = []
    if layer.op in ("PAD", "PADV2"):
        x = layer.inputs[0]
        before = [int(v) for v in layer.inputs[1].data.reshape(-1, 2)[:, 0]]
        fill = int(layer.inputs[2].data.ravel()[0]) if layer.op == "PADV2" and len(layer.inputs) > 2 \
            else int(y.zero_point[0])
        start = sum(b * s for b, s in zip(before, out_strides))
        calls.append(_copy_call(layer, "params", _address(x), x.shape, _strides(x.shape), out_strides, 0, start,
                                y.nbytes if y.nbytes != x.nbytes else 0, fill))
    elif layer.op == "CONCATENATION":
        axis = layer.options["axis"] % len(y.shape)
        offset = 0
        for k, t in enumerate(layer.inputs):
            src = _operand(layer, k, consts)
            calls.append(_copy_call(layer, f"params{k}", src, t.shape, _strides(t.shape), out_strides,
                                    0, offset * out_strides[axis]))
            offset += t.shape[axis]
    else:
        x = layer.inputs[0]
        starts, sizes, steps = strided_slice(x.shape, *(t.data for t in layer.inputs[1:4]), layer.options)
        contiguous = _strides(x.shape)
        calls.append(_copy_call(layer, "params", _address(x), sizes, [s * k for s, k in zip(contiguous, steps)],
                                _strides(sizes), sum(a * s for a, s in zip(starts, contiguous))))
    consts.extend(c for c, _ in calls)
    return LayerCode(tuple(consts), "".join(call for _, call in calls))


def strided_slice(shape, begin, end, strides, options: dict) -> tuple[list[int], list[int], list[int]]:
    """Per axis the first index, the element count and the step of a STRIDED_SLICE (TFLite's
    StartForAxis / StopForAxis with begin, end and shrink-axis masks)."""
    starts, sizes, steps = [], [], []
    for axis, n in enumerate(shape):
        step = int(strides[axis])
        start = int(begin[axis])
        if options["begin_mask"] >> axis & 1:
            start = -(1 << 31) if step > 0 else (1 << 31) - 1
        start += n if start < 0 else 0
        start = min(max(start, 0), n) if step > 0 else min(max(start, -1), n - 1)
        if options["shrink_axis_mask"] >> axis & 1:
            stop = start + 1
        else:
            stop = int(end[axis])
            if options["end_mask"] >> axis & 1:
                stop = (1 << 31) - 1 if step > 0 else -(1 << 31)
            stop += n if stop < 0 else 0
            stop = min(max(stop, 0), n) if step > 0 else min(max(stop, -1), n - 1)
        count = max(0, -(-(stop - start) // step))
        starts.append(start)
        sizes.append(count)
        steps.append(step)
    return starts, sizes, steps
