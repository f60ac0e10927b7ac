"""A compiled model's inputs and outputs at run time: where they live in the firmware, how host
arrays are checked and packed into them, and how the output bytes become tensors again.

The generated ``main.c`` holds two buffers: ``model_input``, a constant in flash that the simulator
overwrites before each run (``Simulator.run(write=...)``), and ``model_output``, where ``model_run``
leaves the outputs for the simulator to read back (``read=...``). Each graph input (output) sits
in its buffer at an offset aligned to ``IO_ALIGN``, in graph order, as raw bytes of the tensor's own
dtype, so one build serves every input and the I/O layer follows the model's tensor types.
"""

from __future__ import annotations

import io
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simmcu._errors import ConfigError

from ._model import Model, ModelError, read_regular_file

INPUT_SYMBOL, OUTPUT_SYMBOL = "model_input", "model_output"
IO_ALIGN = 4
#: An .npz member larger than this is refused before it is decompressed.
_MAX_MEMBER_BYTES = 1 << 30


@dataclass(frozen=True)
class TensorIO:
    """One graph input or output: the tensor and its place in the firmware's I/O buffer."""

    index: int                 #: tensor index in the model
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    scale: float | None        #: per-tensor quantisation (None for an unquantised tensor)
    zero_point: int | None
    offset: int                #: byte offset in model_input / model_output

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    def describe(self) -> str:
        return f"{self.name or f'tensor {self.index}'} ({'x'.join(map(str, self.shape))} {self.dtype})"

    def dequantise(self, values: np.ndarray) -> np.ndarray:
        if self.scale is None or self.dtype.kind == "f":
            return values.astype(np.float64)
        return (values.astype(np.float64) - self.zero_point) * self.scale


def _layout(model: Model, indices: list[int]) -> list[TensorIO]:
    out, at = [], 0
    for k in indices:
        t = model.tensors[k]
        scale = zero_point = None
        if t.scale.size and np.dtype(t.dtype).kind != "f":
            scale, zero_point = float(t.scale[0]), int(t.zero_point[0]) if t.zero_point.size else 0
        out.append(TensorIO(k, t.name, tuple(t.shape), np.dtype(t.dtype), scale, zero_point, at))
        at = -(-(at + out[-1].nbytes) // IO_ALIGN) * IO_ALIGN
    return out


def inputs_of(model: Model) -> list[TensorIO]:
    return _layout(model, model.inputs)


def outputs_of(model: Model) -> list[TensorIO]:
    return _layout(model, model.outputs)


def buffer_bytes(tensors: list[TensorIO]) -> int:
    """The buffer holding ``tensors``: the last one ends it (no padding after it)."""
    return tensors[-1].offset + tensors[-1].nbytes if tensors else 0


def conform(t: TensorIO, array: np.ndarray, source: str) -> np.ndarray:
    """``array`` as tensor ``t`` takes it: its dtype, and its shape, dimensions of 1 aside, or flat
    with the tensor's number of values. Anything else is a one-line error naming both."""
    array = np.asarray(array)
    if array.dtype != t.dtype:
        hint = f" (quantise it: q = round(x / {t.scale:g}) + {t.zero_point})" \
            if array.dtype.kind == "f" and t.scale is not None else ""
        raise ModelError(f"{source} is {array.dtype}; input {t.describe()} takes {t.dtype}{hint}")
    size = math.prod(t.shape)
    squeezed = tuple(d for d in array.shape if d != 1) == tuple(d for d in t.shape if d != 1)
    if not (squeezed or array.ndim == 1 and array.size == size):
        raise ModelError(f"{source} has shape {list(array.shape)} ({array.size} values); input {t.describe()} "
                         f"takes shape {list(t.shape)} ({size} values)")
    return array.reshape(t.shape)


def as_inputs(model: Model, input_data=None, seed: int = 0) -> list[np.ndarray]:
    """``input_data`` (the one input's array, or one per input) conformed to the model's inputs, or
    the seeded random inputs when it is None."""
    tensors = inputs_of(model)
    if input_data is None:
        return random_inputs(model, seed)
    arrays = [input_data] if isinstance(input_data, np.ndarray) else list(input_data)
    if len(arrays) != len(tensors):
        raise ModelError(f"{len(arrays)} input arrays; the model has {len(tensors)} inputs "
                         f"({', '.join(t.describe() for t in tensors)})")
    return [conform(t, a, f"input {k}" if len(tensors) > 1 else "the input")
            for k, (t, a) in enumerate(zip(tensors, arrays))]


def pack(tensors: list[TensorIO], arrays: list[np.ndarray]) -> bytes:
    """The input buffer for ``arrays`` (one per input, already conformed)."""
    buf = bytearray(buffer_bytes(tensors))
    for t, a in zip(tensors, arrays):
        buf[t.offset:t.offset + t.nbytes] = np.ascontiguousarray(a, t.dtype.newbyteorder("<")).tobytes()
    return bytes(buf)


def unpack(tensors: list[TensorIO], raw: bytes) -> list[np.ndarray]:
    """The output tensors from the output buffer's bytes (both ISAs are little-endian)."""
    return [np.frombuffer(raw, t.dtype.newbyteorder("<"), math.prod(t.shape), t.offset).astype(t.dtype).reshape(t.shape)
            for t in tensors]


def output_records(tensors: list[TensorIO], arrays: list[np.ndarray]) -> list[dict]:
    """The JSON ``outputs``: each tensor with its values and their real values (docs/json.md)."""
    return [dict(name=t.name, tensor=t.index, shape=list(t.shape), dtype=t.dtype.name, scale=t.scale,
                 zero_point=t.zero_point, values=a.tolist(), dequantised=t.dequantise(a).tolist())
            for t, a in zip(tensors, arrays)]


def _float_range(model: Model, index: int) -> tuple[float, float]:
    """What a float input should span: the range the QUANTIZE reading it maps onto int8, and a tenth
    beyond on each side (values it clamps); [-1, 1) when no QUANTIZE reads it."""
    for op in model.operators:
        if op.op == "QUANTIZE" and op.inputs[0] == index:
            q = model.tensors[op.outputs[0]]
            lo, hi = (float(q.scale[0]) * (v - int(q.zero_point[0])) for v in (-128, 127))
            return 1.1 * lo - 0.1 * hi, 1.1 * hi - 0.1 * lo
    return -1.0, 1.0


def random_inputs(model: Model, seed: int = 0) -> list[np.ndarray]:
    """Seeded inputs covering each input type's range (floats: ``_float_range``), drawn in graph order."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed {seed!r} must be a non-negative integer")
    rng = np.random.default_rng(seed)
    out = []
    for t in inputs_of(model):
        if t.dtype.kind == "f":
            out.append(rng.uniform(*_float_range(model, t.index), t.shape).astype(t.dtype))
        else:
            info = np.iinfo(t.dtype)
            out.append(rng.integers(info.min, info.max + 1, t.shape, dtype=t.dtype))
    return out


# -- files ---------------------------------------------------------------------------------------
def _npy(raw: bytes, path: Path) -> np.ndarray:
    """np.load allocates the array its header describes before reading the data: the header is
    checked against the bytes the file holds first."""
    f = io.BytesIO(raw)
    version = np.lib.format.read_magic(f)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read_header(f)
    if math.prod(shape) * dtype.itemsize > len(raw) - f.tell():
        raise ModelError(f"cannot read {path}: its header says {list(shape)} {dtype}, more than the file holds")
    f.seek(0)
    return np.load(f)


def read_arrays(path: str | Path, what: str = "input") -> list[tuple[str, np.ndarray]] | bytes:
    """The arrays of an .npy (one) or .npz (each member, in file order) file, named; any other
    file is raw bytes, returned as such (their dtype is the tensor's)."""
    path = Path(path)
    raw = read_regular_file(path, what)
    try:
        if path.suffix == ".npy":
            return [(path.name, _npy(raw, path))]
        if path.suffix == ".npz":
            with zipfile.ZipFile(io.BytesIO(raw)) as z:
                members = [m for m in z.infolist() if m.filename.endswith(".npy")]
                if not members:
                    raise ModelError(f"cannot read {what} {path}: the archive holds no arrays")
                if any(m.file_size > _MAX_MEMBER_BYTES for m in members):
                    raise ModelError(f"cannot read {what} {path}: a member is larger than 1 GiB")
                return [(m.filename[:-4], _npy(z.read(m), path)) for m in members]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise ModelError(f"cannot read {what} {path}: {e}".splitlines()[0]) from None
    return raw


def read_input(path: str | Path) -> np.ndarray:
    """A single-input model's input from a .npy file or raw int8 bytes (checked against the model
    when it runs)."""
    found = read_arrays(path)
    if isinstance(found, bytes):
        return np.frombuffer(found, np.int8)
    if len(found) != 1:
        raise ModelError(f"{path} holds {len(found)} arrays; give one file per input")
    return found[0][1]


def _by_input(tensors: list[TensorIO], named: list[tuple[str, np.ndarray]], source: str) -> list[np.ndarray]:
    """Arrays of an .npz matched to the inputs: by tensor name when every input's name is a member,
    else in order."""
    if len(named) != len(tensors):
        raise ModelError(f"{source} holds {len(named)} arrays; the model has {len(tensors)} inputs "
                         f"({', '.join(t.describe() for t in tensors)})")
    members = dict(named)
    if all(t.name in members for t in tensors):
        return [members[t.name] for t in tensors]
    return [a for _, a in named]


def load_inputs(tensors: list[TensorIO], paths: list[str | Path]) -> list[np.ndarray]:
    """The model's inputs from ``--input`` files: one per input (.npy or raw bytes of the input's
    dtype), or one .npz with an array per input; each conformed to its tensor."""
    if len(paths) == 1 and Path(paths[0]).suffix == ".npz":
        found = read_arrays(paths[0])
        arrays = _by_input(tensors, found, str(paths[0]))
        sources = [f"{paths[0]}[{name}]" for name, _ in found]
    else:
        if len(paths) != len(tensors):
            raise ModelError(f"{len(paths)} input files; the model has {len(tensors)} inputs "
                             f"({', '.join(t.describe() for t in tensors)}): give one each, or one .npz")
        arrays, sources = [], []
        for t, p in zip(tensors, paths):
            found = read_arrays(p)
            if isinstance(found, bytes):
                if len(found) != t.nbytes:
                    raise ModelError(f"input {p} has {len(found)} bytes; input {t.describe()} takes {t.nbytes}")
                found = [(str(p), np.frombuffer(found, t.dtype))]
            elif len(found) != 1:
                raise ModelError(f"{p} holds {len(found)} arrays; the input takes one")
            arrays.append(found[0][1])
            sources.append(f"input {p}")
    return [conform(t, a, s) for t, a, s in zip(tensors, arrays, sources)]


def load_dataset(tensors: list[TensorIO], path: str | Path) -> tuple[int, list[np.ndarray]]:
    """Samples for ``simmcu eval``: an .npy whose first axis is the sample (single-input models) or
    an .npz with such an array per input. Returns the count and, per input, the samples conformed
    to the tensor (``count x shape``)."""
    found = read_arrays(path, "data")
    if isinstance(found, bytes):
        raise ModelError(f"data {path} must be .npy or .npz (samples along the first axis)")
    arrays = _by_input(tensors, found, f"data {path}")
    counts = {len(a) if a.ndim else 0 for a in arrays}
    if len(counts) != 1 or 0 in counts:
        raise ModelError(f"data {path}: the inputs need the same, non-zero number of samples along the first "
                         f"axis; they have {sorted(counts)}")
    (count,) = counts
    out = []
    for t, a, (name, _) in zip(tensors, arrays, found):
        member = f"[{name}]" if Path(path).suffix == ".npz" else ""
        first = conform(t, a[0], f"data {path}{member} sample 0")
        out.append(np.stack([first, *(x.reshape(t.shape) for x in a[1:])]))
    return count, out


def load_labels(path: str | Path, count: int) -> np.ndarray:
    """One integer class per sample (.npy)."""
    found = read_arrays(path, "labels")
    if isinstance(found, bytes) or len(found) != 1:
        raise ModelError(f"labels {path} must be one .npy array of class indices")
    labels = found[0][1]
    if labels.dtype.kind not in "iu" or labels.shape != (count,):
        raise ModelError(f"labels {path} are {labels.dtype} of shape {list(labels.shape)}; they must be {count} "
                         f"integer class indices, one per sample")
    return labels.astype(np.int64)


def write_outputs(path: str | Path, tensors: list[TensorIO], arrays: list[np.ndarray]) -> None:
    """``--output``: one output as an .npy array; several as an .npz keyed by tensor name."""
    path = Path(path)
    try:
        with open(path, "wb") as f:
            if path.suffix == ".npz":
                np.savez(f, **{t.name or f"output_{k}": a for k, (t, a) in enumerate(zip(tensors, arrays))})
            else:
                np.save(f, arrays[0])
    except OSError as e:
        raise ModelError(f"cannot write {path}: {e.strerror}") from None


def check_output_path(path: str | Path, tensors: list[TensorIO]) -> None:
    """Before anything runs: several outputs need an .npz."""
    if len(tensors) > 1 and Path(path).suffix != ".npz":
        raise ConfigError(f"the model has {len(tensors)} outputs; --output {path} must be an .npz to hold them")
