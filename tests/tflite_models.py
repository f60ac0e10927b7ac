"""Small int8 .tflite models written from Python (flatbuffers through the `tflite` package's
schema builders), so the kernel tests need no model files: each covers operators and
quantisation cases (per-channel and per-tensor weights, padding, strides, dilation, depth
multipliers, fused activations, zero points) the MLPerf models do not."""

from __future__ import annotations

import flatbuffers
import numpy as np
import tflite

_TYPES = {np.int8: 9, np.int32: 2, np.float32: 0, np.int16: 7, np.int64: 4}
_OPTIONS = {"CONV_2D": "Conv2DOptions", "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
            "FULLY_CONNECTED": "FullyConnectedOptions", "AVERAGE_POOL_2D": "Pool2DOptions",
            "MAX_POOL_2D": "Pool2DOptions", "ADD": "AddOptions", "SOFTMAX": "SoftmaxOptions",
            "RESHAPE": "ReshapeOptions", "MUL": "MulOptions", "TANH": None, "LOGISTIC": None, "HARD_SWISH": None,
            "LEAKY_RELU": "LeakyReluOptions", "QUANTIZE": None, "DEQUANTIZE": None, "MEAN": "ReducerOptions",
            "PAD": None, "PADV2": None, "CONCATENATION": "ConcatenationOptions",
            "STRIDED_SLICE": "StridedSliceOptions", "MAXIMUM": None, "MINIMUM": None, "EXP": None,
            "UNIDIRECTIONAL_SEQUENCE_LSTM": "UnidirectionalSequenceLSTMOptions"}
SAME, VALID = 0, 1
NONE, RELU, RELU_N1_TO_1, RELU6 = 0, 1, 2, 3


class ModelWriter:
    """Tensors and operators in one subgraph; ``bytes()`` serialises the model."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.tensors: list[dict] = []
        self.ops: list[tuple] = []

    def tensor(self, shape, scale=None, zero_point=None, data=None, dtype=np.int8, axis=0, variable=False) -> int:
        """``variable``: a state tensor the interpreter keeps between invocations (an LSTM's states)."""
        self.tensors.append(dict(shape=list(shape), scale=scale, zero_point=zero_point, data=data, dtype=dtype,
                                 axis=axis, variable=variable))
        return len(self.tensors) - 1

    def activation(self, shape, scale: float, zero_point: int) -> int:
        return self.tensor(shape, [scale], [zero_point])

    def weights(self, shape, per_channel: bool, axis: int = 0) -> int:
        n = shape[axis] if per_channel else 1
        scales = list(self.rng.uniform(0.002, 0.02, n))
        return self.tensor(shape, scales, [0] * n, self.rng.integers(-127, 128, shape).astype(np.int8), axis=axis)

    def bias(self, n: int, input_scale: float, weight_tensor: int) -> int:
        scales = [s * input_scale for s in self.tensors[weight_tensor]["scale"]]
        return self.tensor([n], scales, [0] * len(scales), self.rng.integers(-3000, 3000, n).astype(np.int32),
                           dtype=np.int32)

    def op(self, name: str, inputs, outputs, intermediates=(), **options) -> None:
        """An operator; ``intermediates`` are tensors only their quantisation matters for (the integer LSTM's)."""
        self.ops.append((name, list(inputs), list(outputs), dict(options, intermediates=list(intermediates))))

    def bytes(self, inputs, outputs) -> bytes:
        b = flatbuffers.Builder(4096)
        names = sorted({name for name, *_ in self.ops})
        codes = [self._opcode(b, n) for n in names]
        buffers = [self._buffer(b, None)] + [self._buffer(b, t["data"]) for t in self.tensors]
        tensors = [self._tensor(b, i, t) for i, t in enumerate(self.tensors)]
        ops = [self._operator(b, names.index(n), i, o, opt, n) for n, i, o, opt in self.ops]
        graph_tensors = self._vector(b, tflite.SubGraphStartTensorsVector, tensors)
        graph_ops = self._vector(b, tflite.SubGraphStartOperatorsVector, ops)
        graph_in, graph_out = (b.CreateNumpyVector(np.array(v, np.int32)) for v in (inputs, outputs))
        tflite.SubGraphStart(b)
        tflite.SubGraphAddTensors(b, graph_tensors)
        tflite.SubGraphAddOperators(b, graph_ops)
        tflite.SubGraphAddInputs(b, graph_in)
        tflite.SubGraphAddOutputs(b, graph_out)
        graph = tflite.SubGraphEnd(b)
        op_codes = self._vector(b, tflite.ModelStartOperatorCodesVector, codes)
        subgraphs = self._vector(b, tflite.ModelStartSubgraphsVector, [graph])
        all_buffers = self._vector(b, tflite.ModelStartBuffersVector, buffers)
        tflite.ModelStart(b)
        tflite.ModelAddVersion(b, 3)
        tflite.ModelAddOperatorCodes(b, op_codes)
        tflite.ModelAddSubgraphs(b, subgraphs)
        tflite.ModelAddBuffers(b, all_buffers)
        b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
        return bytes(b.Output())

    @staticmethod
    def _vector(b, start, offsets) -> int:
        start(b, len(offsets))
        for off in reversed(offsets):
            b.PrependUOffsetTRelative(off)
        return b.EndVector()

    @staticmethod
    def _opcode(b, name: str) -> int:
        code = getattr(tflite.BuiltinOperator, name)
        tflite.OperatorCodeStart(b)
        tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
        tflite.OperatorCodeAddBuiltinCode(b, code)
        tflite.OperatorCodeAddVersion(b, 1)
        return tflite.OperatorCodeEnd(b)

    @staticmethod
    def _buffer(b, data) -> int:
        vec = None
        if data is not None:
            raw = np.ascontiguousarray(data).tobytes()
            b.StartVector(1, len(raw), 16)
            for byte in reversed(raw):
                b.PrependByte(byte)
            vec = b.EndVector()
        tflite.BufferStart(b)
        if vec is not None:
            tflite.BufferAddData(b, vec)
        return tflite.BufferEnd(b)

    @staticmethod
    def _tensor(b, index: int, t: dict) -> int:
        shape = b.CreateNumpyVector(np.array(t["shape"], np.int32))
        name = b.CreateString(f"t{index}")
        quant = None
        if t["scale"] is not None:
            scale = b.CreateNumpyVector(np.array(t["scale"], np.float32))
            zp = b.CreateNumpyVector(np.array(t["zero_point"], np.int64))
            tflite.QuantizationParametersStart(b)
            tflite.QuantizationParametersAddScale(b, scale)
            tflite.QuantizationParametersAddZeroPoint(b, zp)
            tflite.QuantizationParametersAddQuantizedDimension(b, t["axis"])
            quant = tflite.QuantizationParametersEnd(b)
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shape)
        tflite.TensorAddType(b, _TYPES[t["dtype"]])
        tflite.TensorAddBuffer(b, index + 1 if t["data"] is not None else 0)
        tflite.TensorAddName(b, name)
        if quant is not None:
            tflite.TensorAddQuantization(b, quant)
        if t.get("variable"):
            tflite.TensorAddIsVariable(b, True)
        return tflite.TensorEnd(b)

    @staticmethod
    def _operator(b, opcode: int, inputs, outputs, options: dict, name: str) -> int:
        table = _OPTIONS[name]
        options = dict(options)
        intermediates = options.pop("intermediates", ())
        opts = None
        if table is not None:
            getattr(tflite, f"{table}Start")(b)
            for key, value in options.items():
                getattr(tflite, f"{table}Add{key}")(b, value)
            opts = getattr(tflite, f"{table}End")(b)
        ins, outs = (b.CreateNumpyVector(np.array(v, np.int32)) for v in (inputs, outputs))
        between = b.CreateNumpyVector(np.array(intermediates, np.int32)) if intermediates else None
        tflite.OperatorStart(b)
        tflite.OperatorAddOpcodeIndex(b, opcode)
        tflite.OperatorAddInputs(b, ins)
        tflite.OperatorAddOutputs(b, outs)
        if between is not None:
            tflite.OperatorAddIntermediates(b, between)
        if opts is not None:
            tflite.OperatorAddBuiltinOptionsType(b, getattr(tflite.BuiltinOptions, table))
            tflite.OperatorAddBuiltinOptions(b, opts)
        return tflite.OperatorEnd(b)


def _conv(m: ModelWriter, x: int, x_scale: float, shape_out, k, cin, cout, per_channel, out_scale, out_zp, **opt):
    w = m.weights([cout, k[0], k[1], cin], per_channel)
    y = m.activation(shape_out, out_scale, out_zp)
    m.op("CONV_2D", [x, w, m.bias(cout, x_scale, w)], [y], **opt)
    return y


def convolutions() -> bytes:
    """CONV_2D: 3 input channels (weight rows padded to words), SAME with stride 2 and relu6,
    per-channel weights; then VALID with dilation 2, per-tensor weights, relu."""
    m = ModelWriter(1)
    x = m.activation([1, 9, 7, 3], 0.05, -3)
    y = _conv(m, x, 0.05, [1, 5, 4, 8], (3, 3), 3, 8, True, 0.04, -20, Padding=SAME, StrideH=2, StrideW=2,
              FusedActivationFunction=RELU6, DilationHFactor=1, DilationWFactor=1)
    w = m.weights([6, 2, 2, 8], False)
    z = m.activation([1, 3, 2, 6], 0.1, 7)
    m.op("CONV_2D", [y, w, m.bias(6, 0.04, w)], [z], Padding=VALID, StrideH=1, StrideW=1, FusedActivationFunction=RELU,
         DilationHFactor=2, DilationWFactor=2)
    return m.bytes([x], [z])


def depthwise() -> bytes:
    """DEPTHWISE_CONV_2D with depth multiplier 2, stride 2, SAME on an odd image; then a 1x1 CONV_2D
    (the direct, copy-free patch path) and a per-tensor depthwise with relu_n1_to_1."""
    m = ModelWriter(2)
    x = m.activation([1, 7, 6, 4], 0.03, 5)
    w = m.weights([1, 3, 3, 8], True, axis=3)
    y = m.activation([1, 4, 3, 8], 0.02, -10)
    m.op("DEPTHWISE_CONV_2D", [x, w, m.bias(8, 0.03, w)], [y], Padding=SAME, StrideH=2, StrideW=2,
         DepthMultiplier=2, FusedActivationFunction=NONE, DilationHFactor=1, DilationWFactor=1)
    z = _conv(m, y, 0.02, [1, 4, 3, 8], (1, 1), 8, 8, True, 0.05, 2, Padding=VALID, StrideH=1, StrideW=1,
              FusedActivationFunction=NONE, DilationHFactor=1, DilationWFactor=1)
    w2 = m.weights([1, 2, 2, 8], False, axis=3)
    out = m.activation([1, 3, 2, 8], 0.01, 0)
    m.op("DEPTHWISE_CONV_2D", [z, w2, m.bias(8, 0.05, w2)], [out], Padding=VALID, StrideH=1, StrideW=1,
         DepthMultiplier=1, FusedActivationFunction=RELU_N1_TO_1, DilationHFactor=1, DilationWFactor=1)
    return m.bytes([x], [out])


def pooling_and_add() -> bytes:
    """AVERAGE_POOL_2D 3x3 stride 2 SAME (windows clipped at the border), MAX_POOL_2D 2x2 VALID with
    relu, and a residual ADD of two differently quantised tensors with relu."""
    m = ModelWriter(3)
    x = m.activation([1, 8, 7, 5], 0.06, -7)
    a = m.activation([1, 4, 4, 5], 0.06, -7)
    m.op("AVERAGE_POOL_2D", [x], [a], Padding=SAME, StrideH=2, StrideW=2, FilterHeight=3, FilterWidth=3,
         FusedActivationFunction=NONE)
    mx = m.activation([1, 4, 3, 5], 0.06, -7)
    m.op("MAX_POOL_2D", [x], [mx], Padding=VALID, StrideH=2, StrideW=2, FilterHeight=2, FilterWidth=2,
         FusedActivationFunction=RELU)
    c = _conv(m, a, 0.06, [1, 4, 3, 5], (1, 2), 5, 5, True, 0.09, 11, Padding=VALID, StrideH=1, StrideW=1,
              FusedActivationFunction=NONE, DilationHFactor=1, DilationWFactor=1)
    out = m.activation([1, 4, 3, 5], 0.11, -30)
    m.op("ADD", [mx, c], [out], FusedActivationFunction=RELU)
    return m.bytes([x], [out])


def classifier() -> bytes:
    """RESHAPE, FULLY_CONNECTED over two batches of 10 (a depth that is not a multiple of 4,
    per-tensor weights), FULLY_CONNECTED with per-channel weights and no bias, SOFTMAX with beta 0.7."""
    m = ModelWriter(4)
    x = m.activation([1, 2, 10], 0.08, 4)
    r = m.activation([2, 10], 0.08, 4)
    shape = m.tensor([2], data=np.array([2, 10], np.int32), dtype=np.int32)
    m.op("RESHAPE", [x, shape], [r])
    w = m.weights([6, 10], False)
    h = m.activation([2, 6], 0.03, -12)
    m.op("FULLY_CONNECTED", [r, w, m.bias(6, 0.08, w)], [h], FusedActivationFunction=RELU)
    w2 = m.weights([9, 6], True)
    logits = m.activation([2, 9], 0.12, 3)
    m.op("FULLY_CONNECTED", [h, w2, -1], [logits], FusedActivationFunction=NONE)
    out = m.activation([2, 9], 1 / 256, -128)
    m.op("SOFTMAX", [logits], [out], Beta=0.7)
    return m.bytes([x], [out])


def depth_multipliers() -> bytes:
    """DEPTHWISE_CONV_2D with each lane mapping of the kernels and the cfu's macl: multiplier 4 (one
    input channel feeds four lanes), 3 over 4 input channels (lanes read channels one by one), 1
    with 12 channels, and 2 with relu6 and dilation 2."""
    m = ModelWriter(6)
    x = m.activation([1, 6, 5, 2], 0.04, -6)
    y, c, scale = x, 2, 0.04
    for k, mult in enumerate((4, 3, 1, 2)):
        if mult == 3:
            # 8 -> 4 channels first (a 1x1 conv), so the multiplier-3 layer has a multiple of 4 outputs
            y = _conv(m, y, scale, [1, 6, 5, 4], (1, 1), c, 4, True, 0.05, 3, Padding=VALID, StrideH=1,
                      StrideW=1, FusedActivationFunction=NONE, DilationHFactor=1, DilationWFactor=1)
            c, scale = 4, 0.05
        w = m.weights([1, 3, 3, c * mult], k % 2 == 0, axis=3)
        out_scale = 0.03 + 0.01 * k
        z = m.activation([1, 6, 5, c * mult], out_scale, 4 - 3 * k)
        m.op("DEPTHWISE_CONV_2D", [y, w, m.bias(c * mult, scale, w)], [z], Padding=SAME, StrideH=1, StrideW=1,
             DepthMultiplier=mult, FusedActivationFunction=RELU6 if mult == 2 else NONE,
             DilationHFactor=2 if mult == 2 else 1, DilationWFactor=2 if mult == 2 else 1)
        y, c, scale = z, c * mult, out_scale
    return m.bytes([x], [y])


MODELS = {"convolutions": convolutions, "depthwise": depthwise, "pooling_and_add": pooling_and_add,
          "classifier": classifier, "depth_multipliers": depth_multipliers}


def unsupported_op() -> bytes:
    m = ModelWriter(5)
    x = m.activation([1, 8], 0.1, 0)
    y = m.activation([1, 8], 1 / 128, 0)
    m.op("EXP", [x], [y])
    return m.bytes([x], [y])


def concatenation_requantising() -> bytes:
    """What the reference interpreter refuses for int8: an input quantised unlike the output."""
    m = ModelWriter(6)
    x = m.activation([1, 4, 4, 2], 0.1, 0)
    c = m.tensor([1, 4, 4, 1], [0.2], [0], np.ones([1, 4, 4, 1], np.int8))
    y = m.activation([1, 4, 4, 3], 0.1, 0)
    m.op("CONCATENATION", [x, c], [y], Axis=3, FusedActivationFunction=NONE)
    return m.bytes([x], [y])


# --- the elementwise, data-movement and reduction operators, with random shapes and quantisation per seed


def _quant(m: ModelWriter, scale: float = None) -> tuple[float, int]:
    return float(scale if scale is not None else m.rng.uniform(0.01, 0.2)), int(m.rng.integers(-60, 60))


def _image(m: ModelWriter, lo: int = 2, hi: int = 7) -> list[int]:
    return [1, *(int(v) for v in m.rng.integers(lo, hi, 2)), int(m.rng.integers(3, 9))]


def _constant_int8(m: ModelWriter, shape) -> int:
    s, z = _quant(m)
    return m.tensor(shape, [s], [z], m.rng.integers(-128, 128, shape).astype(np.int8))


def activations(seed: int) -> bytes:
    """LOGISTIC, TANH, HARD_SWISH and LEAKY_RELU (alpha 0.3, -0.25 or 1.7) of one image, each branch
    requantised by QUANTIZE (int8 -> int8) to one scale but the last, which has it already, then
    CONCATENATION along a random axis."""
    m = ModelWriter(100 + seed)
    shape = _image(m, 4, 9)
    x = m.activation(shape, *_quant(m, m.rng.uniform(0.02, 0.12)))
    common = _quant(m)
    branches = []
    tanh = (1 / 128, 0) if seed % 2 == 0 else _quant(m)  # the converter's output quantisation, or another
    for op, q, opt in (("LOGISTIC", (1 / 256, -128), {}), ("TANH", tanh, {}), ("HARD_SWISH", _quant(m), {}),
                       ("LEAKY_RELU", common, dict(Alpha=[0.3, -0.25, 1.7][seed % 3]))):
        y = m.activation(shape, *q)
        m.op(op, [x], [y], **opt)
        if q != common:
            r = m.activation(shape, *common)
            m.op("QUANTIZE", [y], [r])
            y = r
        branches.append(y)
    axis = int(m.rng.integers(-4, 4))
    out_shape = list(shape)
    out_shape[axis] *= len(branches)
    out = m.activation(out_shape, *common)
    m.op("CONCATENATION", branches, [out], Axis=axis, FusedActivationFunction=NONE)
    return m.bytes([x], [out])


def _arithmetic(m: ModelWriter, seed: int, x: int, shape: list[int], sx: float) -> int:
    """MEAN over the image (keep_dims) as a per-channel gate, MUL and ADD broadcasting between
    activations and with constants (per channel, per column, a scalar), MAXIMUM and MINIMUM, and a
    final MEAN per seed over the image without keep_dims (a global average pool), the last axis or
    three axes with it, or the rows without."""
    h, w, c = shape[1:]

    def mean(src, scale, axes, keep, out_shape):
        y = m.activation(out_shape, scale, int(m.rng.integers(-60, 60)))
        m.op("MEAN", [src, m.tensor([len(axes)], data=np.array(axes, np.int32), dtype=np.int32)], [y], KeepDims=keep)
        return y

    def binary(op, a, sa, b, sb, out_shape, scale, **opt):
        y = m.activation(out_shape, scale, int(m.rng.integers(-60, 60)))
        m.op(op, [a, b], [y], **opt)
        return y, scale

    gate_scale = sx * m.rng.uniform(0.5, 1.5) if seed % 2 else sx  # the same or other quantisation than x's
    gate = mean(x, gate_scale, [1, 2], True, [1, 1, 1, c])
    act = [RELU6, NONE, RELU][seed % 3]
    p, sp = binary("MUL", x, sx, gate, gate_scale, shape, sx * gate_scale * 128 * m.rng.uniform(0.3, 1.2),
                   FusedActivationFunction=act)
    rows = mean(x, sx * m.rng.uniform(0.5, 1.5), [-2], True, [1, h, 1, c])
    q, sq = binary("ADD", p, sp, rows, sx, shape, max(sp, sx) * m.rng.uniform(1, 2.5), FusedActivationFunction=NONE)
    r, _ = binary("MAXIMUM", q, sq, _constant_int8(m, [c]), 0, shape, sq)
    s_, _ = binary("MINIMUM", r, sq, x, sx, shape, sq)
    cs, cz = _quant(m)
    scalar = m.tensor([1], [cs], [cz], m.rng.integers(-128, 128, [1]).astype(np.int8))
    t, st = binary("MUL", s_, sq, scalar, cs, shape, sq * cs * 128 * m.rng.uniform(0.3, 1.2),
                   FusedActivationFunction=NONE)
    u, su = binary("ADD", t, st, _constant_int8(m, [1, 1, w, 1]), 0, shape, st * m.rng.uniform(1, 2.5),
                   FusedActivationFunction=int(m.rng.choice([NONE, RELU])))
    axes, keep = [([1, 2], False), ([-1], True), ([2, 1, 3], True), ([1], False)][seed % 4]
    reduced = {a % 4 for a in axes}
    out_shape = [1 if i in reduced else d for i, d in enumerate(shape)] if keep else \
        [d for i, d in enumerate(shape) if i not in reduced]
    return mean(u, su * m.rng.uniform(0.5, 1.5), axes, keep, out_shape)


def _pad_and_slice(m: ModelWriter, x: int, shape, activation) -> tuple[int, list[int]]:
    """PAD of the image ``x`` (random paddings but the batch's) and a STRIDED_SLICE of it with random
    begin/end/strides (negative strides, begin/end masks, the batch axis shrunk): the slice and its
    shape. ``activation`` makes a tensor of a shape quantised as ``x``."""
    pads = np.array([[0, 0], *m.rng.integers(0, 3, (3, 2)).tolist()], np.int32)
    padded = [int(d + p.sum()) for d, p in zip(shape, pads)]
    y = activation(padded)
    m.op("PAD", [x, m.tensor([4, 2], data=pads, dtype=np.int32)], [y])
    begin, end, strides = [0], [1], [1]
    for n in padded[1:]:
        step = int(m.rng.choice([1, 2, -1, -2, 3]))
        a, b = sorted(int(v) for v in m.rng.integers(0, n, 2))
        if step < 0:
            a, b = b, a - 1 - n if a == 0 else a - 1  # down to index a, end written from the end when it is -1
        begin.append(a - n if m.rng.random() < 0.3 and a > 0 else a)
        end.append(b)
        strides.append(step)
    begin_mask, end_mask = int(m.rng.integers(0, 16)) & ~1, int(m.rng.integers(0, 16)) & ~1
    opts = dict(begin_mask=begin_mask, end_mask=end_mask, shrink_axis_mask=1, ellipsis_mask=0, new_axis_mask=0,
                offset=False)
    from simmcu.firmware._ops import strided_slice
    _, sizes, _ = strided_slice(padded, begin, end, strides, opts)
    for axis in (axis for axis, n in enumerate(sizes) if n == 0):  # an empty range runs to the end instead
        opts["end_mask"] = end_mask = end_mask | 1 << axis
    _, sizes, _ = strided_slice(padded, begin, end, strides, opts)
    sliced = activation(sizes[1:])
    consts = [m.tensor([4], data=np.array(v, np.int32), dtype=np.int32) for v in (begin, end, strides)]
    m.op("STRIDED_SLICE", [y, *consts], [sliced], BeginMask=begin_mask, EndMask=end_mask, ShrinkAxisMask=1,
         EllipsisMask=0, NewAxisMask=0, Offset=False)
    return sliced, sizes[1:]


def tensors_and_arithmetic(seed: int) -> bytes:
    """PAD (zero point fill) of the image, STRIDED_SLICE with random begin/end/strides (negative
    strides, begin/end masks, a shrunk batch axis), PADV2 with a constant, and CONCATENATION with a
    constant tensor along a random axis; reshaped to an image again, the arithmetic operators."""
    m = ModelWriter(300 + seed)
    shape = _image(m)
    q = _quant(m)
    x = m.activation(shape, *q)
    sliced, sizes = _pad_and_slice(m, x, shape, lambda shape: m.activation(shape, *q))
    pads2 = m.rng.integers(0, 2, (3, 2)).astype(np.int32)
    padded2 = [int(d + p.sum()) for d, p in zip(sizes, pads2)]
    z = m.activation(padded2, *q)
    value = m.tensor([1], [q[0]], [q[1]], np.array([int(m.rng.integers(-128, 128))], np.int8))
    m.op("PADV2", [sliced, m.tensor([3, 2], data=pads2, dtype=np.int32), value], [z])
    axis = int(m.rng.integers(0, 3))
    extra = list(padded2)
    extra[axis] = int(m.rng.integers(1, 3))
    const = m.tensor(extra, [q[0]], [q[1]], m.rng.integers(-128, 128, extra).astype(np.int8))
    out_shape = list(padded2)
    out_shape[axis] += extra[axis]
    out = m.activation(out_shape, *q)
    m.op("CONCATENATION", [z, const] if seed % 2 else [const, z], [out], Axis=axis - 3 if seed % 2 else axis,
         FusedActivationFunction=NONE)
    image = m.activation([1, *out_shape], *q)
    m.op("RESHAPE", [out, m.tensor([4], data=np.array([1, *out_shape], np.int32), dtype=np.int32)], [image])
    return m.bytes([x], [_arithmetic(m, seed, image, [1, *out_shape], q[0])])


def float_io(seed: int) -> bytes:
    """A float32 model as converters emit it: QUANTIZE at the input, DEQUANTIZE at the output, with
    LOGISTIC or TANH between (a requantising QUANTIZE before the DEQUANTIZE)."""
    m = ModelWriter(400 + seed)
    shape = [1, int(m.rng.integers(40, 120))]
    x = m.tensor(shape, dtype=np.float32)
    q = m.activation(shape, *_quant(m, m.rng.uniform(0.01, 0.1)))
    m.op("QUANTIZE", [x], [q])
    op, out_q = (("LOGISTIC", (1 / 256, -128)), ("TANH", (1 / 128, 0)))[seed % 2]
    y = m.activation(shape, *out_q)
    m.op(op, [q], [y])
    r = m.activation(shape, *_quant(m))
    m.op("QUANTIZE", [y], [r])
    out = m.tensor(shape, dtype=np.float32)
    m.op("DEQUANTIZE", [r], [out])
    return m.bytes([x], [out])


def write_models(folder, models: dict, seeds) -> dict:
    """Each of ``models`` (name -> writer of a seed) for each seed as a file in ``folder``: (name, seed) -> path."""
    paths = {}
    for name, write in models.items():
        for seed in seeds:
            paths[name, seed] = folder / f"{name}-{seed}.tflite"
            paths[name, seed].write_bytes(write(seed))
    return paths


OP_MODELS = {"activations": activations, "tensors_and_arithmetic": tensors_and_arithmetic, "float_io": float_io}


def lstm(seed: int, cifg: bool = False, time_major: bool = False, cell_clip: float | None = None,
         proj_clip: float | None = None, **features) -> bytes:
    """UNIDIRECTIONAL_SEQUENCE_LSTM as the converter emits it for full-integer quantisation: int8
    input and output, per-tensor int8 weights scaled so the gates (Q3.12) neither vanish nor always
    saturate, int32 gate biases, the output state (int8, quantised as the output) and the int16 cell
    state (scale 2^-9 .. 2^-15) as variable tensors, and five intermediates (Q3.12 gate scales; the
    hidden state's scale and zero point). Random sequences of 2-6 steps, input size and units
    (``batch`` sequences, default 1); every other seed a cell clip (``cell_clip`` sets it, 0 for
    none). ``projection`` (True, or "bias" with a projection bias) projects the hidden state
    (quantised on its own) to another number of units, every other seed with a projection clip
    (``proj_clip`` sets it). ``layer_norm`` normalises each gate (int16 coefficients, the gate
    biases after it, the gates' intermediate scales); ``peephole`` adds int16 cell-to-gate weights.
    The other ``features`` are what the kernel refuses, for the refusal tests: ``float_input``
    (float32 input: with the int8 weights a hybrid LSTM), ``float_weights``, ``cell_scale``."""
    m = ModelWriter(500 + seed)
    steps, n_input, n_cell = int(m.rng.integers(2, 7)), int(m.rng.integers(3, 24)), int(m.rng.integers(2, 20))
    sx, zx = float(m.rng.uniform(0.01, 0.06)), int(m.rng.integers(-40, 40))
    so, zo = float(m.rng.uniform(1 / 160, 1 / 60)), int(m.rng.integers(-20, 20))
    cell_exponent = int(m.rng.integers(-15, -8))
    projection = features.get("projection")
    n_output = int(m.rng.integers(2, 16)) if projection else n_cell

    def matrix(cols: int, scale_in: float) -> int:
        scale = float(2 / (np.sqrt(cols) * 5400 * scale_in) * m.rng.uniform(0.4, 2.5))
        data = m.rng.integers(-127, 128, [n_cell, cols])
        if features.get("float_weights"):
            return m.tensor([n_cell, cols], data=(data * scale).astype(np.float32), dtype=np.float32)
        return m.tensor([n_cell, cols], [scale], [0], data.astype(np.int8))

    def bias(weights: int) -> int:
        if features.get("float_weights"):
            return m.tensor([n_cell], data=m.rng.uniform(-1, 1, n_cell).astype(np.float32), dtype=np.float32)
        scale = sx * m.tensors[weights]["scale"][0]
        data = np.round(m.rng.uniform(-1.5, 1.5, n_cell) / scale).astype(np.int32)
        return m.tensor([n_cell], [scale], [0], data, dtype=np.int32)

    batch = features.get("batch", 1)
    x_shape = [steps, batch, n_input] if time_major else [batch, steps, n_input]
    x = m.tensor(x_shape, dtype=np.float32) if features.get("float_input") else m.activation(x_shape, sx, zx)
    gates = range(1, 4) if cifg else range(4)
    w_in = {g: matrix(n_input, sx) for g in gates}
    w_rec = {g: matrix(n_output, so) for g in gates}
    biases = {g: bias(w_in[g]) for g in gates}
    inputs = [x, *(w_in.get(g, -1) for g in range(4)), *(w_rec.get(g, -1) for g in range(4)), -1, -1, -1,
              *(biases.get(g, -1) for g in range(4)), -1, -1]
    if features.get("peephole"):  # int16 cell-to-gate weights of the input (not with CIFG), forget and output gates
        scale = float(2.0 ** -14 * m.rng.uniform(0.8, 1.25))
        for k in (10, 11) if cifg else (9, 10, 11):
            inputs[k] = m.tensor([n_cell], [scale], [0], np.round(m.rng.uniform(-0.6, 0.6, n_cell) / scale)
                                 .astype(np.int16), dtype=np.int16)
    hidden = (so, zo)
    if projection:  # the hidden state quantised on its own, projected to n_output units, with or without a bias
        hidden = (float(m.rng.uniform(1 / 150, 1 / 90)), int(m.rng.integers(-20, 20)))
        scale = float(m.rng.uniform(0.5, 2) / (127 * np.sqrt(n_cell)))
        inputs[16] = m.tensor([n_output, n_cell], [scale], [0],
                              m.rng.integers(-127, 128, [n_output, n_cell]).astype(np.int8))
        if projection == "bias":
            inputs[17] = m.tensor([n_output], [scale * hidden[0]], [0],
                                  np.round(m.rng.uniform(-0.3, 0.3, n_output) / (scale * hidden[0])).astype(np.int32),
                                  dtype=np.int32)
    state = m.tensor([batch, n_output], [so], [zo], variable=True)
    cell = m.tensor([batch, n_cell], [features.get("cell_scale", 2.0 ** cell_exponent)], [0], dtype=np.int16,
                    variable=True)
    norms, gate_scales = [-1] * 4, [2.0 ** -12] * 4
    if features.get("layer_norm"):  # per gate: coefficients near 1, the bias after the normalisation
        gate_scales = [float(2.0 ** -12 * m.rng.uniform(0.5, 2)) for _ in range(4)]
        for g in gates:
            scale = float(2.0 ** -13 * m.rng.uniform(0.8, 1.25))
            norms[g] = m.tensor([n_cell], [scale], [0], np.round(m.rng.uniform(0.5, 1.5, n_cell) / scale)
                                .astype(np.int16), dtype=np.int16)
            m.tensors[biases[g]]["data"] = np.round(m.rng.uniform(-0.5, 0.5, n_cell) / (scale * 2.0 ** -10)
                                                    ).astype(np.int32)
    inputs += [state, cell, *norms]
    between = [m.tensor([1], [s], [0], dtype=np.int16) for s in gate_scales] + [m.activation([1], *hidden)]
    y = m.activation([*x_shape[:2], n_output], so, zo)
    clip = float(m.rng.uniform(0.5, 4)) if seed % 2 else 0.0
    clip = clip if cell_clip is None else cell_clip
    default_clip = float(m.rng.uniform(0.2, 0.6)) if projection and seed % 2 else 0.0
    proj_clip = default_clip if proj_clip is None else proj_clip
    m.op("UNIDIRECTIONAL_SEQUENCE_LSTM", inputs, [y], intermediates=between, FusedActivationFunction=4,
         CellClip=clip, ProjClip=proj_clip, TimeMajor=time_major, AsymmetricQuantizeInputs=False)
    return m.bytes([x], [y])


# --- int16x8 models (16-bit activations, 8-bit weights), random shapes and quantisation per seed


class Int16Writer(ModelWriter):
    """Tensors as TFLite's 16x8 quantisation emits them: int16 activations with symmetric scales
    (zero point 0), int8 weights, int64 biases."""

    def activation16(self, shape, scale: float) -> int:
        return self.tensor(shape, [scale], [0], dtype=np.int16)

    def bias64(self, n: int, input_scale: float, weight_tensor: int) -> int:
        scales = [s * input_scale for s in self.tensors[weight_tensor]["scale"]]
        return self.tensor([n], scales, [0] * len(scales), self.rng.integers(-3_000_000, 3_000_000, n).astype(np.int64),
                           dtype=np.int64)

    def output_scale(self, input_scale: float, weight_tensor: int, taps: int) -> float:
        """A scale that puts the typical output of ``taps`` products of random int16 inputs and int8
        weights a few thousand steps from zero (a random factor of that: sometimes saturating)."""
        w = float(np.mean(self.tensors[weight_tensor]["scale"]))
        return input_scale * w * 18900 * 73 * np.sqrt(taps) / self.rng.uniform(1500, 20000)


def _out_size(n: int, k: int, stride: int, dilation: int, padding: int) -> int:
    return -(-n // stride) if padding == SAME else -(-(n - (k - 1) * dilation) // stride)


def _int16_spatial(m: Int16Writer, op: str, x: int, sx: float, shape, k, cout, stride, dilation, padding,
                   multiplier: int = 1):
    _, h, w, c = shape
    oh, ow = (_out_size(n, kk, stride, dilation, padding) for n, kk in zip((h, w), k))
    per_channel = bool(m.rng.integers(0, 2))
    if op == "CONV_2D":
        wt = m.weights([cout, k[0], k[1], c], per_channel)
        opts = {}
    else:
        cout = c * multiplier
        wt = m.weights([1, k[0], k[1], cout], per_channel, axis=3)
        opts = dict(DepthMultiplier=multiplier)
    sy = m.output_scale(sx, wt, k[0] * k[1] * (c if op == "CONV_2D" else 1))
    y = m.activation16([1, oh, ow, cout], sy)
    bias = m.bias64(cout, sx, wt)  # the reference's int16 convolutions require one
    act = int(m.rng.choice([NONE, RELU, RELU6, RELU_N1_TO_1]))
    m.op(op, [x, wt, bias], [y], Padding=padding, StrideH=stride, StrideW=stride, DilationHFactor=dilation,
         DilationWFactor=dilation, FusedActivationFunction=act, **opts)
    return y, sy, [1, oh, ow, cout]


def int16_network(seed: int) -> bytes:
    """CONV_2D (random kernel, stride or dilation, padding, fused activation, per-channel or
    per-tensor weights, bias or none), a depthwise layer of multiplier 1 added back to its input
    (ADD of two differently scaled int16 tensors), a strided depthwise layer of multiplier 1-3,
    RESHAPE to rows and FULLY_CONNECTED over them."""
    m = Int16Writer(600 + seed)
    shape = [1, *(int(v) for v in m.rng.integers(4, 9, 2)), int(m.rng.integers(1, 6))]
    sx = float(m.rng.uniform(0.5, 4) / 32767)
    x = m.activation16(shape, sx)
    k = (int(m.rng.integers(1, 4)), int(m.rng.integers(1, 4)))
    stride = int(m.rng.integers(1, 3))
    dilation = 1 if stride > 1 else int(m.rng.integers(1, 3))
    a, sa, ashape = _int16_spatial(m, "CONV_2D", x, sx, shape, k, int(m.rng.integers(2, 9)), stride, dilation,
                                   int(m.rng.choice([SAME, VALID])) if min(shape[1:3]) > 2 * max(k) else SAME)
    d, sd, _ = _int16_spatial(m, "DEPTHWISE_CONV_2D", a, sa, ashape, (3, 3), 0, 1, 1, SAME)
    ss = max(sa, sd) * float(m.rng.uniform(1, 2))
    s_ = m.activation16(ashape, ss)
    m.op("ADD", [a, d], [s_], FusedActivationFunction=int(m.rng.choice([NONE, RELU])))
    e, se, eshape = _int16_spatial(m, "DEPTHWISE_CONV_2D", s_, ss, ashape, (int(m.rng.integers(1, 4)), 2), 0,
                                   int(m.rng.integers(1, 3)), 1, SAME, multiplier=int(m.rng.integers(1, 4)))
    n = int(np.prod(eshape))
    rows = [r for r in (1, 2, 3) if n % r == 0][-1] if seed % 2 else 1
    r = m.activation16([rows, n // rows], se)
    m.op("RESHAPE", [e, m.tensor([2], data=np.array([rows, n // rows], np.int32), dtype=np.int32)], [r])
    units = int(m.rng.integers(3, 12))
    wt = m.weights([units, n // rows], bool(m.rng.integers(0, 2)))
    sy = m.output_scale(se, wt, n // rows)
    out = m.activation16([rows, units], sy)
    m.op("FULLY_CONNECTED", [r, wt, m.bias64(units, se, wt) if seed % 3 else -1], [out],
         FusedActivationFunction=int(m.rng.choice([NONE, RELU])), WeightsFormat=0)
    return m.bytes([x], [out])


def int16_conversions(seed: int) -> bytes:
    """A float32 model quantised to int16 (QUANTIZE float32 -> int16), AVERAGE_POOL_2D (SAME, stride 2,
    a fused activation), QUANTIZE int16 -> int8 -> int16 and int16 -> int16 (requantising), MAX_POOL_2D
    (VALID), DEQUANTIZE int16 -> float32."""
    m = Int16Writer(700 + seed)
    shape = [1, *(int(v) for v in m.rng.integers(4, 10, 2)), int(m.rng.integers(1, 7))]
    x = m.tensor(shape, dtype=np.float32)
    s0 = float(m.rng.uniform(0.5, 8) / 32767)
    q = m.activation16(shape, s0)
    m.op("QUANTIZE", [x], [q])
    k = int(m.rng.integers(2, 4))
    pooled = [1, -(-shape[1] // 2), -(-shape[2] // 2), shape[3]]
    a = m.activation16(pooled, s0)
    m.op("AVERAGE_POOL_2D", [q], [a], Padding=SAME, StrideH=2, StrideW=2, FilterHeight=k, FilterWidth=k,
         FusedActivationFunction=int(m.rng.choice([NONE, RELU, RELU6, RELU_N1_TO_1])))
    b = m.activation(pooled, float(s0 * 256 * m.rng.uniform(0.5, 2)), int(m.rng.integers(-50, 50)))
    m.op("QUANTIZE", [a], [b])
    c = m.activation16(pooled, float(s0 * m.rng.uniform(0.5, 2)))
    m.op("QUANTIZE", [b], [c])
    d = m.activation16(pooled, float(s0 * m.rng.uniform(0.3, 3)))
    m.op("QUANTIZE", [c], [d])
    out_shape = [1, pooled[1] - 1, pooled[2] - 1, shape[3]]
    e = m.activation16(out_shape, m.tensors[d]["scale"][0])
    m.op("MAX_POOL_2D", [d], [e], Padding=VALID, StrideH=1, StrideW=1, FilterHeight=2, FilterWidth=2,
         FusedActivationFunction=int(m.rng.choice([NONE, RELU])))
    out = m.tensor(out_shape, dtype=np.float32)
    m.op("DEQUANTIZE", [e], [out])
    return m.bytes([x], [out])


def int16_softmax(seed: int) -> bytes:
    """RESHAPE of an image to rows and SOFTMAX (int16, output scale 1/32768) over them, random depth,
    input scale and beta."""
    m = Int16Writer(800 + seed)
    rows, depth = int(m.rng.integers(8, 24)), int(m.rng.integers(2, 40))
    sx = float(m.rng.uniform(0.3, 12) / 32767)
    x = m.activation16([1, rows, depth], sx)
    r = m.activation16([rows, depth], sx)
    m.op("RESHAPE", [x, m.tensor([2], data=np.array([rows, depth], np.int32), dtype=np.int32)], [r])
    y = m.activation16([rows, depth], 1 / 32768)
    m.op("SOFTMAX", [r], [y], Beta=float([1.0, 0.6, 1.8][seed % 3]))
    return m.bytes([x], [y])


def _int16_constant(m: Int16Writer, shape, scale: float) -> int:
    return m.tensor(shape, [scale], [0], m.rng.integers(-32768, 32768, shape).astype(np.int16), dtype=np.int16)


def int16_operators(seed: int) -> bytes:
    """The int16x8 elementwise, data-movement and reduction operators on one image:
    LEAKY_RELU (alpha 0.3, -0.25 or 1.7), MEAN over the image (keep_dims) as a per-channel gate,
    MUL broadcasting it (a fused activation), MUL by a constant (per channel, or a scalar, either
    side), MAXIMUM with a constant row (lower rank), MINIMUM with the input or the gate, PAD and
    STRIDED_SLICE as tensors_and_arithmetic's, CONCATENATION with a constant of another scale
    along a random axis and MEAN of it per seed over two axes, the last (keep_dims), all three or
    the middle one; ADD broadcasting the gate ([1, 1, 1, C]), then a MEAN of the input per row
    ([1, H, 1, 1], either side, a fused activation or none), then a constant ([W, C] or the image's
    shape), and PADV2 of the sum with a random non-zero constant. The outputs: LEAKY_RELU's, the MULs',
    MINIMUM's, CONCATENATION's, the MEAN's and PADV2's."""
    m = Int16Writer(900 + seed)
    shape = [1, *(int(v) for v in m.rng.integers(4, 9, 2)), int(m.rng.integers(2, 6))]
    h, w, c = shape[1:]
    sx = float(m.rng.uniform(0.5, 4) / 32767)
    x = m.activation16(shape, sx)
    sl = sx * float(m.rng.uniform(0.6, 1.5))
    leaky = m.activation16(shape, sl)
    m.op("LEAKY_RELU", [x], [leaky], Alpha=[0.3, -0.25, 1.7][seed % 3])

    def mean(src, scale, axes, keep, out_shape):
        y = m.activation16(out_shape, scale)
        m.op("MEAN", [src, m.tensor([len(axes)], data=np.array(axes, np.int32), dtype=np.int32)], [y], KeepDims=keep)
        return y

    def mul(a, b, sa, sb, out_shape, **opt):  # the output scale puts typical products some 10^4 steps from 0
        sy = sa * sb * 18900 * 12000 / float(m.rng.uniform(5000, 15000))
        y = m.activation16(out_shape, sy)
        m.op("MUL", [a, b], [y], **opt)
        return y, sy

    sg = sl * float(m.rng.uniform(0.3, 0.8))
    gate = mean(leaky, sg, [1, 2], True, [1, 1, 1, c])
    p, sp = mul(leaky, gate, sl, sg, shape, FusedActivationFunction=int(m.rng.choice([NONE, RELU, RELU6,
                                                                                      RELU_N1_TO_1])))
    sc = float(m.rng.uniform(0.5, 2) / 32767)
    const = _int16_constant(m, [c] if seed % 2 else [1], sc)
    q, sq = mul(*((p, const, sp, sc) if seed % 2 == 0 else (const, p, sc, sp)), shape, FusedActivationFunction=NONE)
    r = m.activation16(shape, sq)
    m.op("MAXIMUM", [q, _int16_constant(m, [w, 1], sq)], [r])
    t = m.activation16(shape, sq)
    m.op("MINIMUM", [r, x] if seed % 2 == 0 else [gate, r], [t])
    sliced, sizes = _pad_and_slice(m, t, shape, lambda shape: m.activation16(shape, sq))
    axis = int(m.rng.integers(0, 3))
    extra = list(sizes)
    extra[axis] = int(m.rng.integers(1, 3))
    out_shape = list(sizes)
    out_shape[axis] += extra[axis]
    joined = m.activation16(out_shape, sq)
    const = _int16_constant(m, extra, sq * float(m.rng.uniform(0.5, 2)))  # copied as it is, as the reference does
    m.op("CONCATENATION", [sliced, const] if seed % 2 else [const, sliced], [joined],
         Axis=axis - 3 if seed % 2 else axis, FusedActivationFunction=NONE)
    axes, keep = [([0, 1], False), ([-1], True), ([2, 0, 1], True), ([1], False)][seed % 4]
    reduced = {a % 3 for a in axes}
    mean_shape = [1 if i in reduced else d for i, d in enumerate(out_shape)] if keep else \
        [d for i, d in enumerate(out_shape) if i not in reduced]
    averaged = mean(joined, sq * float(m.rng.uniform(0.7, 1.5)), axes, keep, mean_shape)

    def add(a, b, sa, sb, out_shape, **opt):  # the output scale puts typical sums some 10^4 steps from 0
        sy = max(sa, sb) * float(m.rng.uniform(1.2, 2.5))
        y = m.activation16(out_shape, sy)
        m.op("ADD", [a, b], [y], **opt)
        return y, sy

    u, su = add(leaky, gate, sl, sg, shape, FusedActivationFunction=NONE)
    sr = sx * float(m.rng.uniform(0.3, 0.8))
    rows = mean(x, sr, [2, 3], True, [1, h, 1, 1])
    v, sv = add(*((u, rows, su, sr) if seed % 2 == 0 else (rows, u, sr, su)), shape,
                FusedActivationFunction=int(m.rng.choice([NONE, RELU])))
    sc = sv * float(m.rng.uniform(0.5, 2))
    s, ss = add(v, _int16_constant(m, [w, c] if seed % 2 else shape, sc), sv, sc, shape, FusedActivationFunction=NONE)
    pads = np.array([[0, 0], *m.rng.integers(0, 3, (3, 2)).tolist()], np.int32)
    padded = m.activation16([int(d + pad.sum()) for d, pad in zip(shape, pads)], ss)
    fill = m.tensor([1], [ss], [0], np.array([int(m.rng.integers(-30000, 30000))], np.int16), dtype=np.int16)
    m.op("PADV2", [s, m.tensor([4, 2], data=pads, dtype=np.int32), fill], [padded])
    return m.bytes([x], [leaky, p, q, t, joined, averaged, padded])


INT16_MODELS = {"int16_network": int16_network, "int16_conversions": int16_conversions,
                "int16_softmax": int16_softmax}
#: int16 models of several outputs
INT16_OP_MODELS = {"int16_operators": int16_operators}
