"""Firmware for simmcu: runtime, start-up code, linker script, examples and the build driver."""

from ._build import build, firmware_dir, strip_debug
from ._examples import EXAMPLES

__all__ = ["EXAMPLES", "build", "firmware_dir", "strip_debug"]
