"""int16x8 models (16-bit activations, 8-bit weights, TFLite's "16x8" quantisation) bit-exact with
the reference interpreter (ai-edge-litert, BUILTIN_REF) on rv32imc, cortex-m4 and cortex-m0plus:
tests/tflite_models.py's int16 models, random shapes and quantisation per seed. With the cfu or the
conv unit attached the int16 layers run on the CPU kernels (kernels/int16.c; the elementwise,
movement and MEAN kernels' int16 instances), the conv unit saying why; what has no int16 kernel is
a one-line error naming the operator."""

from pathlib import Path

import numpy as np
import pytest

import tflite_models
from simmcu.firmware import run_model
from simmcu.firmware._compile import random_input
from simmcu.firmware._model import INT16_OPS, ModelError, load_model
from simmcu.firmware._ops import _requantize
from simmcu.firmware.reference import quantize_multiplier
from test_tflite import VARIANTS, _litert

SEEDS = (0, 1, 2)
CORES = ("rv32imc", "cortex-m4", "cortex-m0plus")

pytestmark = pytest.mark.usefixtures("model_cache")  # compiled models go to the session's cache


@pytest.fixture(scope="module")
def int16_models(tmp_path_factory) -> dict[tuple[str, int], Path]:
    return tflite_models.write_models(tmp_path_factory.mktemp("int16-models"), tflite_models.INT16_MODELS, SEEDS)


# every model on every core for the CPU build and every seed; the network (whose convolutions the units
# would otherwise take) also with cfu (not on cortex-m0plus, which it cannot run on) and conv, on one seed
CASES = [(name, core, "cpu", seed) for name in tflite_models.INT16_MODELS for core in CORES for seed in SEEDS] + \
    [("int16_network", core, variant, 1) for core in ("rv32imc", "cortex-m4") for variant in ("cfu", "conv")] + \
    [("int16_network", "cortex-m0plus", "conv", 1)]


@pytest.mark.parametrize("name,core,variant,seed", CASES)
def test_int16x8_models_are_bit_exact_with_the_reference_interpreter(int16_models, name, core, variant, seed):
    model = int16_models[name, seed]
    r = run_model(model, core, accelerators=VARIANTS[variant], seed=seed)
    assert r.exit_code == 0, r.message
    (out,) = r.outputs
    got = np.array(out["values"], out["dtype"]).ravel()
    expected = _litert(model, random_input(load_model(model), seed))
    assert got.dtype == expected.dtype
    assert np.array_equal(got.view(np.uint8), expected.view(np.uint8)), (got, expected)  # float32 outputs bitwise
    q = load_model(model).tensors[load_model(model).operators[-1].inputs[0]]
    values = expected if expected.dtype == np.int16 else np.round(expected / q.scale[0])
    assert np.count_nonzero(np.abs(values) < 32767) > expected.size // 2  # not all saturated
    ops = [op.op for op in load_model(model).operators]
    assert [layer["op"] for layer in r.layers] == ops
    assert all(layer["cycles"] > 0 for layer in r.layers)
    for layer in r.layers:  # the conv unit refuses each int16 layer it would otherwise take, with its reason
        refused = variant == "conv" and layer["op"] in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
        assert layer["offload"] == ("cpu: conv: int16 activations (the unit's datapath is int8)" if refused
                                    else "cpu")


@pytest.fixture(scope="module")
def int16_op_models(tmp_path_factory) -> dict[tuple[str, int], Path]:
    return tflite_models.write_models(tmp_path_factory.mktemp("int16-op-models"), tflite_models.INT16_OP_MODELS,
                                      (0, 1, 2, 3))


def _litert_outputs(model: Path, x: np.ndarray) -> list[np.ndarray]:
    """Every output of the reference interpreter (BUILTIN_REF), in the graph's order."""
    interp = pytest.importorskip("ai_edge_litert.interpreter")
    it = interp.Interpreter(model_content=model.read_bytes(),
                            experimental_op_resolver_type=interp.OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    (inp,) = it.get_input_details()
    it.set_tensor(inp["index"], x.reshape(inp["shape"]))
    it.invoke()
    return [it.get_tensor(d["index"]).ravel() for d in it.get_output_details()]


# the operators model: three seeds on one core (the cheap cases: the structure and quantisation vary by
# seed), one seed on every core with every variant (the kernels are the same C everywhere)
OP_CASES = [("rv32imc", "cpu", seed) for seed in (0, 2, 3)] + \
    [(core, variant, 1) for core in CORES for variant in VARIANTS if (core, variant) != ("cortex-m0plus", "cfu")]


@pytest.mark.parametrize("core,variant,seed", OP_CASES)
def test_int16_elementwise_movement_and_mean_are_bit_exact_with_the_reference_interpreter(int16_op_models, core,
                                                                                         variant, seed):
    """LEAKY_RELU, ADD, MUL and MAXIMUM/MINIMUM broadcasting (activations, constants), MEAN over
    several axes, PAD, PADV2, STRIDED_SLICE and CONCATENATION: each output of the int16_operators model."""
    model = int16_op_models["int16_operators", seed]
    r = run_model(model, core, accelerators=VARIANTS[variant], seed=seed)
    assert r.exit_code == 0, r.message
    expected = _litert_outputs(model, random_input(load_model(model), seed))
    assert len(r.outputs) == len(expected) == 7
    for out, want in zip(r.outputs, expected):
        got = np.array(out["values"], out["dtype"]).ravel()
        assert got.dtype == want.dtype == np.int16
        assert np.array_equal(got, want), (got, want)
        assert np.count_nonzero(np.abs(want) < 32767) > want.size // 2  # not all saturated
    assert [layer["op"] for layer in r.layers] == [op.op for op in load_model(model).operators]
    assert all(layer["cycles"] > 0 and layer["offload"] == "cpu" for layer in r.layers)


def test_every_int16_operator_is_in_an_int16_model(int16_models, int16_op_models):
    """(LOGISTIC and TANH have a test of their own, over the input range.)"""
    ops = {op.op for path in (*int16_models.values(), *int16_op_models.values()) for op in load_model(path).operators}
    assert set(INT16_OPS) - {"LOGISTIC", "TANH"} <= ops


def test_int16_mul_requantises_with_the_float32_scale_ratio(tmp_path):
    """The reference forms MUL's multiplier from input1 scale x input2 scale / output scale in float32:
    int16 products (up to 2^30) reach the bits where that differs from the ratio in double, which would
    round some of these 4096 products otherwise."""
    m = tflite_models.Int16Writer(7)
    sa, sb = (float(v) for v in m.rng.uniform(0.5, 4, 2) / 32767)
    sy = sa * sb * 18900 * 18900 / float(m.rng.uniform(3000, 20000))
    a, b, y = (m.activation16([1, 4096], s) for s in (sa, sb, sy))
    m.op("MUL", [a, b], [y], FusedActivationFunction=tflite_models.NONE)
    path = tmp_path / "mul.tflite"
    path.write_bytes(m.bytes([a, b], [y]))
    rng = np.random.default_rng(5)
    xa, xb = (rng.integers(-32768, 32768, (1, 4096), dtype=np.int16) for _ in range(2))
    interp = pytest.importorskip("ai_edge_litert.interpreter")
    it = interp.Interpreter(model_content=path.read_bytes(),
                            experimental_op_resolver_type=interp.OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    for d, v in zip(it.get_input_details(), (xa, xb)):
        it.set_tensor(d["index"], v)
    it.invoke()
    expected = it.get_tensor(it.get_output_details()[0]["index"]).ravel()
    f32 = (np.float32(sa) * np.float32(sb) / np.float32(sy)).item()
    f64 = float(np.float32(sa)) * float(np.float32(sb)) / float(np.float32(sy))
    in_double = np.clip(_requantize(xa.astype(np.int64) * xb, *quantize_multiplier(f64)), -32768, 32767).ravel()
    assert np.count_nonzero(in_double != expected) > 0  # the case tells the two apart
    assert quantize_multiplier(f32) != quantize_multiplier(f64)
    (out,) = run_model(path, "rv32imc", input_data=[xa, xb]).outputs
    assert np.array_equal(np.array(out["values"], np.int16).ravel(), expected)


def test_fully_connected_requantises_large_int64_sums_exactly(tmp_path):
    """Sums beyond 2^31 (large int64 biases): the reference's FULLY_CONNECTED multiplies by the whole
    32-bit multiplier without overflow (a 79-bit product), which nn_requantize64_exact reproduces."""
    m = tflite_models.Int16Writer(5)
    sx = 1 / 32767
    x = m.activation16([1, 16], sx)
    w = m.weights([8, 16], False)
    sw = m.tensors[w]["scale"][0]
    values = np.array([3e9, -3e9, 5e9, -5e9, 2 ** 31 + 5, -2 ** 31 - 7, 1e10, -1e10], np.int64)
    b = m.tensor([8], [sx * sw], [0], values, dtype=np.int64)
    y = m.activation16([1, 8], sx * sw * 1e10 / 20000)
    m.op("FULLY_CONNECTED", [x, w, b], [y], FusedActivationFunction=tflite_models.NONE, WeightsFormat=0)
    path = tmp_path / "fc.tflite"
    path.write_bytes(m.bytes([x], [y]))
    expected = _litert(path, random_input(load_model(path), 1))
    assert np.abs(expected).max() > 15000  # the largest sums are not clamped away
    for core in CORES:
        r = run_model(path, core, seed=1)
        (out,) = r.outputs
        assert np.array_equal(np.array(out["values"], np.int16).ravel(), expected), core


def test_float_quantize_to_int16_rounds_as_the_reference(tmp_path):
    """QUANTIZE float32 -> int16 in the firmware's float arithmetic around every rounding boundary of
    a stretch of the range (the half-way points and their neighbours), at both ends and beyond it."""
    m = tflite_models.Int16Writer(3)
    scale = float(np.float32(3.7 / 32767))
    halves = (np.arange(-300, 300) + 0.5).astype(np.float32) * np.float32(scale)
    ends = np.array([32766.5, 32767.5, 40000, -32767.5, -32768.5, -40000, 1e30, -1e30], np.float32) * np.float32(scale)
    x = np.concatenate([halves, np.nextafter(halves, np.float32(np.inf)), np.nextafter(halves, np.float32(-np.inf)),
                        ends]).astype(np.float32)
    xi = m.tensor([1, x.size], dtype=np.float32)
    y = m.activation16([1, x.size], scale)
    m.op("QUANTIZE", [xi], [y])
    path = tmp_path / "quantize.tflite"
    path.write_bytes(m.bytes([xi], [y]))
    expected = _litert(path, x)
    assert len(set(expected.tolist())) > 600
    for core in CORES:
        r = run_model(path, core, input_data=x.reshape(1, -1))
        (out,) = r.outputs
        assert np.array_equal(np.array(out["values"], np.int16).ravel(), expected), core


@pytest.mark.parametrize("op,scale,core", [(op, "random", core) for op in ("LOGISTIC", "TANH") for core in CORES] +
                         [("LOGISTIC", "2^-12", "rv32imc"), ("TANH", "2^-11", "rv32imc")])
def test_int16_logistic_and_tanh_are_bit_exact_over_the_input_range(tmp_path, op, scale, core):
    """LOGISTIC and TANH on 4096 random int16 inputs (every interval of the table, saturation), with a
    random input scale or a power-of-two one the reference treats apart (2^-12; TANH also 2^-11)."""
    m = tflite_models.Int16Writer(11 if op == "TANH" else 12)
    sx = float(m.rng.uniform(0.3, 10) / 32767) if scale == "random" else 2.0 ** -int(scale[3:])
    x = m.activation16([1, 4096], sx)
    y = m.activation16([1, 4096], 1 / 32768)
    m.op(op, [x], [y])
    path = tmp_path / f"{op}.tflite"
    path.write_bytes(m.bytes([x], [y]))
    expected = _litert(path, random_input(load_model(path), 2))
    assert len(set(expected.tolist())) > 500  # not saturated
    (out,) = run_model(path, core, seed=2).outputs
    assert np.array_equal(np.array(out["values"], np.int16).ravel(), expected)


def _refused(tmp_path: Path, case: str) -> Path:
    m = tflite_models.Int16Writer(0)
    x = m.activation16([1, 4, 4, 3], 0.01)
    if case == "softmax_scale":
        y = m.activation16([1, 4, 4, 3], 1 / 256)
        m.op("SOFTMAX", [x], [y], Beta=1.0)
    elif case == "hard_swish":
        y = m.activation16([1, 4, 4, 3], 0.02)
        m.op("HARD_SWISH", [x], [y])
    elif case == "padv2":  # a constant of another scale than the output's
        y = m.activation16([1, 6, 6, 3], 0.01)
        pads = m.tensor([4, 2], data=np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32), dtype=np.int32)
        m.op("PADV2", [x, pads, m.tensor([1], [0.02], [0], np.array([7], np.int16), dtype=np.int16)], [y])
    elif case == "long_mean":
        x = m.activation16([1, 260, 256, 1], 0.01)
        y = m.activation16([1, 1], 0.01)
        m.op("MEAN", [x, m.tensor([2], data=np.array([1, 2], np.int32), dtype=np.int32)], [y], KeepDims=False)
    elif case in ("logistic", "tanh"):
        y = m.activation16([1, 4, 4, 3], 1 / 16384)
        m.op(case.upper(), [x], [y])
    elif case == "mixed":
        y = m.activation([1, 4, 4, 3], 0.01, 0)
        m.op("ADD", [x, x], [y], FusedActivationFunction=0)
    elif case == "zero_point":
        m.tensors[x]["zero_point"] = [5]
        y = m.activation16([1, 4, 4, 3], 0.02)
        m.op("ADD", [x, x], [y], FusedActivationFunction=0)
    elif case == "power_of_two":
        m.tensors[x]["scale"] = [2.0 ** -10]
        y = m.activation16([1, 4, 4, 3], 2.0 ** -9)
        m.op("ADD", [x, x], [y], FusedActivationFunction=0)
    elif case in ("int32_bias", "no_bias"):
        w = m.weights([2, 1, 1, 3], True)
        bias = -1 if case == "no_bias" else m.bias(2, 0.01, w)
        y = m.activation16([1, 4, 4, 2], 0.05)
        m.op("CONV_2D", [x, w, bias], [y], Padding=tflite_models.VALID, StrideH=1, StrideW=1, DilationHFactor=1,
             DilationWFactor=1, FusedActivationFunction=0)
    return _write(tmp_path, case, m, [x], [y])


def _write(tmp_path, case, m, inputs, outputs) -> Path:
    path = tmp_path / f"{case}.tflite"
    path.write_bytes(m.bytes(inputs, outputs))
    return path


@pytest.mark.parametrize("case,message", [
    ("hard_swish", r"operator 0 \(HARD_SWISH\): int16 activations are not supported for HARD_SWISH \(the reference "
                   r"interpreter's HARD_SWISH takes float32, uint8 and int8 only\)"),
    ("padv2", r"operator 0 \(PADV2\): the constant value t3 is quantised differently from the output \(the reference "
              r"kernel refuses that\)"),
    ("long_mean", r"operator 0 \(MEAN\): int16 activations with more than 65536 values to each mean"),
    ("softmax_scale", r"operator 0 \(SOFTMAX\): int16 output scale 0.00390625; the reference's int16 softmax takes "
                      r"1/32768"),
    ("logistic", r"operator 0 \(LOGISTIC\): int16 output scale 6.10352e-05; the reference's int16 kernel takes "
                 r"1/32768"),
    ("tanh", r"operator 0 \(TANH\): int16 output scale 6.10352e-05"),
    ("mixed", r"operator 0 \(ADD\): int16 activations mixed with other types"),
    ("zero_point", r"int16 activation tensor t0 .* zero point \[5\]; int16 activations need .* zero point 0"),
    ("power_of_two", r"operator 0 \(ADD\): int16 activations with power-of-two scales"),
    ("int32_bias", r"operator 0 \(CONV_2D\): int16 activations with bias t2 that is not 2 constant int64 values"),
    ("no_bias", r"operator 0 \(CONV_2D\): int16 activations without a bias"),
])
def test_what_the_int16_kernels_do_not_take_is_a_one_line_error(tmp_path, case, message):
    with pytest.raises(ModelError, match=message) as e:
        load_model(_refused(tmp_path, case))
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("case,message", [
    ("hard_swish", "Only float32, uint8 and int8 are supported currently, got INT16"),
    ("padv2", r"op_context.output->params.scale != op_context.constant_values->params.scale")])
def test_the_reference_interpreter_refuses_int16_hard_swish_and_a_padv2_constant_of_another_scale(tmp_path, case,
                                                                                                   message):
    """Why simmcu refuses them: the interpreter (BUILTIN_REF) refuses the model too."""
    interp = pytest.importorskip("ai_edge_litert.interpreter")
    it = interp.Interpreter(model_content=_refused(tmp_path, case).read_bytes(),
                            experimental_op_resolver_type=interp.OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    with pytest.raises(RuntimeError, match=message):
        it.invoke()
