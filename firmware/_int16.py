"""The int16x8 layers (16-bit activations, 8-bit weights: TFLite's "16x8" quantisation) as calls
into ``firmware/kernels/int16.c``, with the arithmetic of the reference interpreter's int16 paths
(ai-edge-litert BUILTIN_REF). The parameter blocks of the convolutions, pools and ADD are the
ones ``_compile.describe_layer`` computes for every layer; what differs for int16 is here: the
convolutions' int64 bias and requantisation, QUANTIZE/DEQUANTIZE to and from int16, LEAKY_RELU
(the int8 one is a table). ADD with broadcasting or a constant input, MUL, MAXIMUM, MINIMUM, MEAN
and the copies are the int8 lowering with int16 elements (``_ops.INT16``)."""

from __future__ import annotations

import math

import numpy as np

from . import _ops
from ._layer import Layer, LayerCode, LayerTensor, c_array, c_struct
from ._model import ModelError
from .reference import quantize_multiplier

#: Operators of one parameter block (as the int8 kernels') and one int16 kernel.
_KERNELS = {"ADD": ("nn_add_params", "nn_add_s16"), "AVERAGE_POOL_2D": ("nn_pool_params", "nn_average_pool_s16"),
            "MAX_POOL_2D": ("nn_pool_params", "nn_max_pool_s16")}
_CTYPES = {"int8": "int8_t", "int16": "int16_t", "float32": "float"}


def wide(layer: Layer) -> bool:
    """Whether the layer has an int16 activation (the model checks made all of its activations int16,
    but a QUANTIZE's or DEQUANTIZE's other side)."""
    return any(t.dtype == "int16" and t.data is None for t in (*layer.inputs, *layer.outputs))


def _pointer(t: LayerTensor) -> str:
    """An activation's arena address as the int16 kernels take it (typed)."""
    return f"({_CTYPES[t.dtype]} *)(void *)({t.address})"


def cpu_code(layer: Layer) -> LayerCode:
    name, x, y = layer.name, layer.inputs[0], layer.outputs[0]
    if layer.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        return _conv(layer)
    if layer.op in _ops.INT16 and _ops.lowers(layer):  # a same-shape ADD of activations keeps nn_add_s16
        return _ops.cpu_code(layer)
    if layer.op == "RESHAPE":
        return LayerCode((), f"    memcpy({y.address}, {x.address}, {y.nbytes});\n")
    size = int(np.prod(y.shape))
    if layer.op in ("QUANTIZE", "DEQUANTIZE") and "float32" in (x.dtype, y.dtype):
        q = y if layer.op == "QUANTIZE" else x
        fields = dict(size=size, scale=f"{float(np.float32(q.scale[0])).hex()}f", zero_point=int(q.zero_point[0]))
        kernel = "nn_quantize_s16" if layer.op == "QUANTIZE" else "nn_dequantize_s16"
        return LayerCode((c_struct("nn_quantize16_params", f"{name}_params", fields),),
                         f"    {kernel}(&{name}_params, {_pointer(x)}, {_pointer(y)});\n")
    if layer.op == "QUANTIZE":  # the reference's Requantize: the double ratio of the scales
        m, e = quantize_multiplier(float(x.scale[0]) / float(y.scale[0]))
        info = np.iinfo(y.dtype)
        fields = dict(size=size, multiplier=m, shift=e, in_zp=int(x.zero_point[0]), out_zp=int(y.zero_point[0]),
                      out_min=int(info.min), out_max=int(info.max))
        kernel = f"nn_requantize_s{np.dtype(x.dtype).itemsize * 8}_s{np.dtype(y.dtype).itemsize * 8}"
        return LayerCode((c_struct("nn_requantize_params", f"{name}_params", fields),),
                         f"    {kernel}(&{name}_params, {_pointer(x)}, {_pointer(y)});\n")
    if layer.op == "SOFTMAX":
        return _softmax(layer)
    if layer.op == "LEAKY_RELU":
        (mi, ei), (ma, ea), negative = _ops.leaky_relu_multipliers(layer)
        fields = dict(size=size, identity_multiplier=mi, identity_shift=ei, alpha_multiplier=ma, alpha_shift=ea,
                      alpha_negative=int(negative))
        return LayerCode((c_struct("nn_leaky_relu16_params", f"{name}_params", fields),),
                         f"    nn_leaky_relu_s16(&{name}_params, {_pointer(x)}, {_pointer(y)});\n")
    if layer.op in ("LOGISTIC", "TANH"):
        m, shift = sigmoid_rescale(layer.op, float(x.scale[0]))
        fields = dict(table=f"{name}_table", size=size, multiplier=m, left_shift=shift)
        return LayerCode((c_array("uint16_t", f"{name}_table", SIGMOID_TABLE),
                          c_struct("nn_sigmoid16_params", f"{name}_params", fields)),
                         f"    nn_{layer.op.lower()}_s16(&{name}_params, {_pointer(x)}, {_pointer(y)});\n")
    block, kernel = _KERNELS[layer.op]
    args = ", ".join(_pointer(t) for t in (*layer.inputs, *layer.outputs))
    return LayerCode((c_struct(block, f"{name}_params", layer.params),), f"    {kernel}(&{name}_params, {args});\n")


def _conv(layer: Layer) -> LayerCode:
    """Weights as TFLite stores them, int64 bias. The reference requantises the convolutions' int64
    sums with the multiplier reduced to 16 bits (MultiplyByQuantizedMultiplier on int64),
    FULLY_CONNECTED's with the whole multiplier (nn_requantize64_exact)."""
    name, p = layer.name, layer.params
    bias = layer.inputs[2].data if len(layer.inputs) > 2 else None
    if max(layer.shift) > 14:
        raise ModelError(f"operator {layer.index} ({layer.op}): int16 activations with a requantisation shift of "
                         f"{max(layer.shift)} (input x weight scale / output scale at least 2^14)")
    fc = layer.op == "FULLY_CONNECTED"
    multiplier = layer.multiplier if fc else [0x7FFF if m >= 0x7FFF0000 else (m + (1 << 15)) >> 16
                                              for m in layer.multiplier]
    consts = [c_array("int8_t", f"{name}_weights", layer.inputs[1].data),
              c_array("int32_t", f"{name}_multiplier", multiplier), c_array("int32_t", f"{name}_shift", layer.shift)]
    if bias is not None:
        consts.append(c_array("int64_t", f"{name}_bias", bias))
    keys = ("in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "kh", "kw", "stride_h", "stride_w", "dilation_h",
            "dilation_w", "pad_top", "pad_left", "single_rounding", "act_min", "act_max")
    depthwise = layer.op == "DEPTHWISE_CONV_2D"
    if depthwise and p["kh"] * p["kw"] > 511:
        raise ModelError(f"operator {layer.index} ({layer.op}): int16 activations with a {p['kh']}x{p['kw']} kernel "
                         f"(the int16 depthwise kernel sums at most 511 taps in int32)")
    fields = dict(weights=f"{name}_weights", bias=f"{name}_bias" if bias is not None else 0,
                  multiplier=f"{name}_multiplier", shift=f"{name}_shift",
                  scratch="(int32_t *)(void *)nn_scratch" if depthwise else 0, **{k: p[k] for k in keys})
    consts.append(c_struct("nn_conv16_params", f"{name}_params", fields))
    kernel = "nn_depthwise_conv2d_s16" if depthwise else "nn_conv2d_s16"
    return LayerCode(tuple(consts), f"    {kernel}(&{name}_params, {_pointer(layer.inputs[0])}, "
                                    f"{_pointer(layer.outputs[0])});\n", 4 * p["out_c"] if depthwise else 0)


def lut(function, lo: float, hi: float) -> np.ndarray:
    """The reference's int16 table of ``function`` over [lo, hi] (gen_lut, in double): 512 intervals,
    each sample (x 32768) less half the linear interpolation's error at its midpoint, and the value
    at ``hi`` for the last slope."""
    def rounded(v: float) -> float:
        return math.floor(v + 0.5) if v >= 0 else math.ceil(v - 0.5)

    step = (hi - lo) / 512
    table = []
    for i in range(512):
        sample = rounded(function(lo + i * step) * 32768.0)
        interpolated = rounded((function(lo + (i + 1) * step) * 32768.0 + sample) / 2.0)
        bias = rounded((interpolated - rounded(function(lo + i * step + step / 2) * 32768.0)) / 2.0)
        table.append(sample - bias)
    table.append(rounded(function(hi) * 32768.0))
    return np.clip(np.array(table, np.float64), -32768, 32767).astype(np.int16)


#: The softmax tables (the same for every layer): exp over [-10, 0], 1 / (1 + x) over [0, 1].
SOFTMAX_EXP = lut(math.exp, -10.0, 0.0)
SOFTMAX_RECIPROCAL = lut(lambda v: 1.0 / (1.0 + v), 0.0, 1.0)


def _softmax(layer: Layer) -> LayerCode:
    """The input difference rescaled so that [-65535, 0] spans exp's [-10, 0]: input scale x beta / (10 / 65535)."""
    name, x, y = layer.name, layer.inputs[0], layer.outputs[0]
    beta = float(np.float32(layer.options["beta"]))
    m, e = quantize_multiplier(float(np.float32(x.scale[0])) * beta / (10.0 / 65535.0))
    depth = x.shape[-1]
    fields = dict(exp_lut=f"{name}_exp", reciprocal_lut=f"{name}_reciprocal", exps="(int16_t *)(void *)nn_scratch",
                  rows=int(np.prod(x.shape)) // depth, depth=depth, input_multiplier=m, input_shift=e)
    consts = (c_array("int16_t", f"{name}_exp", SOFTMAX_EXP),
              c_array("int16_t", f"{name}_reciprocal", SOFTMAX_RECIPROCAL),
              c_struct("nn_softmax16_params", f"{name}_params", fields))
    return LayerCode(consts, f"    nn_softmax_s16(&{name}_params, {_pointer(x)}, {_pointer(y)});\n", 2 * depth)


def _sigmoid(i: float) -> float:
    return 65536 / (1 + math.exp(-i / 24))


#: sigmoid(i / 24) in 0.16 fixed point, i = 0..255, as the reference's LOGISTIC and TANH interpolate
#: it: each sample moved by half the linear interpolation's error at the interval's midpoint (so the
#: error is balanced between the ends and the middle), rounded; the last entry is the top of the
#: range, 65535 (tests/test_int16.py checks the kernels against the interpreter on every input).
SIGMOID_TABLE = np.array([math.floor(_sigmoid(i) - ((_sigmoid(i) + _sigmoid(i + 1)) / 2 - _sigmoid(i + 0.5)) / 2 + 0.5)
                          for i in range(255)] + [65535], np.uint16)


def checked_log2(x: float) -> tuple[bool, int]:
    """TFLite CheckedLog2 (float32): whether ``x`` is within 1e-3 of a power of two in log2, and the power."""
    log2 = np.float32(np.log(np.float32(x))) * (np.float32(1) / np.float32(np.log(np.float32(2))))
    rounded = np.round(log2)
    return bool(abs(log2 - rounded) < 1e-3), int(rounded)


def sigmoid_rescale(op: str, scale: float) -> tuple[int, int]:
    """(multiplier, left shift) of the int16 LOGISTIC/TANH input, as the reference's Prepare computes
    them and its kernel reads them: a power-of-two scale of 2^-12 (TANH also 2^-11) is 3 << shift;
    any other has the multiplier scale x 3 x 4096 doubled into (2^14, 2^15) and its shift."""
    power, log2 = checked_log2(scale)
    shift = 12 + log2
    if power and (shift == 0 or op == "TANH" and shift == 1):
        return 3 << shift, 0
    multiplier, shift = float(np.float32(scale)) * 4096.0 * 3.0, 0
    while multiplier <= 32767.0 / 2.0 and shift <= 30:
        shift += 1
        multiplier *= 2.0
    return int(multiplier), shift
