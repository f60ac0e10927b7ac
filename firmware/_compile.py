"""A .tflite model as C firmware: weights as const arrays in flash, one function per operator
(``layer_<index>_<op>``, so the per-function profile is the per-layer profile), and a static
tensor arena whose buffers are reused according to tensor lifetimes.

``compile_model`` writes the sources and builds the ELF with the firmware build driver. The
generated ``main`` runs the model once on the input in ``model_input`` (a given or seeded random
one, which the simulator overwrites at run time: ``_io``) and prints the outputs it leaves in
``model_output``.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simmcu._board import load_board
from simmcu._cores import get_core, parse_core_spec
from simmcu._errors import ConfigError

from . import _int16, _lstm, _ops
from ._build import build, firmware_dir
from ._io import INPUT_SYMBOL, OUTPUT_SYMBOL, as_inputs, buffer_bytes, inputs_of, outputs_of, pack, random_inputs
from ._layer import Layer, LayerCode, LayerTensor, c_array, c_struct, layer_function
from ._model import Model, ModelError, load_model
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


def _activation_range(kind: str, scale: float, zero_point: int, dtype: str = "int8") -> tuple[int, int]:
    """TFLite CalculateActivationRangeQuantized for int8 or int16 (the bound divided by the scale in float32)."""
    def quantize(v: float) -> int:
        with np.errstate(over="ignore"):  # a tiny scale: the bound is out of any int8 range, clamped below
            q = float(np.float32(v) / np.float32(scale))
        return zero_point + int(_round(max(-2.0 ** 31, min(2.0 ** 31, q))))

    info = np.iinfo(dtype)
    lo, hi = {"none": (info.min, info.max), "relu": (quantize(0.0), info.max),
              "relu6": (quantize(0.0), quantize(6.0)), "relu_n1_to_1": (quantize(-1.0), quantize(1.0))}[kind]
    return max(lo, int(info.min)), min(hi, int(info.max))


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


_CONVS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
#: Operators with one parameter block and one kernel call: (block type, kernel).
_KERNELS = {"AVERAGE_POOL_2D": ("nn_pool_params", "nn_average_pool"), "MAX_POOL_2D": ("nn_pool_params", "nn_max_pool"),
            "ADD": ("nn_add_params", "nn_add"), "SOFTMAX": ("nn_softmax_params", "nn_softmax")}


def describe_layer(model: Model, plan: Plan, op) -> Layer:
    """``op`` as the kernels and the accelerators see it: tensors with their arena addresses and the
    parameters TFLite's Prepare would compute."""
    t = model.tensors

    def tensor(i: int) -> LayerTensor:
        x = t[i]
        return LayerTensor(tuple(x.shape), np.dtype(x.dtype).name, x.scale, x.zero_point, x.data,
                           None if x.data is not None else f"arena + {plan.offsets[i]}")

    mult = shift = ()
    if op.op in _CONVS:
        params, mult, shift = _conv_params(model, op)
    elif op.op == _lstm.OP:
        params = dict(_lstm.describe(model, op),
                      **{f"{what}_address": f"arena + {plan.offsets[op.inputs[k]]}"
                         for what, k in (("state", _lstm.OUTPUT_STATE), ("cell", _lstm.CELL_STATE))})
    elif op.op in _KERNELS:
        params = {"AVERAGE_POOL_2D": _pool_params, "MAX_POOL_2D": _pool_params, "ADD": _add_params,
                  "SOFTMAX": _softmax_params}[op.op](model, op)
    else:
        params = {}
    return Layer(op.index, op.op, layer_function(op.index, op.op), tuple(tensor(i) for i in op.inputs if i >= 0),
                 tuple(tensor(i) for i in op.outputs), dict(op.options), params, tuple(mult), tuple(shift))


def _conv_params(model: Model, op) -> tuple[dict, list[int], list[int]]:
    """FULLY_CONNECTED is a 1x1 convolution over ``batches`` pixels of ``depth`` channels."""
    t, o = model.tensors, op.options
    x, w, y = t[op.inputs[0]], t[op.inputs[1]], t[op.outputs[0]]
    fc = op.op == "FULLY_CONNECTED"
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
    mult, shift = _multipliers(x, w, y, channels, float32_product=fc and w.scale.size == 1)
    lo, hi = _activation_range(o["activation"], float(y.scale[0]), int(y.zero_point[0]), np.dtype(y.dtype).name)
    params = dict(in_h=h, in_w=wd, in_c=c, out_h=oh, out_w=ow, out_c=channels, kh=kh, kw=kw, stride_h=sh,
                  stride_w=sw, dilation_h=dh, dilation_w=dw, pad_top=pt, pad_left=pl, pad_bottom=pb, pad_right=pr,
                  taps=kh * kw * (1 if op.op == "DEPTHWISE_CONV_2D" else c), single_rounding=int(fc),
                  in_offset=-int(x.zero_point[0]), out_zp=int(y.zero_point[0]), act_min=lo, act_max=hi)
    return params, mult, shift


def _pool_params(model: Model, op) -> dict:
    t, o = model.tensors, op.options
    x, y = t[op.inputs[0]], t[op.outputs[0]]
    (_, h, w, c), (_, oh, ow, _) = x.shape, y.shape
    kh, kw, sh, sw = o["filter_h"], o["filter_w"], o["stride_h"], o["stride_w"]
    lo, hi = _activation_range(o["activation"], float(y.scale[0]), int(y.zero_point[0]), np.dtype(y.dtype).name)
    return dict(in_h=h, in_w=w, channels=c, out_h=oh, out_w=ow, kh=kh, kw=kw, stride_h=sh, stride_w=sw,
                pad_top=_padding(h, oh, sh, 1, kh)[0], pad_left=_padding(w, ow, sw, 1, kw)[0], act_min=lo, act_max=hi)


def _add_params(model: Model, op) -> dict:
    """TFLite add.cc Prepare: inputs rescaled to twice the larger scale with 20 bits of headroom (int8;
    15 for int16, whose values shifted so still fit an int32)."""
    t = model.tensors
    a, b, y = t[op.inputs[0]], t[op.inputs[1]], t[op.outputs[0]]
    sa, sb, sy = float(a.scale[0]), float(b.scale[0]), float(y.scale[0])
    twice_max = 2 * max(sa, sb)
    left_shift = 15 if y.dtype is np.int16 else 20
    (ma, ea), (mb, eb), (my, ey) = (quantize_multiplier(v) for v in
                                    (sa / twice_max, sb / twice_max, twice_max / ((1 << left_shift) * sy)))
    lo, hi = _activation_range(op.options["activation"], sy, int(y.zero_point[0]), np.dtype(y.dtype).name)
    return dict(size=int(np.prod(a.shape)), in1_offset=-int(a.zero_point[0]), in1_multiplier=ma, in1_shift=ea,
                in2_offset=-int(b.zero_point[0]), in2_multiplier=mb, in2_shift=eb, out_multiplier=my,
                out_shift=ey, out_zp=int(y.zero_point[0]), act_min=lo, act_max=hi)


def _softmax_params(model: Model, op) -> dict:
    """TFLite softmax Prepare (reference kernel): beta x input scale as a Q5.26 multiplier, capped
    at 2^31 - 1 (the interpreter's double-rounding build); differences below -radius give exp = 0."""
    x = model.tensors[op.inputs[0]]
    real = min(float(np.float32(op.options["beta"])) * float(x.scale[0]) * (1 << 26), (1 << 31) - 1.0)
    mult, left_shift = quantize_multiplier(real)
    diff_min = -math.floor(31 * (1 << 26) / (1 << left_shift))
    depth = x.shape[-1]
    return dict(rows=x.nbytes // depth, depth=depth, input_multiplier=mult, input_left_shift=left_shift,
                diff_min=diff_min)


def cpu_code(layer: Layer) -> LayerCode:
    """The layer on the CPU: a call into the kernel library (firmware/kernels)."""
    name, p = layer.name, layer.params
    if layer.op == _lstm.OP:  # int8 activations; its int16 cell state is its own
        return _lstm.cpu_code(layer)
    if _int16.wide(layer):
        return _int16.cpu_code(layer)
    if layer.op in _CONVS:
        return _cpu_conv(layer)
    if _ops.lowers(layer):
        return _ops.cpu_code(layer)
    if layer.op == "RESHAPE":
        return LayerCode((), f"    memcpy({layer.outputs[0].address}, {layer.inputs[0].address}, "
                             f"{layer.outputs[0].nbytes});\n")
    block, kernel = _KERNELS[layer.op]
    args = ", ".join(x.address for x in (*layer.inputs, *layer.outputs))
    return LayerCode((c_struct(block, f"{name}_params", p),), f"    {kernel}(&{name}_params, {args});\n")


def _cpu_conv(layer: Layer) -> LayerCode:
    """nn_conv2d reads weight rows as whole words (rows zero-padded to a multiple of 4 bytes);
    nn_depthwise_conv2d keeps TFLite's [kh][kw][out_c] layout."""
    name, p = layer.name, layer.params
    depthwise = layer.op == "DEPTHWISE_CONV_2D"
    w = layer.inputs[1].data
    bias = layer.inputs[2].data if len(layer.inputs) > 2 else None
    taps, channels = p["taps"], p["out_c"]
    row = taps if depthwise else -(-taps // 4) * 4
    weights = w.reshape(-1) if depthwise else np.pad(w.reshape(channels, taps), ((0, 0), (0, row - taps)))
    consts = [c_array("int8_t", f"{name}_weights", weights), c_array("int32_t", f"{name}_multiplier", layer.multiplier),
              c_array("int32_t", f"{name}_shift", layer.shift)]
    if bias is not None:
        consts.append(c_array("int32_t", f"{name}_bias", bias))
    # scratch: a conv's input patch, unless it is the input pixel itself; a depthwise conv's accumulators
    scratch = 4 * channels if depthwise else \
        0 if p["kh"] == p["kw"] == 1 and row == p["in_c"] and p["pad_top"] == p["pad_left"] == 0 else row
    fields = dict(weights=f"{name}_weights", bias=f"{name}_bias" if bias is not None else 0,
                  multiplier=f"{name}_multiplier", shift=f"{name}_shift", quant=0,
                  scratch="nn_scratch" if scratch else 0, **{**p, "taps": row})
    consts.append(c_struct("nn_conv_params", f"{name}_params", fields))
    call = f"    nn_{'depthwise_conv2d' if depthwise else 'conv2d'}(&{name}_params, {layer.inputs[0].address}, " \
           f"{layer.outputs[0].address});\n"
    return LayerCode(tuple(consts), call, scratch)


def place(layer: Layer, attached) -> tuple[LayerCode, str]:
    """The layer's code and where it runs: the first unit that takes it, else the CPU (with the
    reasons of the units that refused it)."""
    refusals = []
    for unit in attached:
        answer = unit.compile_layer(layer)
        if isinstance(answer, LayerCode):
            return answer, unit.NAME
        if isinstance(answer, str):
            refusals.append(f"{unit.NAME}: {answer}")
        elif answer is not None:
            raise ConfigError(f"accelerator {unit.NAME}: compile_layer answered {type(answer).__name__} for "
                              f"{layer.name}, not LayerCode, a reason (str) or None")
    return cpu_code(layer), "cpu: " + "; ".join(refusals) if refusals else "cpu"


def generate(model: Model, input_data, attached=(), headers=()) -> tuple[dict[str, str], list[str]]:
    """C sources (name -> text) for ``model`` run on ``input_data`` (an array per input, or the one
    input's array) with the accelerators ``attached``, model.c including their ``headers`` (names),
    and per operator where it runs (``place``)."""
    plan = plan_arena(model)
    placed = [place(describe_layer(model, plan, op), attached) for op in model.operators]
    layers = [(op, code) for op, (code, _) in zip(model.operators, placed)]
    scratch = max((layer.scratch for _, layer in layers), default=0)
    functions = "".join(
        f"__attribute__((noinline)) void {layer_function(op.index, op.op)}(void)\n{{\n{layer.body}"
        "    __asm__ volatile(\"\" ::: \"memory\"); /* no tail call: the profile attributes the kernel here */\n}\n\n"
        for op, layer in layers)
    calls = "\n".join(f"    {layer_function(op.index, op.op)}();" for op, _ in layers)
    inputs, outputs = inputs_of(model), outputs_of(model)
    if not inputs or not outputs:
        raise ModelError(f"{model.path}: {len(inputs)} inputs and {len(outputs)} outputs; a model needs at least "
                         f"one of each")
    n_in, n_out = buffer_bytes(inputs), buffer_bytes(outputs)
    packed = pack(inputs, as_inputs(model, input_data))
    names = sorted(unit.NAME for unit in attached)
    model_c = "".join([
        f"/* Generated by simmcu from {model.path.name}: {len(model.operators)} operators, "
        f"arena {plan.size} bytes{', for ' + ' and '.join(names) if names else ''}. */\n",
        '#include "simmcu.h"\n#include "simmcu_nn.h"\n#include "model.h"\n',
        *(f'#include "{h}"\n' for h in headers), "\n",
        f"static int8_t arena[{plan.size}] __attribute__((aligned({ARENA_ALIGN})));\n",
        f"static int8_t nn_scratch[{scratch}] __attribute__((aligned(4)));\n\n" if scratch else "\n",
        *(c for _, layer in layers for c in layer.consts), "\n", functions,
        "void model_run(const int8_t *input, int8_t *output)\n{\n",
        *(f"    memcpy(arena + {plan.offsets[t.index]}, {_at('input', t.offset)}, {t.nbytes});\n" for t in inputs),
        calls, "\n",
        *(f"    memcpy({_at('output', t.offset)}, arena + {plan.offsets[t.index]}, {t.nbytes});\n" for t in outputs),
        "}\n"])
    header = (f"#ifndef MODEL_H\n#define MODEL_H\n#include <stdint.h>\n#define MODEL_INPUT_BYTES {n_in}\n"
              f"#define MODEL_OUTPUT_BYTES {n_out}\n#define MODEL_ARENA_BYTES {plan.size}\n"
              "void model_run(const int8_t *input, int8_t *output);\n#endif\n")
    # model_input is a constant only model_run (another file) reads through a pointer: its compiled-in
    # bytes are never folded into code, so what the simulator writes there is what the model reads
    main_c = "".join([
        '#include "simmcu.h"\n#include "model.h"\n\n', c_array("int8_t", INPUT_SYMBOL, np.frombuffer(packed, np.int8)),
        f"static int8_t {OUTPUT_SYMBOL}[MODEL_OUTPUT_BYTES];\n\nint main(void)\n{{\n",
        f"    model_run({INPUT_SYMBOL}, {OUTPUT_SYMBOL});\n",
        *(_print_output(t, "MODEL_OUTPUT_BYTES" if len(outputs) == 1 and t.dtype == np.int8 else None)
          for t in outputs),
        "    return 0;\n}\n"])
    return {"model.c": model_c, "model.h": header, "main.c": main_c}, [where for _, where in placed]


def _at(pointer: str, offset: int) -> str:
    return f"{pointer} + {offset}" if offset else pointer


#: How main prints one value of each output type: (C type, printf conversion, argument cast).
_PRINT = {"int8": ("int8_t", "%d", ""), "uint8": ("uint8_t", "%d", ""), "int16": ("int16_t", "%d", ""),
          "int32": ("int32_t", "%ld", "(long)"), "int64": ("int64_t", "%lld", "(long long)"),
          "float32": ("float", "%.9g", "(double)")}


def _print_output(t, count: str | None) -> str:
    """A console line with output ``t``'s values; ``count`` names its size when it is the one int8
    output (the line every model printed before outputs were read back as data)."""
    ctype, conversion, cast = _PRINT[t.dtype.name]
    n = math.prod(t.shape)
    if t.dtype.itemsize == 1:
        value = f"{OUTPUT_SYMBOL}[i]" if count else f"(({ctype} *)({OUTPUT_SYMBOL} + {t.offset}))[i]"
        loop = f"    for (int i = 0; i < {count or n}; i++)\n        printf(\" {conversion}\", {value});\n"
    else:
        loop = (f"    for (int i = 0; i < {n}; i++) {{\n        {ctype} v;\n"
                f"        memcpy(&v, {_at(OUTPUT_SYMBOL, t.offset)} + {t.dtype.itemsize} * i, sizeof v);\n"
                f"        printf(\" {conversion}\", {cast}v);\n    }}\n")
    return f'    printf("output");\n{loop}    printf("\\n");\n'


def random_input(model: Model, seed: int = 0) -> np.ndarray:
    """The seeded input of a single-input model (``_io.random_inputs`` for any)."""
    (data,) = random_inputs(model, seed)
    return data


def make_units(accels) -> list:
    """Accelerator instances from instances or specs (``conv``, ``conv:buffer_kib=8``, a TOML file)."""
    from simmcu.accelerators import make_accelerator

    return [make_accelerator(str(a)) if isinstance(a, (str, Path)) else a for a in accels]


#: Where ``compile_model`` records, per operator, where it runs (``place``).
OFFLOAD_FILE = "offload.json"

#: Model code is laid out so its cycles do not depend on where the linker puts it: every function
#: starts on a 16-byte boundary (a multiple of any fetch line up to 128-bit flash lines, so each
#: branch target keeps its place within its line wherever the function lands), and on RISC-V,
#: whose cores pay for a taken branch to a 32-bit instruction straddling a word, loop heads on a
#: word (Arm loop heads stay as the compiler puts them: the padding would cost an M0+ cycles).
CODE_ALIGNMENT = {"arm": ["-falign-functions=16"], "riscv": ["-falign-functions=16", "-falign-loops=4"]}


def compile_model(path: str | Path, core: str, out_dir: str | Path, input_data=None,
                  seed: int = 0, toolchain: str = "zig", accels=(), portable: bool = False,
                  code_offset: int = 0, strip: bool = False) -> Path:
    """Write the model's C sources and kernels into ``out_dir`` and build ``out_dir/model.elf``.
    ``accels`` (instances or specs) are the accelerators the firmware runs with: each layer goes to
    the first that takes it (``Accelerator.compile_layer``), else to the CPU kernels; their firmware
    support (sources, definitions) is compiled in, and model.c includes their headers.
    ``out_dir/offload.json`` lists where each layer runs. ``portable`` keeps the portable C inner
    loops on cores with the DSP extension. ``input_data`` (the one input's array, or one per input;
    default: seeded random) is what the ELF runs on by itself; the simulator writes another into
    ``model_input`` at run time (``_io``). ``code_offset`` (even, bytes) moves the model's code by
    placing that much padding before it: its cycles must not change (``CODE_ALIGNMENT``). ``strip``
    builds without debug information."""
    attached = make_units(accels)
    model = load_model(path)
    for unit in attached:
        unit.check_core(get_core(parse_core_spec(core)[0]))
    _check_fits(model, path, core)
    support = [unit.firmware(core) for unit in attached]
    input_data = as_inputs(model, input_data, seed)
    files = {k.name: k for k in (firmware_dir() / "kernels").iterdir() if k.suffix in (".c", ".h")}
    for unit, s in zip(attached, support):
        for f in map(Path, s.sources):
            if f.name in files and files[f.name] != f or not f.is_file():
                raise ConfigError(f"accelerator {unit.NAME}: source {f} " +
                                  ("is not a file" if not f.is_file() else f"clashes with {files[f.name]}"))
            files[f.name] = f
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    headers = [Path(f).name for unit in support for f in unit.sources if Path(f).suffix == ".h"]
    sources, offload = generate(model, input_data, attached, headers)
    for name, text in sources.items():
        (out / name).write_text(text)
    for name, f in files.items():
        shutil.copy(f, out / name)
    (out / OFFLOAD_FILE).write_text(json.dumps(offload, indent=1) + "\n")
    defines = {k: v for s in support for k, v in s.defines.items()}
    if portable:
        defines["NN_PORTABLE"] = "1"
    cflags = list(CODE_ALIGNMENT[get_core(parse_core_spec(core)[0]).arch])
    sources = [out / "main.c", out / "model.c", out / "model.h", *(out / name for name in sorted(files))]
    if code_offset:
        sources.insert(0, _padding_source(out, code_offset))
        cflags.append(f"-Wl,-u,{PADDING_SYMBOL}")
    return build(sources, core, out / "model.elf", toolchain=toolchain, defines=defines, cflags=cflags,
                 strip=strip)


PADDING_SYMBOL = "simmcu_code_offset"


def _padding_source(out: Path, size: int) -> Path:
    """A never-called function of ``size`` bytes, linked first in .text (``-u`` keeps it)."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 0 or size % 2:
        raise ConfigError(f"code offset {size!r} must be a non-negative even number of bytes")
    path = out / "code_offset.c"
    path.write_text(f'__attribute__((used, naked)) void {PADDING_SYMBOL}(void) {{ __asm__(".space {size}"); }}\n')
    return path


def _check_fits(model: Model, path, core: str) -> None:
    """The arena must fit the data region and the constants the code region of the core's board, which
    also bounds what the generator writes out."""
    board = load_board(get_core(parse_core_spec(core)[0]).board)
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
    if op.op == _lstm.OP:
        return _lstm.macs(model, op)
    return 0


def layer_report(model: Model, functions: list[dict], offload: list[str]) -> list[dict]:
    """Per operator: op, output shape, where it ran (``offload``: an accelerator's name, ``cpu`` or
    ``cpu: <unit>: <why it refused>``), MACs, cycles (its layer function, inclusive), MACs/cycle, share."""
    cycles = {f["name"]: f["cycles_inclusive"] for f in functions}
    rows = [dict(index=op.index, op=op.op, name=layer_function(op.index, op.op),
                 output_shape=list(model.tensors[op.outputs[0]].shape), offload=where, macs=macs(model, op))
            for op, where in zip(model.operators, offload)]
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
