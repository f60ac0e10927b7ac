"""Accelerator models that plug into a run: the bundled ``conv`` coprocessor and ``cfu`` unit, and
third-party ones, all found through the entry-point group ``simmcu.accelerators``.

``simmcu accels`` lists what is available; ``--accel NAME[:param=value,...]`` (or a TOML file)
attaches one. Everything a unit of one's own needs is exported here: the base classes and what
the machine gives a model (``Bus``, ``Invocation``), its waveform signals and job phases (``Signal``,
``Phase``), parameters (``Param``, ``ConfigError``), the
published figures its energy and area model may build on (``HOROWITZ_45NM``, ``MAC_ENERGY``...), the
custom-instruction hook (``HOOK_SIGNATURE``, ``make_hook``, ``STATE0``), and the model compiler's
seam (``Layer``, ``LayerCode``, ...). docs/accelerators.md documents the interface and each model.
"""

from simmcu._lazy import lazy_namespace

__all__ = [
    # a model and what the machine gives it
    "Accelerator", "Bus", "Invocation", "COMMON_PARAMS", "Param", "UNITS", "ConfigError",
    # what a timeline and a waveform show of it (Accelerator.signals, phases)
    "Signal", "Phase",
    # energy and area models (Accelerator.job_energy, static_power, area; docs/energy.md)
    "HOROWITZ_45NM", "sram_energy", "MAC_ENERGY", "MAC_AREA",
    # custom-instruction units (the hook's shape follows the engine; see cfu.py)
    "CustomInstructionUnit", "HOOK_SIGNATURE", "make_hook", "STATE0",
    # the model compiler's seam
    "Layer", "LayerTensor", "LayerCode", "FirmwareSupport", "c_array", "c_struct",
    # finding and attaching models
    "GROUP", "available", "accelerator_class", "make_accelerator",
]


#: The module that defines each public name: imported on first use (PEP 562), so that listing the
#: models (``available``) loads neither the model compiler nor, for ``HOOK_SIGNATURE`` and
#: ``make_hook``, Numba.
_HOME = {
    **dict.fromkeys(("HOROWITZ_45NM", "sram_energy"), "simmcu._energy"),
    "ConfigError": "simmcu._errors",
    **dict.fromkeys(("UNITS", "Param"), "simmcu._params"),
    **dict.fromkeys(("FirmwareSupport", "Layer", "LayerCode", "LayerTensor", "c_array", "c_struct"),
                    "simmcu.firmware._layer"),
    **dict.fromkeys(("COMMON_PARAMS", "MAC_AREA", "MAC_ENERGY", "Accelerator", "Bus", "Invocation", "Phase",
                     "Signal"), "._base"),
    **dict.fromkeys(("GROUP", "accelerator_class", "available", "make_accelerator"), "._registry"),
    **dict.fromkeys(("STATE0", "CustomInstructionUnit"), ".cfu"),
    **dict.fromkeys(("HOOK_SIGNATURE", "make_hook"), "._cfu_native"),
}


__getattr__, __dir__ = lazy_namespace(__name__, _HOME)
