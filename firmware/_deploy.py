"""Run a .tflite model end to end: compile it for a core and the kernels of the attached
accelerators (cached in the user cache, one build for every input), simulate it on an input
written into the build at run time, and add the per-layer profile and the output tensors."""

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

from . import _compile, _int16, _io, _layer, _lstm, _model, _ops
from ._build import firmware_dir
from ._compile import OFFLOAD_FILE, compile_model, layer_report, make_units, model_report
from ._io import INPUT_SYMBOL, OUTPUT_SYMBOL, as_inputs, inputs_of, output_records, outputs_of, pack, unpack
from ._model import Model, load_model, read_regular_file


def model_elf(model_path: str | Path, core: str, *, accels=(), portable: bool = False) -> Path:
    """The model compiled for ``core`` and the accelerators ``accels`` (instances or specs), built once
    into ``$XDG_CACHE_HOME/simmcu/models`` per model, kernel and generator sources, and per unit its
    name, the parameters its code depends on (``Accelerator.COMPILE_PARAMS``), its firmware support
    and the module that generates its code; not per input, which is written into the build when it
    runs (``run_model``). ``offload.json`` beside it says where each layer runs."""
    model_path = Path(model_path)
    firmware_as = get_core(parse_core_spec(core)[0]).firmware_as
    attached = make_units(accels)
    key = hashlib.sha256(read_regular_file(model_path, "model"))
    key.update(repr((firmware_as, portable)).encode())
    files = [*sorted((firmware_dir() / "kernels").iterdir()), *sorted((firmware_dir() / "include").glob("*.h")),
             *(Path(m.__file__) for m in (_compile, _int16, _io, _layer, _lstm, _model, _ops))]
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
        compile_model(model_path, firmware_as, cache, accels=attached, portable=portable)
    return elf


def model_report_of(model: Model, elf: Path, result):
    """``result`` of a run of ``elf`` with the model's profile and outputs, or with a warning when
    the inference did not complete."""
    if not result.ok:  # layers that never ran (or ran in part) would read as fast ones
        return dataclasses.replace(result, warnings=[*result.warnings, "no per-layer profile: the inference did "
                                                     "not run to completion"])
    outputs = outputs_of(model)
    records = output_records(outputs, unpack(outputs, result.symbol_data[OUTPUT_SYMBOL]))
    if result.cycles is None:  # a functional run (timing none): the outputs, no cycles to profile layers by
        return dataclasses.replace(result, outputs=records)
    layers = layer_report(model, result.functions, json.loads((elf.parent / OFFLOAD_FILE).read_text()))
    layer_energy(result, layers)
    report = model_report(model, layers)
    report["energy_uj"] = round(sum(r["energy_uj"] for r in layers), 9)  # one inference: the layers' sum
    return dataclasses.replace(result, layers=layers, model=report, outputs=records)


def io_symbols(model: Model, arrays: list[np.ndarray]) -> dict:
    """``Simulator.run`` arguments that put ``arrays`` into the build and read the outputs back."""
    return dict(write={INPUT_SYMBOL: pack(inputs_of(model), arrays)}, read=(OUTPUT_SYMBOL,))


def run_model(model_path: str | Path, core: str, *, accelerators=(), input_data: np.ndarray | None = None,
              seed: int = 0, portable: bool = False, **simulator_options):
    """Compile (cached) and run ``model_path`` once on ``input_data`` (the one input's array, or one
    per input; default: seeded random); the result carries ``layers`` (each with where it ran,
    ``offload``), ``model`` and ``outputs`` (each output tensor, docs/json.md) when the inference
    completes.
    ``accelerators`` are instances or specs as ``Simulator`` takes them (``conv:buffer_kib=8``): the
    firmware is compiled for them and runs with them attached."""
    from simmcu import Simulator

    attached = make_units(accelerators)
    model = load_model(model_path)
    arrays = as_inputs(model, input_data, seed)
    elf = model_elf(model_path, core, accels=attached, portable=portable)
    result = Simulator(elf, core=core, accelerators=attached, **simulator_options).run(**io_symbols(model, arrays))
    return model_report_of(model, elf, result)
