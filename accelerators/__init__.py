"""Accelerator models that plug into a run: the bundled ``conv`` coprocessor and third-party ones.

``simmcu accels`` lists what is available; ``--accel NAME[:param=value,...]`` (or a TOML file)
attaches one. docs/accelerators.md documents the interface and each model.
"""

from ._base import COMMON_PARAMS, Accelerator, Bus, Invocation
from ._registry import GROUP, accelerator_class, available, make_accelerator

__all__ = ["Accelerator", "Bus", "Invocation", "COMMON_PARAMS", "GROUP", "available", "accelerator_class",
           "make_accelerator"]
