"""Firmware for simmcu: runtime, start-up code, linker script, examples, the build driver, and
the compiler from quantised .tflite models to C (``compile_model``)."""

from ._build import build, firmware_dir, strip_debug
from ._compile import compile_model
from ._examples import EXAMPLES
from ._model import ModelError, load_model

__all__ = ["EXAMPLES", "build", "compile_model", "firmware_dir", "load_model", "ModelError", "strip_debug"]
