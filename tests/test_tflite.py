"""A .tflite model compiled to firmware: bit-exact with TFLite's reference interpreter (ai-edge-litert),
per-layer profile, arena planning, and clear errors for what is not supported yet."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simmcu import Simulator
from simmcu.firmware._compile import compile_model, plan_arena, random_input
from simmcu.firmware._model import ModelError, load_model

MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"
AD01 = MODELS / "ad01_int8.tflite"
needs_models = pytest.mark.skipif(not AD01.exists(), reason="../shared/models is absent")


def _litert(model: Path, x: np.ndarray) -> np.ndarray:
    interp = pytest.importorskip("ai_edge_litert.interpreter")
    it = interp.Interpreter(model_content=model.read_bytes(),
                            experimental_op_resolver_type=interp.OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    it.set_tensor(inp["index"], x.reshape(inp["shape"]))
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"]).ravel()


@needs_models
@pytest.mark.parametrize("core", ["rv32imc", "cortex-m4"])
@pytest.mark.parametrize("seed", [0, 7])
def test_compiled_autoencoder_is_bit_exact_with_the_reference_interpreter(tmp_path, core, seed):
    elf = compile_model(AD01, core, tmp_path / "out", seed=seed)
    r = Simulator(elf, core=core).run()
    assert r.exit_code == 0, r.message
    got = np.array([int(v) for v in r.console.split()[1:]], np.int8)
    assert np.array_equal(got, _litert(AD01, random_input(load_model(AD01), seed)))


@needs_models
def test_run_model_prints_a_per_layer_profile(tmp_path):
    p = subprocess.run([sys.executable, "-m", "simmcu", "run", str(AD01), "--core", "cortex-m4", "--json", "-",
                        "--quiet"], capture_output=True, text=True, env={**os.environ, "XDG_CACHE_HOME": str(tmp_path)})
    d = json.loads(p.stdout)
    layers = d["layers"]
    assert [l["name"] for l in layers] == [f"layer_{i}_fully_connected" for i in range(10)]
    assert sum(l["macs"] for l in layers) == 264_192  # 640x128 + 3 x 128x128 + 128x8 + 8x128 + 3 x 128x128 + 128x640
    assert all(l["cycles"] > l["macs"] for l in layers) and abs(sum(l["share"] for l in layers) - 1) < 1e-3
    assert "layer_9_fully_connected" in p.stderr and "MAC/cyc" in p.stderr


@needs_models
def test_arena_reuses_memory_of_dead_tensors_and_never_overlaps_live_ones():
    model = load_model(AD01)
    plan = plan_arena(model)
    activations = list(plan.offsets)
    assert plan.size < sum(model.tensors[t].nbytes for t in activations)
    for a in activations:
        for b in activations:
            la, lb = plan.lifetimes[a], plan.lifetimes[b]
            if a < b and la[0] <= lb[1] and lb[0] <= la[1]:
                ra = range(plan.offsets[a], plan.offsets[a] + model.tensors[a].nbytes)
                rb = range(plan.offsets[b], plan.offsets[b] + model.tensors[b].nbytes)
                assert not set(ra) & set(rb), (a, b)


@needs_models
def test_unsupported_operators_and_bad_files_are_clear_errors(tmp_path):
    with pytest.raises(ModelError, match="operator 0 is CONV_2D, which simmcu's int8 kernels do not implement"):
        load_model(MODELS / "kws_ref_model.tflite")
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="is not a TensorFlow Lite flatbuffer"):
        load_model(bad)
    p = subprocess.run([sys.executable, "-m", "simmcu", "run", str(MODELS / "kws_ref_model.tflite")],
                       capture_output=True, text=True)
    assert p.returncode == 124 and p.stderr.count("\n") == 1 and "CONV_2D" in p.stderr
