"""Model inputs and outputs at run time and evaluation on data sets: one build serves every input
(written into the firmware by the simulator before the run), the outputs come back as tensors,
bit-exact with the TFLite reference interpreter (ai-edge-litert, BUILTIN_REF); `simmcu eval`
runs N inferences on one build, each costing what a fresh run of its input costs."""

import json
import subprocess
import sys

import numpy as np
import pytest

import tflite_models
from simmcu import ConfigError, ExitCode, Simulator, evaluate
from simmcu.cli import main
from simmcu.firmware import build, load_model, model_elf, run_model
from simmcu.firmware._io import inputs_of, outputs_of, random_inputs

CORES = ["rv32imc", "cortex-m4"]


def _litert(model, arrays: list[np.ndarray]) -> list[np.ndarray]:
    """The reference interpreter's outputs, in graph order, for one input per graph input."""
    interp = pytest.importorskip("ai_edge_litert.interpreter")
    it = interp.Interpreter(model_content=model.read_bytes(),
                            experimental_op_resolver_type=interp.OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    graph = load_model(model)
    for t, a in zip(inputs_of(graph), arrays):
        it.set_tensor(t.index, a.reshape(t.shape))
    it.invoke()
    return [it.get_tensor(t.index) for t in outputs_of(graph)]


def two_in_two_out() -> bytes:
    """Two graph inputs (differently quantised) and two outputs listed against the order they are
    computed in: ADD of the inputs then a 1x1 CONV_2D of the sum; outputs (conv, pool of input 0)."""
    m = tflite_models.ModelWriter(11)
    a = m.activation([1, 5, 4, 3], 0.05, -4)
    b = m.activation([1, 5, 4, 3], 0.08, 9)
    s = m.activation([1, 5, 4, 3], 0.1, 2)
    m.op("ADD", [a, b], [s], FusedActivationFunction=tflite_models.NONE)
    w = m.weights([6, 1, 1, 3], True)
    c = m.activation([1, 5, 4, 6], 0.07, -11)
    m.op("CONV_2D", [s, w, m.bias(6, 0.1, w)], [c], Padding=tflite_models.VALID, StrideH=1, StrideW=1,
         FusedActivationFunction=tflite_models.RELU, DilationHFactor=1, DilationWFactor=1)
    p = m.activation([1, 2, 2, 3], 0.05, -4)
    m.op("MAX_POOL_2D", [a], [p], Padding=tflite_models.VALID, StrideH=2, StrideW=2, FilterHeight=2,
         FilterWidth=2, FusedActivationFunction=tflite_models.NONE)
    return m.bytes([a, b], [c, p])


pytestmark = pytest.mark.usefixtures("model_cache")  # compiled models go to the session's cache


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("models")
    paths = {}
    for name, write in (("classifier", tflite_models.classifier), ("depthwise", tflite_models.depthwise),
                        ("two_in_two_out", two_in_two_out)):
        paths[name] = folder / f"{name}.tflite"
        paths[name].write_bytes(write())
    return paths


def _values(result) -> list[np.ndarray]:
    return [np.array(o["values"], o["dtype"]) for o in result.outputs]


@pytest.mark.parametrize("core", CORES)
def test_one_build_serves_every_input_bit_exact_with_the_reference(models, core, monkeypatch):
    from simmcu.firmware import _deploy

    model = models["depthwise"]
    elf = model_elf(model, core)
    builds = []
    monkeypatch.setattr(_deploy, "compile_model", lambda *a, **k: builds.append(a))
    rng = np.random.default_rng(5)
    (shape,) = [t.shape for t in inputs_of(load_model(model))]
    seen = set()
    for _ in range(3):
        x = rng.integers(-128, 128, shape, dtype=np.int8)
        r = run_model(model, core, input_data=x)
        assert r.exit_code == 0, r.message
        (got,), (want,) = _values(r), _litert(model, [x])
        assert got.dtype == np.int8 and got.shape == want.shape and np.array_equal(got, want)
        assert r.console.split()[1:] == [str(v) for v in want.ravel()]  # the console line says the same
        seen.add(got.tobytes())
    assert model_elf(model, core) == elf and builds == []  # no input ever compiled again
    assert len(seen) == 3  # the outputs did follow the inputs


@pytest.mark.parametrize("core", CORES)
def test_several_inputs_and_outputs_in_graph_order(models, core):
    model = models["two_in_two_out"]
    graph = load_model(model)
    assert [t.shape for t in outputs_of(graph)] == [(1, 5, 4, 6), (1, 2, 2, 3)]
    for seed in (1, 2):
        arrays = random_inputs(graph, seed)
        r = run_model(model, core, input_data=arrays)
        assert r.exit_code == 0, r.message
        got, want = _values(r), _litert(model, arrays)
        assert [g.shape for g in got] == [w.shape for w in want]
        assert all(np.array_equal(g, w) for g, w in zip(got, want))
        lines = [line.split()[1:] for line in r.console.splitlines()]
        assert lines == [[str(v) for v in w.ravel()] for w in want]  # one console line per output


def test_json_outputs_and_output_files(models, tmp_path):
    model = models["classifier"]
    graph = load_model(model)
    (t,), (y,) = inputs_of(graph), outputs_of(graph)
    x = np.random.default_rng(9).integers(-128, 128, t.shape, dtype=np.int8)
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "x.raw").write_bytes(x.tobytes())  # raw bytes of the input's type work too
    for given in ("x.npy", "x.raw"):
        rc = main(["run", str(model), "--input", str(tmp_path / given), "--json", str(tmp_path / "r.json"),
                   "--output", str(tmp_path / "y.npy"), "--quiet"])
        assert rc == 0
        (out,) = json.loads((tmp_path / "r.json").read_text())["outputs"]
        (want,) = _litert(model, [x])
        assert (out["name"], out["tensor"], out["shape"], out["dtype"]) == (y.name, y.index, [2, 9], "int8")
        assert np.array_equal(np.array(out["values"]), want)
        scale, zp = out["scale"], out["zero_point"]
        assert (scale, zp) == (pytest.approx(1 / 256), -128)
        assert np.allclose(out["dequantised"], (want.astype(float) - zp) * scale)
        saved = np.load(tmp_path / "y.npy")
        assert saved.dtype == np.int8 and np.array_equal(saved, want)


def test_multi_input_files_and_npz(models, tmp_path):
    model = models["two_in_two_out"]
    graph = load_model(model)
    a, b = random_inputs(graph, 4)
    want = _litert(model, [a, b])
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    np.savez(tmp_path / "ab.npz", a, b)  # in order
    np.savez(tmp_path / "named.npz", t1=b, t0=a)  # by tensor name, whatever the order
    for inputs in (["a.npy", "b.npy"], ["ab.npz"], ["named.npz"]):
        args = [arg for f in inputs for arg in ("--input", str(tmp_path / f))]
        assert main(["run", str(model), *args, "--output", str(tmp_path / "y.npz"), "--quiet"]) == 0
        with np.load(tmp_path / "y.npz") as saved:
            assert list(saved.files) == [t.name for t in outputs_of(graph)]
            assert all(np.array_equal(saved[t.name], w) for t, w in zip(outputs_of(graph), want))


def test_write_and_read_symbols_of_any_elf(tmp_path):
    """The facility behind run-time inputs: an initialised variable is written at its load image
    (start-up copies it), a constant where it lives; zeroed memory is refused."""
    src = tmp_path / "v.c"
    src.write_text("#include \"simmcu.h\"\nint value = 5;\nint zeroed;\nconst int table[2] = {1, 2};\n"
                   "int main(void)\n{\n    const volatile int *t = table;\n    value += t[1] + zeroed;\n"
                   "    return value;\n}\n")
    elf = build(src, "rv32imc", tmp_path / "v.elf")
    sim = Simulator(elf, core="rv32imc")
    assert sim.run().exit_code == 7
    r = sim.run(write={"value": (30).to_bytes(4, "little"), "table": bytes(4) + (9).to_bytes(4, "little")},
                read=["value", "table"])
    assert r.exit_code == 39 and r.symbol_data["value"] == (39).to_bytes(4, "little")
    assert r.symbol_data["table"] == bytes(4) + (9).to_bytes(4, "little")
    assert "symbol_data" not in json.loads(r.to_json())
    assert sim.run().exit_code == 7  # nothing stays behind for the next run
    with pytest.raises(ConfigError, match="symbol 'zeroed' is in memory the start-up code zeroes"):
        sim.run(write={"zeroed": b"\1"})
    with pytest.raises(ConfigError, match="5 bytes for symbol 'value', which holds 4"):
        sim.run(write={"value": bytes(5)})
    with pytest.raises(ConfigError, match="no data symbol 'nothing'"):
        sim.run(read=["nothing"])


def _tensor(index, shape, dtype, scale=(), zero_point=()):
    from simmcu.firmware._model import Tensor

    return Tensor(index, f"t{index}", shape, dtype, np.array(scale, float), np.array(zero_point, np.int64), None)


def _samples(model, n: int, seed: int) -> np.ndarray:
    (t,) = inputs_of(load_model(model))
    return np.random.default_rng(seed).integers(-128, 128, (n, *t.shape), dtype=np.int8)


@pytest.mark.parametrize("core,accels", [("rv32imc", []), ("cortex-m4", []), ("rv32imc", ["conv"])])
def test_eval_scores_and_times_each_inference_as_a_fresh_run(models, core, accels):
    model = models["classifier"]
    data = _samples(model, 5, 12)
    want = [_litert(model, [x])[0] for x in data]
    best = [int(np.argmax(w)) for w in want]
    labels = np.array([b if k % 2 == 0 else (b + 1) % 18 for k, b in enumerate(best)])  # 3 right, 2 wrong
    r = evaluate(model, data, labels, core=core, accelerators=accels, reference=True)
    assert r.samples == 5 and r.predictions == best
    assert r.correct == 3 and r.accuracy == pytest.approx(0.6)
    assert r.reference["exact"] == 5 and r.reference["worst_abs_diff"] == 0 and r.reference["top1"] == 0.6
    assert all(np.array_equal(o[0], w) for o, w in zip(r.outputs, want))
    for k, x in enumerate(data):  # reset between inferences equals a fresh run of the same input
        fresh = run_model(model, core, accelerators=accels, input_data=x)
        assert (r.cycles[k], r.instructions[k]) == (fresh.cycles, fresh.instructions)
        assert r.model_cycles[k] == fresh.model["cycles"]
    for row, layer in zip(r.layers, fresh.layers):
        assert (row["name"], row["offload"]) == (layer["name"], layer["offload"])
        assert row["min"] <= row["median"] <= row["max"]
    assert sum(row["min"] for row in r.layers) <= min(r.model_cycles)
    d = json.loads(r.to_json())
    assert d["accuracy"] == dict(correct=3, total=5, top1=0.6)
    assert d["cycles"]["per_inference"] == r.cycles and d["cycles"]["min"] == min(r.cycles)


def test_eval_command_and_multi_input_data(models, tmp_path):
    model = models["two_in_two_out"]
    graph = load_model(model)
    samples = [random_inputs(graph, seed) for seed in range(3)]
    np.savez(tmp_path / "d.npz", *(np.stack([s[k] for s in samples]) for k in range(2)))
    p = subprocess.run([sys.executable, "-m", "simmcu", "eval", str(model), "--data", str(tmp_path / "d.npz"),
                        "--core", "cortex-m4", "--reference", "--json", "-"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["samples"] == 3 and d["reference"]["exact"] == 3 and d["accuracy"] is None
    assert [row["op"] for row in d["layers"]] == ["ADD", "CONV_2D", "MAX_POOL_2D"]
    assert d["predictions"] == [int(np.argmax(_litert(model, s)[0])) for s in samples]
    assert "cycles per inference: min" in p.stderr and "3/3 outputs identical" in p.stderr


def test_eval_without_the_reference_interpreter_says_which(models, monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)  # as if not installed
    np.save(tmp_path / "x.npy", _samples(models["classifier"], 2, 0))
    assert main(["eval", str(models["classifier"]), "--data", str(tmp_path / "x.npy"), "--reference"]) == 120
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ai-edge-litert" in err


def _cli_error(capsys, *args) -> str:
    assert main(list(args)) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("simmcu: error: ") and err.count("\n") == 1, err
    return err


def test_bad_inputs_data_and_labels_are_bad_input(models, tmp_path, capsys):
    clf, multi = str(models["classifier"]), str(models["two_in_two_out"])
    f = tmp_path / "f.npy"
    np.save(f, np.zeros((1, 2, 10), np.float32))
    assert "f.npy is float32; input t0 (1x2x10 int8) takes int8 (quantise it: q = round(x / 0.08) + 4)" \
        in _cli_error(capsys, "run", clf, "--input", str(f))
    s = tmp_path / "s.npy"
    np.save(s, np.zeros((4, 5), np.int8))
    assert "s.npy has shape [4, 5] (20 values); input t0 (1x2x10 int8) takes shape [1, 2, 10] (20 values)" \
        in _cli_error(capsys, "run", clf, "--input", str(s))
    raw = tmp_path / "x.raw"
    raw.write_bytes(bytes(7))
    assert "x.raw has 7 bytes; input t0 (1x2x10 int8) takes 20" in _cli_error(capsys, "run", clf, "--input", str(raw))
    assert "1 input files; the model has 2 inputs (t0 (1x5x4x3 int8), t1 (1x5x4x3 int8))" \
        in _cli_error(capsys, "run", multi, "--input", str(raw))
    bad_zip = tmp_path / "bad.npz"
    bad_zip.write_bytes(b"PK\x03\x04 not really")
    assert "cannot read input" in _cli_error(capsys, "run", multi, "--input", str(bad_zip))
    assert "2 outputs; --output y.npy must be an .npz" in _cli_error(capsys, "run", multi, "--output", "y.npy")
    data = tmp_path / "d.npy"
    np.save(data, np.zeros((3, 1, 2, 10), np.int8))
    assert "data" in _cli_error(capsys, "eval", clf, "--data", str(raw))
    assert "s.npy sample 0 has shape [5] (5 values); input t0 (1x2x10 int8) takes shape [1, 2, 10]" \
        in _cli_error(capsys, "eval", clf, "--data", str(s))
    labels = tmp_path / "l.npy"
    np.save(labels, np.zeros(4, np.int64))
    assert "they must be 3 integer class indices" in _cli_error(capsys, "eval", clf, "--data", str(data),
                                                                "--labels", str(labels))
    np.save(labels, np.zeros(3, np.float32))
    assert "l.npy are float32 of shape [3]" in _cli_error(capsys, "eval", clf, "--data", str(data),
                                                          "--labels", str(labels))
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model")
    assert "is not a TensorFlow Lite flatbuffer" in _cli_error(capsys, "eval", str(bad), "--data", str(data))


def test_unsupported_operators_and_types_are_named(tmp_path, capsys, monkeypatch):
    class CustomWriter(tflite_models.ModelWriter):
        """An operator only a custom op resolver would run, as TFLite Micro's signal library writes them."""

        @staticmethod
        def _opcode(b, name):
            import tflite

            code = b.CreateString(name.split(":")[1])
            tflite.OperatorCodeStart(b)
            tflite.OperatorCodeAddDeprecatedBuiltinCode(b, tflite.BuiltinOperator.CUSTOM)
            tflite.OperatorCodeAddBuiltinCode(b, tflite.BuiltinOperator.CUSTOM)
            tflite.OperatorCodeAddCustomCode(b, code)
            return tflite.OperatorCodeEnd(b)

        @staticmethod
        def _operator(b, opcode, inputs, outputs, options, name):
            return tflite_models.ModelWriter._operator(b, opcode, inputs, outputs, {}, "TANH")

    m = CustomWriter(1)
    x, y = m.activation([1, 8], 0.1, 0), m.activation([1, 8], 0.1, 0)
    m.op("CUSTOM:SignalWindow", [x], [y])
    custom = tmp_path / "custom.tflite"
    custom.write_bytes(m.bytes([x], [y]))
    assert "operator 0 is CUSTOM operator SignalWindow, which" in _cli_error(capsys, "run", str(custom))
    monkeypatch.setitem(tflite_models._TYPES, np.uint32, 15)
    m = tflite_models.ModelWriter(2)
    x = m.tensor([1, 8], dtype=np.uint32)
    y = m.activation([1, 8], 0.1, 0)
    m.op("TANH", [x], [y])
    typed = tmp_path / "typed.tflite"
    typed.write_bytes(m.bytes([x], [y]))
    assert "tensor t0 has type UINT32, which simmcu's kernels do not take" in _cli_error(capsys, "run", str(typed))


@pytest.mark.parametrize("core", ["rv32imc", "cortex-m0plus"])
def test_the_io_layer_follows_the_tensor_types(tmp_path, monkeypatch, core):
    """Float32 and int16 inputs and outputs (the graph outputs are its inputs, so no kernel is
    involved): laid out by dtype, written and read back as such, printed as values."""
    from simmcu.firmware import _compile
    from simmcu.firmware._deploy import io_symbols
    from simmcu.firmware._io import OUTPUT_SYMBOL, as_inputs, output_records, unpack
    from simmcu.firmware._model import Model, ModelError

    model = Model(tmp_path / "io.tflite", [_tensor(0, (1, 3), np.float32), _tensor(1, (5,), np.int16, [0.5], [3])],
                  [], [0, 1], [1, 0])
    ins, outs = inputs_of(model), outputs_of(model)
    assert [(t.offset, t.nbytes) for t in ins] == [(0, 12), (12, 10)]
    assert [(t.offset, t.nbytes) for t in outs] == [(0, 10), (12, 12)]  # each aligned to 4 bytes
    with pytest.raises(ModelError, match=r"input 0 is int8; input t0 \(1x3 float32\) takes float32"):
        as_inputs(model, [np.zeros(3, np.int8), np.zeros(5, np.int16)])
    monkeypatch.setattr(_compile, "load_model", lambda path: model)
    elf = _compile.compile_model(model.path, core, tmp_path / "build")
    x = [np.array([[1.5, -0.1, 3e-7]], np.float32), np.array([-32768, 7, 0, 1, 32767], np.int16)]
    r = Simulator(elf, core=core).run(**io_symbols(model, as_inputs(model, x)))
    assert r.exit_code == 0, r.message
    got = unpack(outs, r.symbol_data[OUTPUT_SYMBOL])
    assert np.array_equal(got[0], x[1]) and np.array_equal(got[1], x[0]) and got[1].dtype == np.float32
    assert r.console.splitlines() == ["output -32768 7 0 1 32767", "output 1.5 -0.100000001 3.00000011e-07"]
    records = output_records(outs, got)
    assert records[0]["dequantised"] == [(v - 3) * 0.5 for v in x[1].tolist()]
    assert records[1]["scale"] is None and records[1]["dequantised"] == [[float(v) for v in x[0][0]]]


def test_random_float_inputs_span_what_their_quantize_maps():
    from simmcu.firmware._model import Model, Operator

    model = Model(None, [_tensor(0, (4000,), np.float32), _tensor(1, (4000,), np.int8, [0.02], [-28]),
                         _tensor(2, (7,), np.float32)], [Operator(0, "QUANTIZE", [0], [1])], [0, 2], [1])
    x, free = random_inputs(model, 3)
    lo, hi = 0.02 * (-128 + 28), 0.02 * (127 + 28)  # -2.0 .. 3.1, and a tenth of the span beyond each end
    assert x.dtype == np.float32 and lo - 0.51 < x.min() < lo - 0.4 and hi + 0.4 < x.max() < hi + 0.51
    assert -1 <= free.min() and free.max() < 1
    assert all(np.array_equal(a, b) for a, b in zip(random_inputs(model, 3), (x, free)))
