"""A .tflite model as C firmware: weights as const arrays in flash, one function per operator
(``layer_<index>_<op>``, so the per-function profile is the per-layer profile), and a static
tensor arena whose buffers are reused according to tensor lifetimes.

``compile_model`` writes the sources and builds the ELF with the firmware build driver. The
generated ``main`` runs the model once on a given (or seeded random) input and prints the
output bytes, which tests compare with the TFLite reference interpreter.
"""

from __future__ import annotations

import io
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simmcu._board import load_board
from simmcu._cores import get_core
from simmcu._errors import ConfigError

from ._build import build, firmware_dir
from ._examples import cfu_capable
from ._model import Model, ModelError, load_model, read_regular_file
from .reference import quantize_multiplier

ARENA_ALIGN = 16


@dataclass(frozen=True)
class Plan:
    offsets: dict[int, int]    #: arena offset of each non-constant tensor
    size: int                  #: arena bytes
    lifetimes: dict[int, tuple[int, int]]


def plan_arena(model: Model) -> Plan:
    """Offsets for the activation tensors such that tensors whose lifetimes (first producing or
    consuming operator .. last consumer) overlap never share bytes. First-fit placement (as TFLM's
    greedy planner) in a few orders (largest first, earliest first, longest-lived first), keeping
    the smallest arena; on sequential models that reaches the largest live set."""
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
    size = {t: model.tensors[t].nbytes for t in life}
    orders = (lambda t: (-size[t], t), lambda t: (life[t][0], -size[t], t),
              lambda t: (life[t][0] - life[t][1], -size[t], t))
    plans = [_first_fit(sorted(life, key=order), size, life) for order in orders]
    offsets, total = min(plans, key=lambda plan: plan[1])
    return Plan(offsets, total, life)


def _first_fit(order: list[int], size: dict[int, int], life: dict[int, tuple[int, int]]) -> tuple[dict, int]:
    offsets: dict[int, int] = {}
    total = 0
    for t in order:
        start = 0
        for other in sorted((o for o in offsets if _overlap(life[o], life[t])), key=offsets.get):
            if offsets[other] - start >= size[t]:
                break
            start = max(start, _align(offsets[other] + size[other]))
        offsets[t] = start
        total = max(total, start + size[t])
    return offsets, _align(total)


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
    """TFLite CalculateActivationRangeQuantized for int8 (the bound divided by the scale in float32)."""
    def quantize(v: float) -> int:
        return zero_point + int(_round(float(np.float32(v) / np.float32(scale))))

    lo, hi = {"none": (-128, 127), "relu": (quantize(0.0), 127), "relu6": (quantize(0.0), quantize(6.0)),
              "relu_n1_to_1": (quantize(-1.0), quantize(1.0))}[kind]
    return max(lo, -128), min(hi, 127)


def _multipliers(x, w, y, channels: int, float32_product: bool) -> tuple[list[int], list[int]]:
    """Per-channel (multiplier, shift) of input scale x weight scale / output scale. FULLY_CONNECTED
    with one weight scale forms the product in float32 (GetQuantizedConvolutionMultipler); the
    convolutions form it in double (PopulateConvolutionQuantizationParams)."""
    scales = np.broadcast_to(w.scale, (channels,))
    xs, ys = float(x.scale[0]), float(y.scale[0])
    if float32_product:
        real = [float(np.float32(xs) * np.float32(s)) / ys for s in scales]
    else:
        real = [xs * float(s) / ys for s in scales]
    mult, shift = zip(*(quantize_multiplier(r) for r in real))
    return list(mult), list(shift)


def _round(x: float) -> float:
    return math.floor(x + 0.5) if x >= 0 else math.ceil(x - 0.5)  # TfLiteRound: half away from zero


def _padding(in_size: int, out_size: int, stride: int, dilation: int, kernel: int) -> tuple[int, int]:
    """TFLite's padding (before, after): the total a SAME output needs, the smaller half first."""
    total = max(0, (out_size - 1) * stride + (kernel - 1) * dilation + 1 - in_size)
    return total // 2, total - total // 2


def _struct(ctype: str, name: str, fields: dict) -> str:
    body = ", ".join(f".{k} = {v}" for k, v in fields.items())
    return f"static const {ctype} {name} = {{{body}}};\n"


@dataclass
class _Layer:
    """One operator's generated C: its constants and the body of its layer function."""
    consts: list[str]
    call: str
    scratch: int = 0        #: bytes of nn_scratch the kernel needs (patch or accumulators)


class _Generator:
    """C for each operator of a model: weights and parameter blocks as constants in flash, calls
    into the kernel library with arena addresses. ``accels`` picks the variant: ``conv`` sends
    convolutions and fully connected layers to the coprocessor, ``cfu`` makes the CPU kernels use
    its custom instructions (weight rows padded to whole words)."""

    def __init__(self, model: Model, plan: Plan, accels: frozenset[str]):
        self.model, self.plan, self.accels = model, plan, accels

    def at(self, tensor: int) -> str:
        return f"arena + {self.plan.offsets[tensor]}"

    def layer(self, op) -> _Layer:
        return getattr(self, "_" + op.op.lower())(op, f"layer_{op.index}_{op.op.lower()}")

    def _conv(self, op, name: str, depthwise: bool, fc: bool) -> _Layer:
        t, o = self.model.tensors, op.options
        x, w, y = t[op.inputs[0]], t[op.inputs[1]], t[op.outputs[0]]
        bias = t[op.inputs[2]].data if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        if fc:
            depth, channels = w.shape[1], w.shape[0]
            batches = int(np.prod(x.shape)) // depth
            h, wd, c, oh, ow = 1, batches, depth, 1, batches
            kh = kw = sh = sw = dh = dw = 1
        else:
            _, h, wd, c = x.shape
            _, oh, ow, channels = y.shape
            kh, kw = w.shape[1:3]
            sh, sw, dh, dw = o["stride_h"], o["stride_w"], o["dilation_h"], o["dilation_w"]
        (pt, pb), (pl, pr) = _padding(h, oh, sh, dh, kh), _padding(wd, ow, sw, dw, kw)
        offload = "conv" in self.accels and dh == dw == 1
        taps = kh * kw * (1 if depthwise else c)
        row = taps if offload or depthwise else -(-taps // 4) * 4
        weights = w.data.reshape(-1) if depthwise else np.pad(w.data.reshape(channels, taps), ((0, 0), (0, row - taps)))
        mult, shift = _multipliers(x, w, y, channels, float32_product=fc and w.scale.size == 1)
        lo, hi = _activation_range(o["activation"], float(y.scale[0]), int(y.zero_point[0]))
        consts = [_array("int8_t", f"{name}_weights", weights), _array("int32_t", f"{name}_multiplier", mult),
                  _array("int32_t", f"{name}_shift", shift)]
        if bias is None and offload:
            bias = np.zeros(channels, np.int32)  # the coprocessor always reads a bias
        if bias is not None:
            consts.append(_array("int32_t", f"{name}_bias", bias))
        if offload:
            consts.append(_array("int32_t", f"{name}_quant", np.stack([mult, shift], 1)))
        # scratch: a conv's input patch, unless it is the input pixel itself; a depthwise conv's accumulators
        scratch = 0 if offload else 4 * channels if depthwise else 0 if kh == kw == 1 and row == c and pt == pl == 0 \
            else row
        fields = dict(weights=f"{name}_weights", bias=f"{name}_bias" if bias is not None else 0,
                      multiplier=f"{name}_multiplier", shift=f"{name}_shift",
                      quant=f"{name}_quant" if offload else 0, scratch="nn_scratch" if scratch else 0,
                      in_h=h, in_w=wd, in_c=c, out_h=oh, out_w=ow, out_c=channels, kh=kh, kw=kw, stride_h=sh,
                      stride_w=sw, dilation_h=dh, dilation_w=dw, pad_top=pt, pad_left=pl, pad_bottom=pb,
                      pad_right=pr, taps=row, single_rounding=int(fc), in_offset=-int(x.zero_point[0]),
                      out_zp=int(y.zero_point[0]), act_min=lo, act_max=hi)
        consts.append(_struct("nn_conv_params", f"{name}_params", fields))
        args = f"&{name}_params, {self.at(op.inputs[0])}, {self.at(op.outputs[0])}"
        if offload:
            call = (f"    uint32_t err = nn_conv2d_offload({args}, {int(depthwise)});\n    if (err) {{\n"
                    f'        printf("{name}: conv coprocessor error %u\\n", (unsigned)err);\n        _exit(3);\n    }}\n')
        else:
            call = f"    nn_{'depthwise_conv2d' if depthwise else 'conv2d'}({args});\n"
        return _Layer(consts, call, scratch)

    def _conv_2d(self, op, name):
        return self._conv(op, name, depthwise=False, fc=False)

    def _depthwise_conv_2d(self, op, name):
        return self._conv(op, name, depthwise=True, fc=False)

    def _fully_connected(self, op, name):
        return self._conv(op, name, depthwise=False, fc=True)

    def _pool(self, op, name: str, kernel: str) -> _Layer:
        t, o = self.model.tensors, op.options
        x, y = t[op.inputs[0]], t[op.outputs[0]]
        (_, h, w, c), (_, oh, ow, _) = x.shape, y.shape
        kh, kw, sh, sw = o["filter_h"], o["filter_w"], o["stride_h"], o["stride_w"]
        lo, hi = _activation_range(o["activation"], float(y.scale[0]), int(y.zero_point[0]))
        fields = dict(in_h=h, in_w=w, channels=c, out_h=oh, out_w=ow, kh=kh, kw=kw, stride_h=sh, stride_w=sw,
                      pad_top=_padding(h, oh, sh, 1, kh)[0], pad_left=_padding(w, ow, sw, 1, kw)[0],
                      act_min=lo, act_max=hi)
        return _Layer([_struct("nn_pool_params", f"{name}_params", fields)],
                      f"    {kernel}(&{name}_params, {self.at(op.inputs[0])}, {self.at(op.outputs[0])});\n")

    def _average_pool_2d(self, op, name):
        return self._pool(op, name, "nn_average_pool")

    def _max_pool_2d(self, op, name):
        return self._pool(op, name, "nn_max_pool")

    def _add(self, op, name: str) -> _Layer:
        """TFLite add.cc Prepare: inputs rescaled to twice the larger scale with 20 bits of headroom."""
        t = self.model.tensors
        a, b, y = t[op.inputs[0]], t[op.inputs[1]], t[op.outputs[0]]
        sa, sb, sy = float(a.scale[0]), float(b.scale[0]), float(y.scale[0])
        twice_max = 2 * max(sa, sb)
        (ma, ea), (mb, eb), (my, ey) = (quantize_multiplier(v) for v in
                                        (sa / twice_max, sb / twice_max, twice_max / ((1 << 20) * sy)))
        lo, hi = _activation_range(op.options["activation"], sy, int(y.zero_point[0]))
        fields = dict(size=a.nbytes, in1_offset=-int(a.zero_point[0]), in1_multiplier=ma, in1_shift=ea,
                      in2_offset=-int(b.zero_point[0]), in2_multiplier=mb, in2_shift=eb, out_multiplier=my,
                      out_shift=ey, out_zp=int(y.zero_point[0]), act_min=lo, act_max=hi)
        return _Layer([_struct("nn_add_params", f"{name}_params", fields)],
                      f"    nn_add(&{name}_params, {self.at(op.inputs[0])}, {self.at(op.inputs[1])}, "
                      f"{self.at(op.outputs[0])});\n")

    def _reshape(self, op, name: str) -> _Layer:
        n = self.model.tensors[op.outputs[0]].nbytes
        return _Layer([], f"    memcpy({self.at(op.outputs[0])}, {self.at(op.inputs[0])}, {n});\n")

    def _softmax(self, op, name: str) -> _Layer:
        """TFLite softmax Prepare (reference kernel): beta x input scale as a Q5.26 multiplier, capped
        at 2^31 - 1 (the interpreter's double-rounding build); differences below -radius give exp = 0."""
        x = self.model.tensors[op.inputs[0]]
        real = min(float(np.float32(op.options["beta"])) * float(x.scale[0]) * (1 << 26), (1 << 31) - 1.0)
        mult, left_shift = quantize_multiplier(real)
        diff_min = -math.floor(31 * (1 << 26) / (1 << left_shift))
        depth = x.shape[-1]
        fields = dict(rows=x.nbytes // depth, depth=depth, input_multiplier=mult, input_left_shift=left_shift,
                      diff_min=diff_min)
        return _Layer([_struct("nn_softmax_params", f"{name}_params", fields)],
                      f"    nn_softmax(&{name}_params, {self.at(op.inputs[0])}, {self.at(op.outputs[0])});\n")


def generate(model: Model, input_data: np.ndarray, accels: frozenset[str] = frozenset()) -> dict[str, str]:
    """C sources (name -> text) for ``model`` run on ``input_data``, for the accelerators ``accels``."""
    plan = plan_arena(model)
    gen = _Generator(model, plan, accels)
    layers = [(op, gen.layer(op)) for op in model.operators]
    scratch = max((layer.scratch for _, layer in layers), default=0)
    functions = "".join(
        f"__attribute__((noinline)) void layer_{op.index}_{op.op.lower()}(void)\n{{\n{layer.call}"
        "    __asm__ volatile(\"\" ::: \"memory\"); /* no tail call: the profile attributes the kernel here */\n}\n\n"
        for op, layer in layers)
    calls = "\n".join(f"    layer_{op.index}_{op.op.lower()}();" for op, _ in layers)
    (inp,), (out,) = model.inputs, model.outputs
    n_in, n_out = model.tensors[inp].nbytes, model.tensors[out].nbytes
    model_c = "".join([
        f"/* Generated by simmcu from {model.path.name}: {len(model.operators)} operators, "
        f"arena {plan.size} bytes{', for ' + ' and '.join(sorted(accels)) if accels else ''}. */\n",
        '#include "simmcu.h"\n#include "simmcu_nn.h"\n#include "model.h"\n\n',
        f"static int8_t arena[{plan.size}] __attribute__((aligned({ARENA_ALIGN})));\n",
        f"static int8_t nn_scratch[{scratch}] __attribute__((aligned(4)));\n\n" if scratch else "\n",
        *(c for _, layer in layers for c in layer.consts), "\n", functions,
        "void model_run(const int8_t *input, int8_t *output)\n{\n",
        f"    memcpy(arena + {plan.offsets[inp]}, input, {n_in});\n", calls,
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
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed {seed!r} must be a non-negative integer")
    (inp,) = model.inputs
    return np.random.default_rng(seed).integers(-128, 128, model.tensors[inp].shape, dtype=np.int8)


#: accelerators a model can be compiled for
ACCELERATORS = ("conv", "cfu")


def compile_model(path: str | Path, core: str, out_dir: str | Path, input_data: np.ndarray | None = None,
                  seed: int = 0, toolchain: str = "zig", accels=(), portable: bool = False) -> Path:
    """Write the model's C sources and kernels into ``out_dir`` and build ``out_dir/model.elf``.
    ``accels`` (names from ACCELERATORS) selects the kernel variant; run the ELF with them attached.
    ``portable`` keeps the portable C inner loops on cores with the DSP extension."""
    model = load_model(path)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelError(f"{path}: {len(model.inputs)} inputs and {len(model.outputs)} outputs; one of each is supported")
    accels = frozenset(accels)
    if accels - set(ACCELERATORS):
        raise ConfigError(f"no kernels for accelerator {', '.join(sorted(accels - set(ACCELERATORS)))} "
                          f"(models compile for: {', '.join(ACCELERATORS)})")
    if "cfu" in accels and not cfu_capable(get_core(core)):
        raise ConfigError(f"the cfu needs coprocessor instructions, which {core} (ARMv6-M) lacks")
    _check_fits(model, path, core)
    if input_data is None:
        input_data = random_input(model, seed)
    expected = model.tensors[model.inputs[0]].nbytes
    if np.asarray(input_data).size != expected:
        raise ModelError(f"input has {np.asarray(input_data).size} values; the model takes {expected}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in generate(model, np.asarray(input_data, np.int8), accels).items():
        (out / name).write_text(text)
    kernels = sorted(k for k in (firmware_dir() / "kernels").iterdir() if k.suffix in (".c", ".h"))
    for k in kernels:
        shutil.copy(k, out / k.name)
    sources = [out / "main.c", out / "model.c", out / "model.h", *(out / k.name for k in kernels)]
    defines = {name: "1" for name, on in (("NN_CFU", "cfu" in accels), ("NN_PORTABLE", portable)) if on}
    return build(sources, core, out / "model.elf", toolchain=toolchain, defines=defines)


def _check_fits(model: Model, path, core: str) -> None:
    """The arena must fit the data region and the constants the code region of the core's board, which
    also bounds what the generator writes out."""
    board = load_board(get_core(core).board)
    weights = sum(t.nbytes for t in model.tensors if t.data is not None)
    for what, size, region in (("tensor arena", plan_arena(model).size, board.data),
                               ("constant tensors", weights, board.code)):
        if size > region.size:
            raise ModelError(f"{path}: its {what} needs {size} bytes; region {region.name!r} of board {board.name} "
                             f"has {region.size}")


def macs(model: Model, op) -> int:
    """Multiply-accumulates of one operator (0 for those without a weight tensor)."""
    t = model.tensors
    outputs = int(np.prod(t[op.outputs[0]].shape))
    if op.op in ("CONV_2D", "FULLY_CONNECTED"):
        return outputs * int(np.prod(t[op.inputs[1]].shape[1:]))
    if op.op == "DEPTHWISE_CONV_2D":
        return outputs * int(np.prod(t[op.inputs[1]].shape[1:3]))
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


def model_report(model: Model, layers: list[dict]) -> dict:
    """Per inference: MACs, cycles in the layer functions and per MAC, the arena (activations) and
    the constant tensors (weights, biases) the firmware keeps in flash."""
    macs_total, cycles = sum(r["macs"] for r in layers), sum(r["cycles"] for r in layers)
    return dict(name=model.path.name, operators=len(model.operators), macs=macs_total, cycles=cycles,
                cycles_per_mac=round(cycles / macs_total, 4) if macs_total else 0.0,
                arena_bytes=plan_arena(model).size,
                weights_bytes=sum(t.data.nbytes for t in model.tensors if t.data is not None))


def _npy(raw: bytes, path: Path) -> np.ndarray:
    """np.load allocates the array its header describes before reading the data: the header is
    checked against the bytes the file holds first."""
    f = io.BytesIO(raw)
    version = np.lib.format.read_magic(f)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read_header(f)
    if math.prod(shape) * dtype.itemsize > len(raw) - f.tell():
        raise ModelError(f"cannot read input {path}: its header says {list(shape)} {dtype}, more than the file holds")
    f.seek(0)
    return np.load(f)


def read_input(path: str | Path) -> np.ndarray:
    """A model input from a .npy file or raw int8 bytes (its size is checked when compiling)."""
    path = Path(path)
    raw = read_regular_file(path, "input")
    try:
        data = _npy(raw, path) if path.suffix == ".npy" else np.frombuffer(raw, np.int8)
    except (OSError, ValueError, EOFError) as e:
        raise ModelError(f"cannot read input {path}: {e}") from None
    if data.dtype != np.int8:
        raise ModelError(f"input {path} is {data.dtype}; the model takes int8")
    return data
