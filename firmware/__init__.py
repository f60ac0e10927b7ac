"""Firmware for simmcu: runtime, start-up code, linker script, examples, the build driver, and
the compiler from quantised .tflite models to C (``compile_model``, ``run_model``, and
``evaluate`` on a data set) with the types through which an accelerator takes layers
(``Layer``, ``LayerCode``, ``FirmwareSupport``)."""

from ._build import build, firmware_dir, strip_debug
from ._compile import compile_model
from ._deploy import model_elf, run_model
from ._eval import EvalResult, evaluate
from ._examples import EXAMPLES, example_elf
from ._io import read_input
from ._layer import FirmwareSupport, Layer, LayerCode, LayerTensor, c_array, c_struct
from ._model import ModelError, load_model

__all__ = ["EXAMPLES", "EvalResult", "build", "compile_model", "evaluate", "example_elf", "firmware_dir",
           "load_model", "model_elf", "ModelError", "read_input", "run_model", "strip_debug", "FirmwareSupport",
           "Layer", "LayerCode", "LayerTensor", "c_array", "c_struct"]
