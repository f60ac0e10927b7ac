"""The native hooks' machine code: compiled by Numba once, kept on disk, loaded without Numba.

Importing Numba takes most of a second and compiling ``_native``'s entry points several; a run
needs only the machine code of the few it uses. The first run that asks for an entry point
compiles it, links it (with the helpers it calls) into an object file and stores that in the
cache directory, named by the entry point and a hash of what the code depends on: the sources,
the versions of Numba, llvmlite, Unicorn and Python, Numba's settings and the host CPU. Later runs
map that object into memory themselves on x86-64 (``_objfile``; elsewhere llvmlite's MCJIT loads
it) and resolve its few external symbols: Unicorn's C API, Python's, and the C helpers of
Numba's error paths, taken from Numba's extension modules without importing the ``numba`` package.

The cache directory is ``_cachedir``'s.
"""

from __future__ import annotations

import builtins
import ctypes
import functools
import importlib.machinery
import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from unicorn.unicorn_py3 import unicorn as _ucmod

from ._cachedir import cache_dir, sha256, write_atomically
from ._objfile import ObjectFile, Unsupported, map_object
from ._state import CUSTOM_PENDING, MAX_UNITS, N_UNITS, UNIT_HOOK, UNIT_STATE

_LIB = _ucmod.uclib
_SOURCES = ("_native.py", "_state.py", "_latency.py", "_hooks.py")
COMPILING = "simmcu: compiling the native timing hooks (first run, cached afterwards)..."


@dataclass(frozen=True)
class EntryPoint:
    """A compiled function a run calls by address: a hook Unicorn calls, or a latency rule."""

    name: str
    address: int


class _EntryPoints(dict):
    """The entry points loaded so far, by name; a missing one is loaded from the cache, or compiled
    (and cached) when the cache has none, on first use."""

    def __missing__(self, name: str) -> EntryPoint:
        self[name] = entry = _load_or_compile(name)
        return entry


_loaded = _EntryPoints()
_keep_alive: list[object] = []  # the mappings, engines or Numba functions that own the loaded code
_compiled_here: list[str] = []  # the entry points this process compiled (it says so once)


def entry_points() -> dict[str, EntryPoint]:
    """``_native.HOOKS`` and the latency rules (``latency:<model>``), by name: each loaded (or compiled)
    on first use, once per process."""
    return _loaded


def latency_address(model_name: str) -> int:
    """The native rule of a latency model, as a site's instruction row holds it."""
    return entry_points()[f"latency:{model_name}"].address


def icache_flush(state: np.ndarray) -> None:
    """Look up the instruction lines of the run's last block (``_native.icache_flush``)."""
    ctypes.CFUNCTYPE(None, ctypes.c_void_p)(entry_points()["icache_flush"].address)(state.ctypes.data)


def cache_file(name: str) -> Path | None:
    """Where the object file of entry point ``name`` for this process's sources, versions and CPU is
    or would be kept (None when no cache directory is writable)."""
    folder = cache_dir()
    return None if folder is None else folder / f"simmcu-hooks-{_cache_key()}-{name.replace(':', '-')}.bin"


@functools.lru_cache(maxsize=None)
def _cache_key() -> str:
    import unicorn

    h = sha256()
    for name in _SOURCES:
        h.update(Path(__file__).with_name(name).read_bytes())
    for package in ("numba", "llvmlite"):  # their versions, without importing them
        h.update(Path(importlib.util.find_spec(package).submodule_search_locations[0], "_version.py").read_bytes())
    settings = sorted((k, v) for k, v in os.environ.items() if k.startswith("NUMBA_") and k != "NUMBA_CACHE_DIR")
    h.update(repr((unicorn.__version__, sys.version, _host_cpu(), settings)).encode())
    return h.hexdigest()[:20]


#: The lines of /proc/cpuinfo that name the CPU and its instruction set extensions (x86, Arm, RISC-V);
#: the others (its clock, its core's number) vary between runs on one machine.
_CPU_FIELDS = ("vendor_id", "cpu family", "model", "model name", "stepping", "flags", "CPU implementer",
               "CPU architecture", "CPU variant", "CPU part", "CPU revision", "Features", "isa", "uarch")


def _host_cpu() -> tuple:
    """What Numba compiled for: the CPU and its extensions, from /proc/cpuinfo's first CPU where there
    is one (as LLVM reads them, without loading LLVM), else as LLVM reports them."""
    try:
        first = Path("/proc/cpuinfo").read_text(errors="replace").split("\n\n")[0]
    except OSError:
        first = ""
    fields = [tuple(part.strip() for part in line.split(":", 1)) for line in first.splitlines() if ":" in line]
    known = tuple(f for f in fields if f[0] in _CPU_FIELDS)
    if known:
        return ("cpuinfo", os.uname().machine, known)
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    return ("llvm", llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten())


def _load_or_compile(name: str) -> EntryPoint:
    path = cache_file(name)
    if path is not None and path.exists():
        try:
            return _load(name, path.read_bytes())
        except (ValueError, KeyError, TypeError, RuntimeError):  # unreadable (a damaged file): compile it again
            path.unlink(missing_ok=True)
    if not _compiled_here:
        print(COMPILING if path is not None else COMPILING.replace("first run, cached afterwards",
                                                                  "no writable cache directory"),
              file=sys.stderr, flush=True)
    from . import _native

    compiled = _native.compile_entry_point(name)
    _compiled_here.append(name)
    _keep_alive.append(compiled)
    linked = _link({name: compiled}) if path is not None else None
    if linked is not None:
        meta, code = linked
        write_atomically(path, json.dumps(meta).encode() + b"\n" + code)  # on a full disk, not cached
    return EntryPoint(name, compiled.address)


def _link(compiled: dict) -> tuple[dict, bytes] | None:
    """One object file of compiled entry points, with what loading it needs to know (entry point
    -> symbol, the undefined symbols). None if it needs a symbol ``_resolve`` cannot find, or is not
    ELF (hosts other than Linux then compile on every run)."""
    import llvmlite.binding as llvm

    module = None
    symbols = {}
    for name, f in compiled.items():
        part = llvm.parse_bitcode(f._library._get_module_for_linking().as_bitcode())
        part.get_function(f.native_name).linkage = "external"  # the rest may be merged or dropped
        symbols[name] = f.native_name
        if module is None:
            module = part
        else:
            module.link_in(part)
    code = next(iter(compiled.values()))._library._codegen._tm.emit_object(module)  # Numba's own target
    try:
        undefined = ObjectFile(code).undefined()
    except Unsupported:
        return None
    if any(_resolve(name) is None for name in undefined):
        return None
    return dict(symbols=symbols, undefined=undefined), code


def _load(name: str, blob: bytes) -> EntryPoint:
    """Entry point ``name`` from its cache file (``_load_or_compile``): a JSON line (entry point ->
    symbol, the undefined symbols), then the object file, mapped by ``_objfile`` where it can, else
    loaded by MCJIT."""
    header, _, code = blob.partition(b"\n")
    meta = json.loads(header)
    symbol = meta["symbols"][name]
    try:
        address = map_object(code, [symbol], _resolve, _keep_alive)[symbol]
    except Unsupported:
        address = _load_mcjit(code, meta)[symbol]
    return EntryPoint(name, address)


def _load_mcjit(code: bytes, meta: dict) -> dict[str, int]:
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    for name in meta["undefined"]:
        llvm.add_symbol(name, _resolve(name))
    target = llvm.Target.from_default_triple().create_target_machine()
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), target)
    engine.add_object_file(llvm.ObjectFileRef.from_data(code))
    engine.finalize_object()
    _keep_alive.append(engine)
    return {symbol: engine.get_function_address(symbol) for symbol in meta["symbols"].values()}


def _resolve(name: str) -> int | None:
    """The address of an external symbol of the compiled code, as Numba's JIT would bind it."""
    if name.startswith("uc_"):
        return ctypes.cast(getattr(_LIB, name), ctypes.c_void_p).value
    if name.startswith(("numba_", "NRT_")):
        return _numba_helpers().get(name)
    if name.startswith("PyExc_"):  # Numba's convention: the symbol is the exception object itself
        exc = getattr(builtins, name[len("PyExc_"):], None)
        return id(exc) if isinstance(exc, type) and issubclass(exc, BaseException) else None
    if name == "_Py_NoneStruct":
        return id(None)
    try:
        return ctypes.cast(getattr(ctypes.pythonapi, name), ctypes.c_void_p).value
    except AttributeError:
        return None


_helpers: dict[str, int] = {}


def _numba_helpers() -> dict[str, int]:
    """Numba's C helpers by the names its code calls them, from its extension modules ``_helperlib``
    and ``_nrt_python``, loaded without running the ``numba`` package (whose import is the cost this
    module avoids). Numba registers the same names for the same functions when it is imported."""
    if not _helpers:
        package = Path(importlib.util.find_spec("numba").submodule_search_locations[0])
        for prefix, module in (("numba_", "numba._helperlib"), ("NRT_", "numba.core.runtime._nrt_python")):
            loaded = sys.modules.get(module)
            if loaded is None:
                where = package.joinpath(*module.split(".")[1:])
                path = next(p for p in (where.with_name(where.name + s) for s in importlib.machinery.EXTENSION_SUFFIXES)
                            if p.exists())
                spec = importlib.util.spec_from_file_location(module, path)
                loaded = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(loaded)
                sys.modules.pop(module, None)  # a later `import numba` imports it its own way
            _helpers.update({prefix + k: v for k, v in loaded.c_helpers.items()})
    return _helpers


class NativeHooks:
    """Registers native hooks on one Unicorn instance and keeps them alive."""

    def __init__(self, uc):
        self._uc = uc
        self._handles: list[ctypes.c_size_t] = []
        self._keep: list[object] = []

    def add(self, hook, state: np.ndarray, kind: int, begin: int = 1, end: int = 0) -> ctypes.c_size_t:
        """Register ``hook`` (an ``EntryPoint``, or a unit's Numba ``cfunc``) for [begin, end]; begin >
        end means everywhere. Returns its handle."""
        handle = ctypes.c_size_t()
        err = _LIB.uc_hook_add(self._uc._uch, ctypes.byref(handle), kind,
                               ctypes.c_void_p(hook.address), ctypes.c_void_p(state.ctypes.data),
                               ctypes.c_uint64(begin), ctypes.c_uint64(end))
        if err:
            raise RuntimeError(f"uc_hook_add failed with Unicorn error {err}")
        self._handles.append(handle)
        self._keep.append(state)
        return handle

    def add_unit(self, machine: np.ndarray, hook, state: np.ndarray) -> None:
        """Let the block hook run the F_CUSTOM instructions of a unit with ``hook`` (HOOK_SIGNATURE) and ``state``."""
        k = machine[N_UNITS]
        if k >= MAX_UNITS:
            raise ValueError(f"at most {MAX_UNITS} units run custom instructions from the block hook")
        machine[UNIT_HOOK + k], machine[UNIT_STATE + k] = hook.address, state.ctypes.data
        machine[N_UNITS] = k + 1
        self._keep.append(state)

    def finish_custom(self, machine: np.ndarray) -> None:
        """Emulation stopped: a pending F_CUSTOM instruction that ran is run by its unit now (``finish_custom``)."""
        if machine[CUSTOM_PENDING]:
            finish = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)(entry_points()["finish_custom"].address)
            finish(self._uc._uch, machine.ctypes.data)

    def remove(self, handle: ctypes.c_size_t) -> None:
        """Unregister one hook ``add`` returned (a fast-forward's switch from counting to timing)."""
        _LIB.uc_hook_del(self._uc._uch, handle)
        self._handles.remove(handle)

    def close(self) -> None:
        for h in self._handles:
            _LIB.uc_hook_del(self._uc._uch, h)
        self._handles.clear()
        self._keep.clear()
