"""A quantised .tflite model as a graph the code generator works from (read with the `tflite`
flatbuffer package): int8 tensors with shapes, quantisation and constant data, and operators
with their options. Only what the int8 kernel library implements is accepted; anything else is
a one-line error naming the operator."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simmcu._errors import ExitCode, SimmcuError


class ModelError(SimmcuError):
    """The model file cannot be read, or uses what the kernels do not implement."""

    exit_code = ExitCode.UNSUPPORTED


SUPPORTED = ("FULLY_CONNECTED",)
_DTYPES = {9: np.int8, 2: np.int32, 0: np.float32, 3: np.uint8, 7: np.int16, 4: np.int64}
_ACTIVATIONS = {0: "none", 1: "relu", 3: "relu6"}


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
    import tflite

    path = Path(path)
    try:
        buf = path.read_bytes()
        model = tflite.Model.GetRootAsModel(buf, 0)
        graph = model.Subgraphs(0)
        if graph is None:
            raise ValueError
    except OSError as e:
        raise ModelError(f"cannot read model {path}: {e.strerror}") from None
    except Exception:
        raise ModelError(f"{path} is not a TensorFlow Lite flatbuffer") from None
    if model.SubgraphsLength() != 1:
        raise ModelError(f"{path}: {model.SubgraphsLength()} subgraphs; only single-graph models are supported")
    names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
    tensors = []
    for i in range(graph.TensorsLength()):
        t = graph.Tensors(i)
        if t.Type() not in _DTYPES:
            raise ModelError(f"{path}: tensor {t.Name().decode()} has type {t.Type()}, not an int8/int32 model type")
        q = t.Quantization()
        scale = q.ScaleAsNumpy() if q is not None and q.ScaleLength() else np.zeros(0)
        zp = q.ZeroPointAsNumpy() if q is not None and q.ZeroPointLength() else np.zeros(0, np.int64)
        raw = model.Buffers(t.Buffer()).DataAsNumpy() if t.Buffer() < model.BuffersLength() else 0
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        data = None
        if isinstance(raw, np.ndarray) and raw.size:
            data = raw.view(_DTYPES[t.Type()]).reshape(shape)
        tensors.append(Tensor(i, t.Name().decode(), shape, _DTYPES[t.Type()], np.asarray(scale, np.float64),
                              np.asarray(zp, np.int64), data))
    operators = []
    for i in range(graph.OperatorsLength()):
        o = graph.Operators(i)
        code = model.OperatorCodes(o.OpcodeIndex())
        name = names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "CUSTOM")
        if name not in SUPPORTED:
            raise ModelError(f"{path}: operator {i} is {name}, which simmcu's int8 kernels do not implement "
                             f"(supported: {', '.join(SUPPORTED)})")
        op = Operator(i, name, [int(v) for v in o.InputsAsNumpy()], [int(v) for v in o.OutputsAsNumpy()])
        if name == "FULLY_CONNECTED":
            opt = tflite.FullyConnectedOptions()
            table = o.BuiltinOptions()
            opt.Init(table.Bytes, table.Pos)
            op.options["activation"] = _activation(path, i, opt.FusedActivationFunction())
        for k in (*op.inputs[:1], *op.outputs):
            if tensors[k].dtype is not np.int8:
                raise ModelError(f"{path}: operator {i} ({name}) has a non-int8 activation tensor "
                                 f"{tensors[k].name}; only fully int8 models are supported")
        operators.append(op)
    return Model(path, tensors, operators, [int(v) for v in graph.InputsAsNumpy()],
                 [int(v) for v in graph.OutputsAsNumpy()])


def _activation(path: Path, index: int, code: int) -> str:
    if code not in _ACTIVATIONS:
        raise ModelError(f"{path}: operator {index} has fused activation {code}; supported: none, relu, relu6")
    return _ACTIVATIONS[code]
