"""Package namespaces whose public names are imported on first use (PEP 562)."""

from __future__ import annotations

import importlib
import sys
from typing import Callable


def lazy_namespace(package: str, homes: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, each of whose public names is defined in the
    module ``homes[name]`` (relative to the package or absolute): imported when first asked for, then
    kept in the package, so that importing the package costs nothing its user does not touch."""
    module = sys.modules[package]

    def __getattr__(name: str) -> object:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home, package), name)
        setattr(module, name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(module), *module.__all__})

    return __getattr__, __dir__
