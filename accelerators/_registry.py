"""Finding accelerator models through entry points, the bundled ones as any third-party one.

A package adds a model by declaring, in its metadata, an entry point in the group
``simmcu.accelerators`` whose name is the accelerator's name and whose object is its
``Accelerator`` subclass. simmcu's own ``conv`` and ``cfu`` are declared the same way (setup.cfg),
so its metadata must be installed (``pip install`` / ``pip install -e``) for them to be found.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from pathlib import Path

from simmcu._errors import ConfigError
from simmcu._params import load_toml

from ._base import Accelerator, parse_value

GROUP = "simmcu.accelerators"


def _load(target: str, name: str) -> type[Accelerator]:
    module, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"accelerator {name!r} cannot be loaded from {target}: {e}") from None
    if not (isinstance(cls, type) and issubclass(cls, Accelerator)):
        raise ConfigError(f"accelerator {name!r} ({target}) is not an Accelerator subclass")
    return cls


def available() -> dict[str, str]:
    """Accelerator names and where each comes from (module:class), sorted by name. A name two
    installed distributions declare is the one found first on sys.path."""
    found: dict[str, str] = {}
    for ep in entry_points(group=GROUP):
        found.setdefault(ep.name, ep.value)
    return dict(sorted(found.items()))


def accelerator_class(name: str) -> type[Accelerator]:
    known = available()
    if name not in known:
        raise ConfigError(f"unknown accelerator {name!r} (available: {', '.join(sorted(known))})")
    return _load(known[name], name)


def make_accelerator(spec: str) -> Accelerator:
    """``conv``, ``conv:pe_rows=8,pe_cols=8`` or a TOML file with ``name = "conv"`` and parameters."""
    if spec.endswith(".toml"):
        values = load_toml(Path(spec), "accelerator file")
        name = values.pop("name", None)
        if not isinstance(name, str):
            raise ConfigError(f"accelerator file {spec}: missing name = \"...\"")
        return accelerator_class(name)(**values)
    name, _, rest = spec.partition(":")
    cls = accelerator_class(name)
    params = cls.all_params()
    values = {}
    for item in filter(None, rest.split(",")):
        key, eq, text = item.partition("=")
        key = key.strip()
        if not eq:
            raise ConfigError(f"accelerator {name}: {item!r} is not NAME=VALUE")
        if key not in params:
            raise ConfigError(f"accelerator {name} has no parameter {key!r} (valid: {', '.join(params)})")
        values[key] = parse_value(params[key], text.strip(), f"accelerator {name}: {key}")
    return cls(**values)
