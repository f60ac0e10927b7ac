"""Where simmcu keeps what it computes once and reuses: the hooks' machine code (``_hooks``) and
loaded firmware images (``_elf``).

``$NUMBA_CACHE_DIR/simmcu`` when that is set (so that an empty ``NUMBA_CACHE_DIR`` means a cold
start, as for Numba's own cache), else the package's ``__pycache__``, else ``~/.cache/simmcu``.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

try:  # the interpreter's own SHA-256: hashlib's import loads OpenSSL, a few milliseconds of every run
    from _sha2 import sha256  # Python 3.12+
except ImportError:
    try:
        from _sha256 import sha256
    except ImportError:
        from hashlib import sha256

__all__ = ["cache_dir", "canonical", "sha256", "write_atomically"]


def cache_dir() -> Path | None:
    """The first candidate directory that exists or can be made and is writable; None if none is."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        candidates = [Path(os.environ["NUMBA_CACHE_DIR"]) / "simmcu"]
    else:
        xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        candidates = [Path(__file__).parent / "__pycache__", Path(xdg) / "simmcu"]
    for folder in candidates:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(folder, os.W_OK):
            return folder
    return None


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``path`` so that a concurrent reader sees the whole file or none; on a full disk, nothing."""
    partial = path.with_name(f"{path.name}.{os.getpid()}")
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    except OSError:
        partial.unlink(missing_ok=True)


def canonical(value: object) -> object:
    """``value`` (dataclasses, containers, scalars) as nested tuples whose ``repr`` is the same in every
    process: sets sorted, since their order follows string hashing, which differs per process."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return type(value).__name__, tuple((f.name, canonical(getattr(value, f.name))) for f in fields)
    if isinstance(value, (set, frozenset)):
        return "set", tuple(sorted((canonical(v) for v in value), key=repr))
    if isinstance(value, dict):
        return "dict", tuple(sorted(((canonical(k), canonical(v)) for k, v in value.items()), key=repr))
    if isinstance(value, (list, tuple)):
        return tuple(canonical(v) for v in value)
    return value
