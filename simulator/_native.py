"""Native (Numba ``@cfunc``) hooks that Unicorn calls without entering Python.

``block_hook`` runs at the start of every basic block: it prices the block
from prefix sums built once per ELF (``_codemap``), adds what depends on how
the block was reached (taken transfer, interlock with the previous block's last
instruction, fetch wait states), follows calls and returns for the per-function
profile, tracks the stack's low-water mark and stops emulation *before* a block
when an event is due. ``latency_hook`` runs only at instructions with a
data-dependent latency (divides, serial shifts); ``watch_hook`` only after
instructions that may unmask an interrupt. ``memory_hook`` sees every data
access, and is installed only when asked for (exact memory traffic, a data
cache), because any memory hook takes Unicorn off its fast path. The
instruction cache is looked up per executed block range, one block late
(``icache_sync``), so that only instructions that really ran touch it.

All state lives in one ``int64`` numpy array passed as user data, laid out by
``_state``; Python reads and writes the same array between runs. The hooks are
plain functions here, listed in ``HOOKS`` with their C signatures: ``_hooks``
compiles them once, keeps their machine code on disk and loads it into later
processes without Numba. Unicorn's C entry points are bound by symbol name, so
that the code does not depend on where the library was loaded. Nothing here is
cached by Numba itself: its cache only notices edits to this file, not to the
layout in ``_state`` that the compiled code bakes in.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import llvmlite.binding as llvm
import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic
from unicorn.unicorn_py3 import unicorn as _ucmod

from ._latency import LATENCY_MODELS
from ._state import (
    ACCOUNTED, ACC_N, A_BYTES, A_CLOCK, A_DIRTY, A_INSN, A_LATE, A_OUTCOME, A_ROW, A_SLOT, A_STAMP, A_TAG, A_WAIT,
    A_WRITE, BLOCK_ADJ, BLOCK_ADJ_DUAL, BLOCK_ADJ_LU, BLOCK_BTAC, BLOCK_CALLED, BLOCK_DEPTH0, BLOCK_DYN, BLOCK_E,
    BLOCK_NODE0, BLOCK_PREV, BLOCK_PUSH_RET, BLOCK_S, BLOCK_START, BLOCK_TAKEN, CACHE_CLOCK, CODE_BASE, CODE_BYTES,
    CUR_NODE, CUSTOM_PENDING, CYCLES, DC_HITS, DC_MISSES, DC_SETS, DC_WAYS, DC_WRITEBACKS, DEPTH, DUAL, FETCH_SHIFT,
    FETCH_STREAM, FETCH_WAIT, F_CALL, F_CTRL, F_CUSTOM, F_IN_IT, F_JR, F_LOAD, F_MISALIGNED32, F_PREDICT, F_SIGNED,
    F_SINGLE, F_WATCH, HASH_MASK, H_ADDR_DEP, H_B2B_LOAD, H_JR_USE, H_LOAD_USE, H_MISALIGNED, IC_MISSES, IC_NODE,
    IC_PEND_E, IC_PEND_S, IC_SETS, IC_WAYS, INSTRET, I_ADDR, I_ALIGNED, I_AREGS, I_BTAC, I_ENTRY_DUAL, I_ENTRY_LU,
    I_ENTRY_MEM, I_FALL, I_FETCH, I_FLAGS, I_FUNC, I_LAT, I_LDEST, I_NOT_TAKEN, I_OPA, I_OPB, I_PREDICTED, I_READS,
    I_SPMIN, I_TAKEN, I_WRITES, K_ALIGNED, K_DEFER, K_HIGH, K_HOOKED, K_MOVE, K_SIGNED, K_SITE, LAST, LINES_ON,
    LINE_SHIFT, LOST_FRAMES, L_CYC, L_DUAL, L_STALLS, MAX_DEPTH, MAX_NODES, MIN_SP, N_AFIELDS, N_CALLS, N_CYC,
    N_FFIELDS, N_FUNC, N_FUNCS, N_IFIELDS, N_INS, N_LFIELDS, N_NFIELDS, N_NODES, N_PARENT, N_PLFIELDS, N_PREFIX,
    N_REGIONS, N_RFIELDS, N_UNITS, OFF_ACCESS, OFF_DC, OFF_HASH, OFF_IC, OFF_IDX, OFF_INSN, OFF_LINES, OFF_NODE,
    OFF_PLAN, OFF_PLANNED, OFF_PREFIX, OFF_REGION, OFF_RUNS, OFF_STACK, PC_REG, PLANNED_N, PLANNING, PLAN_DEFER,
    PLAN_PRICES, PLAN_REGS, PLAN_SPLIT, PLAN_UNALIGNED, PLAN_VALS, PL_BASE, PL_COUNT, PL_DEST, PL_DISP, PL_FIRST,
    PL_IMM, PL_INDEX, PL_KIND, PL_LOST, PL_NEXT, PL_OP, PL_RD, PL_SHIFT, PL_SHIFT2, PL_SIZE, PL_SRC, PL_SRC2, PL_WB,
    PL_WRITE, PREFETCH, PUSH_RET, P_CYC, P_DYN_SP, R_BASE, R_CACHEABLE, R_DEVICE, R_END, R_FILL, R_READS,
    R_READ_BYTES, R_READ_WAIT, R_WRITES, R_WRITE_BYTES, R_WRITE_WAIT, SCRATCH, SKIP_STOP_AT, SP_RECHECK, SP_REG,
    STACK_HI, STACK_LO, STALLS, STALL_ACCELERATOR, STALL_BRANCH, STALL_LOAD_USE, STALL_MEMORY, STALL_MULDIV,
    STOPPED, STOP_ADDR, STOP_AT_CYCLE, STOP_AT_INSTRET, STOP_EVENT, STOP_OUTSIDE, STOP_PLAN, STOP_SPLIT,
    STOP_UNALIGNED, STOP_WATCH, STOP_WATCH_INSN, S_NODE, S_RET, TAKEN_PAID, UNIT_HOOK, UNIT_STATE, WATCH, WATCH_REG,
    WATCH_VAL, XPSR_REG)

_LIB = _ucmod.uclib
llvm.load_library_permanently(_LIB._name)

_uc_emu_stop = types.ExternalFunction("uc_emu_stop", types.int32(types.voidptr))
_uc_reg_read = types.ExternalFunction(
    "uc_reg_read", types.int32(types.voidptr, types.int64, types.CPointer(types.int64)))
_uc_mem_read = types.ExternalFunction(
    "uc_mem_read", types.int32(types.voidptr, types.uint64, types.CPointer(types.int64), types.uint64))
_uc_reg_write = types.ExternalFunction(
    "uc_reg_write", types.int32(types.voidptr, types.int64, types.CPointer(types.int64)))

@intrinsic
def _call_latency(typingctx, function, a, b):
    """Call the native latency function at address ``function`` (``latency_function``) on a, b."""
    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        target = builder.inttoptr(args[0], ir.FunctionType(i64, [i64, i64]).as_pointer())
        return builder.call(target, [args[1], args[2]])
    return types.int64(types.int64, types.int64, types.int64), codegen


@intrinsic
def _call_unit_hook(typingctx, function, uc, address, state):
    """Call a unit's native instruction hook (HOOK_SIGNATURE) at address ``function`` for its instruction at
    ``address`` (4 bytes), with its state array at address ``state``."""
    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer(), i64, ir.IntType(32), i64.as_pointer()])
        target = builder.inttoptr(args[0], fnty.as_pointer())
        size = ir.Constant(ir.IntType(32), 4)
        builder.call(target, [args[1], args[2], size, builder.inttoptr(args[3], i64.as_pointer())])
        return context.get_dummy_value()
    return types.void(types.int64, types.voidptr, types.int64, types.int64), codegen


#: The content hash of this file and the layout (``_state``). Numba's on-disk cache only notices
#: changes to a function's own file, so cached code in another module that inlines these helpers
#: (accelerators/_cfu_native.py) would keep stale state offsets after an edit here: that module
#: caches only while its recorded hash matches.
SOURCE_FINGERPRINT = hashlib.sha256(b"".join(Path(__file__).with_name(name).read_bytes()
                                             for name in ("_native.py", "_state.py"))).hexdigest()[:16]
_XPSR_IT = 0x0600FC00  #: IT[1:0] in bits 26:25, IT[7:2] in bits 15:10
_FETCH = np.bool_(False)  #: not a write: a bool, not a literal, so that _cache_access compiles once


_HOOK_SIG = types.void(types.voidptr, types.uint64, types.uint32, types.CPointer(types.int64))
_MEM_HOOK_SIG = types.void(types.voidptr, types.int32, types.uint64, types.int32, types.int64,
                           types.CPointer(types.int64))
_UC_MEM_WRITE = 17


@numba.njit
def _child(st, parent, func):
    """The call-tree node for ``func`` called from ``parent`` (created on first use)."""
    key = parent * (st[N_FUNCS] + 1) + func + 1
    hoff = st[OFF_HASH]
    mask = st[HASH_MASK]
    h = (key * 0x9E3779B1) & mask
    while True:
        k = st[hoff + 2 * h]
        if k == key + 1:
            return st[hoff + 2 * h + 1]
        if k == 0:
            break
        h = (h + 1) & mask
    n = st[N_NODES]
    if n >= st[MAX_NODES]:
        return parent  # table full: charge the caller
    st[N_NODES] = n + 1
    base = st[OFF_NODE]
    st[base + n * N_NFIELDS + N_FUNC] = func
    st[base + n * N_NFIELDS + N_PARENT] = parent
    st[hoff + 2 * h] = key + 1
    st[hoff + 2 * h + 1] = n
    return n


@numba.njit
def _entry(st, p, i, seq):
    """(load_use, memory, dual) cycles instruction ``i`` pays after ``p`` (-1: none); see _timing.entry_cost."""
    ib = st[OFF_INSN]
    ri = ib + i * N_IFIELDS  # the records of i and p
    rp = ib + p * N_IFIELDS
    lu = 0
    mem = 0
    dual = st[ri + I_ENTRY_DUAL] if seq else 0
    if p >= 0:
        fp = st[rp + I_FLAGS]
        fi = st[ri + I_FLAGS]
        reads = st[ri + I_READS]
        ldest = st[rp + I_LDEST]
        if ldest & reads:
            lu += st[H_LOAD_USE]
        if fi & F_JR and st[rp + I_WRITES] & reads:
            lu += st[H_JR_USE]
        aregs = st[ri + I_AREGS]
        if fi & F_SINGLE and not fp & F_LOAD and st[rp + I_WRITES] & aregs:
            lu += st[H_ADDR_DEP]
        if fp & F_LOAD and fi & F_LOAD and not ldest & aregs:
            mem += st[H_B2B_LOAD]
    ws = st[FETCH_WAIT]
    if st[FETCH_STREAM]:
        if seq:
            mem += st[ri + I_FETCH]
    elif ws:
        sh = st[FETCH_SHIFT]
        a = st[ri + I_ADDR]
        first = a >> sh
        last = (st[ri + I_FALL] - 1) >> sh
        if seq:
            prev_line = (st[rp + I_FALL] - 1) >> sh
            new = last - max(first - 1, prev_line)
            if not st[PREFETCH] and new > 0:
                mem += new * ws
        else:
            mem += (last - first + 1) * ws
    return lu, mem, dual


@numba.njit
def _stop(uc, st, why, address):
    st[STOPPED] = why
    st[STOP_ADDR] = address
    _uc_emu_stop(uc)


@numba.njit
def _watched_changed(uc, st, st_ptr):
    if st[WATCH] == 0:
        return False
    for k in range(2):
        st[SCRATCH] = 0
        _uc_reg_read(uc, st[WATCH_REG + k], st_ptr)
        if (st[SCRATCH] & 0xFFFFFFFF) != st[WATCH_VAL + k]:
            return True
    return False


@numba.njit
def _charge_memory(st, node, cycles):
    """Add memory-stall cycles found at run time (cache misses, wait states) to the totals and ``node``."""
    st[CYCLES] += cycles
    st[STALL_MEMORY] += cycles
    st[st[OFF_NODE] + node * N_NFIELDS + N_CYC] += cycles


@numba.njit
def _line_charge(st, i, cycles, stall):
    """With lines on: ``cycles`` of header stall slot ``stall`` were caused by instruction ``i``."""
    at = st[OFF_LINES] + i * N_LFIELDS
    st[at + L_CYC] += cycles
    st[at + L_STALLS + stall - STALLS] += cycles


@numba.njit
def _line_block(st, p, s, taken, lu_extra, mem_extra, dual_adj):
    """With lines on: a block starting at ``s`` ran after ``p``, which pays the refill; ``s`` pays the
    entry cost beyond the static one (load-use, memory and dual-issue parts)."""
    lb = st[OFF_LINES]
    if taken:
        _line_charge(st, p, taken, STALL_BRANCH)
    _line_charge(st, s, lu_extra, STALL_LOAD_USE)
    _line_charge(st, s, mem_extra, STALL_MEMORY)
    st[lb + s * N_LFIELDS + L_CYC] += dual_adj
    st[lb + s * N_LFIELDS + L_DUAL] -= dual_adj


@numba.njit
def _insn_at_pc(uc, st, st_ptr):
    """Index of the instruction at Unicorn's PC (exact in memory hooks), else the last one accounted."""
    st[SCRATCH] = 0
    _uc_reg_read(uc, st[PC_REG], st_ptr)
    off = (st[SCRATCH] & 0xFFFFFFFE) - st[CODE_BASE]
    if 0 <= off < st[CODE_BYTES]:
        i = st[st[OFF_IDX] + (off >> 1)] - 1
        if i >= 0:
            return i
    return st[LAST]


@numba.njit
def _region_of(st, addr):
    for r in range(st[N_REGIONS]):
        row = st[OFF_REGION] + r * N_RFIELDS
        if st[row + R_BASE] <= addr < st[row + R_END]:
            return row
    return -1


@numba.njit
def _cache_access(st, off, sets, ways, line, write, undo):
    """Look ``line`` up in the LRU cache at ``off`` (tags, stamps, dirty bits); allocate it on a miss.
    Returns -1 on a hit, else the evicted line + 1 if it was dirty (0: nothing to write back). ``undo``
    >= 0: the ACCESS record that keeps what the slot held, so that the access can be taken back."""
    base = (line & (sets - 1)) * ways
    n = sets * ways
    if undo >= 0:
        st[undo + A_CLOCK] = st[CACHE_CLOCK]
    st[CACHE_CLOCK] += 1
    victim = 0
    for w in range(ways):
        k = base + w
        if st[off + k] == line + 1:
            if undo >= 0:
                _keep_slot(st, undo, off, n, k)
            st[off + n + k] = st[CACHE_CLOCK]
            if write:
                st[off + 2 * n + k] = 1
            return -1
        if st[off + n + k] < st[off + n + base + victim]:
            victim = w
    k = base + victim
    if undo >= 0:
        _keep_slot(st, undo, off, n, k)
    dirty = st[off + k] if st[off + 2 * n + k] else 0
    st[off + k] = line + 1
    st[off + n + k] = st[CACHE_CLOCK]
    st[off + 2 * n + k] = 1 if write else 0
    return dirty


@numba.njit
def _keep_slot(st, undo, off, n, k):
    st[undo + A_SLOT] = k
    st[undo + A_TAG] = st[off + k]
    st[undo + A_STAMP] = st[off + n + k]
    st[undo + A_DIRTY] = st[off + 2 * n + k]


@numba.njit
def icache_sync(st):
    """Look up the lines of the instructions that ran since the last call; charge misses."""
    s, e = st[IC_PEND_S], st[IC_PEND_E]
    if st[IC_SETS] == 0 or s >= e:
        return
    st[IC_PEND_S] = e
    ib = st[OFF_INSN]
    shift = st[LINE_SHIFT]
    first = st[ib + s * N_IFIELDS + I_ADDR] >> shift
    last = (st[ib + (e - 1) * N_IFIELDS + I_FALL] - 1) >> shift
    if st[LINES_ON]:  # the same lines in the same order, each charged to the first instruction on it
        line = first
        for i in range(s, e):
            upto = (st[ib + i * N_IFIELDS + I_FALL] - 1) >> shift
            while line <= upto:
                fill = _icache_line(st, line, shift)
                if fill:
                    _line_charge(st, i, fill, STALL_MEMORY)
                line += 1
        return
    for line in range(first, last + 1):
        _icache_line(st, line, shift)


@numba.njit
def _icache_line(st, line, shift):
    """Look one instruction line up; on a miss count it and charge its fill, which is returned."""
    row = _region_of(st, line << shift)
    if row < 0 or not st[row + R_CACHEABLE]:
        return 0
    if _cache_access(st, st[OFF_IC], st[IC_SETS], st[IC_WAYS], line, _FETCH, -1) < 0:
        return 0
    st[IC_MISSES] += 1
    _charge_memory(st, st[IC_NODE], st[row + R_FILL])
    return st[row + R_FILL]


@numba.njit
def _block_range(uc, st, addr, size):
    """The instructions [s, e) of the block of ``size`` bytes at ``addr``; (-1, -1) after stopping
    emulation when it is not decoded code (outside the ELF's executable sections)."""
    off = addr - st[CODE_BASE]
    end = off + np.int64(size)
    if off < 0 or end > st[CODE_BYTES]:
        _stop(uc, st, STOP_OUTSIDE, addr)
        return -1, -1
    ix = st[OFF_IDX]
    s = st[ix + (off >> 1)] - 1
    e = st[ix + (end >> 1)] - 1
    if s < 0 or e <= s:
        _stop(uc, st, STOP_OUTSIDE, addr)
        return -1, -1
    return s, e


@numba.njit
def _run_custom(uc, st, at):
    """The F_CUSTOM instruction pending ran if execution went on at its successor ``at``: its unit runs it now."""
    ri = st[OFF_INSN] + (st[CUSTOM_PENDING] - 1) * N_IFIELDS
    st[CUSTOM_PENDING] = 0
    if st[ri + I_FALL] == at:
        for k in range(st[N_UNITS]):  # each unit's hook ignores what is not its instruction
            _call_unit_hook(st[UNIT_HOOK + k], uc, st[ri + I_ADDR], st[UNIT_STATE + k])


def finish_custom(uc, st_ptr):
    """After emulation stopped: run the pending F_CUSTOM instruction if it ran (PC is at its successor)."""
    st = st_ptr
    st[SCRATCH] = 0
    _uc_reg_read(uc, st[PC_REG], st_ptr)
    _run_custom(uc, st, st[SCRATCH] & 0xFFFFFFFE)


@numba.njit
def _count_traffic(st, row, nbytes, write):
    if write:
        st[row + R_WRITES] += 1
        st[row + R_WRITE_BYTES] += nbytes
    else:
        st[row + R_READS] += 1
        st[row + R_READ_BYTES] += nbytes


@numba.njit
def _line_cycles(st, row, line, write, undo):
    """One data-cache line looked up for an access to region ``row``: its miss and write-back cycles."""
    evicted = _cache_access(st, st[OFF_DC], st[DC_SETS], st[DC_WAYS], line, write, undo)
    if evicted < 0:
        st[DC_HITS] += 1
        if undo >= 0:
            st[undo + A_OUTCOME] = 1
        return 0
    st[DC_MISSES] += 1
    cycles = st[row + R_FILL]
    if undo >= 0:
        st[undo + A_OUTCOME] = 2
    if evicted > 0:
        st[DC_WRITEBACKS] += 1
        if undo >= 0:
            st[undo + A_OUTCOME] = 3
        victim = _region_of(st, (evicted - 1) << st[LINE_SHIFT])
        cycles += st[victim + R_FILL] if victim >= 0 else 0
    return cycles


def memory_hook(uc, kind, address, size, value, st_ptr):
    """Every data access: traffic by board region, then its wait states, or the data cache's verdict."""
    st = st_ptr
    addr = np.int64(address)
    nbytes = np.int64(size)
    row = _region_of(st, addr)
    if row < 0:
        return
    write = kind == _UC_MEM_WRITE
    _count_traffic(st, row, nbytes, write)
    if st[DC_SETS] == 0 or not st[row + R_CACHEABLE]:
        cycles = st[row + R_WRITE_WAIT] if write else st[row + R_READ_WAIT]
    else:
        cycles = 0
        shift = st[LINE_SHIFT]
        for line in range(addr >> shift, ((addr + nbytes - 1) >> shift) + 1):
            cycles += _line_cycles(st, row, line, write, -1)
    if cycles:
        _charge_memory(st, st[CUR_NODE], cycles)
        st[BLOCK_DYN] += cycles  # later instructions of the block start this much later
        if st[LINES_ON]:
            _line_charge(st, _insn_at_pc(uc, st, st_ptr), cycles, STALL_MEMORY)


# -- access plans: exact memory and the data cache without a memory hook ---------------------
@numba.njit
def _price_access(uc, st, st_ptr, i, addr, nbytes, write, late):
    """One data access of instruction ``i``, priced as ``memory_hook`` prices it, with ACCESS records (one
    per cache line looked up) so that it can be taken back. ``late``: it is running now (access_hook)."""
    row = _region_of(st, addr)
    if row < 0:
        return
    _count_traffic(st, row, nbytes, write)
    cached = st[DC_SETS] != 0 and st[row + R_CACHEABLE] != 0
    shift = st[LINE_SHIFT]
    first, last = (addr >> shift, (addr + nbytes - 1) >> shift) if cached else (0, 0)
    for line in range(first, last + 1):
        rec = st[OFF_ACCESS] + st[ACC_N] * N_AFIELDS
        st[ACC_N] += 1
        st[rec + A_INSN] = i
        st[rec + A_ROW] = row
        st[rec + A_WRITE] = write
        st[rec + A_BYTES] = nbytes if line == first else 0
        st[rec + A_LATE] = late
        st[rec + A_SLOT] = -1
        st[rec + A_OUTCOME] = 0
        if cached:
            cycles = _line_cycles(st, row, line, write, rec)
        else:
            cycles = st[row + R_WRITE_WAIT] if write else st[row + R_READ_WAIT]
        st[rec + A_WAIT] = cycles
        if cycles:
            _charge_memory(st, st[CUR_NODE], cycles)
            if late:
                st[BLOCK_DYN] += cycles
            if st[LINES_ON]:
                _line_charge(st, i, cycles, STALL_MEMORY)


@numba.njit
def _price_site(uc, st, st_ptr, i, r, addr, late):
    """The accesses of the load or store ``i`` (PLAN record ``r``) at address ``addr``."""
    size = st[r + PL_SIZE]
    at = addr + st[r + PL_FIRST]
    for k in range(st[r + PL_COUNT]):
        _price_access(uc, st, st_ptr, i, (at + k * size) & 0xFFFFFFFF, size, st[r + PL_WRITE], late)


@numba.njit
def _plan_value(uc, st, st_ptr, reg, have):
    """Register ``reg``'s value at the block's start (read once per block); returns the new ``have`` mask."""
    bit = np.int64(1) << reg
    if have & bit:
        return have
    st[SCRATCH] = 0
    _uc_reg_read(uc, st[PLAN_REGS + reg], st_ptr)
    st[PLAN_VALS + reg] = st[SCRATCH] & 0xFFFFFFFF
    return have | bit


@numba.njit
def _plan_block(uc, st, st_ptr, s, e):
    """Work out the addresses of the data accesses of block [s, e) from the registers at its start (the
    PLANNED pairs), following the values the block gives its address registers: moves, additions,
    write-backs, and values loaded from memory no earlier store of the block overlaps. Returns the first
    site it cannot plan (a predicated one, one whose address needs a value it cannot follow, or one whose
    base is not aligned as it must be: PLAN_UNALIGNED), else ``e``: ``access_hook`` does that site and
    the rest as they run."""
    pb = st[OFF_PLAN]
    planned = st[OFF_PLANNED]
    n = 0
    st[PLAN_UNALIGNED] = 0
    have = np.int64(0)   # registers whose value at this point is in PLAN_VALS
    dirty = np.int64(0)  # registers whose value the plan lost
    j = st[pb + s * N_PLFIELDS + PL_NEXT]
    while j < e:
        r = pb + j * N_PLFIELDS
        kind = st[r + PL_KIND]
        loaded = -1
        if kind & K_SITE:
            base = st[r + PL_BASE]
            index = st[r + PL_INDEX]
            if kind & K_DEFER or (_bit(base) | _bit(index)) & dirty:
                break
            addr = st[r + PL_DISP]
            if base >= 0:
                have = _plan_value(uc, st, st_ptr, base, have)
                addr += st[PLAN_VALS + base]
            if index >= 0:
                have = _plan_value(uc, st, st_ptr, index, have)
                addr += st[PLAN_VALS + index] << st[r + PL_SHIFT]
            addr &= 0xFFFFFFFF
            if kind & K_ALIGNED and st[PLAN_VALS + base] & 3:
                st[PLAN_UNALIGNED] = 1  # the core faults here
                break
            dest = st[r + PL_DEST]
            at = planned + 3 * n
            st[at] = j
            st[at + 1] = addr
            st[at + 2] = -1
            if dest >= 0 and st[r + PL_WRITE] and not _bit(dest) & dirty:
                have = _plan_value(uc, st, st_ptr, dest, have)
                st[at + 2] = st[PLAN_VALS + dest]
            if base >= 0 and st[r + PL_WB] != 0:
                st[PLAN_VALS + base] = (st[PLAN_VALS + base] + st[r + PL_WB]) & 0xFFFFFFFF
            if dest >= 0 and not st[r + PL_WRITE] and _loaded_value(uc, st, st_ptr, addr, st[r + PL_SIZE], n):
                value = st[SCRATCH] & ((np.int64(1) << (8 * st[r + PL_SIZE])) - 1)
                if kind & K_SIGNED and value >> (8 * st[r + PL_SIZE] - 1):
                    value -= np.int64(1) << (8 * st[r + PL_SIZE])
                st[PLAN_VALS + dest] = value & 0xFFFFFFFF
                loaded = dest
            n += 1
        if kind & K_MOVE:
            rd = st[r + PL_RD]
            src = st[r + PL_SRC]
            src2 = st[r + PL_SRC2]
            bit = _bit(rd)
            needs = bit if kind & K_HIGH else _bit(src) | _bit(src2)  # MOVT keeps rd's low half
            if needs & dirty:
                dirty |= bit
            else:
                if kind & K_HIGH:
                    have = _plan_value(uc, st, st_ptr, rd, have)
                    value = (st[PLAN_VALS + rd] & 0xFFFF) | st[r + PL_IMM]
                else:
                    b = st[r + PL_IMM]
                    if src2 >= 0:
                        have = _plan_value(uc, st, st_ptr, src2, have)
                        b += st[PLAN_VALS + src2] << st[r + PL_SHIFT2]
                    a = np.int64(0)
                    if src >= 0:
                        have = _plan_value(uc, st, st_ptr, src, have)
                        a = st[PLAN_VALS + src]
                    value = _apply(st[r + PL_OP], a, b & 0xFFFFFFFF)
                st[PLAN_VALS + rd] = value & 0xFFFFFFFF
                have |= bit
                dirty &= ~bit
        dirty |= st[r + PL_LOST]
        if loaded >= 0:
            dirty &= ~_bit(loaded)
            have |= _bit(loaded)
        j = st[pb + (j + 1) * N_PLFIELDS + PL_NEXT]
    st[PLANNED_N] = n
    return min(j, e)


@numba.njit
def _loaded_value(uc, st, st_ptr, addr, size, upto):
    """Put in SCRATCH what a load of ``size`` bytes at ``addr`` will get: the value the block's last store
    there among its first ``upto`` planned sites stored, if it wrote exactly these bytes from a known
    register, else memory as it is now, if no such store overlaps them. False where it is not known (device
    registers, unaligned, a store of another width or an unknown value, a device written in between)."""
    row = _region_of(st, addr)
    if row < 0 or st[row + R_DEVICE] or addr & (size - 1):
        return False
    planned = st[OFF_PLANNED]
    pb = st[OFF_PLAN]
    for k in range(upto - 1, -1, -1):  # the last store that overlaps it decides
        r = pb + st[planned + 3 * k] * N_PLFIELDS
        if not st[r + PL_WRITE]:
            continue
        lo = st[planned + 3 * k + 1] + st[r + PL_FIRST]
        hi = lo + st[r + PL_COUNT] * st[r + PL_SIZE]
        if lo < addr + size and addr < hi:
            if lo != addr or hi != addr + size or st[planned + 3 * k + 2] < 0:
                return False
            st[SCRATCH] = st[planned + 3 * k + 2]
            return True
        other = _region_of(st, lo)
        if other >= 0 and st[other + R_DEVICE]:  # a device may change memory when written
            return False
    st[SCRATCH] = 0
    return _uc_mem_read(uc, addr, st_ptr, size) == 0


@numba.njit
def _price_planned(uc, st, st_ptr):
    """Price the accesses of the PLANNED sites, in program order."""
    st[ACC_N] = 0
    planned = st[OFF_PLANNED]
    for k in range(st[PLANNED_N]):
        j = st[planned + 3 * k]
        _price_site(uc, st, st_ptr, j, st[OFF_PLAN] + j * N_PLFIELDS, st[planned + 3 * k + 1], 0)


@numba.njit
def _apply(op, a, b):
    """``a OP b`` on 32-bit values, OP numbered as isa.insn.MOVE_OPS."""
    if op == 0:
        return a + b
    if op == 1:
        return a - b
    if op == 2:
        return a & b
    if op == 3:
        return a | b
    if op == 4:
        return a ^ b
    k = b & 31 if b < 32 else 32
    if op == 5:
        return (a << k) if k < 32 else 0
    if op == 6:
        return (a >> k) if k < 32 else 0
    signed = a - (np.int64(1) << 32) if a >> 31 else a
    return signed >> (k if k < 32 else 31)


@numba.njit
def _bit(reg):
    return np.int64(1) << reg if reg >= 0 else np.int64(0)


def access_hook(uc, address, size, st_ptr):
    """Before a load or store the block's plan could not do (``PLAN_DEFER``): check its base's alignment
    and price its accesses from the registers now. It returns at once for sites the plan did (one hook
    covers nearby sites)."""
    st = st_ptr
    off = np.int64(address) - st[CODE_BASE]
    if st[STOPPED] != 0 or off < 0 or off >= st[CODE_BYTES]:
        return
    i = st[st[OFF_IDX] + (off >> 1)] - 1
    if i < st[PLAN_DEFER] or i >= st[BLOCK_E] or st[ACCOUNTED] == 0:
        return
    r = st[OFF_PLAN] + i * N_PLFIELDS
    kind = st[r + PL_KIND]
    if not kind & K_SITE:
        return
    addr = st[r + PL_DISP]
    for reg, scale in ((st[r + PL_BASE], np.int64(0)), (st[r + PL_INDEX], st[r + PL_SHIFT])):
        if reg >= 0:
            st[SCRATCH] = 0
            _uc_reg_read(uc, st[PLAN_REGS + reg], st_ptr)
            if kind & K_ALIGNED and reg == st[r + PL_BASE] and st[SCRATCH] & 3:
                _stop(uc, st, STOP_UNALIGNED, np.int64(address))
                return
            addr += (st[SCRATCH] & 0xFFFFFFFF) << scale
    if st[PLAN_PRICES]:
        _price_site(uc, st, st_ptr, i, r, addr & 0xFFFFFFFF, 1)


def block_hook(uc, address, size, st_ptr):
    st = st_ptr
    addr = np.int64(address)
    if st[CUSTOM_PENDING]:  # before anything else: the block's own checks may stop before it
        _run_custom(uc, st, addr)
    if size == 0:  # a block that only raises an exception (illegal instruction): the trap hook reports it
        return
    s, e = _block_range(uc, st, addr, size)
    if s < 0:
        return
    if st[IC_SETS]:
        icache_sync(st)  # the previous block ran to its end: its lines are looked up now
    ib = st[OFF_INSN]
    p = st[LAST]
    rs = ib + s * N_IFIELDS  # the records of the first instruction and of the one that ran before it
    rp = ib + p * N_IFIELDS
    ps = st[OFF_PREFIX] + s * N_PREFIX  # the prefix sums at the block's start and end
    pe = st[OFF_PREFIX] + e * N_PREFIX
    flags_s = st[rs + I_FLAGS]
    flags_p = st[rp + I_FLAGS] if p >= 0 else 0
    seq = False
    taken = 0
    if p >= 0:
        seq = st[rp + I_FALL] == addr
        if flags_p & F_CTRL:
            predicted = st[rp + I_BTAC]
            if seq:
                taken = st[rp + I_NOT_TAKEN] if predicted else 0
            else:
                taken = st[rp + I_PREDICTED] if predicted else st[rp + I_TAKEN]
                if flags_s & F_MISALIGNED32:
                    taken += st[H_MISALIGNED]
    if st[TAKEN_PAID]:
        taken = 0
    lu, mem, dual = _entry(st, p, s, seq)
    lu_adj = lu - st[rs + I_ENTRY_LU]
    mem_adj = mem - st[rs + I_ENTRY_MEM]
    dual_adj = dual - st[rs + I_ENTRY_DUAL]
    adj = lu_adj + mem_adj + dual_adj
    start = st[CYCLES] + taken
    if st[SKIP_STOP_AT] == addr:
        st[SKIP_STOP_AT] = -1
    elif not flags_s & F_IN_IT:
        if start >= st[STOP_AT_CYCLE] or st[INSTRET] >= st[STOP_AT_INSTRET]:
            # The event falls due during the refill: the boundary it is taken at is after it.
            if taken:
                st[CYCLES] = start
                st[STALL_BRANCH] += taken
                st[st[OFF_NODE] + st[CUR_NODE] * N_NFIELDS + N_CYC] += taken
                st[TAKEN_PAID] = 1
                if st[LINES_ON]:
                    _line_charge(st, p, taken, STALL_BRANCH)
            _stop(uc, st, STOP_EVENT, addr)
            return
        if flags_p & F_WATCH and _watched_changed(uc, st, st_ptr):
            _stop(uc, st, STOP_WATCH, addr)
            return
        if e - s > 1:
            last_start = start + adj + st[pe - N_PREFIX + P_CYC] - st[ps + P_CYC]
            if last_start >= st[STOP_AT_CYCLE] or st[INSTRET] + (e - 1 - s) >= st[STOP_AT_INSTRET]:
                _stop(uc, st, STOP_SPLIT, addr)
                return
    plan_end = e
    if st[PLANNING]:
        plan_end = _plan_block(uc, st, st_ptr, s, e)
        if st[PLAN_UNALIGNED] and plan_end == s:
            _stop(uc, st, STOP_UNALIGNED, addr)  # before the faulting instruction
            return
        hooked = st[st[OFF_PLAN] + plan_end * N_PLFIELDS + PL_KIND] & K_HOOKED if plan_end < e else 0
        if plan_end < e and (st[PLAN_UNALIGNED] or not hooked):
            st[PLAN_SPLIT] = plan_end  # its plan stops at a site no hook watches: run the block in two
            _stop(uc, st, STOP_PLAN, addr)
            return
    # -- account the block: the static totals through the runs row, the rest here ---------
    st[TAKEN_PAID] = 0
    body = adj + st[pe + P_CYC] - st[ps + P_CYC]
    st[CYCLES] = start + body
    st[BLOCK_START] = start
    st[BLOCK_TAKEN] = taken
    st[BLOCK_ADJ] = adj
    st[BLOCK_ADJ_LU] = lu_adj
    st[BLOCK_ADJ_DUAL] = dual_adj
    st[BLOCK_S] = s
    st[BLOCK_E] = e
    st[BLOCK_PREV] = p
    st[BLOCK_BTAC] = -1
    if flags_p & F_PREDICT:  # the BTAC learns where it went
        st[BLOCK_BTAC] = st[rp + I_BTAC]
        st[rp + I_BTAC] = 0 if seq else 1
    st[BLOCK_DYN] = 0
    st[ACCOUNTED] = 1
    st[INSTRET] += e - s
    st[LAST] = e - 1
    if st[ib + (e - 1) * N_IFIELDS + I_FLAGS] & F_CUSTOM:
        st[CUSTOM_PENDING] = e
    st[STALL_BRANCH] += taken
    st[STALL_LOAD_USE] += lu_adj
    st[STALL_MEMORY] += mem_adj
    st[DUAL] -= dual_adj
    runs = st[OFF_RUNS]
    st[runs + s] += 1
    st[runs + e] -= 1
    if st[LINES_ON]:
        _line_block(st, p, s, taken, lu_adj, mem_adj, dual_adj)
    # -- call tree: calls seen from the previous block, returns by return address ---------
    nb = st[OFF_NODE]
    sb = st[OFF_STACK]
    node = st[CUR_NODE]
    st[nb + node * N_NFIELDS + N_CYC] += taken
    st[BLOCK_NODE0] = node
    st[BLOCK_DEPTH0] = st[DEPTH]
    st[BLOCK_CALLED] = -1
    st[BLOCK_PUSH_RET] = st[PUSH_RET]
    func = st[rs + I_FUNC]
    ret = 0
    if st[PUSH_RET] != 0:
        ret = st[PUSH_RET]
        st[PUSH_RET] = 0
    elif not seq and flags_p & F_CALL:
        ret = st[rp + I_FALL]
    d = st[DEPTH]
    if ret != 0:
        if d < st[MAX_DEPTH]:
            st[sb + d * N_FFIELDS + S_NODE] = node
            st[sb + d * N_FFIELDS + S_RET] = ret
            st[DEPTH] = d + 1
            node = _child(st, node, func)
            st[nb + node * N_NFIELDS + N_CALLS] += 1
            st[BLOCK_CALLED] = node
        else:
            st[LOST_FRAMES] += 1
    elif d > 0 and st[sb + (d - 1) * N_FFIELDS + S_RET] == addr:
        node = st[sb + (d - 1) * N_FFIELDS + S_NODE]
        st[DEPTH] = d - 1
    if st[nb + node * N_NFIELDS + N_FUNC] != func:  # tail call, fall-through or interrupt return path
        parent = st[nb + node * N_NFIELDS + N_PARENT] if node != 0 else 0
        node = _child(st, parent, func)
    st[CUR_NODE] = node
    st[nb + node * N_NFIELDS + N_CYC] += body
    st[nb + node * N_NFIELDS + N_INS] += e - s
    st[IC_PEND_S], st[IC_PEND_E], st[IC_NODE] = s, e, node
    # -- stack high-water mark -----------------------------------------------------------
    spmin = st[rs + I_SPMIN]
    if spmin < 0 or st[SP_RECHECK]:
        st[SCRATCH] = 0
        _uc_reg_read(uc, st[SP_REG], st_ptr)
        sp = st[SCRATCH] & 0xFFFFFFFF
        if st[STACK_LO] < sp <= st[STACK_HI] and sp + spmin < st[MIN_SP]:
            st[MIN_SP] = sp + spmin
        st[SP_RECHECK] = 0
    if st[pe + P_DYN_SP] != st[ps + P_DYN_SP]:
        st[SP_RECHECK] = 1
    if st[PLANNING]:
        st[PLAN_DEFER] = plan_end
        if st[PLAN_PRICES]:
            _price_planned(uc, st, st_ptr)


def count_hook(uc, address, size, st_ptr):
    """``--timing none`` (and a fast-forward before its symbol): count the block's instructions and keep the
    functional clock, one cycle per instruction, that timers and the instruction limit use; stop before a
    block as ``block_hook`` does. Nothing is priced: the functional run needs only these few stores."""
    st = st_ptr
    addr = np.int64(address)
    if st[CUSTOM_PENDING]:
        _run_custom(uc, st, addr)
    if size == 0:
        return
    s, e = _block_range(uc, st, addr, size)
    if s < 0:
        return
    start = st[CYCLES]
    p = st[LAST]
    if st[SKIP_STOP_AT] == addr:
        st[SKIP_STOP_AT] = -1
    elif not st[st[OFF_INSN] + s * N_IFIELDS + I_FLAGS] & F_IN_IT:
        if start >= st[STOP_AT_CYCLE] or st[INSTRET] >= st[STOP_AT_INSTRET]:
            _stop(uc, st, STOP_EVENT, addr)
            return
        if p >= 0 and st[st[OFF_INSN] + p * N_IFIELDS + I_FLAGS] & F_WATCH and _watched_changed(uc, st, st_ptr):
            _stop(uc, st, STOP_WATCH, addr)
            return
        if e - s > 1 and (start + (e - 1 - s) >= st[STOP_AT_CYCLE] or
                          st[INSTRET] + (e - 1 - s) >= st[STOP_AT_INSTRET]):
            _stop(uc, st, STOP_SPLIT, addr)
            return
    st[CYCLES] = start + (e - s)
    st[INSTRET] += e - s
    st[BLOCK_START] = start
    st[BLOCK_S] = s
    st[BLOCK_E] = e
    st[BLOCK_PREV] = p
    st[LAST] = e - 1
    if st[st[OFF_INSN] + (e - 1) * N_IFIELDS + I_FLAGS] & F_CUSTOM:
        st[CUSTOM_PENDING] = e
    st[BLOCK_PUSH_RET] = st[PUSH_RET]  # an exception entry's frame, kept for a fast-forward's timed part
    st[PUSH_RET] = 0
    st[ACCOUNTED] = 1


def latency_hook(uc, address, size, st_ptr):
    """Before a divide or serial shift: add the cycles its operand values cost beyond the static price."""
    st = st_ptr
    if st[STOPPED] != 0:
        return
    off = np.int64(address) - st[CODE_BASE]
    if off < 0 or off >= st[CODE_BYTES]:
        return
    i = st[st[OFF_IDX] + (off >> 1)] - 1
    if i < 0:
        return
    ri = st[OFF_INSN] + i * N_IFIELDS
    if st[ri + I_LAT] == 0:  # not a site: one hook covers nearby sites (site_ranges)
        return
    st[SCRATCH] = 0
    _uc_reg_read(uc, st[ri + I_OPA], st_ptr)
    a = st[SCRATCH] & 0xFFFFFFFF
    st[SCRATCH] = 0
    _uc_reg_read(uc, st[ri + I_OPB], st_ptr)
    b = st[SCRATCH] & 0xFFFFFFFF
    if st[ri + I_FLAGS] & F_SIGNED:
        if a >> 31:
            a = (1 << 32) - a
        if b >> 31:
            b = (1 << 32) - b
    cyc = _call_latency(st[ri + I_LAT], a, b)
    # The prefix sums priced the instruction at its static cost: add the difference.
    pi = st[OFF_PREFIX] + i * N_PREFIX
    static = st[pi + N_PREFIX + P_CYC] - st[pi + P_CYC] - st[ri + I_ENTRY_LU] - st[ri + I_ENTRY_MEM] \
        - st[ri + I_ENTRY_DUAL]
    extra = cyc - static
    st[CYCLES] += extra
    st[BLOCK_DYN] += extra
    st[STALL_MULDIV] += extra
    st[st[OFF_NODE] + st[CUR_NODE] * N_NFIELDS + N_CYC] += extra
    if st[LINES_ON]:
        _line_charge(st, i, extra, STALL_MULDIV)


def watch_hook(uc, address, size, st_ptr):
    """After an instruction that may unmask interrupts: stop if a watched register changed."""
    st = st_ptr
    if st[STOPPED] == 0 and _watched_changed(uc, st, st_ptr):
        _stop(uc, st, STOP_WATCH_INSN, np.int64(address))


def alignment_hook(uc, address, size, st_ptr):
    """Before a load/store that needs a word-aligned address (LDRD, LDM, VLDR... on ARMv7-M): stop
    before it if its base register is not aligned (Unicorn does not raise the UsageFault)."""
    st = st_ptr
    off = np.int64(address) - st[CODE_BASE]
    if st[STOPPED] != 0 or off < 0 or off >= st[CODE_BYTES]:
        return
    i = st[st[OFF_IDX] + (off >> 1)] - 1
    if i < 0:
        return
    base = st[st[OFF_INSN] + i * N_IFIELDS + I_ALIGNED]
    if base == 0:  # not a site: one hook covers nearby sites (site_ranges)
        return
    st[SCRATCH] = 0
    _uc_reg_read(uc, base, st_ptr)
    if st[SCRATCH] & 3:
        _stop(uc, st, STOP_UNALIGNED, np.int64(address))


def it_exit_hook(uc, address, size, st_ptr):
    """Where an IT block is left, while memory hooks run: clear the IT state. Unicorn #2309: a memory
    hook inside an IT block leaves the block's IT state in the CPU, and the next block would be
    translated as if predicated by it."""
    st = st_ptr
    st[SCRATCH] = 0
    _uc_reg_read(uc, st[XPSR_REG], st_ptr)
    if st[SCRATCH] & _XPSR_IT:
        st[SCRATCH] &= ~_XPSR_IT
        _uc_reg_write(uc, st[XPSR_REG], st_ptr)


def icache_flush(st_ptr):
    """At the end of a run: the instruction lines of the last block, which no next block looks up."""
    icache_sync(st_ptr)


_LATENCY_SIG = types.int64(types.int64, types.int64)

#: The entry points a run calls, with their C signatures: Unicorn's hooks, and ``icache_flush``
#: that Python calls once a run has ended.
HOOKS = {"block_hook": _HOOK_SIG, "count_hook": _HOOK_SIG, "latency_hook": _HOOK_SIG, "watch_hook": _HOOK_SIG,
         "alignment_hook": _HOOK_SIG, "it_exit_hook": _HOOK_SIG, "memory_hook": _MEM_HOOK_SIG,
         "access_hook": _HOOK_SIG,
         "icache_flush": types.void(types.CPointer(types.int64)),
         "finish_custom": types.void(types.voidptr, types.CPointer(types.int64))}


def compile_entry_point(name: str):
    """Numba's compiled entry point ``name``: a hook of ``HOOKS``, or a latency model's rule
    (``latency:<model>``, called by the latency hook through the address a site's instruction row holds)."""
    if name.startswith("latency:"):
        return numba.cfunc(_LATENCY_SIG, nopython=True)(LATENCY_MODELS[name[len("latency:"):]].native)
    return numba.cfunc(HOOKS[name], nopython=True)(globals()[name])


# -- what a unit's native hook may do to the machine (accelerators/cfu.py) ------------------
@intrinsic
def as_pointer(typingctx, address):
    """An int64 holding an address, as a pointer to int64 (to reach a state array from its address)."""
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(types.CPointer(types.int64)))
    return types.CPointer(types.int64)(types.int64), codegen


@numba.njit
def machine_state(address):
    """The machine's state from its address (a unit's state holds it): a pointer, indexed as the array."""
    return as_pointer(address)


@numba.njit
def stopped_before(m):
    """The block hook stopped emulation before this instruction: it does not run now."""
    return m[STOPPED] != 0


@numba.njit
def read_register(uc, address, reg):
    """32-bit value of Unicorn register ``reg`` (through the scratch slot of the state at ``address``)."""
    m = as_pointer(address)
    m[SCRATCH] = 0
    _uc_reg_read(uc, reg, as_pointer(address))
    return m[SCRATCH] & 0xFFFFFFFF


@numba.njit
def write_register(uc, address, reg, value):
    m = as_pointer(address)
    m[SCRATCH] = value
    _uc_reg_write(uc, reg, as_pointer(address))


@numba.njit
def charge_accelerator(m, cycles, address):
    """The instruction at ``address`` waited ``cycles`` for a unit: the run, the accelerator stall, the
    function (and, with lines on, the instruction)."""
    m[CYCLES] += cycles
    m[STALL_ACCELERATOR] += cycles
    m[m[OFF_NODE] + m[CUR_NODE] * N_NFIELDS + N_CYC] += cycles
    if m[LINES_ON]:
        i = m[LAST]
        off = address - m[CODE_BASE]
        if 0 <= off < m[CODE_BYTES] and m[m[OFF_IDX] + (off >> 1)] > 0:
            i = m[m[OFF_IDX] + (off >> 1)] - 1
        _line_charge(m, i, cycles, STALL_ACCELERATOR)
