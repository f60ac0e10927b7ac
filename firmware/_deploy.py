"""Run a .tflite model end to end: compile it for a core and the kernels of the attached
accelerators (cached in the user cache), simulate it, and add the per-layer profile."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import numpy as np

from simmcu._cores import get_core, parse_core_spec

from . import _compile
from ._build import firmware_dir
from ._compile import ACCELERATORS, compile_model, layer_report, model_report
from ._model import load_model, read_regular_file


def model_elf(model_path: str | Path, core: str, *, input_data: np.ndarray | None = None, seed: int = 0,
              accels=(), portable: bool = False) -> Path:
    """The model compiled for ``core`` with the kernels of ``accels`` (accelerator names), built once
    per model, input, variant and kernel sources into ``$XDG_CACHE_HOME/simmcu/models``."""
    model_path = Path(model_path)
    firmware_as = get_core(parse_core_spec(core)[0]).firmware_as
    variant = sorted({name for name in accels if name in ACCELERATORS})
    key = hashlib.sha256(read_regular_file(model_path, "model"))
    data = None if input_data is None else np.asarray(input_data, np.int8).tobytes()
    key.update(repr((firmware_as, seed, variant, portable, data)).encode())
    for f in [*sorted((firmware_dir() / "kernels").iterdir()), *sorted((firmware_dir() / "include").glob("*.h")),
              Path(_compile.__file__)]:
        key.update(f.read_bytes())  # a changed kernel or generator compiles anew
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "simmcu" / "models" / key.hexdigest()[:16]
    elf = cache / "model.elf"
    if not elf.exists():
        compile_model(model_path, firmware_as, cache, input_data, seed, accels=variant, portable=portable)
    return elf


def run_model(model_path: str | Path, core: str, *, accelerators=(), input_data: np.ndarray | None = None,
              seed: int = 0, portable: bool = False, **simulator_options):
    """Compile (cached) and run ``model_path`` once; the result carries ``layers`` and ``model``
    when the inference completes.
    ``accelerators`` are specs as ``Simulator`` takes them (``conv:pe_rows=16``); their names pick
    the kernel variant."""
    from simmcu import Simulator
    from simmcu.accelerators import make_accelerator

    names = [make_accelerator(spec).NAME for spec in accelerators]  # checks every spec before compiling
    elf = model_elf(model_path, core, input_data=input_data, seed=seed, accels=names, portable=portable)
    result = Simulator(elf, core=core, accelerators=accelerators, **simulator_options).run()
    if not result.ok:  # layers that never ran (or ran in part) would read as fast ones
        return dataclasses.replace(result, warnings=[*result.warnings, "no per-layer profile: the inference did "
                                                     "not run to completion"])
    model = load_model(model_path)
    layers = layer_report(model, result.functions)
    return dataclasses.replace(result, layers=layers, model=model_report(model, layers))
