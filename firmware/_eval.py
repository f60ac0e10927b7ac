"""A model on a data set: one (cached) build, N inferences in one process, each a fresh run from
reset on the loaded ELF with the sample written into the build (``Simulator.run(write=...)``), so
every inference's cycles are those a single ``simmcu run`` of that input reports. Scored by top-1
accuracy against labels and by agreement with the TFLite reference interpreter; timed per
inference and per layer. ``simmcu eval`` and ``simmcu.evaluate`` are this."""

from __future__ import annotations

import copy
import json
import statistics
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from simmcu._errors import ConfigError, SimmcuError

from ._compile import OFFLOAD_FILE, layer_report, make_units
from ._deploy import io_symbols, model_elf
from ._io import OUTPUT_SYMBOL, TensorIO, conform, inputs_of, load_dataset, load_labels, outputs_of, unpack
from ._model import Model, ModelError, load_model


class InferenceError(SimmcuError):
    """An inference did not run to a clean exit: its run's exit code and message."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def _spread(values: list[int]) -> dict:
    """min, median (the lower middle one for an even count: a real inference's figure) and max."""
    return dict(min=min(values), median=statistics.median_low(values), max=max(values))


@dataclass(frozen=True)
class EvalResult:
    """What ``evaluate`` measured. ``cycles`` are whole runs from reset (start-up, the inference,
    printing the outputs); ``model_cycles`` the layer functions' (the inference itself)."""

    model: str
    core: str
    accelerators: list[str]
    samples: int
    cycles: list[int]                      #: per inference, the run's cycles
    instructions: list[int]                #: per inference, the run's instructions
    model_cycles: list[int]                #: per inference, the sum over the layer functions
    layers: list[dict]                     #: per layer: name, op, offload and its cycles' min, median, max
    predictions: list[int]                 #: per inference, the index of the first output's largest value
    correct: int | None = None             #: predictions equal to the labels (with labels)
    reference: dict | None = None          #: with ``reference=True``: agreement with the interpreter
    wall_seconds: float = 0.0              #: host time of the inferences (informative)
    outputs: list[list[np.ndarray]] = field(default_factory=list, repr=False)  #: per inference, per output

    @property
    def accuracy(self) -> float | None:
        return None if self.correct is None else self.correct / self.samples

    def to_dict(self) -> dict:
        d = {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self) if f.name != "outputs"}
        d.update(cycles=dict(**_spread(self.cycles), per_inference=self.cycles),
                 model_cycles=dict(**_spread(self.model_cycles), per_inference=self.model_cycles),
                 accuracy=None if self.correct is None else dict(correct=self.correct, total=self.samples,
                                                                 top1=round(self.accuracy, 6)))
        d.pop("correct")
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def summary(self) -> str:
        c, m = _spread(self.cycles), _spread(self.model_cycles)
        units = f" with {', '.join(self.accelerators)}" if self.accelerators else ""
        lines = [f"simmcu: evaluated {self.model} on {self.samples} samples, core {self.core}{units} "
                 f"({self.wall_seconds:.2f} s)",
                 f"  cycles per inference: min {m['min']:,}  median {m['median']:,}  max {m['max']:,} "
                 f"(whole runs from reset {c['min']:,} .. {c['max']:,})"]
        if self.correct is not None:
            ref = self.reference or {}
            lines.append(f"  top-1 accuracy {self.accuracy:.4f} ({self.correct}/{self.samples})"
                         + (f"; reference interpreter {ref['top1']:.4f}" if ref.get("top1") is not None else ""))
        if self.reference is not None:
            r = self.reference
            lines.append(f"  reference interpreter: {r['exact']}/{r['total']} outputs identical, worst difference "
                         f"{r['worst_abs_diff']:g} ({r['worst_abs_diff_dequantised']:.6g} dequantised)")
        lines.append(f"  {'layer':32s} {'min':>12s} {'median':>12s} {'max':>12s}  offload")
        lines += [f"  {r['name'][:32]:32s} {r['min']:12,d} {r['median']:12,d} {r['max']:12,d}  {r['offload']}"
                  for r in self.layers]
        return "\n".join(lines)


def _samples(model: Model, data, count_hint: str) -> tuple[int, list[np.ndarray]]:
    """The data set as per-input arrays of samples: a path (.npy/.npz), one array (single-input
    models) or a list of arrays, one per input, samples along the first axis."""
    tensors = inputs_of(model)
    if isinstance(data, (str, Path)):
        return load_dataset(tensors, data)
    arrays = [np.asarray(data)] if not isinstance(data, (list, tuple)) else [np.asarray(a) for a in data]
    if len(arrays) != len(tensors):
        raise ModelError(f"{len(arrays)} data arrays; the model has {len(tensors)} inputs")
    counts = {len(a) if a.ndim else 0 for a in arrays}
    if len(counts) != 1 or 0 in counts:
        raise ModelError(f"{count_hint}: the inputs need the same, non-zero number of samples along the first axis")
    out = [np.stack([conform(t, x, f"{count_hint} sample {k}") for k, x in enumerate(a)])
           for t, a in zip(tensors, arrays)]
    return counts.pop(), out


class _Reference:
    """The TFLite reference interpreter (ai-edge-litert, BUILTIN_REF kernels) on the same inputs,
    each sample from the reset state (a stateful model's variable tensors, such as an LSTM's, reset
    before each inference, as the simulator restores the firmware's memory)."""

    def __init__(self, path: Path, inputs: list[TensorIO], outputs: list[TensorIO]):
        try:
            from ai_edge_litert import interpreter as litert
        except ImportError:
            raise ConfigError("reference comparison needs the reference interpreter ai-edge-litert "
                              "(pip install ai-edge-litert, or simmcu's test extra)") from None
        self.it = litert.Interpreter(model_content=path.read_bytes(),
                                     experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
        self.it.allocate_tensors()
        self.inputs, self.outputs = inputs, outputs

    def __call__(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        for t, a in zip(self.inputs, arrays):
            self.it.set_tensor(t.index, a)
        self.it.reset_all_variables()
        self.it.invoke()
        return [self.it.get_tensor(t.index).reshape(t.shape) for t in self.outputs]


def evaluate(model: str | Path, data, labels=None, *, core: str = "rv32imc", accelerators=(),
             reference: bool = False, portable: bool = False, **simulator_options) -> EvalResult:
    """Run ``model`` on every sample of ``data`` (a .npy/.npz path, one array with samples along the
    first axis, or a list of such arrays, one per input) with one build and report cycles per
    inference and per layer, top-1 accuracy against ``labels`` (a path or one integer class per
    sample) and, with ``reference``, agreement with the TFLite reference interpreter.
    ``accelerators`` and ``simulator_options`` are as ``run_model`` takes them."""
    from simmcu import Simulator

    path = Path(model)
    graph = load_model(path)
    count, arrays = _samples(graph, data, "data")
    if labels is not None:
        labels = load_labels(labels, count) if isinstance(labels, (str, Path)) else np.asarray(labels)
        if labels.dtype.kind not in "iu" or labels.shape != (count,):
            raise ModelError(f"labels are {labels.dtype} of shape {list(labels.shape)}; they must be {count} "
                             f"integer class indices, one per sample")
    inputs, outputs = inputs_of(graph), outputs_of(graph)
    oracle = _Reference(path, inputs, outputs) if reference else None
    attached = make_units(accelerators)
    elf = model_elf(path, core, accels=attached, portable=portable)
    offload = json.loads((elf.parent / OFFLOAD_FILE).read_text())
    sim = Simulator(elf, core=core, accelerators=attached, **simulator_options)
    started = time.monotonic()
    cycles, instructions, model_cycles, per_layer, results = [], [], [], [], []
    for k in range(count):
        sample = [a[k] for a in arrays]
        r = sim.run(**io_symbols(graph, sample))
        if not r.ok:
            raise InferenceError(f"sample {k}: {r.message}", r.exit_code)
        layers = layer_report(graph, r.functions, offload)
        cycles.append(r.cycles)
        instructions.append(r.instructions)
        model_cycles.append(sum(row["cycles"] for row in layers))
        per_layer.append([row["cycles"] for row in layers])
        results.append(unpack(outputs, r.symbol_data[OUTPUT_SYMBOL]))
    wall = time.monotonic() - started
    predictions = [int(np.argmax(out[0])) for out in results]
    agreement = None
    if oracle is not None:
        expected = [oracle([a[k] for a in arrays]) for k in range(count)]
        diffs = [max(int(np.max(np.abs(g.astype(np.int64) - e.astype(np.int64)))) if g.dtype.kind != "f"
                     else float(np.max(np.abs(g - e))) for g, e in zip(got, want))
                 for got, want in zip(results, expected)]
        real = [max(float(np.max(np.abs(t.dequantise(g) - t.dequantise(e)))) for t, g, e in zip(outputs, got, want))
                for got, want in zip(results, expected)]
        ref_predictions = [int(np.argmax(e[0])) for e in expected]
        agreement = dict(exact=sum(d == 0 for d in diffs), total=count, worst_abs_diff=max(diffs),
                         worst_abs_diff_dequantised=max(real), top1=None if labels is None else
                         round(float(np.mean(np.array(ref_predictions) == labels)), 6))
    columns = list(zip(*per_layer))
    layer_rows = [dict(name=f"layer_{op.index}_{op.op.lower()}", op=op.op, offload=where, **_spread(list(col)))
                  for op, where, col in zip(graph.operators, offload, columns)]
    return EvalResult(model=path.name, core=core, accelerators=[a.NAME for a in attached], samples=count,
                      cycles=cycles, instructions=instructions, model_cycles=model_cycles, layers=layer_rows,
                      predictions=predictions,
                      correct=None if labels is None else int(np.sum(np.array(predictions) == labels)),
                      reference=agreement, wall_seconds=round(wall, 3), outputs=results)
