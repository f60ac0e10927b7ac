"""A .tflite model as C firmware: weights as const arrays in flash, one function per operator
(``layer_<index>_<op>``, so the per-function profile is the per-layer profile), and a static
tensor arena whose buffers are reused according to tensor lifetimes.

``compile_model`` writes the sources and builds the ELF with the firmware build driver. The
generated ``main`` runs the model once on a given (or seeded random) input and prints the
output bytes, which tests compare with the TFLite reference interpreter.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._build import build, firmware_dir
from ._model import Model, ModelError, load_model
from .reference import quantize_multiplier

ARENA_ALIGN = 16


@dataclass(frozen=True)
class Plan:
    offsets: dict[int, int]    #: arena offset of each non-constant tensor
    size: int                  #: arena bytes
    lifetimes: dict[int, tuple[int, int]]


def plan_arena(model: Model) -> Plan:
    """Greedy first-fit by size (as TFLM's greedy planner): tensors whose lifetimes (first
    producing or consuming operator .. last consumer) overlap never share bytes."""
    last = len(model.operators)
    life: dict[int, tuple[int, int]] = {t: (0, 0) for t in model.inputs}
    for op in model.operators:
        for t in [*op.inputs, *op.outputs]:
            if t < 0 or model.tensors[t].data is not None:
                continue
            a, b = life.get(t, (op.index, op.index))
            life[t] = (min(a, op.index), max(b, op.index))
    for t in model.outputs:
        life[t] = (life[t][0], last)
    offsets: dict[int, int] = {}
    size = 0
    for t in sorted(life, key=lambda k: (-model.tensors[k].nbytes, k)):
        need = model.tensors[t].nbytes
        start = 0
        for other in sorted((o for o in offsets if _overlap(life[o], life[t])), key=offsets.get):
            if offsets[other] - start >= need:
                break
            start = max(start, _align(offsets[other] + model.tensors[other].nbytes))
        offsets[t] = start
        size = max(size, start + need)
    return Plan(offsets, _align(size), life)


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def _align(n: int) -> int:
    return -(-n // ARENA_ALIGN) * ARENA_ALIGN


def _array(ctype: str, name: str, values) -> str:
    vals = [int(v) for v in np.asarray(values).ravel()]
    rows = [", ".join(map(str, vals[i:i + 24])) for i in range(0, len(vals), 24)]
    return f"static const {ctype} {name}[{len(vals)}] __attribute__((aligned(4))) = {{\n    " + \
        ",\n    ".join(rows) + "\n};\n"


def _activation_range(kind: str, scale: float, zero_point: int) -> tuple[int, int]:
    """TFLite CalculateActivationRangeQuantized for int8."""
    lo, hi = -128, 127
    if kind in ("relu", "relu6"):
        lo = max(lo, zero_point)
    if kind == "relu6":
        hi = min(hi, zero_point + int(_round(6.0 / scale)))
    return lo, hi


def _effective_scale(input_scale: float, weight_scale: float, output_scale: float) -> float:
    """TFLite's GetQuantizedConvolutionMultipler: the scale product in float32, the division in double."""
    return float(np.float32(input_scale) * np.float32(weight_scale)) / float(np.float32(output_scale))


def _round(x: float) -> float:
    return math.floor(x + 0.5) if x >= 0 else math.ceil(x - 0.5)  # TfLiteRound: half away from zero


def generate(model: Model, input_data: np.ndarray) -> dict[str, str]:
    """C sources (name -> text) for ``model`` run on ``input_data``."""
    plan = plan_arena(model)
    consts, layers, calls = [], [], []
    for op in model.operators:
        t = model.tensors
        x, w = t[op.inputs[0]], t[op.inputs[1]]
        bias = t[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        y = t[op.outputs[0]]
        name = f"layer_{op.index}_{op.op.lower()}"
        channels, depth = w.shape[0], int(np.prod(w.shape[1:]))
        w_scale = np.broadcast_to(w.scale, (channels,))
        mult, shift = zip(*(quantize_multiplier(_effective_scale(x.scale[0], s, y.scale[0])) for s in w_scale))
        lo, hi = _activation_range(op.options["activation"], float(y.scale[0]), int(y.zero_point[0]))
        consts += [_array("int8_t", f"{name}_weights", w.data), _array("int32_t", f"{name}_multiplier", mult),
                   _array("int32_t", f"{name}_shift", shift)]
        if bias is not None:
            consts.append(_array("int32_t", f"{name}_bias", bias.data))
        batches = int(np.prod(x.shape)) // depth
        layers.append(
            f"__attribute__((noinline)) void {name}(void)\n{{\n"
            f"    nn_fully_connected(arena + {plan.offsets[op.inputs[0]]}, {name}_weights, "
            f"{name + '_bias' if bias is not None else '0'}, arena + {plan.offsets[op.outputs[0]]}, {batches}, {depth}, "
            f"{channels}, {-int(x.zero_point[0])}, {name}_multiplier, {name}_shift, {int(y.zero_point[0])}, {lo}, {hi});\n}}\n")
        calls.append(f"    {name}();")
    (inp,), (out,) = model.inputs, model.outputs
    n_in, n_out = model.tensors[inp].nbytes, model.tensors[out].nbytes
    model_c = "".join([
        f"/* Generated by simmcu from {model.path.name}: {len(model.operators)} operators, "
        f"arena {plan.size} bytes. */\n",
        '#include "simmcu.h"\n#include "simmcu_nn.h"\n#include "model.h"\n\n',
        f"static int8_t arena[{plan.size}] __attribute__((aligned({ARENA_ALIGN})));\n\n",
        *consts, "\n", *layers,
        "\nvoid model_run(const int8_t *input, int8_t *output)\n{\n",
        f"    memcpy(arena + {plan.offsets[inp]}, input, {n_in});\n", "\n".join(calls),
        f"\n    memcpy(output, arena + {plan.offsets[out]}, {n_out});\n}}\n"])
    header = (f"#ifndef MODEL_H\n#define MODEL_H\n#include <stdint.h>\n#define MODEL_INPUT_BYTES {n_in}\n"
              f"#define MODEL_OUTPUT_BYTES {n_out}\n#define MODEL_ARENA_BYTES {plan.size}\n"
              "void model_run(const int8_t *input, int8_t *output);\n#endif\n")
    main_c = "".join([
        '#include "simmcu.h"\n#include "model.h"\n\n', _array("int8_t", "model_input", input_data),
        "static int8_t output[MODEL_OUTPUT_BYTES];\n\nint main(void)\n{\n    model_run(model_input, output);\n",
        '    printf("output");\n    for (int i = 0; i < MODEL_OUTPUT_BYTES; i++)\n'
        '        printf(" %d", output[i]);\n    printf("\\n");\n    return 0;\n}\n'])
    return {"model.c": model_c, "model.h": header, "main.c": main_c}


def random_input(model: Model, seed: int = 0) -> np.ndarray:
    (inp,) = model.inputs
    return np.random.default_rng(seed).integers(-128, 128, model.tensors[inp].shape, dtype=np.int8)


def compile_model(path: str | Path, core: str, out_dir: str | Path, input_data: np.ndarray | None = None,
                  seed: int = 0, toolchain: str = "zig") -> Path:
    """Write the model's C sources and kernels into ``out_dir`` and build ``out_dir/model.elf``."""
    model = load_model(path)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelError(f"{path}: {len(model.inputs)} inputs and {len(model.outputs)} outputs; one of each is supported")
    if input_data is None:
        input_data = random_input(model, seed)
    expected = model.tensors[model.inputs[0]].nbytes
    if np.asarray(input_data).size != expected:
        raise ModelError(f"input has {np.asarray(input_data).size} values; the model takes {expected}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in generate(model, np.asarray(input_data, np.int8)).items():
        (out / name).write_text(text)
    kernels = sorted((firmware_dir() / "kernels").glob("*.c"))
    for k in kernels:
        shutil.copy(k, out / k.name)
    sources = [out / "main.c", out / "model.c", out / "model.h", *(out / k.name for k in kernels)]
    return build(sources, core, out / "model.elf", toolchain=toolchain)


def macs(model: Model, op) -> int:
    """Multiply-accumulates of one operator."""
    if op.op == "FULLY_CONNECTED":
        return int(np.prod(model.tensors[op.outputs[0]].shape)) * int(np.prod(model.tensors[op.inputs[1]].shape[1:]))
    return 0


def layer_report(model: Model, functions: list[dict]) -> list[dict]:
    """Per operator: op, output shape, MACs, cycles (its layer function, inclusive), MACs/cycle, share."""
    cycles = {f["name"]: f["cycles_inclusive"] for f in functions}
    rows = [dict(index=op.index, op=op.op, name=f"layer_{op.index}_{op.op.lower()}",
                 output_shape=list(model.tensors[op.outputs[0]].shape), macs=macs(model, op))
            for op in model.operators]
    total = sum(cycles.get(r["name"], 0) for r in rows)
    for r in rows:
        c = cycles.get(r["name"], 0)
        r.update(cycles=c, macs_per_cycle=round(r["macs"] / c, 4) if c else 0.0,
                 share=round(c / total, 4) if total else 0.0)
    return rows


def read_input(path: str | Path, model: Model) -> np.ndarray:
    """An input tensor from a .npy file or raw int8 bytes."""
    path = Path(path)
    try:
        data = np.load(path) if path.suffix == ".npy" else np.frombuffer(path.read_bytes(), np.int8)
    except (OSError, ValueError) as e:
        raise ModelError(f"cannot read input {path}: {e}") from None
    if data.dtype != np.int8:
        raise ModelError(f"input {path} is {data.dtype}; the model takes int8")
    return data
