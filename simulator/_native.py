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
import hashlib
from pathlib import Path

import llvmlite.binding as llvm
import numba
import numpy as np
from llvmlite import ir
from numba import carray, types
from numba.extending import intrinsic
from unicorn.unicorn_py3 import unicorn as _ucmod

from ._latency import LatencyModel
from ._timing import NEVER_CYCLE, STALL_CAUSES

_LIB = _ucmod.uclib
llvm.load_library_permanently(_LIB._name)

_uc_emu_stop = types.ExternalFunction("uc_emu_stop", types.int32(types.voidptr))
_uc_reg_read = types.ExternalFunction(
    "uc_reg_read", types.int32(types.voidptr, types.int64, types.CPointer(types.int64)))
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


# -- the state array's layout ------------------------------------------------------------
class Layout:
    """Named fields of one table of the state array, numbered in the order they are declared.

    The module-level constants the hooks use are the offsets ``add`` returns (Numba folds
    them); ``fields`` keeps each one's name, width and description for ``NativeState`` and
    ``describe_layout``.
    """

    def __init__(self, what: str):
        self.what = what
        self.size = 0
        self.fields: dict[str, tuple[int, int, str]] = {}

    def add(self, name: str, doc: str, count: int = 1) -> int:
        at = self.size
        self.fields[name] = (at, count, doc)
        self.size += count
        return at


#: Where a static memory access goes (isa.insn MEM_STACK, MEM_CODE, MEM_OTHER), and what is counted.
TRAFFIC_PLACES = ("stack", "code", "unattributed")
TRAFFIC_KINDS = ("reads", "writes", "read_bytes", "write_bytes")
_N_TRAFFIC = len(TRAFFIC_PLACES) * len(TRAFFIC_KINDS)

#: This file's content hash. Numba's on-disk cache only notices changes to a function's own file, so
#: cached code in another module that inlines these helpers (accelerators/_cfu_native.py) would keep
#: stale state offsets after an edit here: that module caches only while its recorded hash matches.
SOURCE_FINGERPRINT = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]

HEADER = Layout("header")
SCRATCH = HEADER.add("scratch", "buffer for uc_reg_read / uc_reg_write")
TOTAL = HEADER.add("total", "length of the whole state array")
INSTRET = HEADER.add("instructions", "instructions executed")
CYCLES = HEADER.add("cycles", "modeled cycles at the end of the block being executed")
STOP_AT_CYCLE = HEADER.add("stop_at_cycle", "stop before the instruction that would start at or after this cycle")
STOP_AT_INSTRET = HEADER.add("stop_at_instruction", "stop before the instruction numbered this (--max-instructions)")
STOPPED = HEADER.add("stopped", "why the hook stopped emulation (STOP_* below), 0 if it did not")
STOP_ADDR = HEADER.add("stop_address", "block start where it stopped")
SKIP_STOP_AT = HEADER.add("skip_stop_at", "block start allowed to run once without stop checks (after a split)")
WATCH = HEADER.add("watching", "nonzero: registers whose change must stop emulation")
WATCH_REG = HEADER.add("watch_registers", "Unicorn ids of the watched registers", 2)
WATCH_VAL = HEADER.add("watch_values", "their values when emulation started", 2)
CODE_BASE = HEADER.add("code_base", "address of halfword 0 of the index table")
CODE_BYTES = HEADER.add("code_bytes", "bytes of code the index table covers")
N_INSNS = HEADER.add("n_instructions", "decoded instructions")
LAST = HEADER.add("last", "index of the last instruction executed, -1 after a trap or at reset")
BLOCK_S = HEADER.add("block_start", "instruction range [block_start, block_end) the current block accounted")
BLOCK_E = HEADER.add("block_end", "end of that range")
BLOCK_START = HEADER.add("block_start_cycle", "cycle at which instruction block_start started")
BLOCK_ADJ = HEADER.add("block_adjust", "entry cost of block_start minus the static one already in the prefix sums")
BLOCK_ADJ_LU = HEADER.add("block_adjust_load_use", "the load-use part of block_adjust")
BLOCK_ADJ_DUAL = HEADER.add("block_adjust_dual", "the dual-issue part of block_adjust (the rest is memory)")
BLOCK_PREV = HEADER.add("block_previous", "last before the current block")
BLOCK_BTAC = HEADER.add("block_btac", "block_previous's BTAC entry before the current block updated it, -1: none")
BLOCK_DYN = HEADER.add("block_dynamic", "data-dependent cycles added inside the current block so far")
BLOCK_TAKEN = HEADER.add("block_taken", "refill cycles charged on entering the current block")
BLOCK_NODE0 = HEADER.add("block_node", "call-tree node before the current block")
BLOCK_DEPTH0 = HEADER.add("block_depth", "shadow-stack depth before the current block")
BLOCK_CALLED = HEADER.add("block_called", "node whose calls the current block counted, -1 if none")
BLOCK_PUSH_RET = HEADER.add("block_push_return", "push_return before the current block")
ACCOUNTED = HEADER.add("accounted", "1 while a block's accounting may need truncating on a stop")
TAKEN_PAID = HEADER.add("taken_paid", "the refill after the last transfer is already in cycles (charged at a stop)")
DUAL = HEADER.add("dual_issued", "instructions that issued in the previous instruction's cycle")
STALLS = HEADER.add("stalls", "cycles beyond one per instruction, by cause (STALL_CAUSES order)", len(STALL_CAUSES))
TRAFFIC = HEADER.add("traffic", "static data traffic: TRAFFIC_PLACES x TRAFFIC_KINDS", _N_TRAFFIC)
H_LOAD_USE = HEADER.add("load_use", "hazard cycles from the profile (_timing.HAZARDS)")
H_ADDR_DEP = HEADER.add("address_dependency", "hazard cycles")
H_B2B_LOAD = HEADER.add("back_to_back_load", "hazard cycles")
H_JR_USE = HEADER.add("jump_reg_use", "hazard cycles")
H_MISALIGNED = HEADER.add("misaligned_target", "hazard cycles")
FETCH_WAIT = HEADER.add("fetch_wait", "wait states per instruction fetch line of the code region")
FETCH_SHIFT = HEADER.add("fetch_shift", "log2 of the fetch line width")
PREFETCH = HEADER.add("prefetch", "a prefetch buffer hides fetch wait states on sequential code")
FETCH_STREAM = HEADER.add("fetch_stream", "1: streaming fetch (the fetch rows, _timing.stream_stalls)")
SP_REG = HEADER.add("sp_register", "Unicorn register id of SP")
XPSR_REG = HEADER.add("xpsr_register", "Unicorn register id of XPSR (Cortex-M)")
MIN_SP = HEADER.add("min_sp", "lowest SP seen (stack high-water mark)")
SP_RECHECK = HEADER.add("sp_recheck", "a run-time SP write happened in the last block: read SP at the next one")
STACK_LO = HEADER.add("stack_low", "SP values outside [stack_low, stack_high] (before start-up sets SP) are ignored")
STACK_HI = HEADER.add("stack_high", "top of that range")
CUR_NODE = HEADER.add("node", "call-tree node being executed")
N_NODES = HEADER.add("n_nodes", "call-tree nodes in use")
MAX_NODES = HEADER.add("max_nodes", "call-tree capacity")
DEPTH = HEADER.add("depth", "shadow call stack depth")
MAX_DEPTH = HEADER.add("max_depth", "shadow call stack capacity")
N_FUNCS = HEADER.add("n_functions", "functions in the function table")
LOST_FRAMES = HEADER.add("lost_frames", "calls not followed because the shadow stack was full")
PUSH_RET = HEADER.add("push_return", "nonzero: treat the next block as called, returning here (exception entry)")
HASH_MASK = HEADER.add("hash_mask", "call-tree hash table slots - 1")
LINE_SHIFT = HEADER.add("line_shift", "log2 of the cache line size")
IC_SETS = HEADER.add("icache_sets", "instruction cache sets (0: no I-cache)")
IC_WAYS = HEADER.add("icache_ways", "instruction cache ways")
DC_SETS = HEADER.add("dcache_sets", "data cache sets (0: no D-cache)")
DC_WAYS = HEADER.add("dcache_ways", "data cache ways")
CACHE_CLOCK = HEADER.add("cache_clock", "LRU time stamp source")
IC_PEND_S = HEADER.add("icache_pending_start", "instructions [start, end) ran but their lines are not looked up yet")
IC_PEND_E = HEADER.add("icache_pending_end", "end of that range")
IC_NODE = HEADER.add("icache_node", "call-tree node that ran them")
IC_MISSES = HEADER.add("icache_misses", "instruction cache misses")
DC_HITS = HEADER.add("dcache_hits", "data cache hits")
DC_MISSES = HEADER.add("dcache_misses", "data cache misses")
DC_WRITEBACKS = HEADER.add("dcache_writebacks", "dirty lines written back")
N_REGIONS = HEADER.add("n_regions", "board regions in the region table (for the memory hook)")
OFF_IDX = HEADER.add("index_table", "offset of the table: halfword of code -> instruction index + 1")
OFF_INSN = HEADER.add("instruction_table", "offset of the per-instruction rows (INSN)")
OFF_PREFIX = HEADER.add("prefix_table", "offset of the prefix-sum rows (PREFIX)")
OFF_NODE = HEADER.add("node_table", "offset of the call-tree rows (NODE)")
OFF_HASH = HEADER.add("hash_table", "offset of the call-tree hash table (key + 1, node) pairs")
OFF_STACK = HEADER.add("stack_table", "offset of the shadow call stack rows (FRAME)")
OFF_IC = HEADER.add("icache_table", "offset of the I-cache: tags, LRU stamps, dirty bits")
OFF_DC = HEADER.add("dcache_table", "offset of the D-cache: tags, LRU stamps, dirty bits")
OFF_REGION = HEADER.add("region_table", "offset of the region records (REGION)")
LINES_ON = HEADER.add("lines", "1: keep the per-instruction rows (LINE) for cycles per source line")
PC_REG = HEADER.add("pc_register", "Unicorn register id of PC (which instruction a data access belongs to)")
OFF_LINES = HEADER.add("line_table", "offset of the per-instruction rows (LINE); empty when lines is 0")
#: Custom-instruction units whose instructions the block hook runs (F_CUSTOM), at most this many.
MAX_UNITS = 4
CUSTOM_PENDING = HEADER.add("custom_pending", "1 + index of the F_CUSTOM instruction that ends the block accounted "
                            "last (0: none): its unit runs it when the next block starts")
N_UNITS = HEADER.add("custom_units", "units whose F_CUSTOM instructions the block hook runs")
UNIT_HOOK = HEADER.add("unit_hooks", "their native hooks' addresses (HOOK_SIGNATURE)", MAX_UNITS)
UNIT_STATE = HEADER.add("unit_states", "their state arrays' addresses", MAX_UNITS)
NHEADER = HEADER.size

#: Named stall slots the hooks charge directly.
STALL_BRANCH, STALL_LOAD_USE, STALL_MULDIV, STALL_MEMORY, STALL_ACCELERATOR = (
    STALLS + STALL_CAUSES.index(c) for c in ("branch", "load_use", "muldiv", "memory", "accelerator"))

STOP_EVENT, STOP_SPLIT, STOP_WATCH, STOP_OUTSIDE, STOP_WATCH_INSN, STOP_UNALIGNED = 1, 2, 3, 4, 5, 6
_XPSR_IT = 0x0600FC00  #: IT[1:0] in bits 26:25, IT[7:2] in bits 15:10

#: Per-instruction rows, each N_INSNS long.
INSN = Layout("instruction")
I_ADDR = INSN.add("address", "start address")
I_FALL = INSN.add("fallthrough", "address after it")
I_FLAGS = INSN.add("flags", "F_* bits")
I_READS = INSN.add("reads", "registers read (decoder bit mask)")
I_WRITES = INSN.add("writes", "registers written")
I_LDEST = INSN.add("load_dests", "registers written from memory")
I_AREGS = INSN.add("addr_regs", "registers forming a memory address")
I_ENTRY_LU = INSN.add("entry_load_use", "load-use cycles it pays after its linear predecessor (in the prefix sums)")
I_ENTRY_MEM = INSN.add("entry_memory", "memory cycles it pays after its linear predecessor (in the prefix sums)")
I_ENTRY_DUAL = INSN.add("entry_dual", "-1: it issues in its linear predecessor's cycle (in the prefix sums)")
I_TAKEN = INSN.add("taken", "refill cycles when it transfers control elsewhere than its fall-through")
I_PREDICTED = INSN.add("predicted", "refill cycles when it transfers control as the BTAC predicted")
I_NOT_TAKEN = INSN.add("not_taken", "cycles when it falls through although the BTAC predicted it taken")
I_BTAC = INSN.add("btac", "1: the BTAC predicts it taken (it was taken the last time it ran)")
I_FETCH = INSN.add("fetch", "streaming fetch: cycles it waits for its fetch lines when reached in sequence")
I_SPMIN = INSN.add("sp_min", "lowest SP offset reached before its block ends")
I_FUNC = INSN.add("function", "index in the function table")
I_LAT = INSN.add("latency_function", "address of its native latency function (0: static cost)")
I_OPA = INSN.add("operand_a", "Unicorn register id of the latency model's first operand")
I_OPB = INSN.add("operand_b", "Unicorn register id of its second operand")
I_ALIGNED = INSN.add("aligned_base", "Unicorn id of a base register that must be word-aligned (LDRD, LDM...), 0: none")
N_IFIELDS = INSN.size
F_CTRL, F_CALL, F_IN_IT, F_LOAD, F_SINGLE, F_JR, F_MISALIGNED32, F_WATCH, F_SIGNED, F_PREDICT, F_CUSTOM = (
    1 << i for i in range(11))
#: F_CUSTOM: a unit's custom instruction that Unicorn sees as a branch to its successor (``Devices.install``), so
#: that no code hook is needed (Unicorn walks every code hook on each hooked instruction): it ends its block, and
#: the block hook has its unit run it when the next block starts (or ``NativeHooks.finish_custom``, when the run
#: stopped before one).

#: Prefix-sum rows, each N_INSNS + 1 long: what instructions [0, i) add up to.
PREFIX = Layout("prefix")
P_CYC = PREFIX.add("cycles", "cycles of the static model")
P_STALLS = PREFIX.add("stalls", "stall cycles by cause", len(STALL_CAUSES))
P_TRAFFIC = PREFIX.add("traffic", "static traffic, as TRAFFIC", _N_TRAFFIC)
P_DYN_SP = PREFIX.add("dynamic_sp", "instructions that set SP to a run-time value")
P_DUAL = PREFIX.add("dual", "instructions that issue in their linear predecessor's cycle")
N_PREFIX = PREFIX.size

#: Per-instruction rows for cycles per source line, each N_INSNS + 1 long, kept only when ``lines`` is 1.
#: An instruction's cycles are its static price times the times it ran, plus what ``cycles`` holds.
LINE = Layout("line")
L_RUNS = LINE.add("runs", "blocks starting at it minus blocks ending before it: the running sum is how often each ran")
L_CYC = LINE.add("cycles", "cycles charged to it beyond its static price: entry, refill after it, latency, misses")
L_STALLS = LINE.add("stalls", "those cycles by cause", len(STALL_CAUSES))
L_DUAL = LINE.add("dual", "dual issues beyond the static prefix (at a block's first instruction)")
N_LROWS = LINE.size

#: Board region records, one of N_RFIELDS per region.
REGION = Layout("region")
R_BASE = REGION.add("base", "first address")
R_END = REGION.add("end", "address after the last")
R_CACHEABLE = REGION.add("cacheable", "the caches sit in front of it")
R_READ_WAIT = REGION.add("read_wait", "wait states per data read")
R_WRITE_WAIT = REGION.add("write_wait", "wait states per data write")
R_FILL = REGION.add("fill", "cycles of a cache line fill from it")
R_READS = REGION.add("reads", "data reads that reached it")
R_WRITES = REGION.add("writes", "data writes")
R_READ_BYTES = REGION.add("read_bytes", "bytes read")
R_WRITE_BYTES = REGION.add("write_bytes", "bytes written")
N_RFIELDS = REGION.size

#: Call-tree node rows (each max_nodes long) and shadow-stack rows (each max_depth long).
NODE = Layout("node")
N_FUNC = NODE.add("function", "function index, -1 for the root")
N_PARENT = NODE.add("parent", "caller's node")
N_CYC = NODE.add("cycles", "exclusive cycles")
N_INS = NODE.add("instructions", "exclusive instructions")
N_CALLS = NODE.add("calls", "times it was called")
N_NODE_ROWS = NODE.size
FRAME = Layout("frame")
S_NODE = FRAME.add("node", "caller's node")
S_RET = FRAME.add("return", "return address")
N_FRAME_ROWS = FRAME.size

NEVER = np.int64(NEVER_CYCLE)

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
    """(load_use, memory, dual) cycles instruction ``i`` pays after ``p`` (-1: none); see _timing.entry_cost."""
    n = st[N_INSNS]
    ib = st[OFF_INSN]
    lu = 0
    mem = 0
    dual = st[ib + I_ENTRY_DUAL * n + i] if seq else 0
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
    if st[FETCH_STREAM]:
        if seq:
            mem += st[ib + I_FETCH * n + i]
    elif ws:
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
    return lu, mem, dual


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
        _uc_reg_read(uc, st[WATCH_REG + k], st_ptr)
        if (st[SCRATCH] & 0xFFFFFFFF) != st[WATCH_VAL + k]:
            return True
    return False


@numba.njit(cache=True)
def _charge_memory(st, node, cycles):
    """Add memory-stall cycles found at run time (cache misses, wait states) to the totals and ``node``."""
    st[CYCLES] += cycles
    st[STALL_MEMORY] += cycles
    st[st[OFF_NODE] + N_CYC * st[MAX_NODES] + node] += cycles


@numba.njit(cache=True)
def _line_charge(st, i, cycles, stall):
    """With lines on: ``cycles`` of header stall slot ``stall`` were caused by instruction ``i``."""
    n1 = st[N_INSNS] + 1
    lb = st[OFF_LINES]
    st[lb + L_CYC * n1 + i] += cycles
    st[lb + (L_STALLS + stall - STALLS) * n1 + i] += cycles


@numba.njit(cache=True)
def _line_block(st, p, s, e, taken, lu_extra, mem_extra, dual_adj):
    """With lines on: the block [s, e) ran once after ``p``, which pays the refill; ``s`` pays the entry
    cost beyond the static one (load-use, memory and dual-issue parts)."""
    n1 = st[N_INSNS] + 1
    lb = st[OFF_LINES]
    st[lb + L_RUNS * n1 + s] += 1
    st[lb + L_RUNS * n1 + e] -= 1
    if taken:
        _line_charge(st, p, taken, STALL_BRANCH)
    _line_charge(st, s, lu_extra, STALL_LOAD_USE)
    _line_charge(st, s, mem_extra, STALL_MEMORY)
    st[lb + L_CYC * n1 + s] += dual_adj
    st[lb + L_DUAL * n1 + s] -= dual_adj


@numba.njit(cache=True)
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
    if st[LINES_ON]:  # the same lines in the same order, each charged to the first instruction on it
        line = first
        for i in range(s, e):
            upto = (st[ib + I_FALL * n + i] - 1) >> shift
            while line <= upto:
                fill = _icache_line(st, line, shift)
                if fill:
                    _line_charge(st, i, fill, STALL_MEMORY)
                line += 1
        return
    for line in range(first, last + 1):
        _icache_line(st, line, shift)


@numba.njit(cache=True)
def _icache_line(st, line, shift):
    """Look one instruction line up; on a miss count it and charge its fill, which is returned."""
    row = _region_of(st, line << shift)
    if row < 0 or not st[row + R_CACHEABLE]:
        return 0
    if _cache_access(st, st[OFF_IC], st[IC_SETS], st[IC_WAYS], line, False) < 0:
        return 0
    st[IC_MISSES] += 1
    _charge_memory(st, st[IC_NODE], st[row + R_FILL])
    return st[row + R_FILL]


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
        if st[LINES_ON]:
            _line_charge(st, _insn_at_pc(uc, st, st_ptr), cycles, STALL_MEMORY)


@numba.njit(cache=True)
def _run_custom(uc, st, at):
    """The F_CUSTOM instruction pending ran if execution went on at its successor ``at``: its unit runs it now."""
    i = st[CUSTOM_PENDING] - 1
    st[CUSTOM_PENDING] = 0
    n = st[N_INSNS]
    ib = st[OFF_INSN]
    if st[ib + I_FALL * n + i] == at:
        for k in range(st[N_UNITS]):  # each unit's hook ignores what is not its instruction
            _call_unit_hook(st[UNIT_HOOK + k], uc, st[ib + I_ADDR * n + i], st[UNIT_STATE + k])


@numba.cfunc(types.void(types.voidptr, types.CPointer(types.int64)), nopython=True, cache=True)
def finish_custom(uc, st_ptr):
    """After emulation stopped: run the pending F_CUSTOM instruction if it ran (PC is at its successor)."""
    hdr = carray(st_ptr, NHEADER)
    st = carray(st_ptr, hdr[TOTAL])
    st[SCRATCH] = 0
    _uc_reg_read(uc, st[PC_REG], st_ptr)
    _run_custom(uc, st, st[SCRATCH] & 0xFFFFFFFE)


@numba.cfunc(_HOOK_SIG, nopython=True, cache=True)
def block_hook(uc, address, size, st_ptr):
    hdr = carray(st_ptr, NHEADER)
    st = carray(st_ptr, hdr[TOTAL])
    addr = np.int64(address)
    if st[CUSTOM_PENDING]:  # before anything else: the block's own checks may stop before it
        _run_custom(uc, st, addr)
    if size == 0:  # a block that only raises an exception (illegal instruction): the trap hook reports it
        return
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
        if st[ib + I_FLAGS * n + p] & F_CTRL:
            predicted = st[ib + I_BTAC * n + p]
            if seq:
                taken = st[ib + I_NOT_TAKEN * n + p] if predicted else 0
            else:
                taken = st[ib + I_PREDICTED * n + p] if predicted else st[ib + I_TAKEN * n + p]
                if st[ib + I_FLAGS * n + s] & F_MISALIGNED32:
                    taken += st[H_MISALIGNED]
    if st[TAKEN_PAID]:
        taken = 0
    lu, mem, dual = _entry(st, p, s, seq)
    dual_adj = dual - st[ib + I_ENTRY_DUAL * n + s]
    adj = lu + mem + dual_adj - st[ib + I_ENTRY_LU * n + s] - st[ib + I_ENTRY_MEM * n + s]
    start = st[CYCLES] + taken
    if st[SKIP_STOP_AT] == addr:
        st[SKIP_STOP_AT] = -1
    elif not st[ib + I_FLAGS * n + s] & F_IN_IT:
        if start >= st[STOP_AT_CYCLE] or st[INSTRET] >= st[STOP_AT_INSTRET]:
            # The event falls due during the refill: the boundary it is taken at is after it.
            if taken:
                st[CYCLES] = start
                st[STALL_BRANCH] += taken
                st[st[OFF_NODE] + N_CYC * st[MAX_NODES] + st[CUR_NODE]] += taken
                st[TAKEN_PAID] = 1
                if st[LINES_ON]:
                    _line_charge(st, p, taken, STALL_BRANCH)
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
    st[BLOCK_ADJ_DUAL] = dual_adj
    st[BLOCK_S] = s
    st[BLOCK_E] = e
    st[BLOCK_PREV] = p
    st[BLOCK_BTAC] = -1
    if p >= 0 and st[ib + I_FLAGS * n + p] & F_PREDICT:  # the BTAC learns where it went
        st[BLOCK_BTAC] = st[ib + I_BTAC * n + p]
        st[ib + I_BTAC * n + p] = 0 if seq else 1
    st[BLOCK_DYN] = 0
    st[ACCOUNTED] = 1
    st[INSTRET] += e - s
    st[LAST] = e - 1
    if st[ib + I_FLAGS * n + e - 1] & F_CUSTOM:
        st[CUSTOM_PENDING] = e
    st[STALL_BRANCH] += taken
    st[STALL_LOAD_USE] += lu - st[ib + I_ENTRY_LU * n + s]
    st[STALL_MEMORY] += mem - st[ib + I_ENTRY_MEM * n + s]
    st[DUAL] += st[pb + P_DUAL * n1 + e] - st[pb + P_DUAL * n1 + s] - dual_adj
    for k in range(len(STALL_CAUSES)):
        row = pb + (P_STALLS + k) * n1
        st[STALLS + k] += st[row + e] - st[row + s]
    for k in range(_N_TRAFFIC):
        row = pb + (P_TRAFFIC + k) * n1
        st[TRAFFIC + k] += st[row + e] - st[row + s]
    if st[LINES_ON]:
        _line_block(st, p, s, e, taken, lu - st[ib + I_ENTRY_LU * n + s], mem - st[ib + I_ENTRY_MEM * n + s], dual_adj)
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
    cyc = _call_latency(st[ib + I_LAT * n + i], a, b)
    # The prefix sums priced the instruction at its static cost: add the difference.
    pb = st[OFF_PREFIX]
    n1 = n + 1
    static = st[pb + P_CYC * n1 + i + 1] - st[pb + P_CYC * n1 + i] - st[ib + I_ENTRY_LU * n + i] \
        - st[ib + I_ENTRY_MEM * n + i] - st[ib + I_ENTRY_DUAL * n + i]
    extra = cyc - static
    st[CYCLES] += extra
    st[BLOCK_DYN] += extra
    st[STALL_MULDIV] += extra
    m = st[MAX_NODES]
    st[st[OFF_NODE] + N_CYC * m + st[CUR_NODE]] += extra
    if st[LINES_ON]:
        _line_charge(st, i, extra, STALL_MULDIV)


@numba.cfunc(_HOOK_SIG, nopython=True, cache=True)
def watch_hook(uc, address, size, st_ptr):
    """After an instruction that may unmask interrupts: stop if a watched register changed."""
    st = carray(st_ptr, NHEADER)
    if st[STOPPED] == 0 and _watched_changed(uc, st, st_ptr):
        _stop(uc, st, STOP_WATCH_INSN, np.int64(address))


@numba.cfunc(_HOOK_SIG, nopython=True, cache=True)
def alignment_hook(uc, address, size, st_ptr):
    """Before a load/store that needs a word-aligned address (LDRD, LDM, VLDR... on ARMv7-M): stop
    before it if its base register is not aligned (Unicorn does not raise the UsageFault)."""
    hdr = carray(st_ptr, NHEADER)
    st = carray(st_ptr, hdr[TOTAL])
    if st[STOPPED] != 0:
        return
    i = st[st[OFF_IDX] + ((np.int64(address) - st[CODE_BASE]) >> 1)] - 1
    if i < 0:
        return
    st[SCRATCH] = 0
    _uc_reg_read(uc, st[st[OFF_INSN] + I_ALIGNED * st[N_INSNS] + i], st_ptr)
    if st[SCRATCH] & 3:
        _stop(uc, st, STOP_UNALIGNED, np.int64(address))


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


_LATENCY_SIG = types.int64(types.int64, types.int64)
_latency_functions: dict[str, object] = {}


def latency_function(model: LatencyModel) -> int:
    """Address of ``model``'s native rule, compiled once per process (and cached on disk by Numba);
    the latency hook calls it through the address a site's instruction row holds."""
    fn = _latency_functions.get(model.name)
    if fn is None:
        fn = _latency_functions[model.name] = numba.cfunc(_LATENCY_SIG, nopython=True, cache=True)(model.native)
    return fn.address


# -- what a unit's native hook may do to the machine (accelerators/cfu.py) ------------------
@intrinsic
def as_pointer(typingctx, address):
    """An int64 holding an address, as a pointer to int64 (to reach a state array from its address)."""
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(types.CPointer(types.int64)))
    return types.CPointer(types.int64)(types.int64), codegen


@numba.njit(cache=True)
def machine_state(address):
    """The machine's state array from its address (a unit's state holds it)."""
    hdr = carray(as_pointer(address), NHEADER)
    return carray(as_pointer(address), hdr[TOTAL])


@numba.njit(cache=True)
def stopped_before(m):
    """The block hook stopped emulation before this instruction: it does not run now."""
    return m[STOPPED] != 0


@numba.njit(cache=True)
def read_register(uc, address, reg):
    """32-bit value of Unicorn register ``reg`` (through the scratch slot of the state at ``address``)."""
    m = carray(as_pointer(address), NHEADER)
    m[SCRATCH] = 0
    _uc_reg_read(uc, reg, as_pointer(address))
    return m[SCRATCH] & 0xFFFFFFFF


@numba.njit(cache=True)
def write_register(uc, address, reg, value):
    m = carray(as_pointer(address), NHEADER)
    m[SCRATCH] = value
    _uc_reg_write(uc, reg, as_pointer(address))


@numba.njit(cache=True)
def charge_accelerator(m, cycles, address):
    """The instruction at ``address`` waited ``cycles`` for a unit: the run, the accelerator stall, the
    function (and, with lines on, the instruction)."""
    m[CYCLES] += cycles
    m[STALL_ACCELERATOR] += cycles
    m[m[OFF_NODE] + N_CYC * m[MAX_NODES] + m[CUR_NODE]] += cycles
    if m[LINES_ON]:
        i = m[LAST]
        off = address - m[CODE_BASE]
        if 0 <= off < m[CODE_BYTES] and m[m[OFF_IDX] + (off >> 1)] > 0:
            i = m[m[OFF_IDX] + (off >> 1)] - 1
        _line_charge(m, i, cycles, STALL_ACCELERATOR)


# -- the state seen from Python ----------------------------------------------------------------
class _Slot:
    """A header field as an attribute: an int (one slot) or a writable numpy view (several)."""

    def __init__(self, at: int, count: int, doc: str):
        self.at, self.count, self.__doc__ = at, count, doc

    def __get__(self, state, owner=None):
        if state is None:
            return self
        if self.count == 1:
            return int(state.array[self.at])
        return state.array[self.at:self.at + self.count]

    def __set__(self, state, value) -> None:
        if self.count == 1:
            state.array[self.at] = value
        else:
            state.array[self.at:self.at + self.count] = value


class Rows:
    """Named rows of one table (each ``length`` long): ``rows.cycles[i]``, ``rows["cycles"]``."""

    def __init__(self, array: np.ndarray, offset: int, length: int, layout: Layout):
        self._array, self._offset, self._length, self._layout = array, offset, length, layout

    def __getitem__(self, name: str) -> np.ndarray:
        at, count, _ = self._layout.fields[name]
        lo = self._offset + at * self._length
        view = self._array[lo:lo + count * self._length]
        return view if count == 1 else view.reshape(count, self._length)

    def __getattr__(self, name: str) -> np.ndarray:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no {self._layout.what} field {name!r}") from None


class Record:
    """One record of a table stored record by record (a board region): fields as int attributes."""

    def __init__(self, array: np.ndarray, offset: int, layout: Layout):
        object.__setattr__(self, "_array", array)
        object.__setattr__(self, "_offset", offset)
        object.__setattr__(self, "_layout", layout)

    def __getattr__(self, name: str) -> int:
        return int(self._array[self._offset + self._layout.fields[name][0]])

    def __setattr__(self, name: str, value: int) -> None:
        self._array[self._offset + self._layout.fields[name][0]] = value


class NativeState:
    """A run's state array seen from Python: the header's fields as attributes (``state.cycles``,
    ``state.stalls``), the tables as named views. The hooks and this view are the only code that
    knows the layout; ``array`` is what the hooks get as user data."""

    def __init__(self, array: np.ndarray):
        self.array = array

    @classmethod
    def allocate(cls, *, instructions: int, code_bytes: int, regions: int, icache: tuple[int, int],
                 dcache: tuple[int, int], max_nodes: int, max_depth: int, lines: bool = False) -> NativeState:
        """A zeroed state with room for the tables; ``icache``/``dcache`` are (sets, ways); ``lines``
        keeps the per-instruction rows of cycles per source line."""
        hash_slots = 1
        while hash_slots < 2 * max_nodes:
            hash_slots <<= 1
        sizes = ((OFF_IDX, code_bytes // 2 + 1), (OFF_INSN, N_IFIELDS * instructions),
                 (OFF_PREFIX, N_PREFIX * (instructions + 1)), (OFF_NODE, N_NODE_ROWS * max_nodes),
                 (OFF_HASH, 2 * hash_slots), (OFF_STACK, N_FRAME_ROWS * max_depth),
                 (OFF_IC, 3 * icache[0] * icache[1]), (OFF_DC, 3 * dcache[0] * dcache[1]),
                 (OFF_REGION, N_RFIELDS * regions), (OFF_LINES, N_LROWS * (instructions + 1) if lines else 0))
        at, offsets = NHEADER, {}
        for slot, size in sizes:
            offsets[slot], at = at, at + size
        state = cls(np.zeros(at, dtype=np.int64))
        for slot, offset in offsets.items():
            state.array[slot] = offset
        state.total, state.hash_mask = at, hash_slots - 1
        state.code_bytes, state.n_instructions, state.n_regions = code_bytes, instructions, regions
        state.max_nodes, state.max_depth = max_nodes, max_depth
        state.lines = int(lines)
        state.icache_sets, state.icache_ways = icache
        state.dcache_sets, state.dcache_ways = dcache
        return state

    def copy(self) -> NativeState:
        return NativeState(self.array.copy())

    # -- tables ---------------------------------------------------------------------------------
    @property
    def index(self) -> np.ndarray:
        """Halfword of code -> instruction index + 1 (0: no instruction starts there)."""
        return self.array[self.index_table:self.index_table + self.code_bytes // 2 + 1]

    @property
    def insn(self) -> Rows:
        return Rows(self.array, self.instruction_table, self.n_instructions, INSN)

    @property
    def prefix(self) -> Rows:
        return Rows(self.array, self.prefix_table, self.n_instructions + 1, PREFIX)

    @property
    def nodes(self) -> Rows:
        return Rows(self.array, self.node_table, self.max_nodes, NODE)

    @property
    def line_rows(self) -> Rows:
        """The LINE rows (empty views when lines is 0)."""
        return Rows(self.array, self.line_table, self.n_instructions + 1 if self.lines else 0, LINE)

    def region(self, k: int) -> Record:
        return Record(self.array, self.region_table + k * N_RFIELDS, REGION)

    def static_traffic(self) -> dict[str, dict[str, int]]:
        """The decoded loads' and stores' traffic so far, by TRAFFIC_PLACES and TRAFFIC_KINDS."""
        t = self.traffic.reshape(len(TRAFFIC_PLACES), len(TRAFFIC_KINDS))
        return {place: {kind: int(t[i, j]) for j, kind in enumerate(TRAFFIC_KINDS)}
                for i, place in enumerate(TRAFFIC_PLACES)}

    def charge(self, cycles: int, cause: str, insn: int = -1) -> None:
        """Add ``cycles`` spent outside instructions to the run, a stall cause and the current function
        (and, with lines on, to instruction ``insn`` when it is one)."""
        k = STALL_CAUSES.index(cause)
        self.cycles += cycles
        self.stalls[k] += cycles
        self.nodes.cycles[self.node] += cycles
        if self.lines and insn >= 0:
            rows = self.line_rows
            rows.cycles[insn] += cycles
            rows.stalls[k, insn] += cycles


for _name, (_at, _count, _doc) in HEADER.fields.items():
    setattr(NativeState, _name, _Slot(_at, _count, _doc))


def describe_layout() -> str:
    """The state array's layout as text (docs/architecture.md quotes it)."""
    lines = []
    for layout in (HEADER, INSN, PREFIX, LINE, REGION, NODE, FRAME):
        lines.append(f"{layout.what}:")
        for name, (at, count, doc) in layout.fields.items():
            lines.append(f"  {at:3d}{'+' + str(count) if count > 1 else '':4s} {name:24s} {doc}")
    return "\n".join(lines)


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
            _FINISH_CUSTOM(self._uc._uch, machine.ctypes.data)

    def close(self) -> None:
        for h in self._handles:
            _LIB.uc_hook_del(self._uc._uch, h)
        self._handles.clear()
        self._keep.clear()


_FINISH_CUSTOM = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)(finish_custom.address)
