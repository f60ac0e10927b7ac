"""The elementwise, data-movement and reduction operators (firmware/_ops.py, kernels/elementwise.c
and movement.c) bit-exact with the reference interpreter (ai-edge-litert, BUILTIN_REF) on
rv32imc, cortex-m4 and cortex-m0plus, compiled for the CPU and with the cfu and conv units attached
(which take none of these layers, so the CPU kernels are placed); the random shapes, quantisation,
broadcasting, axes and masks of tests/tflite_models.py's op models, several seeds each."""

from pathlib import Path

import numpy as np
import pytest

import tflite_models
from simmcu.firmware import run_model
from simmcu.firmware._compile import random_input
from simmcu.firmware._model import ModelError, load_model
from simmcu.firmware._ops import OPS
from test_tflite import VARIANTS, _litert

SEEDS = (0, 1, 2)
CORES = ("rv32imc", "cortex-m4", "cortex-m0plus")


@pytest.fixture(scope="module", autouse=True)
def _model_cache(tmp_path_factory):
    """Compiled models (and the compiler's own cache) go to this module's cache, not the user's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def op_models(tmp_path_factory) -> dict[tuple[str, int], Path]:
    return tflite_models.write_models(tmp_path_factory.mktemp("op-models"), tflite_models.OP_MODELS, SEEDS)


def _check(model: Path, core: str, variant: str, seed: int):
    r = run_model(model, core, accelerators=VARIANTS[variant], seed=seed)
    assert r.exit_code == 0, r.message
    (out,) = r.outputs
    got = np.array(out["values"], out["dtype"]).ravel()  # as the firmware left them, read back
    expected = _litert(model, random_input(load_model(model), seed))
    assert got.dtype == expected.dtype and np.array_equal(got.view(np.int8), expected.view(np.int8)), (got, expected)
    return r


# each op model on every core for the CPU build and every seed; the accelerated builds on one seed
CASES = [(core, "cpu", seed) for core in CORES for seed in SEEDS] + \
    [(core, variant, 1) for core in ("rv32imc", "cortex-m4") for variant in ("cfu", "conv")] + \
    [("cortex-m0plus", "conv", 1)]


@pytest.mark.parametrize("core,variant,seed", CASES)
@pytest.mark.parametrize("name", list(tflite_models.OP_MODELS))
def test_operators_are_bit_exact_with_the_reference_interpreter(op_models, name, core, variant, seed):
    model = op_models[name, seed]
    r = _check(model, core, variant, seed)
    ops = [op.op for op in load_model(model).operators]
    assert [layer["op"] for layer in r.layers] == ops
    assert all(layer["cycles"] > 0 and layer["offload"] == "cpu" for layer in r.layers)
    assert sum(layer["cycles"] for layer in r.layers) < r.cycles  # each kernel's cycles counted once
    assert {f"layer_{i}_{op.lower()}" for i, op in enumerate(ops)} <= {f["name"] for f in r.functions}


def _single_op_layer(tmp_path: Path, op: str, x_dtype, y_dtype, seed: int, **options):
    """A one-operator model over all 256 int8 values (or 4096 floats), with random quantisation."""
    from simmcu.firmware._compile import describe_layer, plan_arena

    m = tflite_models.ModelWriter(seed)
    n = 256 if x_dtype is np.int8 else 4096
    quant = {np.int8: lambda: (float(m.rng.uniform(0.004, 0.3)), int(m.rng.integers(-100, 100))),
             np.float32: lambda: None}
    qx, qy = quant[x_dtype](), quant[y_dtype]()
    if op == "LOGISTIC":  # the only output scale the reference takes
        qy = (1 / 256, qy[1])
    x = m.activation([1, n], *qx) if qx else m.tensor([1, n], dtype=np.float32)
    y = m.activation([1, n], *qy) if qy else m.tensor([1, n], dtype=np.float32)
    m.op(op, [x], [y], **options)
    path = tmp_path / f"{op}-{seed}.tflite"
    path.write_bytes(m.bytes([x], [y]))
    model = load_model(path)
    return path, describe_layer(model, plan_arena(model), model.operators[0]), qy


@pytest.mark.parametrize("op,x_dtype,y_dtype,options", [
    ("LOGISTIC", np.int8, np.int8, {}), ("TANH", np.int8, np.int8, {}), ("HARD_SWISH", np.int8, np.int8, {}),
    ("LEAKY_RELU", np.int8, np.int8, {"Alpha": 0.2}), ("LEAKY_RELU", np.int8, np.int8, {"Alpha": -1.3}),
    ("QUANTIZE", np.int8, np.int8, {}), ("DEQUANTIZE", np.int8, np.float32, {}),
    ("QUANTIZE", np.float32, np.int8, {})])
def test_tables_equal_the_reference_kernels_on_every_input(tmp_path, op, x_dtype, y_dtype, options):
    """The tables the generator computes, against the interpreter on all 256 int8 inputs (a float
    QUANTIZE: around every rounding boundary and beyond the range), for 12 random quantisations."""
    from simmcu.firmware import _ops

    for seed in range(12):
        path, layer, qy = _single_op_layer(tmp_path, op, x_dtype, y_dtype, seed, **options)
        if x_dtype is np.int8:
            x = np.arange(-128, 128, dtype=np.int8)
            if op == "DEQUANTIZE":
                s, z = float(np.float32(layer.inputs[0].scale[0])), int(layer.inputs[0].zero_point[0])
                predicted = (s * (x.astype(np.int64) - z)).astype(np.float32)
            else:
                predicted = _ops._unary_table(layer)[x.astype(np.int64) + 128]
        else:
            s, z = qy
            rng = np.random.default_rng(seed)
            x = np.concatenate([(np.arange(-140, 140) + 0.5 - z) * np.float32(s),  # the half-way points
                                rng.uniform(-300, 300, 4096 - 280) * s]).astype(np.float32)
            thresholds = _ops._quantize_thresholds(layer.outputs[0]).astype(np.int64)
            bits = x.view(np.int32).astype(np.int64)
            keys = np.where(bits < 0, bits ^ 0x7FFFFFFF, bits)
            predicted = np.searchsorted(thresholds, keys, side="right") - 128
        assert np.array_equal(np.asarray(predicted).view(np.int8) if op == "DEQUANTIZE" else predicted,
                              _litert(path, x).view(np.int8) if op == "DEQUANTIZE" else _litert(path, x)), seed


@pytest.mark.parametrize("model,message", [
    ("hard_swish_scale", r"operator 0 \(HARD_SWISH\): input scale at least 128 x the output scale"),
    ("strided_slice_ellipsis", r"operator 0 \(STRIDED_SLICE\): ellipsis_mask 1"),
    ("negative_pad", r"operator 0 \(PAD\): paddings \[\[0, 0\], \[-1, 0\]\]"),
    ("mul_no_broadcast", r"operator 0 \(MUL\): shapes \[1, 3\] and \[1, 2\] do not broadcast"),
    ("logistic_scale", r"operator 0 \(LOGISTIC\): output scale 0.01"),
    ("strided_slice_shrink", r"operator 0 \(STRIDED_SLICE\): axis 0 is shrunk to index 1, outside its 1 elements"),
])
def test_what_the_kernels_do_not_take_is_a_one_line_error(tmp_path, model, message):
    m = tflite_models.ModelWriter(0)
    x = m.activation([1, 3], 0.1, 0)
    if model == "hard_swish_scale":
        y = m.activation([1, 3], 0.1 / 200, 0)
        m.op("HARD_SWISH", [x], [y])
    elif model.startswith("strided_slice"):
        shrink = model.endswith("shrink")
        y = m.activation([3] if shrink else [1, 3], 0.1, 0)
        begin, end = ([1, 0], [2, 3]) if shrink else ([0, 0], [1, 3])
        consts = [m.tensor([2], data=np.array(v, np.int32), dtype=np.int32) for v in (begin, end, [1, 1])]
        m.op("STRIDED_SLICE", [x, *consts], [y], BeginMask=0, EndMask=0, ShrinkAxisMask=int(shrink),
             EllipsisMask=int(not shrink), NewAxisMask=0, Offset=False)
    elif model == "negative_pad":
        y = m.activation([1, 2], 0.1, 0)
        m.op("PAD", [x, m.tensor([2, 2], data=np.array([[0, 0], [-1, 0]], np.int32), dtype=np.int32)], [y])
    elif model == "logistic_scale":
        y = m.activation([1, 3], 0.01, 0)
        m.op("LOGISTIC", [x], [y])
    else:
        y = m.activation([1, 3], 0.1, 0)
        m.op("MUL", [x, m.tensor([1, 2], [0.1], [0], np.ones([1, 2], np.int8))], [y], FusedActivationFunction=0)
    path = tmp_path / f"{model}.tflite"
    path.write_bytes(m.bytes([x], [y]))
    with pytest.raises(ModelError, match=message) as e:
        load_model(path)
    assert "\n" not in str(e.value)


def test_every_lowered_operator_is_in_an_op_model(op_models):
    ops = {op.op for path in op_models.values() for op in load_model(path).operators}
    assert set(OPS) <= ops


def test_strided_slice_resolves_begin_end_and_masks_as_the_reference(tmp_path):
    """STRIDED_SLICE's index resolution (firmware/_ops.strided_slice) against the interpreter for 40
    random slices of a 4-D tensor: negative and out-of-range indices, negative strides, and begin,
    end and shrink-axis masks on any axis."""
    from simmcu.firmware._ops import strided_slice

    rng = np.random.default_rng(7)
    shape = [2, 5, 4, 6]
    data = np.arange(np.prod(shape)).astype(np.int8).reshape(shape)
    checked = 0
    while checked < 40:
        strides = [int(rng.choice([1, 2, 3, -1, -2])) for _ in shape]
        begin, end = ([int(rng.integers(-n - 2, n + 2)) for n in shape] for _ in range(2))
        opts = dict(begin_mask=int(rng.integers(0, 16)), end_mask=int(rng.integers(0, 16)),
                    shrink_axis_mask=int(rng.integers(0, 16)) & int(rng.integers(0, 16)))
        starts, sizes, steps = strided_slice(shape, begin, end, strides, opts)
        if 0 in sizes or any(opts["shrink_axis_mask"] >> axis & 1 and not 0 <= a < n
                             for axis, (a, n) in enumerate(zip(starts, shape))):
            continue  # empty, or an index outside a shrunk axis: refused (the reference reads out of bounds)
        out_shape = [n for axis, n in enumerate(sizes) if not opts["shrink_axis_mask"] >> axis & 1] or [1]
        m = tflite_models.ModelWriter(0)
        x, y = m.activation(shape, 0.1, 0), m.activation(out_shape, 0.1, 0)
        consts = [m.tensor([4], data=np.array(v, np.int32), dtype=np.int32) for v in (begin, end, strides)]
        m.op("STRIDED_SLICE", [x, *consts], [y], BeginMask=opts["begin_mask"], EndMask=opts["end_mask"],
             ShrinkAxisMask=opts["shrink_axis_mask"], EllipsisMask=0, NewAxisMask=0, Offset=False)
        path = tmp_path / "slice.tflite"
        path.write_bytes(m.bytes([x], [y]))
        expected = data[tuple(slice(a, a + n * k if a + n * k >= 0 else None, k)
                              for a, n, k in zip(starts, sizes, steps))]
        assert np.array_equal(_litert(path, data), expected.ravel()), (begin, end, strides, opts)
        checked += 1
