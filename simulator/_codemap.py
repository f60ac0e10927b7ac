"""Decode an ELF's code once and lay out the tables the native hooks read.

For every instruction: its static cost under the timing profile (split by
stall cause), its entry cost assuming it follows its linear predecessor, the
taken-transfer penalty, register masks for interlocks, memory traffic, the
stack depth it reaches before the end of its basic block, and its function.
Costs become prefix sums, so pricing any block [s, e) is one subtraction.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from unicorn import arm_const, riscv_const

from . import _native as nat
from ._timing import (CACHEABLE_KINDS, STALL_CAUSES, MemoryCosts, Profile, entry_cost, instruction_cost,
                      latency_model_of, memory_hooked)
from .isa import rv32, thumb
from .isa.insn import Insn

MAX_NODES = 4096
MAX_DEPTH = 512
_ARM_REGS = [getattr(arm_const, f"UC_ARM_REG_R{i}") for i in range(13)] + [
    arm_const.UC_ARM_REG_SP, arm_const.UC_ARM_REG_LR, arm_const.UC_ARM_REG_PC]
_RV_REGS = [getattr(riscv_const, f"UC_RISCV_REG_X{i}") for i in range(32)]
_RV_WATCHED_CSRS = (0x300, 0x304)  # mstatus, mie


def register_ids(arch: str) -> list[int]:
    """Unicorn register ids indexed by the decoders' register numbers."""
    return _ARM_REGS if arch == "arm" else _RV_REGS


def decode_image(image, arch: str) -> list[Insn]:
    out: list[Insn] = []
    for sec in sorted(image.code, key=lambda c: c.addr):
        if arch == "arm":
            out += thumb.decode_all(sec.data, sec.addr, image.data_in_code)
        else:
            out += rv32.decode_all(sec.data, sec.addr)
    return out


def _watches(insn: Insn, arch: str, code_word: int) -> bool:
    """May this instruction unmask an interrupt (so delivery must be re-checked right after it)?"""
    if arch == "arm":
        t = insn.text
        return t.startswith("cpsie") or (t.startswith("msr") and any(r in t for r in ("primask", "basepri", "faultmask")))
    if insn.text == "30200073":  # MRET
        return True
    d = rv32.decode_csr(code_word)
    return d is not None and d[0] in _RV_WATCHED_CSRS and (d[2] & 3) != 0


@dataclass
class CodeMap:
    """Decoded code, its function table and the native state array built from them."""

    insns: list[Insn]
    functions: list[str]
    func_of: list[int]
    base: int
    state: np.ndarray
    latency_sites: list[int]
    watch_sites: list[int]
    mem: MemoryCosts          #: the wait states the static costs include
    memory_hook: bool         #: data accesses are priced and counted by ``_native.memory_hook``
    it_exits: list[int]       #: where execution leaves a Thumb-2 IT block (see ``_native.it_exit_hook``)

    def fresh(self) -> CodeMap:
        """The same tables with the run-time state reset, for one more run."""
        return dataclasses.replace(self, state=self.state.copy())

    def index(self, addr: int) -> int:
        """Index of the instruction starting at ``addr``, or -1."""
        off = addr - self.base
        if off < 0 or off > int(self.state[nat.CODE_BYTES]):
            return -1
        return int(self.state[int(self.state[nat.OFF_IDX]) + (off >> 1)]) - 1

    def prefix(self, row: int, i: int) -> int:
        n1 = len(self.insns) + 1
        return int(self.state[int(self.state[nat.OFF_PREFIX]) + row * n1 + i])

    def field(self, row: int, i: int) -> int:
        return int(self.state[int(self.state[nat.OFF_INSN]) + row * len(self.insns) + i])


def build(image, arch: str, profile: Profile, board, exact_memory: bool = False) -> CodeMap:
    insns = decode_image(image, arch)
    if not insns:
        raise ValueError("no code")
    hooked = memory_hooked(profile, exact_memory)
    mem = MemoryCosts.of(board, profile, hooked)
    base = min(i.addr for i in insns) & ~1
    code_bytes = max(i.fallthrough for i in insns) - base
    n = len(insns)
    halfwords = code_bytes // 2 + 1

    names: dict[str, int] = {}
    func_of = []
    for insn in insns:
        sym = image.symbol_at(insn.addr)
        name = sym.name if sym is not None else "?"
        func_of.append(names.setdefault(name, len(names)))
    functions = list(names)

    hash_slots = 1
    while hash_slots < 2 * MAX_NODES:
        hash_slots <<= 1
    off_idx = nat.NHEADER
    off_insn = off_idx + halfwords
    off_prefix = off_insn + nat.N_IFIELDS * n
    off_node = off_prefix + nat.N_PREFIX * (n + 1)
    off_hash = off_node + 5 * MAX_NODES
    off_stack = off_hash + 2 * hash_slots
    cache = profile.cache or {}
    line = cache.get("line_bytes", 32)
    ic_ways, dc_ways = cache.get("icache_ways", 1), cache.get("dcache_ways", 1)
    ic_sets = cache.get("icache_bytes", 0) // (line * ic_ways)
    dc_sets = cache.get("dcache_bytes", 0) // (line * dc_ways)
    off_ic = off_stack + 2 * MAX_DEPTH
    off_dc = off_ic + 3 * ic_sets * ic_ways   # tags, LRU stamps, dirty bits
    off_region = off_dc + 3 * dc_sets * dc_ways
    total = off_region + nat.N_RFIELDS * len(board.regions)
    st = np.zeros(total, dtype=np.int64)
    st[nat.TOTAL] = total
    st[nat.LINE_SHIFT] = line.bit_length() - 1
    st[nat.IC_SETS], st[nat.IC_WAYS], st[nat.OFF_IC] = ic_sets, ic_ways, off_ic
    st[nat.DC_SETS], st[nat.DC_WAYS], st[nat.OFF_DC] = dc_sets, dc_ways, off_dc
    st[nat.N_REGIONS], st[nat.OFF_REGION] = len(board.regions), off_region
    st[nat.XPSR_REG] = arm_const.UC_ARM_REG_XPSR if arch == "arm" else 0
    for k, r in enumerate(board.regions):
        row = off_region + k * nat.N_RFIELDS
        beats = line // cache.get("bus_bytes", line)
        st[row + nat.R_BASE], st[row + nat.R_END] = r.base, r.base + r.size
        st[row + nat.R_CACHEABLE] = r.kind in CACHEABLE_KINDS
        st[row + nat.R_READ_WAIT], st[row + nat.R_WRITE_WAIT] = r.read_wait_states, r.write_wait_states
        st[row + nat.R_FILL] = cache.get("miss_cycles", 0) + beats * r.read_wait_states
    st[nat.OFF_IDX], st[nat.OFF_INSN], st[nat.OFF_PREFIX] = off_idx, off_insn, off_prefix
    st[nat.OFF_NODE], st[nat.OFF_HASH], st[nat.OFF_STACK] = off_node, off_hash, off_stack
    st[nat.HASH_MASK] = hash_slots - 1
    st[nat.MAX_NODES], st[nat.MAX_DEPTH], st[nat.N_FUNCS] = MAX_NODES, MAX_DEPTH, len(functions)
    st[nat.N_NODES] = 1
    st[off_node + nat.N_FUNC * MAX_NODES] = -1  # node 0: the root, above reset
    st[nat.CODE_BASE], st[nat.CODE_BYTES], st[nat.N_INSNS] = base, code_bytes, n
    st[nat.STOP_AT_CYCLE] = st[nat.STOP_AT_INSTRET] = nat.NEVER
    st[nat.SKIP_STOP_AT] = -1
    st[nat.LAST] = -1
    st[nat.MIN_SP] = nat.NEVER
    st[nat.STACK_LO], st[nat.STACK_HI] = board.data.base, board.data.end
    h = profile.hazards
    st[nat.H_LOAD_USE], st[nat.H_ADDR_DEP], st[nat.H_B2B_LOAD] = h["load_use"], h["address_dependency"], h["back_to_back_load"]
    st[nat.H_JR_USE], st[nat.H_MISALIGNED] = h["jump_reg_use"], h["misaligned_target"]
    st[nat.FETCH_WAIT], st[nat.FETCH_SHIFT], st[nat.PREFETCH] = mem.fetch_wait, mem.fetch_shift, mem.prefetch
    st[nat.SP_REG] = arm_const.UC_ARM_REG_SP if arch == "arm" else riscv_const.UC_RISCV_REG_SP

    idx = st[off_idx:off_insn]
    for i, insn in enumerate(insns):
        idx[(insn.addr - base) >> 1] = i + 1
    for i, insn in enumerate(insns):  # a block may end where data (a literal pool) follows
        end = (insn.fallthrough - base) >> 1
        if idx[end] == 0:
            idx[end] = i + 2

    rows = st[off_insn:off_prefix].reshape(nat.N_IFIELDS, n)
    prefix = st[off_prefix:off_node].reshape(nat.N_PREFIX, n + 1)
    regs = register_ids(arch)
    code_bytes_of = {}
    for sec in image.code:
        code_bytes_of[sec.addr] = sec.data
    latency_sites, watch_sites = [], []
    causes = {c: k for k, c in enumerate(STALL_CAUSES)}
    spmin_next = 0
    for i in range(n - 1, -1, -1):  # backwards: stack depth reached before the block ends
        insn = insns[i]
        nxt_same_block = i + 1 < n and not insn.ctrl and insns[i + 1].addr == insn.fallthrough
        delta = insn.sp_delta or 0
        spmin = min(0, delta + (spmin_next if nxt_same_block else 0))
        rows[nat.I_SPMIN, i] = spmin
        spmin_next = spmin
    for i, insn in enumerate(insns):
        prev = insns[i - 1] if i and insns[i - 1].fallthrough == insn.addr else None
        cost = instruction_cost(profile, mem, insn)
        lu, mc = entry_cost(profile, mem, prev, insn)
        flags = 0
        flags |= nat.F_CTRL if insn.ctrl else 0
        flags |= nat.F_CALL if insn.call else 0
        flags |= nat.F_IN_IT if insn.in_it else 0
        flags |= nat.F_LOAD if insn.klass == "load" else 0
        flags |= nat.F_SINGLE if insn.klass in ("load", "store") else 0
        flags |= nat.F_JR if insn.klass in ("jump_reg", "call_reg") else 0
        flags |= nat.F_MISALIGNED32 if insn.size == 4 and insn.addr & 2 else 0
        flags |= nat.F_SIGNED if insn.signed else 0
        word = 0
        if arch != "arm":
            word = _word_at(image, insn.addr)
        if _watches(insn, arch, word):
            if insn.ctrl:
                flags |= nat.F_WATCH
            else:
                watch_sites.append(insn.fallthrough)
        model = latency_model_of(profile, insn)
        if model:
            rows[nat.I_LAT, i] = model
            rows[nat.I_OPA, i] = regs[insn.operands[0]]
            rows[nat.I_OPB, i] = regs[insn.operands[1]]
            latency_sites.append(insn.addr)
        rows[nat.I_ADDR, i], rows[nat.I_FALL, i], rows[nat.I_FLAGS, i] = insn.addr, insn.fallthrough, flags
        rows[nat.I_READS, i], rows[nat.I_WRITES, i] = insn.reads, insn.writes
        rows[nat.I_LDEST, i], rows[nat.I_AREGS, i] = insn.load_dests, insn.addr_regs
        rows[nat.I_ENTRY_LU, i], rows[nat.I_ENTRY_MEM, i] = lu, mc
        rows[nat.I_TAKEN, i] = profile.taken[insn.klass] if insn.ctrl else 0
        rows[nat.I_FUNC, i] = func_of[i]
        total = 1 + sum(cost[c] for c in STALL_CAUSES) + lu + mc
        prefix[nat.P_CYC, i + 1] = prefix[nat.P_CYC, i] + total
        for c, k in causes.items():
            extra = cost[c] + (lu if c == "load_use" else mc if c == "memory" else 0)
            prefix[nat.P_STALL0 + k, i + 1] = prefix[nat.P_STALL0 + k, i] + extra
        traffic = (insn.mem_reads, insn.mem_writes, insn.read_bytes, insn.write_bytes)
        for k in range(12):
            where, what = divmod(k, 4)
            prefix[nat.P_MEM0 + k, i + 1] = prefix[nat.P_MEM0 + k, i] + (traffic[what] if where == insn.mem_where else 0)
        prefix[nat.P_DYN_SP, i + 1] = prefix[nat.P_DYN_SP, i] + (insn.sp_delta is None)
    return CodeMap(insns, functions, func_of, base, st, latency_sites, watch_sites, mem, hooked, _it_exits(insns))


def _it_exits(insns: list[Insn]) -> list[int]:
    """Addresses execution can reach straight from inside an IT block: the instruction after the
    block, and static targets of branches in it."""
    exits = set()
    for i, insn in enumerate(insns):
        if not insn.in_it:
            continue
        if i + 1 < len(insns) and not insns[i + 1].in_it:
            exits.add(insn.fallthrough)
        if insn.ctrl and insn.target is not None:
            exits.add(insn.target)
    return sorted(exits)


def _word_at(image, addr: int) -> int:
    for sec in image.code:
        off = addr - sec.addr
        if 0 <= off < len(sec.data):
            return int.from_bytes(sec.data[off:off + 4].ljust(4, b"\0"), "little")
    return 0
