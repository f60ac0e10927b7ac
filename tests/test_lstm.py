"""UNIDIRECTIONAL_SEQUENCE_LSTM, fully integer (firmware/_lstm.py, kernels/lstm.c), bit-exact with
the reference interpreter (ai-edge-litert, BUILTIN_REF) on rv32imc, cortex-m4 and cortex-m0plus, on
the CPU and with the cfu and conv units attached (which leave it to the CPU): the random sizes,
quantisation, cell and projection clips, CIFG, peephole weights, projection, layer normalisation and
time-major layouts of tests/tflite_models.lstm; and the LSTMs
the kernel does not take refused in one line naming the feature."""

from pathlib import Path

import numpy as np
import pytest

import tflite_models
from simmcu.firmware import run_model
from simmcu.firmware._compile import random_input
from simmcu.firmware._model import ModelError, load_model
from test_tflite import VARIANTS, _litert

CORES = ("rv32imc", "cortex-m4", "cortex-m0plus")
#: seed -> generator arguments: 1 has a cell clip that binds, 2 is time-major with 2 sequences, 3 CIFG
#: (no input gate), 4 and 5 project the hidden state (5 with a projection bias and a projection clip that
#: binds), 6 and 7 normalise the gates (6 over 3 sequences, 7 CIFG with a projection), 8 and 9 have
#: peephole weights (9 CIFG and normalised)
MODELS = {0: {}, 1: {}, 2: dict(time_major=True, batch=2), 3: dict(cifg=True), 4: dict(projection=True),
          5: dict(projection="bias"), 6: dict(layer_norm=True, batch=3),
          7: dict(layer_norm=True, cifg=True, projection="bias"), 8: dict(peephole=True),
          9: dict(peephole=True, cifg=True, layer_norm=True)}


pytestmark = pytest.mark.usefixtures("model_cache")  # compiled models go to the session's cache


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("lstm-models")
    paths = {}
    for seed, options in MODELS.items():
        paths[seed] = folder / f"lstm-{seed}.tflite"
        paths[seed].write_bytes(tflite_models.lstm(seed, **options))
    return paths


CASES = [(core, "cpu", seed) for core in CORES for seed in MODELS] + \
    [("rv32imc", "cfu", 1), ("cortex-m4", "conv", 7)]


@pytest.mark.parametrize("core,variant,seed", CASES)
def test_lstm_is_bit_exact_with_the_reference_interpreter(models, core, variant, seed):
    model = models[seed]
    r = run_model(model, core, accelerators=VARIANTS[variant], seed=seed)
    assert r.exit_code == 0, r.message
    (out,) = r.outputs
    got = np.array(out["values"], out["dtype"]).ravel()
    expected = _litert(model, random_input(load_model(model), seed))
    assert got.dtype == expected.dtype and np.array_equal(got, expected), (got, expected)
    (layer,) = r.layers
    assert layer["op"] == "UNIDIRECTIONAL_SEQUENCE_LSTM" and layer["offload"] == "cpu"
    assert 0 < layer["cycles"] < r.cycles and layer["macs"] > 0
    assert "nn_lstm" in {f["name"] for f in r.functions}


def test_the_models_exercise_the_clips_and_many_output_values(models):
    """Seed 1's cell clip and seed 5's projection clip change the reference's output (so the
    kernel's clips are checked), and each model's outputs take many values (the gates neither
    vanish nor all saturate)."""
    for seed, clip in ((1, "cell_clip"), (5, "proj_clip")):
        x = random_input(load_model(models[seed]), seed)
        unclipped = Path(str(models[seed]).replace(".tflite", "-unclipped.tflite"))
        unclipped.write_bytes(tflite_models.lstm(seed, **MODELS[seed], **{clip: 0.0}))
        assert not np.array_equal(_litert(models[seed], x), _litert(unclipped, x)), clip
    for seed, model in models.items():
        assert np.unique(_litert(model, random_input(load_model(model), seed))).size >= 8, seed


def test_one_build_evaluates_many_sequences_as_the_reference(models):
    """Run-time inputs: several sequences on one build (simmcu.evaluate), each equal to the
    interpreter's output for it."""
    from simmcu.firmware import evaluate

    model = models[2]
    x = np.stack([random_input(load_model(model), seed) for seed in range(3)])
    result = evaluate(model, x, core="cortex-m0plus", reference=True)
    assert result.reference["exact"] == 3, result.reference
    for sample, outputs in zip(x, result.outputs):
        assert np.array_equal(np.asarray(outputs[0]).ravel(), _litert(model, sample))


@pytest.mark.parametrize("features,message", [
    (dict(float_input=True, float_weights=True), "a float LSTM; only the fully integer LSTM"),
    (dict(float_input=True), r"a hybrid LSTM \(float32 activations, int8 weights\)"),
    (dict(cell_scale=0.001), r"cell state scale 0.001; the integer kernel takes a power of two"),
    (dict(cell_scale=2.0 ** -8), r"cell state scale 0.00390625; the integer kernel takes a power of two"),
])
def test_what_the_lstm_kernel_does_not_take_is_a_one_line_error(tmp_path, features, message):
    path = tmp_path / "lstm.tflite"
    path.write_bytes(tflite_models.lstm(0, **features))
    with pytest.raises(ModelError, match=r"operator 0 \(UNIDIRECTIONAL_SEQUENCE_LSTM\): " + message) as e:
        load_model(path)
    assert "\n" not in str(e.value)
