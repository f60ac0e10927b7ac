"""A quantised .tflite model as a graph the code generator works from (read with the `tflite`
flatbuffer package): int8 (or int16x8) tensors with shapes, quantisation and constant data, and
operators with their options. Only what the kernel library implements is accepted; anything else
is a one-line error naming the operator."""

from __future__ import annotations

import math
import os
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simmcu._errors import SimmcuError


class ModelError(SimmcuError):
    """The model file (or its input) cannot be read, or uses what the kernels do not implement: bad
    input (exit code 120), as an ELF for another architecture is."""


#: What a corrupt flatbuffer raises from its accessors (offsets past the end, bad UTF-8, ...).
_FLATBUFFER_ERRORS = (IndexError, struct.error, ValueError, TypeError, UnicodeDecodeError, OverflowError)
#: No tensor can be larger than the 32-bit address space it must live in.
_MAX_TENSOR_BYTES = 1 << 32


def read_regular_file(path: Path, what: str) -> bytes:
    """The bytes of ``path``, refused unless it is a regular file (a FIFO would block the read)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise ModelError(f"cannot read {what} {path}: not a regular file")
        return path.read_bytes()
    except OSError as e:
        raise ModelError(f"cannot read {what} {path}: {e.strerror}") from None


#: operator -> (its options table in the schema, option name -> accessor)
_OPTIONS = {
    "CONV_2D": ("Conv2DOptions", dict(padding="Padding", stride_h="StrideH", stride_w="StrideW",
                                      dilation_h="DilationHFactor", dilation_w="DilationWFactor",
                                      activation="FusedActivationFunction")),
    "DEPTHWISE_CONV_2D": ("DepthwiseConv2DOptions", dict(padding="Padding", stride_h="StrideH", stride_w="StrideW",
                                                         dilation_h="DilationHFactor", dilation_w="DilationWFactor",
                                                         depth_multiplier="DepthMultiplier",
                                                         activation="FusedActivationFunction")),
    "FULLY_CONNECTED": ("FullyConnectedOptions", dict(activation="FusedActivationFunction",
                                                      weights_format="WeightsFormat")),
    "AVERAGE_POOL_2D": ("Pool2DOptions", dict(padding="Padding", stride_h="StrideH", stride_w="StrideW",
                                              filter_h="FilterHeight", filter_w="FilterWidth",
                                              activation="FusedActivationFunction")),
    "MAX_POOL_2D": ("Pool2DOptions", dict(padding="Padding", stride_h="StrideH", stride_w="StrideW",
                                          filter_h="FilterHeight", filter_w="FilterWidth",
                                          activation="FusedActivationFunction")),
    "ADD": ("AddOptions", dict(activation="FusedActivationFunction")),
    "RESHAPE": (None, {}),
    "SOFTMAX": ("SoftmaxOptions", dict(beta="Beta")),
    "MUL": ("MulOptions", dict(activation="FusedActivationFunction")),
    "MAXIMUM": (None, {}), "MINIMUM": (None, {}),
    "LOGISTIC": (None, {}), "TANH": (None, {}), "HARD_SWISH": (None, {}),
    "LEAKY_RELU": ("LeakyReluOptions", dict(alpha="Alpha")),
    "QUANTIZE": (None, {}), "DEQUANTIZE": (None, {}),
    "MEAN": ("ReducerOptions", dict(keep_dims="KeepDims")),
    "PAD": (None, {}), "PADV2": (None, {}),
    "CONCATENATION": ("ConcatenationOptions", dict(axis="Axis", activation="FusedActivationFunction")),
    "STRIDED_SLICE": ("StridedSliceOptions", dict(begin_mask="BeginMask", end_mask="EndMask",
                                                  ellipsis_mask="EllipsisMask", new_axis_mask="NewAxisMask",
                                                  shrink_axis_mask="ShrinkAxisMask", offset="Offset")),
    "UNIDIRECTIONAL_SEQUENCE_LSTM": ("UnidirectionalSequenceLSTMOptions",
                                     dict(cell_clip="CellClip", proj_clip="ProjClip", time_major="TimeMajor",
                                          cell_activation="FusedActivationFunction",
                                          diagonal_recurrent="DiagonalRecurrentTensors")),
}
SUPPORTED = tuple(_OPTIONS)
#: how many leading inputs of each operator are activations (int8 tensors in the arena)
_ACTIVATION_INPUTS = {"ADD": 2}
#: how many leading inputs each operator needs present (weights after the activations)
_TENSOR_INPUTS = {"ADD": 2, "CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "FULLY_CONNECTED": 2, "MUL": 2, "MAXIMUM": 2,
                  "MINIMUM": 2, "MEAN": 2, "PAD": 2, "PADV2": 2, "STRIDED_SLICE": 4}
#: operators whose data inputs may be constant int8 tensors as well as activations (how many; None: all)
_DATA_INPUTS = {"ADD": 2, "MUL": 2, "MAXIMUM": 2, "MINIMUM": 2, "CONCATENATION": None}
_DTYPES = {9: np.int8, 2: np.int32, 0: np.float32, 3: np.uint8, 7: np.int16, 4: np.int64}
_ACTIVATIONS = {0: "none", 1: "relu", 2: "relu_n1_to_1", 3: "relu6"}


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: type
    scale: np.ndarray          #: per tensor (1 value) or per channel
    zero_point: np.ndarray
    data: np.ndarray | None    #: constant tensors (weights, biases)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * np.dtype(self.dtype).itemsize


@dataclass
class Operator:
    index: int
    op: str
    inputs: list[int]          #: tensor indices, -1 for an absent optional input
    outputs: list[int]
    options: dict = field(default_factory=dict)
    intermediates: list[int] = field(default_factory=list)  #: tensors only quantisation is read from (LSTM)


@dataclass
class Model:
    path: Path
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]


def load_model(path: str | Path) -> Model:
    """Every accessor of a corrupt flatbuffer may fail: any such failure is one ModelError."""
    import tflite

    path = Path(path)
    buf = read_regular_file(path, "model")
    try:
        model = tflite.Model.GetRootAsModel(buf, 0)
        graph = model.Subgraphs(0) if model.SubgraphsLength() else None
        if graph is None:
            raise ValueError("no subgraph")
        return _parse(path, model, graph)
    except _FLATBUFFER_ERRORS as e:
        raise ModelError(f"{path} is not a TensorFlow Lite flatbuffer ({type(e).__name__}: {e})".splitlines()[0]
                         ) from None


def _parse(path: Path, model, graph) -> Model:
    import tflite

    if model.SubgraphsLength() != 1:
        raise ModelError(f"{path}: {model.SubgraphsLength()} subgraphs; only single-graph models are supported")
    names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
    types = {v: k for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}
    tensors = []
    for i in range(graph.TensorsLength()):
        t = graph.Tensors(i)
        name = (t.Name() or b"").decode()  # the name is optional in the schema
        if t.Type() not in _DTYPES:
            raise ModelError(f"{path}: tensor {name or i} has type {types.get(t.Type(), f'number {t.Type()}')}, "
                             f"which simmcu's kernels do not take (supported: "
                             f"{', '.join(types[k] for k in _DTYPES)})")
        q = t.Quantization()
        scale = q.ScaleAsNumpy() if q is not None and q.ScaleLength() else np.zeros(0)
        zp = q.ZeroPointAsNumpy() if q is not None and q.ZeroPointLength() else np.zeros(0, np.int64)
        raw = model.Buffers(t.Buffer()).DataAsNumpy() if t.Buffer() < model.BuffersLength() else 0
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        if any(d < 1 for d in shape) or np.prod(shape, dtype=object) * np.dtype(_DTYPES[t.Type()]).itemsize \
                > _MAX_TENSOR_BYTES:
            raise ModelError(f"{path}: tensor {i} has shape {list(shape)}; dimensions must be known and positive, "
                             f"the tensor at most 4 GiB")
        data = None
        if isinstance(raw, np.ndarray) and raw.size:
            data = raw.view(_DTYPES[t.Type()]).reshape(shape)
        tensors.append(Tensor(i, name, shape, _DTYPES[t.Type()], np.asarray(scale, np.float64),
                              np.asarray(zp, np.int64), data))
    operators = []
    for i in range(graph.OperatorsLength()):
        o = graph.Operators(i)
        if o.OpcodeIndex() >= model.OperatorCodesLength():
            raise ModelError(f"{path}: operator {i} has opcode index {o.OpcodeIndex()}; the model has "
                             f"{model.OperatorCodesLength()} operator codes")
        code = model.OperatorCodes(o.OpcodeIndex())
        name = _operator_name(names, code)
        if name not in SUPPORTED:
            raise ModelError(f"{path}: operator {i} is {name}, which simmcu's int8 kernels do not implement "
                             f"(supported: {', '.join(SUPPORTED)})")
        op = Operator(i, name, [int(v) for v in o.InputsAsNumpy()], [int(v) for v in o.OutputsAsNumpy()],
                      intermediates=[int(v) for v in o.IntermediatesAsNumpy()] if o.IntermediatesLength() else [])
        if not op.inputs or not op.outputs or not all(-1 <= k < len(tensors) for k in (*op.inputs, *op.outputs)) \
                or not all(0 <= k < len(tensors) for k in op.intermediates):
            raise ModelError(f"{path}: operator {i} ({name}) has inputs {op.inputs}, outputs {op.outputs} and "
                             f"intermediates {op.intermediates}; the model has {len(tensors)} tensors")
        op.options = _options(path, i, name, o)
        where = f"operator {i} ({name})"
        if name == "UNIDIRECTIONAL_SEQUENCE_LSTM":  # before the generic checks: float and hybrid LSTMs by name
            from ._lstm import check

            check(op, tensors, lambda what: _fail(path, op, what))
        if name in _DATA_INPUTS:
            for k in op.inputs[:_DATA_INPUTS[name]]:
                _check_activation(path, where, tensors, k, constant=True)
        for k in op.inputs[:_ACTIVATION_INPUTS.get(name, 1)] if name not in _DATA_INPUTS else ():
            _check_activation(path, where, tensors, k, floating=name == "QUANTIZE")
        for k in op.outputs:
            _check_activation(path, where, tensors, k, floating=name == "DEQUANTIZE")
        _check(path, op, tensors)
        operators.append(op)
    inputs, outputs = [int(v) for v in graph.InputsAsNumpy()], [int(v) for v in graph.OutputsAsNumpy()]
    if not all(0 <= k < len(tensors) for k in (*inputs, *outputs)):
        raise ModelError(f"{path}: graph inputs {inputs} and outputs {outputs}; the model has {len(tensors)} tensors")
    for k in (*inputs, *outputs):
        _check_activation(path, "the graph", tensors, k, floating=True)
    produced = {t for op in operators for t in op.outputs}
    for k in outputs:
        if k not in produced and k not in inputs:
            raise ModelError(f"{path}: graph output tensor {k} ({tensors[k].name}) is neither a graph input nor "
                             f"produced by an operator")
    return Model(path, tensors, operators, inputs, outputs)


def _operator_name(names: dict[int, str], code) -> str:
    """The builtin's name; a custom operator by its custom code (``CUSTOM operator SignalWindow``);
    a builtin newer than the schema simmcu reads by its number."""
    number = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    if names.get(number) == "CUSTOM":
        custom = (code.CustomCode() or b"").decode(errors="replace")
        return f"CUSTOM operator {custom}" if custom else "a CUSTOM operator without a custom code"
    return names.get(number, f"builtin operator {number} (unknown to simmcu's TFLite schema)")


def _check_activation(path: Path, where: str, tensors: list[Tensor], k: int, constant: bool = False,
                      floating: bool = False) -> None:
    """An activation lives in the arena: int8, not constant, at least one dimension, quantised with a
    positive finite scale and an int8 zero point (the generator requantises with them). ``constant``
    also takes a constant int8 tensor so quantised; ``floating`` also a float32 activation (a QUANTIZE
    input, a DEQUANTIZE output, the graph's inputs and outputs around them). An int16 activation
    (int16x8 models) is quantised symmetrically, zero point 0, as converters emit it; which operators
    take it is ``_check``'s to say (``constant``: also a constant int16 tensor so quantised)."""
    t = tensors[k] if k >= 0 else None
    if floating and t is not None and t.dtype is np.float32 and t.data is None and t.shape:
        return
    if t is not None and t.dtype is np.int16 and (t.data is None or constant):
        if not t.shape and t.data is None or not _scales_ok(t.scale) or t.scale.size != 1 or \
                np.any(t.zero_point != 0):
            raise ModelError(f"{path}: {where}: int16 activation tensor {t.name} has shape {list(t.shape)}, scale "
                             f"{t.scale.tolist()[:4]}, zero point {t.zero_point.tolist()[:4]}; int16 activations "
                             f"need a dimension, one positive scale and zero point 0")
        return
    if t is None or t.dtype is not np.int8 or t.data is not None and not constant:
        raise ModelError(f"{path}: {where} has a non-int8 activation tensor {t.name if t else '(absent)'}; "
                         f"activations are int8, or int16 in int16x8 models")
    if not t.shape and t.data is None or not _scales_ok(t.scale) or t.zero_point.size < 1 or \
            not np.all((t.zero_point >= -128) & (t.zero_point <= 127)):
        raise ModelError(f"{path}: {where}: activation tensor {t.name} has shape {list(t.shape)}, scale "
                         f"{t.scale.tolist()[:4]}, zero point {t.zero_point.tolist()[:4]}; it needs a dimension, a "
                         f"positive scale and an int8 zero point")


def _scales_ok(scale: np.ndarray) -> bool:
    return scale.size >= 1 and bool(np.all(np.isfinite(scale) & (scale > 0)))


def _options(path: Path, index: int, name: str, o) -> dict:
    import tflite

    table_name, fields = _OPTIONS[name]
    if not fields:
        return {}
    table = o.BuiltinOptions()
    if table is None:
        raise ModelError(f"{path}: operator {index} ({name}) has no options table")
    opt = getattr(tflite, table_name)()
    opt.Init(table.Bytes, table.Pos)
    options = {key: getattr(opt, accessor)() for key, accessor in fields.items()}
    if "activation" in options:
        code = options["activation"]
        if code not in _ACTIVATIONS:
            raise ModelError(f"{path}: operator {index} ({name}) has fused activation {code}; "
                             f"supported: {', '.join(_ACTIVATIONS.values())}")
        options["activation"] = _ACTIVATIONS[code]
    if "padding" in options:
        options["padding"] = "same" if options["padding"] == 0 else "valid"
    return options


def _fail(path: Path, op: Operator, what: str):
    raise ModelError(f"{path}: operator {op.index} ({op.op}): {what}")


def _check(path: Path, op: Operator, tensors: list[Tensor]) -> None:
    """What the kernels assume of an operator, as a one-line error naming it when it does not hold."""
    def fail(what: str):
        _fail(path, op, what)

    if _check_int16(op, tensors, fail):
        return
    need = _TENSOR_INPUTS.get(op.op, 1)
    if len(op.inputs) < need or min(op.inputs[:need]) < 0:
        fail(f"inputs {op.inputs}; it takes {need}")
    for key in ("stride_h", "stride_w", "dilation_h", "dilation_w", "filter_h", "filter_w", "depth_multiplier"):
        if key in op.options and op.options[key] < 1:
            fail(f"{key} {op.options[key]}; it must be at least 1")
    x, y = tensors[op.inputs[0]], tensors[op.outputs[0]]
    if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        w = tensors[op.inputs[1]]
        if w.dtype is not np.int8 or w.data is None:
            fail(f"weights {w.name} are not constant int8")
        if len(w.shape) != (2 if op.op == "FULLY_CONNECTED" else 4):
            fail(f"weights {w.name} have shape {list(w.shape)}")
        if not _scales_ok(w.scale):
            fail(f"weights {w.name} have scale {w.scale.tolist()[:4]}; scales must be positive and finite")
        channels = w.shape[3] if op.op == "DEPTHWISE_CONV_2D" else w.shape[0]
        if w.scale.size not in (1, channels) or w.zero_point.size not in (1, w.scale.size):
            fail(f"weights {w.name} have {w.scale.size} scales and {w.zero_point.size} zero points for {channels} "
                 f"output channels; quantisation is per tensor or one per channel")
        if len(op.inputs) > 2 and op.inputs[2] >= 0 and (tensors[op.inputs[2]].dtype is not np.int32
                                                         or tensors[op.inputs[2]].data is None):
            fail(f"bias {tensors[op.inputs[2]].name} is not constant int32")
        if len(op.inputs) > 2 and op.inputs[2] >= 0 and tensors[op.inputs[2]].data.size != channels:
            fail(f"bias {tensors[op.inputs[2]].name} has {tensors[op.inputs[2]].data.size} values for {channels} "
                 f"output channels")
        if np.any(w.zero_point != 0):
            fail("weights with a non-zero zero point (TFLite int8 weights are symmetric)")
    if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D"):
        if len(x.shape) != 4 or x.shape[0] != 1:
            fail(f"input shape {list(x.shape)}; spatial operators take one NHWC image (batch 1)")
    if op.op == "CONV_2D" and tensors[op.inputs[1]].shape[3] != x.shape[3]:
        fail("grouped convolution (filter depth differs from input channels)")
    if op.op == "FULLY_CONNECTED" and op.options["weights_format"] != 0:
        fail("shuffled weights format")
    if op.op in _NEW_CHECKS:
        _NEW_CHECKS[op.op](op, tensors, fail)
    if op.op == "SOFTMAX" and (int(y.zero_point[0]) != -128 or abs(float(y.scale[0]) * 256 - 1) > 1e-3):
        fail("output quantisation is not scale 1/256, zero point -128")
    if op.op in ("RESHAPE", "AVERAGE_POOL_2D", "MAX_POOL_2D") and (
            not np.array_equal(x.scale, y.scale) or not np.array_equal(x.zero_point, y.zero_point)):
        fail("input and output quantisation differ")


#: The operators with int16x8 kernels (firmware/kernels/int16.c; the elementwise, movement and MEAN kernels'
#: int16 instances): int16 activations, int8 weights, int64 bias.
INT16_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "RESHAPE", "AVERAGE_POOL_2D", "MAX_POOL_2D",
             "QUANTIZE", "DEQUANTIZE", "SOFTMAX", "LOGISTIC", "TANH", "MUL", "MAXIMUM", "MINIMUM", "MEAN", "PAD",
             "PADV2", "CONCATENATION", "STRIDED_SLICE", "LEAKY_RELU")
#: int16x8 operators checked as their int8 form is (_NEW_CHECKS): the same shapes and options
_INT16_AS_INT8 = ("ADD", "MUL", "MAXIMUM", "MINIMUM", "CONCATENATION", "MEAN", "PAD", "PADV2", "STRIDED_SLICE",
                  "LEAKY_RELU")
#: int16x8 operators whose data inputs may be constant int16 tensors (zero point 0)
_INT16_CONSTANT_INPUTS = ("ADD", "MUL", "MAXIMUM", "MINIMUM", "CONCATENATION")
#: the most int16 values an int32 sum holds exactly (a MEAN's reduced count)
_INT16_SUM_MAX = 1 << 16


def _check_int16(op: Operator, tensors: list[Tensor], fail) -> bool:
    """An operator with any int16 activation: all its activations int16, an operator of INT16_OPS,
    and what its int16 kernel assumes; then ``_check``'s int8 rules do not apply (True)."""
    data = _DATA_INPUTS.get(op.op, _ACTIVATION_INPUTS.get(op.op, 1))
    acts = [tensors[k] for k in (*op.inputs[:data], *op.outputs) if k >= 0]
    if not any(t.dtype is np.int16 for t in acts):
        return False
    if op.op == "HARD_SWISH":
        fail("int16 activations are not supported for HARD_SWISH (the reference interpreter's HARD_SWISH takes "
             "float32, uint8 and int8 only)")
    if op.op not in INT16_OPS:
        fail(f"int16 activations are not supported for {op.op} (int16x8 operators: {', '.join(INT16_OPS)})")
    x, y = acts[0], acts[-1]
    if op.op in ("QUANTIZE", "DEQUANTIZE"):  # the one side of a conversion that is not int16
        allowed = (np.float32, np.int8, np.int16) if op.op == "QUANTIZE" else (np.int16,)
        if x.dtype not in allowed or y.dtype not in ((np.int8, np.int16) if op.op == "QUANTIZE" else (np.float32,)):
            fail(f"{np.dtype(x.dtype).name} -> {np.dtype(y.dtype).name}; with int16 activations it converts float32, "
                 f"int8 or int16 to int8 or int16 (QUANTIZE), int16 to float32 (DEQUANTIZE)")
        if x.shape != y.shape or any(t.scale.size > 1 for t in (x, y)):
            fail(f"input shape {list(x.shape)}, output shape {list(y.shape)}; they must be equal, the quantisation "
                 f"per tensor")
        return True
    if any(t.dtype is not np.int16 or t.data is not None and op.op not in _INT16_CONSTANT_INPUTS for t in acts):
        fail("int16 activations mixed with other types or constants (an int16x8 operator's activations are all "
             "int16)")
    if op.op in _INT16_AS_INT8:
        need = _TENSOR_INPUTS.get(op.op, 1)
        if len(op.inputs) < need or min(op.inputs[:need]) < 0:
            fail(f"inputs {op.inputs}; it takes {need}")
        _NEW_CHECKS[op.op](op, tensors, fail)
        if op.op == "MEAN" and int(np.prod(x.shape)) > _INT16_SUM_MAX * int(np.prod(y.shape)):
            fail(f"int16 activations with more than {_INT16_SUM_MAX} values to each mean (the int32 sum)")
        if op.op == "ADD" and all(math.frexp(float(t.scale[0]))[0] == 0.5 for t in acts):
            fail("int16 activations with power-of-two scales (the reference's separate power-of-two path)")
        return True
    if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        w = tensors[op.inputs[1]]
        if w.dtype is not np.int8 or w.data is None:
            fail(f"int16 activations with weights {w.name} that are not constant int8")
        expected = 2 if op.op == "FULLY_CONNECTED" else 4
        channels = w.shape[0] if op.op != "DEPTHWISE_CONV_2D" else w.shape[-1]
        if len(w.shape) != expected or not _scales_ok(w.scale) or w.scale.size not in (1, channels) or \
                np.any(w.zero_point != 0):
            fail(f"int16 activations with weights {w.name} of shape {list(w.shape)}, {w.scale.size} scales; they "
                 f"need {expected} dimensions, positive scales per tensor or per channel, zero points 0")
        if op.op != "FULLY_CONNECTED" and (len(op.inputs) < 3 or op.inputs[2] < 0):
            fail("int16 activations without a bias (the reference's int16 convolutions require one)")
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            b = tensors[op.inputs[2]]
            if b.dtype is not np.int64 or b.data is None or b.data.size != channels:
                fail(f"int16 activations with bias {b.name} that is not {channels} constant int64 values")
        if op.op == "FULLY_CONNECTED":
            if op.options["weights_format"] != 0:
                fail("shuffled weights format")
            if int(np.prod(x.shape)) % w.shape[1]:
                fail(f"input shape {list(x.shape)} is not a whole number of rows of depth {w.shape[1]}")
        else:
            if len(x.shape) != 4 or x.shape[0] != 1 or len(y.shape) != 4:
                fail(f"input shape {list(x.shape)}; spatial operators take one NHWC image (batch 1)")
            if op.op == "CONV_2D" and w.shape[3] != x.shape[3]:
                fail("grouped convolution (filter depth differs from input channels)")
            if op.op == "DEPTHWISE_CONV_2D" and channels % x.shape[3]:
                fail(f"{channels} output channels for {x.shape[3]} input channels")
    elif op.op == "SOFTMAX":
        if abs(float(y.scale[0]) * 32768 - 1) > 1e-3:
            fail(f"int16 output scale {float(y.scale[0]):g}; the reference's int16 softmax takes 1/32768")
    elif op.op in ("LOGISTIC", "TANH"):
        from ._int16 import checked_log2

        if x.shape != y.shape:
            fail(f"input shape {list(x.shape)}, output shape {list(y.shape)}; they must be equal")
        if checked_log2(float(y.scale[0])) != (True, -15):
            fail(f"int16 output scale {float(y.scale[0]):g}; the reference's int16 kernel takes 1/32768")
        if float(np.float32(x.scale[0])) * 4096 * 3 > 32767:
            fail(f"int16 input scale {float(x.scale[0]):g} above 32767 / 12288 (the reference's multiplier bound)")
    else:
        if op.op != "RESHAPE" and (len(x.shape) != 4 or x.shape[0] != 1 or len(y.shape) != 4):
            fail(f"input shape {list(x.shape)}; spatial operators take one NHWC image (batch 1)")
        if not np.array_equal(x.scale, y.scale):
            fail("input and output quantisation differ")
    return True


#: at most as many dimensions as the kernels' shapes hold (NN_MAX_DIMS)
_MAX_DIMS = 6


def _check_binary(op: Operator, tensors: list[Tensor], fail) -> None:
    a, b, y = tensors[op.inputs[0]], tensors[op.inputs[1]], tensors[op.outputs[0]]
    rank = max(len(a.shape), len(b.shape))
    pa, pb = ((1,) * (rank - len(t.shape)) + tuple(t.shape) for t in (a, b))
    if rank > _MAX_DIMS or any(d != e and 1 not in (d, e) for d, e in zip(pa, pb)) or \
            tuple(y.shape) != tuple(max(d, e) for d, e in zip(pa, pb)):
        fail(f"shapes {list(a.shape)} and {list(b.shape)} do not broadcast to the output's {list(y.shape)} "
             f"(at most {_MAX_DIMS} dimensions)")
    if a.scale.size != 1 or b.scale.size != 1:
        fail("per-channel quantised inputs; an elementwise operator takes one scale per tensor")


def _check_same_size(op: Operator, tensors: list[Tensor], fail) -> None:
    x, y = tensors[op.inputs[0]], tensors[op.outputs[0]]
    if x.shape != y.shape:
        fail(f"input shape {list(x.shape)}, output shape {list(y.shape)}; they must be equal")
    if op.op == "LOGISTIC" and np.float32(y.scale[0]) != np.float32(1 / 256):
        fail(f"output scale {float(np.float32(y.scale[0])):g}; the reference kernel takes 1/256")
    if op.op == "HARD_SWISH" and float(np.float32(x.scale[0]) / np.float32(128) / np.float32(y.scale[0])) >= 1:
        fail("input scale at least 128 x the output scale (the reference kernel's multiplier must be below 1)")


def _constant(op: Operator, tensors: list[Tensor], k: int, what: str, fail) -> np.ndarray:
    t = tensors[op.inputs[k]] if k < len(op.inputs) and op.inputs[k] >= 0 else None
    if t is None or t.data is None or t.dtype not in (np.int32, np.int64):
        fail(f"{what} is not a constant int32 tensor")
    return t.data.astype(np.int64)


def _check_mean(op: Operator, tensors: list[Tensor], fail) -> None:
    x, y = tensors[op.inputs[0]], tensors[op.outputs[0]]
    axes = _constant(op, tensors, 1, "the axis input", fail).ravel()
    if len(x.shape) > _MAX_DIMS or not axes.size or np.any((axes < -len(x.shape)) | (axes >= len(x.shape))):
        fail(f"axes {axes.tolist()} for an input of shape {list(x.shape)} (at most {_MAX_DIMS} dimensions)")
    reduced = {int(a) % len(x.shape) for a in axes}
    if int(np.prod(y.shape)) != int(np.prod([d for i, d in enumerate(x.shape) if i not in reduced])):
        fail(f"output shape {list(y.shape)} is not the input's {list(x.shape)} reduced over axes {sorted(reduced)}")


def _check_pad(op: Operator, tensors: list[Tensor], fail) -> None:
    x, y = tensors[op.inputs[0]], tensors[op.outputs[0]]
    pads = _constant(op, tensors, 1, "the paddings input", fail)
    if len(x.shape) > _MAX_DIMS or pads.shape != (len(x.shape), 2) or np.any(pads < 0) or \
            tuple(y.shape) != tuple(int(d + p.sum()) for d, p in zip(x.shape, pads)):
        fail(f"paddings {pads.tolist()} for input {list(x.shape)} and output {list(y.shape)}; one non-negative "
             f"(before, after) pair per dimension, at most {_MAX_DIMS}")
    if op.op == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
        v = tensors[op.inputs[2]]
        kind = np.dtype(x.dtype).name
        if v.data is None or v.dtype is not x.dtype or v.data.size != 1:
            fail(f"the constant value is not one constant {kind}")
        if not np.array_equal(np.float32(v.scale), np.float32(y.scale)) or \
                not np.array_equal(v.zero_point, y.zero_point):
            fail(f"the constant value {v.name} is quantised differently from the output (the reference kernel "
                 f"refuses that)")


def _check_concatenation(op: Operator, tensors: list[Tensor], fail) -> None:
    y = tensors[op.outputs[0]]
    rank = len(y.shape)
    axis = op.options["axis"] + rank if op.options["axis"] < 0 else op.options["axis"]
    if not 0 <= axis < rank or rank > _MAX_DIMS:
        fail(f"axis {op.options['axis']} for an output of {rank} dimensions (at most {_MAX_DIMS})")
    if op.options["activation"] != "none":
        fail(f"fused activation {op.options['activation']}")
    xs = [tensors[k] for k in op.inputs]
    if any(len(x.shape) != rank or any(d != e for i, (d, e) in enumerate(zip(x.shape, y.shape)) if i != axis)
           for x in xs) or sum(x.shape[axis] for x in xs) != y.shape[axis]:
        fail(f"input shapes {[list(x.shape) for x in xs]} do not concatenate to {list(y.shape)} along axis {axis}")
    for x in xs if y.dtype is np.int8 else ():  # int16 (zero points 0): copied as they are, as the reference does
        if not np.array_equal(np.float32(x.scale), np.float32(y.scale)) or \
                not np.array_equal(x.zero_point, y.zero_point):
            fail(f"input {x.name} is quantised differently from the output (the reference kernel refuses that "
                 f"for int8; requantise it with QUANTIZE first)")


def _check_strided_slice(op: Operator, tensors: list[Tensor], fail) -> None:
    from ._ops import strided_slice

    x, y = tensors[op.inputs[0]], tensors[op.outputs[0]]
    begin, end, strides = (_constant(op, tensors, k, what, fail).ravel()
                           for k, what in ((1, "begin"), (2, "end"), (3, "strides")))
    o = op.options
    for key in ("ellipsis_mask", "new_axis_mask", "offset"):
        if o[key]:
            fail(f"{key} {int(o[key])} (only begin, end and shrink-axis masks are supported)")
    if len(x.shape) > _MAX_DIMS or not begin.size == end.size == strides.size == len(x.shape) or \
            np.any(strides == 0):
        fail(f"begin {begin.tolist()}, end {end.tolist()}, strides {strides.tolist()} for input {list(x.shape)}; "
             f"one non-zero stride per dimension, at most {_MAX_DIMS}")
    starts, sizes, _ = strided_slice(x.shape, begin, end, strides, o)
    for axis, (start, n) in enumerate(zip(starts, x.shape)):
        if o["shrink_axis_mask"] >> axis & 1 and not 0 <= start < n:
            fail(f"axis {axis} is shrunk to index {int(begin[axis])}, outside its {n} elements")
    kept = [n for axis, n in enumerate(sizes) if not o["shrink_axis_mask"] >> axis & 1]
    if 0 in sizes or int(np.prod(kept)) != int(np.prod(y.shape)):
        fail(f"the slice is {sizes} of input {list(x.shape)}; the output is {list(y.shape)}")


def _check_quantize(op: Operator, tensors: list[Tensor], fail) -> None:
    x, y = tensors[op.inputs[0]], tensors[op.outputs[0]]
    if x.shape != y.shape:
        fail(f"input shape {list(x.shape)}, output shape {list(y.shape)}; they must be equal")
    if op.op == "DEQUANTIZE" and y.dtype is not np.float32 or op.op == "QUANTIZE" and y.dtype is not np.int8:
        fail(f"output {y.name} is {np.dtype(y.dtype).name}; supported: int8 -> float32 (DEQUANTIZE), float32 or int8 "
             f"-> int8 (QUANTIZE)")
    if x.scale.size > 1 or y.scale.size > 1:
        fail("per-channel quantisation")


_NEW_CHECKS = {"ADD": _check_binary, "MUL": _check_binary, "MAXIMUM": _check_binary, "MINIMUM": _check_binary,
               "LOGISTIC": _check_same_size, "TANH": _check_same_size, "HARD_SWISH": _check_same_size,
               "LEAKY_RELU": _check_same_size, "MEAN": _check_mean, "PAD": _check_pad, "PADV2": _check_pad,
               "CONCATENATION": _check_concatenation, "STRIDED_SLICE": _check_strided_slice,
               "QUANTIZE": _check_quantize, "DEQUANTIZE": _check_quantize}
