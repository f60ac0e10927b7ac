"""Firmware for simmcu: runtime, start-up code, linker script, examples, the build driver, and
the compiler from quantised .tflite models to C (``compile_model``, ``run_model``, and
``evaluate`` on a data set) with the types through which an accelerator takes layers
(``Layer``, ``LayerCode``, ``FirmwareSupport``).

Each name is imported on first use (PEP 562): running a bundled example needs only
``example_elf``, not the model compiler and its TFLite schema."""

from simmcu._lazy import lazy_namespace

__all__ = ["EXAMPLES", "EvalResult", "build", "compile_model", "evaluate", "example_elf", "firmware_dir",
           "load_model", "model_elf", "ModelError", "read_input", "run_model", "strip_debug", "FirmwareSupport",
           "Layer", "LayerCode", "LayerTensor", "c_array", "c_struct"]

#: The module that defines each public name.
_HOME = {
    **dict.fromkeys(("build", "firmware_dir", "strip_debug"), "._build"),
    "compile_model": "._compile",
    **dict.fromkeys(("model_elf", "run_model"), "._deploy"),
    **dict.fromkeys(("EvalResult", "evaluate"), "._eval"),
    **dict.fromkeys(("EXAMPLES", "example_elf"), "._examples"),
    "read_input": "._io",
    **dict.fromkeys(("FirmwareSupport", "Layer", "LayerCode", "LayerTensor", "c_array", "c_struct"), "._layer"),
    **dict.fromkeys(("ModelError", "load_model"), "._model"),
}


__getattr__, __dir__ = lazy_namespace(__name__, _HOME)
