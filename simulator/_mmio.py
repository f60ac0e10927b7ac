"""A unit's register window as Unicorn maps it: a native read callback that answers a polled status itself.

While a job runs, firmware polls a status register thousands of times; each read through Python costs
tens of microseconds. A unit says which read is steady (``Accelerator.steady_read``: the value a
register reads, without side effects, until a cycle), and ``Devices`` fills this module's table; the
native callback then answers a read of that register while the block making it ends before that
cycle (so the read itself does too), counting it, and hands every other access to the Python
callback; ``SystemBus`` counts the reads it answered in a block before locating the next access
there. The table holds the machine state's field offsets, so nothing compiled here depends on
``_native``'s layout (the cached code stays valid when it changes).
"""

from __future__ import annotations

import ctypes

import numba
import numpy as np
from llvmlite import ir
from numba import carray, types
from numba.extending import intrinsic
from unicorn.unicorn_py3 import unicorn as _ucmod

from . import _state as nat

# The table: the Python read callback, the machine state and where its fields are, the steady read, then the
# reads answered: in all, and in the block execution (block start index and cycle) that answered the last one.
T_PYTHON, T_MACHINE, T_CYCLES_AT, T_BLOCK_S_AT, T_BLOCK_CYCLE_AT, T_ON, T_OFFSET, T_SIZE, T_VALUE, T_UNTIL, \
    T_COUNT, T_KEY_S, T_KEY_CYCLE, T_IN_BLOCK = range(14)
N_TABLE = 14

MMIO_READ = types.uint64(types.voidptr, types.uint64, types.uint32, types.CPointer(types.int64))


@intrinsic
def _call_python_read(typingctx, function, uc, offset, size, table):
    """Call the Python read callback (Unicorn's MMIO read signature) at address ``function``."""
    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        fnty = ir.FunctionType(i64, [ir.IntType(8).as_pointer(), i64, ir.IntType(32), i64.as_pointer()])
        return builder.call(builder.inttoptr(args[0], fnty.as_pointer()), list(args[1:]))
    return types.uint64(types.int64, types.voidptr, types.uint64, types.uint32, types.CPointer(types.int64)), codegen


@intrinsic
def _as_pointer(typingctx, address):
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(types.CPointer(types.int64)))
    return types.CPointer(types.int64)(types.int64), codegen


@numba.cfunc(MMIO_READ, nopython=True, cache=True)
def read_callback(uc, offset, size, table_ptr):
    t = carray(table_ptr, N_TABLE)
    if t[T_ON] and np.int64(offset) == t[T_OFFSET] and np.int64(size) == t[T_SIZE]:
        m = _as_pointer(t[T_MACHINE])
        if m[t[T_CYCLES_AT]] < t[T_UNTIL]:  # the block ends before the read stops being steady
            s, cycle = m[t[T_BLOCK_S_AT]], m[t[T_BLOCK_CYCLE_AT]]
            if s != t[T_KEY_S] or cycle != t[T_KEY_CYCLE]:
                t[T_KEY_S], t[T_KEY_CYCLE], t[T_IN_BLOCK] = s, cycle, 0
            t[T_IN_BLOCK] += 1
            t[T_COUNT] += 1
            return np.uint64(t[T_VALUE])
    return _call_python_read(t[T_PYTHON], uc, offset, size, table_ptr)


_LIB = _ucmod.uclib
_READ = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint, ctypes.c_void_p)


class SteadyWindow:
    """One unit's window mapped with ``read_callback`` in front of its Python read handler."""

    def __init__(self, uc, machine_state: np.ndarray, base: int, size: int, read, write_cb):
        from unicorn.unicorn_py3.unicorn import MMIO_WRITE_CFUNC, uccallback

        self.table = np.zeros(N_TABLE, np.int64)
        t = self.table
        self._python = uccallback(uc, _READ)(lambda uc_, offset, size_, user: read(uc_, offset, size_, None))
        t[T_PYTHON] = ctypes.cast(self._python, ctypes.c_void_p).value
        t[T_MACHINE] = machine_state.ctypes.data
        t[T_CYCLES_AT], t[T_BLOCK_S_AT], t[T_BLOCK_CYCLE_AT] = nat.CYCLES, nat.BLOCK_S, nat.BLOCK_START
        t[T_KEY_S] = -1
        self._machine = machine_state
        self._write = uccallback(uc, MMIO_WRITE_CFUNC)(lambda uc_, offset, size_, value, user:
                                                       write_cb(uc_, offset, size_, value, None))
        err = _LIB.uc_mmio_map(uc._uch, ctypes.c_uint64(base), ctypes.c_uint64(size),
                               ctypes.c_void_p(read_callback.address), ctypes.c_void_p(t.ctypes.data),
                               ctypes.cast(self._write, ctypes.c_void_p), ctypes.c_void_p(0))
        if err:
            raise RuntimeError(f"uc_mmio_map failed with Unicorn error {err}")
        uc._mmio_callbacks[(base, base + size)] = (self._python, self._write)  # kept alive with the Uc

    def answered(self) -> int:
        """Reads answered natively since the last call."""
        n = int(self.table[T_COUNT])
        self.table[T_COUNT] = 0
        return n

    def in_block(self, block: tuple[int, int]) -> list[int]:
        """Sizes of the reads answered natively in the block execution ``block`` (start index, start cycle) and
        not yet taken."""
        t = self.table
        if t[T_IN_BLOCK] == 0 or (t[T_KEY_S], t[T_KEY_CYCLE]) != block:
            return []
        n = int(t[T_IN_BLOCK])
        t[T_IN_BLOCK] = 0
        return [int(t[T_SIZE])] * n

    def arm(self, steady) -> None:
        """Answer the read ``steady`` (offset, size, value, until cycle) natively from now on; None: none."""
        t = self.table
        if steady is None:
            t[T_ON] = 0
            return
        t[T_OFFSET], t[T_SIZE], t[T_VALUE], t[T_UNTIL] = steady
        t[T_ON] = 1
