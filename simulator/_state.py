"""The state array that the native hooks (``_native``) and Python share: its layout and its Python view.

One ``int64`` numpy array per run: header slots, then the tables whose offsets the header holds.
The hooks index it with the constants ``Layout.add`` returns (Numba folds them); every other
module reads and writes it through ``NativeState``. This module needs neither Numba nor Unicorn,
so that building the tables of a run (``_codemap``) and reporting on it do not load them.
"""

from __future__ import annotations

import functools

import numpy as np

from ._timing import NEVER_CYCLE, STALL_CAUSES


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
DUAL = HEADER.add("dynamic_dual", "dual issues beyond the static ones the runs row counts (block entries)")
STALLS = HEADER.add("dynamic_stalls", "stall cycles beyond the static ones the runs row counts, by cause "
                    "(STALL_CAUSES order): entry interlocks, refills, latencies, misses, waits", len(STALL_CAUSES))
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
OFF_INSN = HEADER.add("instruction_table", "offset of the per-instruction records (INSN)")
OFF_PREFIX = HEADER.add("prefix_table", "offset of the prefix-sum records (PREFIX)")
OFF_RUNS = HEADER.add("runs_table", "offset of the runs row: +1 where a block starts, -1 where it ends")
OFF_NODE = HEADER.add("node_table", "offset of the call-tree records (NODE)")
OFF_HASH = HEADER.add("hash_table", "offset of the call-tree hash table (key + 1, node) pairs")
OFF_STACK = HEADER.add("stack_table", "offset of the shadow call stack records (FRAME)")
OFF_IC = HEADER.add("icache_table", "offset of the I-cache: tags, LRU stamps, dirty bits")
OFF_DC = HEADER.add("dcache_table", "offset of the D-cache: tags, LRU stamps, dirty bits")
OFF_REGION = HEADER.add("region_table", "offset of the region records (REGION)")
LINES_ON = HEADER.add("lines", "1: keep the per-instruction records (LINE) for cycles per source line")
PC_REG = HEADER.add("pc_register", "Unicorn register id of PC (which instruction a data access belongs to)")
OFF_LINES = HEADER.add("line_table", "offset of the per-instruction records (LINE); empty when lines is 0")
#: Custom-instruction units whose instructions the block hook runs (F_CUSTOM), at most this many.
MAX_UNITS = 4
CUSTOM_PENDING = HEADER.add("custom_pending", "1 + index of the F_CUSTOM instruction that ends the block accounted "
                            "last (0: none): its unit runs it when the next block starts")
N_UNITS = HEADER.add("custom_units", "units whose F_CUSTOM instructions the block hook runs")
UNIT_HOOK = HEADER.add("unit_hooks", "their native hooks' addresses (HOOK_SIGNATURE)", MAX_UNITS)
UNIT_STATE = HEADER.add("unit_states", "their state arrays' addresses", MAX_UNITS)
#: Access plans (PLAN, ``_native._plan_block``): with exact memory or a data cache, the block hook works out
#: the address of each data access of the block from the registers at its start and prices it by its region,
#: instead of a memory hook seeing every access.
PLANNING = HEADER.add("planning", "1: the block hook plans data accesses (PLAN): to check alignment, to price")
PLAN_PRICES = HEADER.add("plan_prices", "1: the plans price data accesses (exact memory, a data cache)")
PLAN_UNALIGNED = HEADER.add("plan_unaligned", "1: the plan of the current block stopped at an unaligned base")
OFF_PLAN = HEADER.add("plan_table", "offset of the per-instruction access plans (PLAN), N_INSNS + 1 records")
OFF_ACCESS = HEADER.add("access_table", "offset of the current block's priced accesses (ACCESS), for taking back")
ACC_N = HEADER.add("accesses", "ACCESS records of the current block")
ACC_CAP = HEADER.add("access_capacity", "ACCESS records there is room for (the most one block can make)")
PLAN_DEFER = HEADER.add("plan_deferred", "first instruction of the current block whose accesses access_hook "
                        "prices (its address needs a value loaded in the block, or it is predicated); N_INSNS: none")
PLAN_SPLIT = HEADER.add("plan_split", "STOP_PLAN: the instruction to split the block at")
OFF_PLANNED = HEADER.add("planned_table", "offset of the (site, address, stored word or -1) the current block's "
                         "plan worked out")
PLANNED_N = HEADER.add("planned", "sites in it")
MAX_PLAN_REGS = 32
PLAN_REGS = HEADER.add("plan_registers", "Unicorn register ids by register number", MAX_PLAN_REGS)
PLAN_VALS = HEADER.add("plan_values", "register values the plan of the current block has worked out", MAX_PLAN_REGS)
NHEADER = HEADER.size

#: Named stall slots the hooks charge directly, and why a hook stopped emulation. They are numpy
#: int64, not int, because the hooks pass them as arguments: Numba compiles a helper once per
#: literal int it is given (each value is a type of its own), but once for all int64 values.
STALL_BRANCH, STALL_LOAD_USE, STALL_MULDIV, STALL_MEMORY, STALL_ACCELERATOR = (
    np.int64(STALLS + STALL_CAUSES.index(c)) for c in ("branch", "load_use", "muldiv", "memory", "accelerator"))

STOP_EVENT, STOP_SPLIT, STOP_WATCH, STOP_OUTSIDE, STOP_WATCH_INSN, STOP_UNALIGNED, STOP_PLAN = (
    np.int64(k) for k in range(1, 8))

# Tables are stored record by record (a record's fields side by side), the fields a block hook
# reads first: one block touches a few cache lines, not one per field.

#: Per-instruction records, N_INSNS of them.
INSN = Layout("instruction")
I_FLAGS = INSN.add("flags", "F_* bits")
I_FALL = INSN.add("fallthrough", "address after it")
I_LDEST = INSN.add("load_dests", "registers written from memory")
I_WRITES = INSN.add("writes", "registers written")
I_READS = INSN.add("reads", "registers read (decoder bit mask)")
I_AREGS = INSN.add("addr_regs", "registers forming a memory address")
I_ENTRY_LU = INSN.add("entry_load_use", "load-use cycles it pays after its linear predecessor (in the prefix sums)")
I_ENTRY_MEM = INSN.add("entry_memory", "memory cycles it pays after its linear predecessor (in the prefix sums)")
I_ENTRY_DUAL = INSN.add("entry_dual", "-1: it issues in its linear predecessor's cycle (in the prefix sums)")
I_FUNC = INSN.add("function", "index in the function table")
I_SPMIN = INSN.add("sp_min", "lowest SP offset reached before its block ends")
I_TAKEN = INSN.add("taken", "refill cycles when it transfers control elsewhere than its fall-through")
I_PREDICTED = INSN.add("predicted", "refill cycles when it transfers control as the BTAC predicted")
I_NOT_TAKEN = INSN.add("not_taken", "cycles when it falls through although the BTAC predicted it taken")
I_BTAC = INSN.add("btac", "1: the BTAC predicts it taken (it was taken the last time it ran)")
I_ADDR = INSN.add("address", "start address")
I_FETCH = INSN.add("fetch", "streaming fetch: cycles it waits for its fetch lines when reached in sequence")
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

#: Access plans, N_INSNS + 1 records (the last one: where no instruction follows). Register numbers are the
#: decoders' (r0..r15, x0..x31); masks have bit n for register n.
PLAN = Layout("plan")
PL_NEXT = PLAN.add("next", "first instruction at or after this one that the plans look at (N_INSNS: none)")
PL_KIND = PLAN.add("kind", "K_* bits")
PL_BASE = PLAN.add("base", "base register of its accesses, -1: disp is their address")
PL_INDEX = PLAN.add("index", "index register, -1: none")
PL_SHIFT = PLAN.add("shift", "left shift of the index")
PL_DISP = PLAN.add("disp", "added to the base and the scaled index")
PL_WB = PLAN.add("writeback", "added to the base register after the instruction")
PL_FIRST = PLAN.add("first", "offset of the first access from the address")
PL_COUNT = PLAN.add("count", "accesses, size bytes apart")
PL_SIZE = PLAN.add("size", "bytes per access")
PL_WRITE = PLAN.add("write", "1: its accesses are writes")
PL_RD = PLAN.add("move_to", "K_MOVE: the register it sets to src OP ((src2 << shift2) + imm) (K_HIGH: "
                 "(rd & 0xFFFF) | imm)")
PL_SRC = PLAN.add("move_from", "K_MOVE: the source register, -1: none")
PL_SRC2 = PLAN.add("move_from2", "K_MOVE: a second source register, -1: none")
PL_SHIFT2 = PLAN.add("move_shift", "K_MOVE: left shift of the second source")
PL_IMM = PLAN.add("move_imm", "K_MOVE: the immediate")
PL_OP = PLAN.add("move_op", "K_MOVE: the operation, numbered as isa.insn.MOVE_OPS")
PL_LOST = PLAN.add("lost", "registers it writes with values the plans do not follow (mask)")
PL_DEST = PLAN.add("dest", "the register a load writes or a store stores (the plans follow values "
                   "through memory); -1: none")
N_PLFIELDS = PLAN.size
K_SITE, K_MOVE, K_HIGH, K_DEFER, K_HOOKED, K_SIGNED, K_ALIGNED = 1, 2, 4, 8, 16, 32, 64
#: K_SIGNED: a load that sign-extends what it loads. K_ALIGNED: its base register must be word-aligned
#: (LDRD, LDM, VLDR... on ARMv7-M and later; Unicorn does not fault): the plans check it. K_DEFER: a site
#: predicated in an IT block (it may not run), which the plans never do. K_HOOKED: access_hook watches the
#: site, so a block's plan may stop before it; a block whose plan would stop at a site not hooked is split
#: there instead (STOP_PLAN), so that the site starts a block of its own.

#: Priced accesses of the current block, ACC_CAP records: what taking back part of the block undoes.
ACCESS = Layout("access")
A_INSN = ACCESS.add("instruction", "the instruction that made it")
A_ROW = ACCESS.add("region", "offset of its region's record")
A_WRITE = ACCESS.add("write", "1: a write")
A_BYTES = ACCESS.add("bytes", "bytes counted as its region's traffic (0: another line of the same access)")
A_WAIT = ACCESS.add("wait", "cycles charged for it (wait states, misses, write-backs)")
A_LATE = ACCESS.add("late", "1: priced when it ran (access_hook, in block_dynamic), 0: at the block's start")
A_SLOT = ACCESS.add("cache_slot", "data-cache slot it looked up, -1: uncached")
A_TAG = ACCESS.add("old_tag", "that slot's tag, LRU stamp and dirty bit before")
A_STAMP = ACCESS.add("old_stamp", "")
A_DIRTY = ACCESS.add("old_dirty", "")
A_CLOCK = ACCESS.add("old_clock", "cache_clock before")
A_OUTCOME = ACCESS.add("outcome", "1 hit, 2 miss, 3 miss with a write-back")
N_AFIELDS = ACCESS.size

#: Prefix-sum records, N_INSNS + 1 of them: what instructions [0, i) add up to. The block hook
#: reads only the first two; the static totals come from the runs row (``NativeState.static``).
PREFIX = Layout("prefix")
P_CYC = PREFIX.add("cycles", "cycles of the static model")
P_DYN_SP = PREFIX.add("dynamic_sp", "instructions that set SP to a run-time value")
P_DUAL = PREFIX.add("dual", "instructions that issue in their linear predecessor's cycle")
P_STALLS = PREFIX.add("stalls", "stall cycles by cause", len(STALL_CAUSES))
P_TRAFFIC = PREFIX.add("traffic", "static data traffic: TRAFFIC_PLACES x TRAFFIC_KINDS", _N_TRAFFIC)
N_PREFIX = PREFIX.size

#: Per-instruction records for cycles per source line, N_INSNS + 1 of them, kept only when ``lines``
#: is 1. An instruction's cycles are its static price times the times it ran (the runs row), plus
#: what ``cycles`` holds.
LINE = Layout("line")
L_CYC = LINE.add("cycles", "cycles charged to it beyond its static price: entry, refill after it, latency, misses")
L_STALLS = LINE.add("stalls", "those cycles by cause", len(STALL_CAUSES))
L_DUAL = LINE.add("dual", "dual issues beyond the static prefix (at a block's first instruction)")
N_LFIELDS = LINE.size

#: Board region records, one of N_RFIELDS per region.
REGION = Layout("region")
R_BASE = REGION.add("base", "first address")
R_END = REGION.add("end", "address after the last")
R_CACHEABLE = REGION.add("cacheable", "the caches sit in front of it")
R_READ_WAIT = REGION.add("read_wait", "wait states per data read")
R_WRITE_WAIT = REGION.add("write_wait", "wait states per data write")
R_FILL = REGION.add("fill", "cycles of a cache line fill from it")
R_DEVICE = REGION.add("device", "1: device registers (reading them has effects: the plans never do)")
R_READS = REGION.add("reads", "data reads that reached it")
R_WRITES = REGION.add("writes", "data writes")
R_READ_BYTES = REGION.add("read_bytes", "bytes read")
R_WRITE_BYTES = REGION.add("write_bytes", "bytes written")
N_RFIELDS = REGION.size

#: Call-tree node records (max_nodes of them) and shadow-stack frames (max_depth).
NODE = Layout("node")
N_FUNC = NODE.add("function", "function index, -1 for the root")
N_CYC = NODE.add("cycles", "exclusive cycles")
N_INS = NODE.add("instructions", "exclusive instructions")
N_PARENT = NODE.add("parent", "caller's node")
N_CALLS = NODE.add("calls", "times it was called")
N_NFIELDS = NODE.size
FRAME = Layout("frame")
S_NODE = FRAME.add("node", "caller's node")
S_RET = FRAME.add("return", "return address")
N_FFIELDS = FRAME.size

NEVER = np.int64(NEVER_CYCLE)


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
    """One table of ``length`` records seen field by field: ``rows.cycles[i]``, ``rows["cycles"]``
    (writable views; a field of several slots is one row per slot)."""

    def __init__(self, array: np.ndarray, offset: int, length: int, layout: Layout):
        records = array[offset:offset + length * layout.size].reshape(length, layout.size)
        self._layout = layout
        self._views = {name: records[:, at] if count == 1 else records[:, at:at + count].T
                       for name, (at, count, _) in layout.fields.items()}
        self.__dict__.update(self._views)  # plain attributes: no lookup per access

    def __getitem__(self, name: str) -> np.ndarray:
        return self._views[name]

    def __getattr__(self, name: str) -> np.ndarray:
        raise AttributeError(f"no {self._layout.what} field {name!r}")


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
                 dcache: tuple[int, int], max_nodes: int, max_depth: int, lines: bool = False,
                 accesses: int = 0, priced: bool = False) -> NativeState:
        """A zeroed state with room for the tables; ``icache``/``dcache`` are (sets, ways); ``lines``
        keeps the per-instruction rows of cycles per source line; ``accesses`` > 0: access plans, with room
        for that many accesses per block, ``priced``: which price them."""
        hash_slots = 1
        while hash_slots < 2 * max_nodes:
            hash_slots <<= 1
        sizes = ((OFF_IDX, code_bytes // 2 + 1), (OFF_INSN, N_IFIELDS * instructions),
                 (OFF_PREFIX, N_PREFIX * (instructions + 1)), (OFF_RUNS, instructions + 1),
                 (OFF_NODE, N_NFIELDS * max_nodes), (OFF_HASH, 2 * hash_slots), (OFF_STACK, N_FFIELDS * max_depth),
                 (OFF_IC, 3 * icache[0] * icache[1]), (OFF_DC, 3 * dcache[0] * dcache[1]),
                 (OFF_REGION, N_RFIELDS * regions), (OFF_LINES, N_LFIELDS * (instructions + 1) if lines else 0),
                 (OFF_PLAN, N_PLFIELDS * (instructions + 1) if accesses else 0), (OFF_ACCESS, N_AFIELDS * accesses),
                 (OFF_PLANNED, 3 * accesses))
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
        state.planning, state.plan_prices, state.access_capacity = int(accesses > 0), int(priced), accesses
        return state

    def copy(self) -> NativeState:
        return NativeState(self.array.copy())

    # -- tables ---------------------------------------------------------------------------------
    @property
    def index(self) -> np.ndarray:
        """Halfword of code -> instruction index + 1 (0: no instruction starts there)."""
        return self.array[self.index_table:self.index_table + self.code_bytes // 2 + 1]

    @property
    def runs(self) -> np.ndarray:
        """+1 at each block's first instruction, -1 after its last, per block run: the running sum
        is how often each instruction ran."""
        return self.array[self.runs_table:self.runs_table + self.n_instructions + 1]

    def static(self) -> np.ndarray:
        """What the instructions that ran add up to in each prefix field (N_PREFIX values): the
        static part of the totals. The hooks count block runs instead of adding these per block."""
        prefix = self.array[self.prefix_table:self.prefix_table + N_PREFIX * (self.n_instructions + 1)]
        return -(self.runs @ prefix.reshape(-1, N_PREFIX))

    @property
    def stalls(self) -> np.ndarray:
        """Stall cycles by cause (STALL_CAUSES order), static and dynamic."""
        return self.static()[P_STALLS:P_STALLS + len(STALL_CAUSES)] + self.dynamic_stalls

    @property
    def traffic(self) -> np.ndarray:
        """The decoded loads' and stores' traffic so far, TRAFFIC_PLACES x TRAFFIC_KINDS."""
        return self.static()[P_TRAFFIC:P_TRAFFIC + _N_TRAFFIC]

    @property
    def dual_issued(self) -> int:
        """Instructions that issued in the previous instruction's cycle."""
        return int(self.static()[P_DUAL]) + self.dynamic_dual

    @functools.cached_property
    def insn(self) -> Rows:
        return Rows(self.array, self.instruction_table, self.n_instructions, INSN)

    @functools.cached_property
    def prefix(self) -> Rows:
        return Rows(self.array, self.prefix_table, self.n_instructions + 1, PREFIX)

    @functools.cached_property
    def nodes(self) -> Rows:
        return Rows(self.array, self.node_table, self.max_nodes, NODE)

    @functools.cached_property
    def line_rows(self) -> Rows:
        """The LINE rows (empty views when lines is 0)."""
        return Rows(self.array, self.line_table, self.n_instructions + 1 if self.lines else 0, LINE)

    @functools.cached_property
    def plans(self) -> Rows:
        """The PLAN rows (empty views without access plans)."""
        return Rows(self.array, self.plan_table, self.n_instructions + 1 if self.planning else 0, PLAN)

    @functools.cached_property
    def access_rows(self) -> Rows:
        """The ACCESS rows (all ``access_capacity`` of them; the current block's are the first ``accesses``)."""
        return Rows(self.array, self.access_table, self.access_capacity, ACCESS)

    def region(self, k: int) -> Record:
        return Record(self.array, self.region_table + k * N_RFIELDS, REGION)

    def static_traffic(self) -> dict[str, dict[str, int]]:
        """``traffic`` by TRAFFIC_PLACES and TRAFFIC_KINDS."""
        t = self.traffic.reshape(len(TRAFFIC_PLACES), len(TRAFFIC_KINDS))
        return {place: {kind: int(t[i, j]) for j, kind in enumerate(TRAFFIC_KINDS)}
                for i, place in enumerate(TRAFFIC_PLACES)}

    def charge(self, cycles: int, cause: str, insn: int = -1) -> None:
        """Add ``cycles`` spent outside instructions to the run, a stall cause and the current function
        (and, with lines on, to instruction ``insn`` when it is one)."""
        k = STALL_CAUSES.index(cause)
        self.cycles += cycles
        self.dynamic_stalls[k] += cycles
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
    for layout in (HEADER, INSN, PLAN, ACCESS, PREFIX, LINE, REGION, NODE, FRAME):
        lines.append(f"{layout.what}:")
        for name, (at, count, doc) in layout.fields.items():
            lines.append(f"  {at:3d}{'+' + str(count) if count > 1 else '':4s} {name:24s} {doc}")
    return "\n".join(lines)
