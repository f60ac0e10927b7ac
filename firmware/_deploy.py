"""Run a .tflite model end to end: compile it for a core and the kernels of the attached
accelerators (cached in the user cache), simulate it, and add the per-layer profile."""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import os
from pathlib import Path

import numpy as np

from simmcu._cores import get_core, parse_core_spec
from simmcu._energy import layer_energy

from . import _compile, _ops
from ._build import firmware_dir
from ._compile import OFFLOAD_FILE, compile_model, layer_report, make_units, model_report
from ._model import load_model, read_regular_file


def model_elf(model_path: str | Path, core: str, *, input_data: np.ndarray | None = None, seed: int = 0,
              accels=(), portable: bool = False) -> Path:
    """The model compiled for ``core`` and the accelerators ``accels`` (instances or specs), built once
    into ``$XDG_CACHE_HOME/simmcu/models`` per model, input, kernel and generator sources, and per
    unit its name, the parameters its code depends on (``Accelerator.COMPILE_PARAMS``), its firmware
    support and the module that generates its code. ``offload.json`` beside it says where each layer runs."""
    model_path = Path(model_path)
    firmware_as = get_core(parse_core_spec(core)[0]).firmware_as
    attached = make_units(accels)
    key = hashlib.sha256(read_regular_file(model_path, "model"))
    data = None if input_data is None else (np.asarray(input_data).dtype.str, np.asarray(input_data).tobytes())
    key.update(repr((firmware_as, seed, portable, data)).encode())
    files = [*sorted((firmware_dir() / "kernels").iterdir()), *sorted((firmware_dir() / "include").glob("*.h")),
             Path(_compile.__file__), Path(_ops.__file__)]
    for unit in attached:
        support = unit.firmware(firmware_as)
        names = unit.params if unit.COMPILE_PARAMS is None else unit.COMPILE_PARAMS
        key.update(repr((unit.NAME, {k: unit.params[k] for k in names}, sorted(support.defines.items()))).encode())
        files += [*map(Path, support.sources), Path(inspect.getfile(type(unit)))]
    for f in files:
        key.update(f.read_bytes())  # a changed kernel, generator or unit compiles anew
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "simmcu" / "models" / key.hexdigest()[:16]
    elf = cache / "model.elf"
    if not (elf.exists() and (cache / OFFLOAD_FILE).exists()):
        compile_model(model_path, firmware_as, cache, input_data, seed, accels=attached, portable=portable)
    return elf


def run_model(model_path: str | Path, core: str, *, accelerators=(), input_data: np.ndarray | None = None,
              seed: int = 0, portable: bool = False, **simulator_options):
    """Compile (cached) and run ``model_path`` once; the result carries ``layers`` (each with where
    it ran, ``offload``) and ``model`` when the inference completes.
    ``accelerators`` are instances or specs as ``Simulator`` takes them (``conv:buffer_kib=8``): the
    firmware is compiled for them and runs with them attached."""
    from simmcu import Simulator

    attached = make_units(accelerators)
    elf = model_elf(model_path, core, input_data=input_data, seed=seed, accels=attached, portable=portable)
    result = Simulator(elf, core=core, accelerators=attached, **simulator_options).run()
    if not result.ok:  # layers that never ran (or ran in part) would read as fast ones
        return dataclasses.replace(result, warnings=[*result.warnings, "no per-layer profile: the inference did "
                                                     "not run to completion"])
    model = load_model(model_path)
    layers = layer_report(model, result.functions, json.loads((elf.parent / OFFLOAD_FILE).read_text()))
    layer_energy(result, layers)
    report = model_report(model, layers)
    report["energy_uj"] = round(sum(r["energy_uj"] for r in layers), 9)  # one inference: the layers' sum
    return dataclasses.replace(result, layers=layers, model=report)
