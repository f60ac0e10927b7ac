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
CODE_BASE = 13       #: first address covered by the IT table
CODE_BYTES = 14      #: bytes covered by the IT table (0: no table)
IT_LEFT = 15         #: instructions covered by the IT block being executed (0: none)
IT_SEEN = 16         #: of those, how many the hook saw (their condition passed)
IT_START = 17
IT_END = 18
NSLOTS = 19
# From NSLOTS on, one entry per code halfword: 0, or for an IT instruction
# (instructions covered) | (bytes to the end of its block) << 8.

NEVER = np.uint64(0xFFFF_FFFF_FFFF_FFFF)

_HOOK_SIG = types.void(types.voidptr, types.uint64, types.uint32, types.CPointer(types.uint64))


@numba.cfunc(_HOOK_SIG, nopython=True, cache=True)
def _count_hook(uc, address, size, state_ptr):
    st = carray(state_ptr, NSLOTS)
    st[PC] = address
    inside_it = False
    if st[IT_LEFT] != 0:
        if st[IT_START] <= address < st[IT_END]:
            inside_it = True
        else:  # left the block: its failed-condition instructions issued unseen
            skipped = st[IT_LEFT] - st[IT_SEEN]
            st[INSTRET] += skipped
            st[CYCLES] += skipped
            st[IT_LEFT] = 0
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
    if inside_it:
        st[IT_SEEN] += 1
    offset = address - st[CODE_BASE]
    if offset < st[CODE_BYTES]:
        table = carray(state_ptr, NSLOTS + st[CODE_BYTES] // 2)
        entry = table[NSLOTS + offset // 2]
        if entry != 0:
            st[IT_LEFT] = entry & 0xFF
            st[IT_SEEN] = 0
            st[IT_START] = address + 2
            st[IT_END] = address + (entry >> 8)


def new_state(it_sites=(), code_base: int = 0, code_bytes: int = 0) -> np.ndarray:
    """The shared state array; ``it_sites`` from ``isa.thumb.it_sites`` inside the code range."""
    st = np.zeros(NSLOTS + (code_bytes // 2 if it_sites else 0), dtype=np.uint64)
    st[STOP_AT_CYCLE] = NEVER
    st[STOP_AT_INSTRET] = NEVER
    if it_sites:
        st[CODE_BASE], st[CODE_BYTES] = code_base, code_bytes
        for addr, covered, span in it_sites:
            st[NSLOTS + (addr - code_base) // 2] = covered | span << 8
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
