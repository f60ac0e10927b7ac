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

All state lives in one ``int64`` numpy array passed as user data: header slots
below, then the tables whose offsets the header holds. Python reads and writes
the same array between runs. Unicorn's C entry points are bound by symbol name
so that Numba caches the compiled hooks on disk.
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
    "uc_reg_read", types.int32(types.voidptr, types.int64, types.CPointer(types.int64)))
_uc_reg_write = types.ExternalFunction(
    "uc_reg_write", types.int32(types.voidptr, types.int64, types.CPointer(types.int64)))

# -- header slots ----------------------------------------------------------------------
SCRATCH = 0          #: buffer for uc_reg_read
INSTRET = 1          #: instructions executed
CYCLES = 2           #: modeled cycles at the end of the block being executed
STOP_AT_CYCLE = 3    #: stop before the instruction that would start at or after this cycle
STOP_AT_INSTRET = 4  #: stop before the instruction numbered this (--max-instructions)
STOPPED = 5          #: why the hook stopped emulation (STOP_* below), 0 if it did not
STOP_ADDR = 6        #: block start where it stopped
SKIP_STOP_AT = 7     #: block start allowed to run once without stop checks (after a split)
WATCH = 8            #: nonzero: registers whose change must stop emulation
WATCH_REG0 = 9
WATCH_VAL0 = 10
WATCH_REG1 = 11
WATCH_VAL1 = 12
CODE_BASE = 13       #: address of halfword 0 of the index table
CODE_BYTES = 14
N_INSNS = 15
LAST = 16            #: index of the last instruction executed, -1 after a trap or at reset
BLOCK_S = 17         #: instruction range [BLOCK_S, BLOCK_E) the current block accounted
BLOCK_E = 18
BLOCK_START = 19     #: cycle at which instruction BLOCK_S started
BLOCK_ADJ = 20       #: entry cost of BLOCK_S minus the static one already in the prefix sums
BLOCK_PREV = 21      #: LAST before the current block
BLOCK_DYN = 22       #: data-dependent cycles added inside the current block so far
ACCOUNTED = 23       #: 1 while a block's accounting may need truncating on a stop
STALL0 = 24          #: 6 slots: branch, load_use, muldiv, memory, accelerator, other
MEM0 = 30            #: 12 slots: (stack, code, other) x (reads, writes, read bytes, write bytes)
H_LOAD_USE = 42      #: hazard cycles from the profile (see _timing.HAZARDS)
H_ADDR_DEP = 43
H_B2B_LOAD = 44
H_JR_USE = 45
H_MISALIGNED = 46
FETCH_WAIT = 47
FETCH_SHIFT = 48
PREFETCH = 49
SP_REG = 50          #: Unicorn register id of SP
MIN_SP = 51          #: lowest SP seen (stack high-water mark)
SP_RECHECK = 52      #: a run-time SP write happened in the last block: read SP at the next one
CUR_NODE = 53        #: call-tree node being executed
N_NODES = 54
MAX_NODES = 55
DEPTH = 56           #: shadow call stack depth
MAX_DEPTH = 57
N_FUNCS = 58
LOST_FRAMES = 59     #: calls not followed because the shadow stack was full
PUSH_RET = 60        #: nonzero: treat the next block as called, returning here (exception entry)
OFF_IDX = 61         #: table offsets
OFF_INSN = 62
OFF_PREFIX = 63
OFF_NODE = 64
OFF_HASH = 65
OFF_STACK = 66
HASH_MASK = 67
STACK_LO = 68        #: SP values outside [STACK_LO, STACK_HI] (before start-up sets SP) are ignored
STACK_HI = 69
TAKEN_PAID = 70      #: the refill after the last transfer is already in CYCLES (charged at a stop before the block)
BLOCK_TAKEN = 71     #: refill cycles charged on entering the current block (taken back if it is cut at its start)
BLOCK_NODE0 = 72     #: call-tree state before the current block: node, depth, node whose calls it counted
BLOCK_DEPTH0 = 73
BLOCK_CALLED = 74
BLOCK_PUSH_RET = 75
BLOCK_ADJ_LU = 76    #: the load-use part of BLOCK_ADJ (the rest is memory)
TOTAL = 77           #: length of the whole state array
LINE_SHIFT = 78      #: log2 of the cache line size
IC_SETS = 79         #: instruction cache geometry (0 sets: no I-cache)
IC_WAYS = 80
DC_SETS = 81         #: data cache geometry (0 sets: no D-cache)
DC_WAYS = 82
OFF_IC = 83          #: I-cache tags then LRU stamps; D-cache tags, stamps, dirty bits
OFF_DC = 84
CACHE_CLOCK = 85     #: LRU time stamp source
IC_PEND_S = 86       #: instructions [IC_PEND_S, IC_PEND_E) ran but their lines are not looked up yet
IC_PEND_E = 87
IC_NODE = 88         #: call-tree node that ran them
IC_MISSES = 89
DC_HITS = 90
DC_MISSES = 91
DC_WRITEBACKS = 92
N_REGIONS = 93       #: board regions in the region table (for the memory hook)
OFF_REGION = 94
XPSR_REG = 95        #: Unicorn register id of XPSR (Cortex-M)
NHEADER = 96

STOP_EVENT, STOP_SPLIT, STOP_WATCH, STOP_OUTSIDE, STOP_WATCH_INSN = 1, 2, 3, 4, 5
_XPSR_IT = 0x0600FC00  #: IT[1:0] in bits 26:25, IT[7:2] in bits 15:10

# Per-instruction fields (rows of the OFF_INSN table, each N_INSNS long).
I_ADDR, I_FALL, I_FLAGS, I_READS, I_WRITES, I_LDEST, I_AREGS, I_ENTRY_LU, I_ENTRY_MEM, I_TAKEN, \
    I_SPMIN, I_FUNC, I_LAT, I_OPA, I_OPB = range(15)  # I_OPA/B: Unicorn register ids
N_IFIELDS = 15
F_CTRL, F_CALL, F_IN_IT, F_LOAD, F_SINGLE, F_JR, F_MISALIGNED32, F_WATCH, F_SIGNED = (1 << i for i in range(9))

# Prefix-sum rows (each N_INSNS + 1 long): cycles, the six stall causes, then MEM0's twelve.
P_CYC = 0
P_STALL0 = 1
P_MEM0 = 7
P_DYN_SP = 19        #: instructions that set SP to a run-time value
N_PREFIX = 20

# Region table fields (one row of N_RFIELDS per board region).
R_BASE, R_END, R_CACHEABLE, R_READ_WAIT, R_WRITE_WAIT, R_FILL, R_READS, R_WRITES, R_READ_BYTES, \
    R_WRITE_BYTES = range(10)
N_RFIELDS = 10

# Call-tree node rows (each MAX_NODES long) and shadow-stack rows (each MAX_DEPTH long).
N_FUNC, N_PARENT, N_CYC, N_INS, N_CALLS = range(5)
S_NODE, S_RET = range(2)

NEVER = np.int64(0x7FFF_FFFF_FFFF_FFFF)

_HOOK_SIG = types.void(types.voidptr, types.uint64, types.uint32, types.CPointer(types.int64))
_MEM_HOOK_SIG = types.void(types.voidptr, types.int32, types.uint64, types.int32, types.int64,
                           types.CPointer(types.int64))
_UC_MEM_WRITE = 17


@numba.njit(cache=True)
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
    m = st[MAX_NODES]
    base = st[OFF_NODE]
    st[base + N_FUNC * m + n] = func
    st[base + N_PARENT * m + n] = parent
    st[hoff + 2 * h] = key + 1
    st[hoff + 2 * h + 1] = n
    return n


@numba.njit(cache=True)
def _entry(st, p, i, seq):
    """(load_use, memory) cycles instruction ``i`` pays after ``p`` (-1: none); see _timing.entry_cost."""
    n = st[N_INSNS]
    ib = st[OFF_INSN]
    lu = 0
    mem = 0
    if p >= 0:
        fp = st[ib + I_FLAGS * n + p]
        fi = st[ib + I_FLAGS * n + i]
        reads = st[ib + I_READS * n + i]
        ldest = st[ib + I_LDEST * n + p]
        if ldest & reads:
            lu += st[H_LOAD_USE]
        if fi & F_JR and st[ib + I_WRITES * n + p] & reads:
            lu += st[H_JR_USE]
        aregs = st[ib + I_AREGS * n + i]
        if fi & F_SINGLE and not fp & F_LOAD and st[ib + I_WRITES * n + p] & aregs:
            lu += st[H_ADDR_DEP]
        if fp & F_LOAD and fi & F_LOAD and not ldest & aregs:
            mem += st[H_B2B_LOAD]
    ws = st[FETCH_WAIT]
    if ws:
        sh = st[FETCH_SHIFT]
        a = st[ib + I_ADDR * n + i]
        first = a >> sh
        last = (st[ib + I_FALL * n + i] - 1) >> sh
        if seq:
            prev_line = (st[ib + I_FALL * n + p] - 1) >> sh
            new = last - max(first - 1, prev_line)
            if not st[PREFETCH] and new > 0:
                mem += new * ws
        else:
            mem += (last - first + 1) * ws
    return lu, mem


@numba.njit(cache=True)
def _stop(uc, st, why, address):
    st[STOPPED] = why
    st[STOP_ADDR] = address
    _uc_emu_stop(uc)


@numba.njit(cache=True)
def _watched_changed(uc, st, st_ptr):
    if st[WATCH] == 0:
        return False
    for k in range(2):
        st[SCRATCH] = 0
        _uc_reg_read(uc, st[WATCH_REG0 + 2 * k], st_ptr)
        if (st[SCRATCH] & 0xFFFFFFFF) != st[WATCH_VAL0 + 2 * k]:
            return True
    return False


@numba.njit(cache=True)
def _charge_memory(st, node, cycles):
    """Add memory-stall cycles found at run time (cache misses, wait states) to the totals and ``node``."""
    st[CYCLES] += cycles
    st[STALL0 + 3] += cycles
    st[st[OFF_NODE] + N_CYC * st[MAX_NODES] + node] += cycles


@numba.njit(cache=True)
def _region_of(st, addr):
    for r in range(st[N_REGIONS]):
        row = st[OFF_REGION] + r * N_RFIELDS
        if st[row + R_BASE] <= addr < st[row + R_END]:
            return row
    return -1


@numba.njit(cache=True)
def _cache_access(st, off, sets, ways, line, write):
    """Look ``line`` up in the LRU cache at ``off`` (tags, stamps, dirty bits); allocate it on a miss.
    Returns -1 on a hit, else the evicted line + 1 if it was dirty (0: nothing to write back)."""
    base = (line & (sets - 1)) * ways
    n = sets * ways
    st[CACHE_CLOCK] += 1
    victim = 0
    for w in range(ways):
        k = base + w
        if st[off + k] == line + 1:
            st[off + n + k] = st[CACHE_CLOCK]
            if write:
                st[off + 2 * n + k] = 1
            return -1
        if st[off + n + k] < st[off + n + base + victim]:
            victim = w
    k = base + victim
    dirty = st[off + k] if st[off + 2 * n + k] else 0
    st[off + k] = line + 1
    st[off + n + k] = st[CACHE_CLOCK]
    st[off + 2 * n + k] = 1 if write else 0
    return dirty


@numba.njit(cache=True)
def icache_sync(st):
    """Look up the lines of the instructions that ran since the last call; charge misses."""
    s, e = st[IC_PEND_S], st[IC_PEND_E]
    if st[IC_SETS] == 0 or s >= e:
        return
    st[IC_PEND_S] = e
    n = st[N_INSNS]
    ib = st[OFF_INSN]
    shift = st[LINE_SHIFT]
    first = st[ib + I_ADDR * n + s] >> shift
    last = (st[ib + I_FALL * n + e - 1] - 1) >> shift
    for line in range(first, last + 1):
        row = _region_of(st, line << shift)
        if row < 0 or not st[row + R_CACHEABLE]:
            continue
        if _cache_access(st, st[OFF_IC], st[IC_SETS], st[IC_WAYS], line, False) >= 0:
            st[IC_MISSES] += 1
            _charge_memory(st, st[IC_NODE], st[row + R_FILL])


@numba.cfunc(_MEM_HOOK_SIG, nopython=True, cache=True)
def memory_hook(uc, kind, address, size, value, st_ptr):
    """Every data access: traffic by board region, then its wait states, or the data cache's verdict."""
    hdr = carray(st_ptr, NHEADER)
    st = carray(st_ptr, hdr[TOTAL])
    addr = np.int64(address)
    nbytes = np.int64(size)
    row = _region_of(st, addr)
    if row < 0:
        return
    write = kind == _UC_MEM_WRITE
    if write:
        st[row + R_WRITES] += 1
        st[row + R_WRITE_BYTES] += nbytes
    else:
        st[row + R_READS] += 1
        st[row + R_READ_BYTES] += nbytes
    if st[DC_SETS] == 0 or not st[row + R_CACHEABLE]:
        cycles = st[row + R_WRITE_WAIT] if write else st[row + R_READ_WAIT]
    else:
        cycles = 0
        shift = st[LINE_SHIFT]
        for line in range(addr >> shift, ((addr + nbytes - 1) >> shift) + 1):
            evicted = _cache_access(st, st[OFF_DC], st[DC_SETS], st[DC_WAYS], line, write)
            if evicted < 0:
                st[DC_HITS] += 1
                continue
            st[DC_MISSES] += 1
            cycles += st[row + R_FILL]
            if evicted > 0:
                st[DC_WRITEBACKS] += 1
                victim = _region_of(st, (evicted - 1) << shift)
                cycles += st[victim + R_FILL] if victim >= 0 else 0
    if cycles:
        _charge_memory(st, st[CUR_NODE], cycles)
        st[BLOCK_DYN] += cycles  # later instructions of the block start this much later


@numba.cfunc(_HOOK_SIG, nopython=True, cache=True)
def block_hook(uc, address, size, st_ptr):
    hdr = carray(st_ptr, NHEADER)
    st = carray(st_ptr, hdr[TOTAL])
    if size == 0:  # a block that only raises an exception (illegal instruction): the trap hook reports it
        return
    addr = np.int64(address)
    off = addr - st[CODE_BASE]
    end = off + np.int64(size)
    if off < 0 or end > st[CODE_BYTES]:
        _stop(uc, st, STOP_OUTSIDE, addr)
        return
    ix = st[OFF_IDX]
    s = st[ix + (off >> 1)] - 1
    e = st[ix + (end >> 1)] - 1
    if s < 0 or e <= s:
        _stop(uc, st, STOP_OUTSIDE, addr)
        return
    if st[IC_SETS]:
        icache_sync(st)  # the previous block ran to its end: its lines are looked up now
    n = st[N_INSNS]
    ib = st[OFF_INSN]
    pb = st[OFF_PREFIX]
    n1 = n + 1
    p = st[LAST]
    seq = False
    taken = 0
    if p >= 0:
        seq = st[ib + I_FALL * n + p] == addr
        if not seq and st[ib + I_FLAGS * n + p] & F_CTRL:
            taken = st[ib + I_TAKEN * n + p]
            if st[ib + I_FLAGS * n + s] & F_MISALIGNED32:
                taken += st[H_MISALIGNED]
    if st[TAKEN_PAID]:
        taken = 0
    lu, mem = _entry(st, p, s, seq)
    adj = lu + mem - st[ib + I_ENTRY_LU * n + s] - st[ib + I_ENTRY_MEM * n + s]
    start = st[CYCLES] + taken
    if st[SKIP_STOP_AT] == addr:
        st[SKIP_STOP_AT] = -1
    elif not st[ib + I_FLAGS * n + s] & F_IN_IT:
        if start >= st[STOP_AT_CYCLE] or st[INSTRET] >= st[STOP_AT_INSTRET]:
            # The event falls due during the refill: the boundary it is taken at is after it.
            if taken:
                st[CYCLES] = start
                st[STALL0] += taken
                st[st[OFF_NODE] + N_CYC * st[MAX_NODES] + st[CUR_NODE]] += taken
                st[TAKEN_PAID] = 1
            _stop(uc, st, STOP_EVENT, addr)
            return
        if p >= 0 and st[ib + I_FLAGS * n + p] & F_WATCH and _watched_changed(uc, st, st_ptr):
            _stop(uc, st, STOP_WATCH, addr)
            return
        last_start = start + adj + st[pb + P_CYC * n1 + e - 1] - st[pb + P_CYC * n1 + s]
        if e - s > 1 and (last_start >= st[STOP_AT_CYCLE] or st[INSTRET] + (e - 1 - s) >= st[STOP_AT_INSTRET]):
            _stop(uc, st, STOP_SPLIT, addr)
            return
    # -- account the block -------------------------------------------------------------
    st[TAKEN_PAID] = 0
    body = adj + st[pb + P_CYC * n1 + e] - st[pb + P_CYC * n1 + s]
    st[CYCLES] = start + body
    st[BLOCK_START] = start
    st[BLOCK_TAKEN] = taken
    st[BLOCK_ADJ] = adj
    st[BLOCK_ADJ_LU] = lu - st[ib + I_ENTRY_LU * n + s]
    st[BLOCK_S] = s
    st[BLOCK_E] = e
    st[BLOCK_PREV] = p
    st[BLOCK_DYN] = 0
    st[ACCOUNTED] = 1
    st[INSTRET] += e - s
    st[LAST] = e - 1
    st[STALL0] += taken
    st[STALL0 + 1] += lu - st[ib + I_ENTRY_LU * n + s]
    st[STALL0 + 3] += mem - st[ib + I_ENTRY_MEM * n + s]
    for k in range(6):
        row = pb + (P_STALL0 + k) * n1
        st[STALL0 + k] += st[row + e] - st[row + s]
    for k in range(12):
        row = pb + (P_MEM0 + k) * n1
        st[MEM0 + k] += st[row + e] - st[row + s]
    # -- call tree: calls seen from the previous block, returns by return address ---------
    m = st[MAX_NODES]
    nb = st[OFF_NODE]
    sb = st[OFF_STACK]
    md = st[MAX_DEPTH]
    node = st[CUR_NODE]
    st[nb + N_CYC * m + node] += taken
    st[BLOCK_NODE0] = node
    st[BLOCK_DEPTH0] = st[DEPTH]
    st[BLOCK_CALLED] = -1
    st[BLOCK_PUSH_RET] = st[PUSH_RET]
    func = st[ib + I_FUNC * n + s]
    ret = 0
    if st[PUSH_RET] != 0:
        ret = st[PUSH_RET]
        st[PUSH_RET] = 0
    elif p >= 0 and not seq and st[ib + I_FLAGS * n + p] & F_CALL:
        ret = st[ib + I_FALL * n + p]
    if ret != 0:
        d = st[DEPTH]
        if d < md:
            st[sb + S_NODE * md + d] = node
            st[sb + S_RET * md + d] = ret
            st[DEPTH] = d + 1
            node = _child(st, node, func)
            st[nb + N_CALLS * m + node] += 1
            st[BLOCK_CALLED] = node
        else:
            st[LOST_FRAMES] += 1
    else:
        d = st[DEPTH]
        if d > 0 and st[sb + S_RET * md + d - 1] == addr:
            node = st[sb + S_NODE * md + d - 1]
            st[DEPTH] = d - 1
    if st[nb + N_FUNC * m + node] != func:  # tail call, fall-through or interrupt return path
        parent = st[nb + N_PARENT * m + node] if node != 0 else 0
        node = _child(st, parent, func)
    st[CUR_NODE] = node
    st[nb + N_CYC * m + node] += body
    st[IC_PEND_S], st[IC_PEND_E], st[IC_NODE] = s, e, node
    st[nb + N_INS * m + node] += e - s
    # -- stack high-water mark -----------------------------------------------------------
    spmin = st[ib + I_SPMIN * n + s]
    if spmin < 0 or st[SP_RECHECK]:
        st[SCRATCH] = 0
        _uc_reg_read(uc, st[SP_REG], st_ptr)
        sp = st[SCRATCH] & 0xFFFFFFFF
        if st[STACK_LO] < sp <= st[STACK_HI] and sp + spmin < st[MIN_SP]:
            st[MIN_SP] = sp + spmin
        st[SP_RECHECK] = 0
    if st[pb + P_DYN_SP * n1 + e] != st[pb + P_DYN_SP * n1 + s]:
        st[SP_RECHECK] = 1


@numba.cfunc(_HOOK_SIG, nopython=True, cache=True)
def latency_hook(uc, address, size, st_ptr):
    """Before a divide or serial shift: add the cycles its operand values cost beyond the static price."""
    hdr = carray(st_ptr, NHEADER)
    st = carray(st_ptr, hdr[TOTAL])
    if st[STOPPED] != 0:
        return
    off = np.int64(address) - st[CODE_BASE]
    i = st[st[OFF_IDX] + (off >> 1)] - 1
    if i < 0:
        return
    n = st[N_INSNS]
    ib = st[OFF_INSN]
    st[SCRATCH] = 0
    _uc_reg_read(uc, st[ib + I_OPA * n + i], st_ptr)
    a = st[SCRATCH] & 0xFFFFFFFF
    st[SCRATCH] = 0
    _uc_reg_read(uc, st[ib + I_OPB * n + i], st_ptr)
    b = st[SCRATCH] & 0xFFFFFFFF
    if st[ib + I_FLAGS * n + i] & F_SIGNED:
        if a >> 31:
            a = (1 << 32) - a
        if b >> 31:
            b = (1 << 32) - b
    model = st[ib + I_LAT * n + i]
    if model == 1:
        if b == 0:
            cyc = 2
        else:
            q = a // b if a >= b else 0
            bits = 0
            while q:
                bits += 1
                q >>= 1
            cyc = min(12, 2 + (bits + 3) // 4)
    elif model == 2:
        if b == 0:
            cyc = 3
        else:
            lz = 32
            while b:
                lz -= 1
                b >>= 1
            cyc = 4 + lz
    elif model == 3:
        cyc = 2 if b == 0 else 38
    else:
        sh = b & 31
        cyc = 4 + sh // 4 + sh % 4
    # The prefix sums priced the instruction at its static cost: add the difference.
    pb = st[OFF_PREFIX]
    n1 = n + 1
    static = st[pb + P_CYC * n1 + i + 1] - st[pb + P_CYC * n1 + i] - st[ib + I_ENTRY_LU * n + i] \
        - st[ib + I_ENTRY_MEM * n + i]
    extra = cyc - static
    st[CYCLES] += extra
    st[BLOCK_DYN] += extra
    st[STALL0 + 2] += extra
    m = st[MAX_NODES]
    st[st[OFF_NODE] + N_CYC * m + st[CUR_NODE]] += extra


@numba.cfunc(_HOOK_SIG, nopython=True, cache=True)
def watch_hook(uc, address, size, st_ptr):
    """After an instruction that may unmask interrupts: stop if a watched register changed."""
    st = carray(st_ptr, NHEADER)
    if st[STOPPED] == 0 and _watched_changed(uc, st, st_ptr):
        _stop(uc, st, STOP_WATCH_INSN, np.int64(address))


@numba.cfunc(_HOOK_SIG, nopython=True, cache=True)
def it_exit_hook(uc, address, size, st_ptr):
    """Where an IT block is left, while memory hooks run: clear the IT state. Unicorn #2309: a memory
    hook inside an IT block leaves the block's IT state in the CPU, and the next block would be
    translated as if predicated by it."""
    st = carray(st_ptr, NHEADER)
    st[SCRATCH] = 0
    _uc_reg_read(uc, st[XPSR_REG], st_ptr)
    if st[SCRATCH] & _XPSR_IT:
        st[SCRATCH] &= ~_XPSR_IT
        _uc_reg_write(uc, st[XPSR_REG], st_ptr)


class NativeHooks:
    """Registers native hooks on one Unicorn instance and keeps them alive."""

    def __init__(self, uc):
        self._uc = uc
        self._handles: list[ctypes.c_size_t] = []
        self._keep: list[object] = []

    def add(self, hook, state: np.ndarray, kind: int, begin: int = 1, end: int = 0) -> None:
        """Register ``hook`` for [begin, end]; begin > end means everywhere."""
        handle = ctypes.c_size_t()
        err = _LIB.uc_hook_add(self._uc._uch, ctypes.byref(handle), kind,
                               ctypes.c_void_p(hook.address), ctypes.c_void_p(state.ctypes.data),
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
