"""The native side of custom-instruction units: the ``cfu``'s operations and the hooks that run them.

Imported when a run attaches a unit (``CustomInstructionUnit.native_hook``) or a unit of one's
own builds its hook with ``make_hook``; listing units never loads Numba.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import carray, types

from simmcu import _native as nat

from .cfu import (ACC, ACT_MAX, ACT_MIN, HEADER, IN_OFFSET, LANES, MACHINE, MULT, N_SFIELDS, N_SITES, OFF_COUNTS,
                  OFF_LATENCY, OFF_SITES, OP_MAC4, OP_MACL, OP_READ, OP_REQUANT, OP_RESET, OP_RESULT, OP_SET,
                  OP_SET_OFFSET,
                  OUT_ZP, PC_REG, RESULT, S_ADDR, S_NEXT, S_OP, S_RA, S_RB, S_RD, S_SEL, SHIFT, SINGLE_ROUNDING,
                  STALLS, COUNT)

#: simmcu._native's SOURCE_FINGERPRINT this file was last checked against (tests/test_accelerators.py
#: says when to update it): on a mismatch nothing here is cached, so an edit there cannot leave
#: stale compiled state offsets behind.

BUILT_AGAINST = "ca4ad7c08d7602e7"
_CACHE = BUILT_AGAINST == nat.SOURCE_FINGERPRINT


@numba.njit(cache=_CACHE)
def _s8(v, lane):
    b = (v >> (8 * lane)) & 0xFF
    return b - 256 if b >= 128 else b


@numba.njit(cache=_CACHE)
def _wrap32(v):
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


@numba.njit(cache=_CACHE)
def requantize(x, mult, shift, single_rounding):
    """TFLite MultiplyByQuantizedMultiplier on one int32 value as firmware/reference.py computes it:
    one rounding (fully connected) or gemmlowp's two (convolutions)."""
    if single_rounding:
        total = 31 - shift
        return (x * mult + (np.int64(1) << (total - 1))) >> total
    if shift > 0:
        x = _wrap32(x << shift)
    ab = x * mult
    ab += (1 << 30) if ab >= 0 else 1 - (1 << 30)
    high = ab >> 31 if ab >= 0 else -((-ab) >> 31)
    right = -shift if shift < 0 else 0
    mask = (np.int64(1) << right) - 1
    threshold = (mask >> 1) + (1 if high < 0 else 0)
    return (high >> right) + (1 if (high & mask) > threshold else 0)


@numba.njit(cache=_CACHE)
def builtin_op(st, op, sel, a, b):
    if op == OP_MAC4:
        off = st[IN_OFFSET]
        for lane in range(4):
            st[ACC] += (_s8(a, lane) + off) * _s8(b, lane)
        st[ACC] = _wrap32(st[ACC])
        return st[ACC]
    if op == OP_MACL:
        off, lanes = st[IN_OFFSET], st[LANES:LANES + 4]
        for lane in range(4):
            lanes[lane] = _wrap32(lanes[lane] + (_s8(a, lane >> sel) + off) * _s8(b, lane))
        return 0
    if op == OP_READ:
        return st[LANES + sel - 1] if 1 <= sel <= 4 else st[ACC]
    if op == OP_RESET:
        if sel == 1 or sel == 2:
            st[LANES + 2 * sel - 2], st[LANES + 2 * sel - 1] = _wrap32(a), _wrap32(b)
        else:
            st[ACC] = _wrap32(a)
        return 0
    if op == OP_SET_OFFSET:
        st[IN_OFFSET] = _wrap32(a)
        return 0
    if op == OP_REQUANT:
        v = requantize(_wrap32(a), st[MULT], st[SHIFT], st[SINGLE_ROUNDING]) + st[OUT_ZP]
        return max(st[ACT_MIN], min(st[ACT_MAX], v))
    if op == OP_SET and 0 <= sel <= 5:
        st[MULT + sel] = _wrap32(a)
        return 0
    return 0


#: Signature of a unit's instruction hook: ``numba.cfunc(HOOK_SIGNATURE)(make_hook(op))``.
HOOK_SIGNATURE = types.void(types.voidptr, types.uint64, types.uint32, types.CPointer(types.int64))


@numba.njit(cache=_CACHE)
def _site(st_ptr, address):
    """The unit's state and the site row of its instruction at ``address`` (-1: none, or it does not
    run now because the block hook stopped before it), with the instruction's two operands."""
    hdr = carray(st_ptr, HEADER)
    st = carray(st_ptr, hdr[OFF_SITES] + N_SFIELDS * hdr[N_SITES])
    lo, hi = 0, st[N_SITES] - 1
    site = -1
    while lo <= hi:
        mid = (lo + hi) // 2
        at = st[OFF_SITES] + N_SFIELDS * mid
        if st[at + S_ADDR] == address:
            site = at
            break
        if st[at + S_ADDR] < address:
            lo = mid + 1
        else:
            hi = mid - 1
    return st, site


@numba.njit(cache=_CACHE)
def _operands(uc, st, site):
    machine = st[MACHINE]
    a = nat.read_register(uc, machine, st[site + S_RA]) if st[site + S_RA] >= 0 else np.int64(0)
    b = nat.read_register(uc, machine, st[site + S_RB]) if st[site + S_RB] >= 0 else np.int64(0)
    return a, b


@numba.njit(cache=_CACHE)
def _complete(uc, st, site, op, result):
    """Write the result, skip the instruction Unicorn would trap on, count it and charge its latency."""
    machine = st[MACHINE]
    if op != OP_RESULT:
        st[RESULT] = result
    if st[site + S_RD] >= 0:
        nat.write_register(uc, machine, st[site + S_RD], result & 0xFFFFFFFF)
    if st[site + S_NEXT] >= 0:  # else Unicorn runs a branch to the next instruction in its place
        nat.write_register(uc, machine, st[PC_REG], st[site + S_NEXT])
    latency = st[OFF_LATENCY + op]
    st[COUNT] += 1
    st[OFF_COUNTS + op] += 1
    if latency:
        st[STALLS] += latency
        nat.charge_accelerator(nat.machine_state(machine), latency, st[site + S_ADDR])


@numba.njit(cache=_CACHE)
def _runs_now(st, site):
    return site >= 0 and not nat.stopped_before(nat.machine_state(st[MACHINE]))


def make_hook(op):
    """The native instruction hook of a unit whose operations ``op(state, op, sel, a, b)`` runs. A closure
    over ``op``: Numba compiles it in every process (about a second); the bundled unit's
    ``builtin_hook`` is written out so that its compiled code is cached on disk."""
    def hook(uc, address, size, st_ptr):
        st, site = _site(st_ptr, np.int64(address))
        if not _runs_now(st, site):
            return
        k = st[site + S_OP]
        a, b = _operands(uc, st, site)
        _complete(uc, st, site, k, st[RESULT] if k == OP_RESULT else op(st, k, st[site + S_SEL], a, b))
    return hook


@numba.cfunc(HOOK_SIGNATURE, nopython=True, cache=_CACHE)
def builtin_hook(uc, address, size, st_ptr):
    """``make_hook(builtin_op)``, written out (see make_hook)."""
    st, site = _site(st_ptr, np.int64(address))
    if not _runs_now(st, site):
        return
    k = st[site + S_OP]
    a, b = _operands(uc, st, site)
    _complete(uc, st, site, k, st[RESULT] if k == OP_RESULT else builtin_op(st, k, st[site + S_SEL], a, b))
