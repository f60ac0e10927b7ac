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

SEEDS = (0, 1, 2)
CORES = ("rv32imc", "cortex-m4", "cortex-m0plus")
VARIANTS = {"cpu": [], "cfu": ["cfu"], "conv": ["conv"]}


def _litert(model: Path, x: np.ndarray) -> np.ndarray:
    interp = pytest.importorskip("ai_edge_litert.interpreter")
    it = interp.Interpreter(model_content=model.read_bytes(),
                            experimental_op_resolver_type=interp.OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    it.set_tensor(inp["index"], x.reshape(inp["shape"]))
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"]).ravel()


@pytest.fixture(scope="module", autouse=True)
def _model_cache(tmp_path_factory):
    """Compiled models (and the compiler's own cache) go to this module's cache, not the user's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def op_models(tmp_path_factory) -> dict[tuple[str, int], Path]:
    folder = tmp_path_factory.mktemp("op-models")
    paths = {}
    for name, write in tflite_models.OP_MODELS.items():
        for seed in SEEDS:
            paths[name, seed] = folder / f"{name}-{seed}.tflite"
            paths[name, seed].write_bytes(write(seed))
    return paths


def _check(model: Path, core: str, variant: str, seed: int):
    r = run_model(model, core, accelerators=VARIANTS[variant], seed=seed)
    assert r.exit_code == 0, r.message
    got = np.array([int(v) for v in r.console.split()[1:]], np.int8)  # the output tensor's bytes
    expected = _litert(model, random_input(load_model(model), seed))
    assert np.array_equal(got, expected.view(np.int8)), (got, expected.view(np.int8))
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
    assert {f"layer_{i}_{op.lower()}" for i, op in enumerate(ops)} <= {f["name"] for f in r.functions}
