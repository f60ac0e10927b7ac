"""Native (Numba ``@cfunc``) hooks that Unicorn calls without entering Python.

The per-instruction hook keeps the counters and stops emulation *before* an
instruction when an event is due (a timer, a limit, a pending interrupt whose
mask just changed). State lives in one ``uint64`` numpy array passed as the
hook's user data; Python reads and writes the same array between runs.

Unicorn's C entry points are bound by symbol name (not through ctypes
pointers) so that Numba can cache the compiled hook on disk.
"""

from __future__ import annotations

import ctypes

import llvmlite.binding as llvm
import numba
import numpy as np
from numba import carray, types
from unicorn.unicorn_py3 import unicorn as _ucmod

_LIB = _ucmod.uclib
llvm.load_library_permanently(_LIB._name)

_uc_emu_stop = types.ExternalFunction("uc_emu_stop", types.int32(types.voidptr))
_uc_reg_read = types.ExternalFunction(
    "uc_reg_read", types.int32(types.voidptr, types.int64, types.CPointer(types.uint64)))

# Slots of the shared state array.
SCRATCH = 0          #: buffer for uc_reg_read
INSTRET = 1          #: instructions executed
CYCLES = 2           #: modeled cycles
PC = 3               #: address of the instruction being executed
STOP_AT_CYCLE = 4    #: stop before an instruction once CYCLES reaches this (next event)
STOP_AT_INSTRET = 5  #: stop before an instruction once INSTRET reaches this (--max-instructions)
STOPPED = 6          #: set to 1 by the hook when it stopped emulation
WATCH = 7            #: nonzero: stop when register WATCH_REG0/1 differs from WATCH_VAL0/1
WATCH_REG0 = 8
WATCH_VAL0 = 9
WATCH_REG1 = 10
WATCH_VAL1 = 11
ISSUE_CYCLE = 12     #: CYCLES when the current instruction started (what a counter read returns)
NSLOTS = 13

NEVER = np.uint64(0xFFFF_FFFF_FFFF_FFFF)

_HOOK_SIG = types.void(types.voidptr, types.uint64, types.uint32, types.CPointer(types.uint64))


@numba.cfunc(_HOOK_SIG, nopython=True, cache=True)
def _count_hook(uc, address, size, state_ptr):
    st = carray(state_ptr, NSLOTS)
    st[PC] = address
    if st[CYCLES] >= st[STOP_AT_CYCLE] or st[INSTRET] >= st[STOP_AT_INSTRET]:
        st[STOPPED] = 1
        _uc_emu_stop(uc)
        return
    if st[WATCH] != 0:
        for k in range(2):
            st[SCRATCH] = 0
            _uc_reg_read(uc, st[WATCH_REG0 + 2 * k], state_ptr)
            if st[SCRATCH] != st[WATCH_VAL0 + 2 * k]:
                st[STOPPED] = 1
                _uc_emu_stop(uc)
                return
    st[ISSUE_CYCLE] = st[CYCLES]
    st[INSTRET] += 1
    st[CYCLES] += 1


def new_state() -> np.ndarray:
    st = np.zeros(NSLOTS, dtype=np.uint64)
    st[STOP_AT_CYCLE] = NEVER
    st[STOP_AT_INSTRET] = NEVER
    return st


class NativeHooks:
    """Registers native hooks on one Unicorn instance and keeps them alive."""

    def __init__(self, uc):
        self._uc = uc
        self._handles: list[ctypes.c_size_t] = []
        self._keep: list[object] = []

    def add_code_hook(self, state: np.ndarray, begin: int = 1, end: int = 0) -> None:
        """The counting hook on [begin, end]; begin > end means every instruction."""
        from unicorn import UC_HOOK_CODE

        handle = ctypes.c_size_t()
        err = _LIB.uc_hook_add(self._uc._uch, ctypes.byref(handle), UC_HOOK_CODE,
                               ctypes.c_void_p(_count_hook.address), ctypes.c_void_p(state.ctypes.data),
                               ctypes.c_uint64(begin), ctypes.c_uint64(end))
        if err:
            raise RuntimeError(f"uc_hook_add failed with Unicorn error {err}")
        self._handles.append(handle)
        self._keep.append(state)

    def close(self) -> None:
        for h in self._handles:
            _LIB.uc_hook_del(self._uc._uch, h)
        self._handles.clear()
        self._keep.clear()
