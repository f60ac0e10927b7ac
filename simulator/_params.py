"""Typed parameters with a default, a unit and a one-line description.

Every configurable value of a board, a memory region or a core is declared as a
``Param`` so that TOML files are validated with errors that name the file and
key, and so that ``simmcu boards --params`` and the docs list every knob.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from ._errors import ConfigError

#: The package's own directory, where its data files (boards, profiles, the core table) live; a path,
#: not ``importlib.resources``, whose import (tempfile, zipfile, ...) would cost every command more than
#: reading them does.
PACKAGE_DIR = Path(__file__).parent

REQUIRED = object()
#: Every cycle count a file gives (per instruction, per access, per event) is below this, so sums
#: over any run stay far inside the int64 counters; no real core needs 2**20 cycles for one step.
MAX_CYCLES = 1 << 20


def cycles_in_range(v: int) -> bool:
    return 0 <= v < MAX_CYCLES


#: Run limits: the instruction counter is an int64 whose largest value means "no limit", and Unicorn
#: takes the time left in whole microseconds (uint64); 1e9 s is 31 years.
MAX_INSTRUCTIONS = 1 << 62
MAX_TIMEOUT = 1e9


def check_run_limits(max_instructions: int | None, timeout: float | None) -> None:
    """``max_instructions`` in [1, 2**62], ``timeout`` a finite number of seconds in (0, 1e9], or None."""
    if max_instructions is not None and not 1 <= max_instructions <= MAX_INSTRUCTIONS:
        raise ConfigError(f"max_instructions {max_instructions} is out of range (1 to 2**62)")
    if timeout is not None and not 0 < timeout <= MAX_TIMEOUT:  # also refuses nan
        raise ConfigError(f"timeout {timeout} is out of range (a number of seconds above 0, at most {MAX_TIMEOUT:g})")

_SIZE_RE = re.compile(r"^\s*(\d+)\s*(B|KiB|MiB|GiB)?\s*$")
_SIZE_UNITS = {None: 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}

#: The units a Param may declare ("" for none): a fixed set, so listings and docs read alike and a
#: typo in a plug-in is caught when its class is defined. "address" prints in hex; "bytes" of a
#: 'size' param prints in KiB when it divides.
UNITS = ("", "address", "bits", "bytes", "bytes/cycle", "cycles", "Hz", "KiB", "line", "lines", "PEs", "ways",
         # energy and area models (docs/energy.md)
         "pJ/MAC", "pJ/op", "pJ/byte", "nW/KiB", "uA/MHz", "V", "um2", "um2/PE", "um2/KiB")

_QUANTITY_RE = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(\S*)\s*$")


@dataclass(frozen=True)
class Param:
    """One configurable value: ``kind`` is int, str, bool, 'size', 'quantity' or a tuple of choices.

    A 'quantity' is a physical figure in the param's unit: a non-negative finite number, or a string
    with that unit (``"0.3 pJ/MAC"``), so a figure written in another unit is an error, not a silent
    thousandfold mistake."""

    default: Any
    unit: str
    doc: str
    kind: Any = int
    check: Callable[[Any], bool] | None = None

    def __post_init__(self):
        if self.unit not in UNITS:
            raise ConfigError(f"parameter unit {self.unit!r} is not one of {', '.join(repr(u) for u in UNITS)}")

    def format(self, value: Any) -> str:
        """``value`` as a user writes it in TOML or ``--accel``: hex addresses, KiB sizes, true/false."""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int) and self.unit == "address":
            return f"{value:#x}"
        if isinstance(value, int) and self.kind == "size" and value and value % 1024 == 0:
            return f"{value // 1024} KiB"
        if isinstance(value, str):
            return value or '""'
        return str(value)

    def convert(self, value: Any, where: str) -> Any:
        if self.kind == "quantity":
            return self._quantity(value, where)
        if self.kind == "size":
            if isinstance(value, str):
                m = _SIZE_RE.match(value)
                if not m:
                    raise ConfigError(f"{where}: size {value!r} is not like '64 KiB'")
                value = int(m.group(1)) * _SIZE_UNITS[m.group(2)]
            kind = int
        elif isinstance(self.kind, tuple):
            if value not in self.kind:
                raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(str, self.kind))}")
            return value
        else:
            kind = self.kind
        if kind is int and isinstance(value, bool) or not isinstance(value, kind):
            raise ConfigError(f"{where}: expected {getattr(kind, '__name__', kind)}, got {value!r}")
        if self.check is not None and not self.check(value):
            raise ConfigError(f"{where}: value {value!r} is out of range ({self.doc})")
        return value


    def _quantity(self, value: Any, where: str) -> float:
        if isinstance(value, str):
            m = _QUANTITY_RE.match(value)
            if not m:
                raise ConfigError(f"{where}: {value!r} is not a number of {self.unit} (like '1.5 {self.unit}')")
            if m.group(2) not in ("", self.unit):
                raise ConfigError(f"{where}: unit {m.group(2)!r} is not {self.unit!r}")
            value = float(m.group(1))
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number of {self.unit}, got {value!r}")
        if not 0 <= value < float("inf"):  # also refuses nan
            raise ConfigError(f"{where}: {value!r} {self.unit} is out of range (a figure of at least 0)")
        return float(value)


def apply_params(params: dict[str, Param], values: dict[str, Any], where: str) -> dict[str, Any]:
    """Validate ``values`` against ``params`` and fill in defaults."""
    unknown = sorted(set(values) - set(params))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (valid: {', '.join(params)})")
    out = {}
    for name, p in params.items():
        if name in values:
            out[name] = p.convert(values[name], f"{where}: {name}")
        elif p.default is REQUIRED:
            raise ConfigError(f"{where}: missing required key {name!r} ({p.doc})")
        else:
            out[name] = p.default
    return out


def describe(params: dict[str, Param]) -> list[tuple[str, str, str, str]]:
    """Rows of (name, default, unit, description) for listings and docs."""
    rows = []
    for name, p in params.items():
        default = "required" if p.default is REQUIRED else p.format(p.default)
        rows.append((name, default, p.unit, p.doc))
    return rows


def load_toml(path: Path | str, what: str) -> dict[str, Any]:
    """Read a TOML file, turning I/O and syntax errors into one-line ConfigErrors."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"cannot read {what} {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{what} {path} is not valid TOML: {e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{what} {path} is not UTF-8 text (byte {e.start})") from None
