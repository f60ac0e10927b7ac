"""A quantised .tflite model as a graph the code generator works from (read with the `tflite`
flatbuffer package): int8 tensors with shapes, quantisation and constant data, and operators
with their options. Only what the int8 kernel library implements is accepted; anything else is
a one-line error naming the operator."""

from __future__ import annotations

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
}
SUPPORTED = tuple(_OPTIONS)
#: how many leading inputs of each operator are activations (int8 tensors in the arena)
_ACTIVATION_INPUTS = {"ADD": 2}
#: how many leading inputs each operator needs present (weights after the activations)
_TENSOR_INPUTS = {"ADD": 2, "CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "FULLY_CONNECTED": 2}
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
        op = Operator(i, name, [int(v) for v in o.InputsAsNumpy()], [int(v) for v in o.OutputsAsNumpy()])
        if not op.inputs or not op.outputs or not all(-1 <= k < len(tensors) for k in (*op.inputs, *op.outputs)):
            raise ModelError(f"{path}: operator {i} ({name}) has inputs {op.inputs} and outputs {op.outputs}; "
                             f"the model has {len(tensors)} tensors")
        op.options = _options(path, i, name, o)
        for k in (*op.inputs[:_ACTIVATION_INPUTS.get(name, 1)], *op.outputs):
            _check_activation(path, f"operator {i} ({name})", tensors, k)
        _check(path, op, tensors)
        operators.append(op)
    inputs, outputs = [int(v) for v in graph.InputsAsNumpy()], [int(v) for v in graph.OutputsAsNumpy()]
    if not all(0 <= k < len(tensors) for k in (*inputs, *outputs)):
        raise ModelError(f"{path}: graph inputs {inputs} and outputs {outputs}; the model has {len(tensors)} tensors")
    for k in (*inputs, *outputs):
        _check_activation(path, "the graph", tensors, k)
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


def _check_activation(path: Path, where: str, tensors: list[Tensor], k: int) -> None:
    """An activation lives in the arena: int8, not constant, at least one dimension, quantised with a
    positive finite scale and an int8 zero point (the generator requantises with them)."""
    t = tensors[k] if k >= 0 else None
    if t is None or t.dtype is not np.int8 or t.data is not None:
        raise ModelError(f"{path}: {where} has a non-int8 activation tensor {t.name if t else '(absent)'}; "
                         f"only fully int8 models are supported")
    if not t.shape or not _scales_ok(t.scale) or t.zero_point.size < 1 or \
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


def _check(path: Path, op: Operator, tensors: list[Tensor]) -> None:
    """What the kernels assume of an operator, as a one-line error naming it when it does not hold."""
    def fail(what: str):
        raise ModelError(f"{path}: operator {op.index} ({op.op}): {what}")

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
    if op.op == "ADD" and tensors[op.inputs[1]].shape != x.shape:
        fail(f"broadcasting {list(x.shape)} + {list(tensors[op.inputs[1]].shape)}; ADD needs equal shapes")
    if op.op == "SOFTMAX" and (int(y.zero_point[0]) != -128 or abs(float(y.scale[0]) * 256 - 1) > 1e-3):
        fail("output quantisation is not scale 1/256, zero point -128")
    if op.op in ("RESHAPE", "AVERAGE_POOL_2D", "MAX_POOL_2D") and (
            not np.array_equal(x.scale, y.scale) or not np.array_equal(x.zero_point, y.zero_point)):
        fail("input and output quantisation differ")
