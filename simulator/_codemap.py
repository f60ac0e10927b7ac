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

from . import _hooks
from . import _state as nat
from ._errors import ElfError
from ._timing import (CACHEABLE_KINDS, STALL_CAUSES, MemoryCosts, Profile, entry_cost, instruction_cost,
                      latency_model_of, memory_hooked, not_taken_cost, predictable, taken_cost)
from .isa import rv32, thumb
from .isa.insn import MOVE_OPS, Insn

MAX_NODES = 4096
MAX_CODE_BYTES = 16 << 20  #: from the first to the last instruction
MAX_DEPTH = 512
#: Instruction sites (divides, aligned loads) closer than this many bytes share one hook. Unicorn
#: walks every code hook's range at each hooked instruction it runs, so a hook per site makes each
#: site cost the number of sites (170 VLDR/LDRD sites: a float kernel 9x slower); a merged range
#: makes the instructions between its sites call the hook too, which returns at once for them, so
#: merging far-apart sites would hook whole loops (16 merged ranges: KWS on cortex-m4 1.5x slower).
MAX_SITE_GAP = 16
_ARM_REGS = [getattr(arm_const, f"UC_ARM_REG_R{i}") for i in range(13)] + [
    arm_const.UC_ARM_REG_SP, arm_const.UC_ARM_REG_LR, arm_const.UC_ARM_REG_PC]
_RV_REGS = [getattr(riscv_const, f"UC_RISCV_REG_X{i}") for i in range(32)]
_RV_WATCHED_CSRS = (0x300, 0x304)  # mstatus, mie


def register_ids(arch: str) -> list[int]:
    """Unicorn register ids indexed by the decoders' register numbers."""
    return _ARM_REGS if arch == "arm" else _RV_REGS


def decode_image(image, arch: str, progress=None) -> list[Insn]:
    """Every instruction of the image's executable sections; ``progress`` as the decoders take it."""
    out: list[Insn] = []
    for sec in sorted(image.code, key=lambda c: c.addr):
        if arch == "arm":
            out += thumb.decode_all(sec.data, sec.addr, image.data_in_code, progress)
        else:
            out += rv32.decode_all(sec.data, sec.addr, progress)
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
    """Decoded code, its function table and the native state built from them."""

    insns: list[Insn]
    functions: list[str]
    func_of: list[int]
    base: int
    state: nat.NativeState
    latency_sites: list[int]
    watch_sites: list[int]
    mem: MemoryCosts          #: the wait states the static costs include
    exact_accesses: bool      #: every data access is priced by the region it reaches (plans or the memory hook)
    memory_hook: bool         #: ... by ``_native.memory_hook``, which sees every access (else by the plans)
    access_sites: list[int]   #: loads/stores ``_native.access_hook`` watches from the start (more when needed)
    it_exits: list[int]       #: where execution leaves a Thumb-2 IT block (see ``_native.it_exit_hook``)
    alignment_sites: list[int]  #: loads/stores whose base must be word-aligned (``_native.alignment_hook``
    #: checks them where the block hook's plans do not: functional runs, or no plans)

    def fresh(self) -> CodeMap:
        """The same tables with the run-time state reset, for one more run."""
        return dataclasses.replace(self, state=self.state.copy())

    def index(self, addr: int) -> int:
        """Index of the instruction starting at ``addr``, or -1."""
        off = addr - self.base
        if off < 0 or off > self.state.code_bytes:
            return -1
        return int(self.state.index[off >> 1]) - 1

    def prefix(self, row: str, i: int) -> int:
        """What instructions [0, i) add up to in prefix row ``row`` (``cycles``, ``dynamic_sp``)."""
        return int(self.state.prefix[row][i])

    def field(self, name: str, i: int) -> int:
        return int(self.state.insn[name][i])


def _long_branch(image, insn) -> bool:
    """A BL to elsewhere in its own function (not to its start: that is recursion) is a jump, not a
    call: Thumb-1 compilers branch with BL beyond B's 2 KiB reach, and nothing returns past it."""
    if insn.target is None:
        return False
    here, there = image.symbol_at(insn.addr), image.symbol_at(insn.target)
    return here is not None and there == here and insn.target & ~1 != here.addr & ~1


def build(image, arch: str, profile: Profile, board, exact_memory: bool = False,
          strict_alignment: bool = False, progress=None, lines: bool = False) -> CodeMap:
    """``strict_alignment``: the core faults on LDRD/STRD, LDM/STM and FP loads/stores to addresses that
    are not word-aligned, which Unicorn does not check (ARMv7-M and later). ``progress()`` is called
    while decoding (to enforce a wall-clock limit). ``lines`` keeps per-instruction counts (cycles per
    source line)."""
    insns = decode_image(image, arch, progress)
    if not insns:
        raise ValueError("no code")
    hooked = memory_hooked(profile, exact_memory)
    priced = hooked and PLAN_ACCESSES and not any(i.opaque_access for i in insns)
    aligned = [_word_aligned_base(i) is not None for i in insns] if strict_alignment else [False] * len(insns)
    planned = priced or (PLAN_ACCESSES and not hooked and any(aligned))  # plans check alignment too
    mem = MemoryCosts.of(board, profile, hooked, insns)
    base = min(i.addr for i in insns) & ~1
    code_bytes = max(i.fallthrough for i in insns) - base
    if code_bytes > MAX_CODE_BYTES:  # the index table holds 4 bytes per byte of the span
        raise ElfError(f"{image.path}: its code spans {code_bytes / 2**20:.1f} MiB; simmcu decodes at most "
                       f"{MAX_CODE_BYTES >> 20} MiB of code")
    n = len(insns)

    names: dict[str, int] = {}
    func_of = []
    for insn in insns:
        sym = image.symbol_at(insn.addr)
        name = sym.name if sym is not None else "?"
        func_of.append(names.setdefault(name, len(names)))
    functions = list(names)

    cache = profile.cache or {}
    line = cache.get("line_bytes", 32)
    ic_ways, dc_ways = cache.get("icache_ways", 1), cache.get("dcache_ways", 1)
    runs = _straight_runs(insns)
    state = nat.NativeState.allocate(
        accesses=_most_accesses(insns, runs) if planned else 0, priced=priced,
        instructions=n, code_bytes=code_bytes, regions=len(board.regions), max_nodes=MAX_NODES, max_depth=MAX_DEPTH,
        lines=lines,
        icache=(cache.get("icache_bytes", 0) // (line * ic_ways), ic_ways),
        dcache=(cache.get("dcache_bytes", 0) // (line * dc_ways), dc_ways))
    state.line_shift = line.bit_length() - 1
    state.xpsr_register = arm_const.UC_ARM_REG_XPSR if arch == "arm" else 0
    state.pc_register = arm_const.UC_ARM_REG_PC if arch == "arm" else riscv_const.UC_RISCV_REG_PC
    for k, r in enumerate(board.regions):
        region = state.region(k)
        beats = line // cache.get("bus_bytes", line)
        region.base, region.end = r.base, r.base + r.size
        region.cacheable = r.kind in CACHEABLE_KINDS
        region.device = r.kind == "mmio"
        region.read_wait, region.write_wait = r.read_wait_states, r.write_wait_states
        region.fill = cache.get("miss_cycles", 0) + beats * r.read_wait_states
    state.n_nodes, state.n_functions = 1, len(functions)
    state.nodes.function[0] = -1  # node 0: the root, above reset
    state.code_base = base
    state.stop_at_cycle = state.stop_at_instruction = state.min_sp = nat.NEVER
    state.skip_stop_at = state.last = -1
    state.stack_low, state.stack_high = board.data.base, board.data.end
    for hazard in ("load_use", "address_dependency", "back_to_back_load", "jump_reg_use"):
        setattr(state, hazard, profile.hazards[hazard])
    state.misaligned_target = profile.hazards["misaligned_target"] * mem.refill_scale  # part of taken_cost
    state.fetch_wait, state.fetch_shift, state.prefetch = mem.fetch_wait, mem.fetch_shift, mem.prefetch
    state.fetch_stream = mem.stream is not None
    state.sp_register = arm_const.UC_ARM_REG_SP if arch == "arm" else riscv_const.UC_RISCV_REG_SP

    idx = state.index
    for i, insn in enumerate(insns):
        idx[(insn.addr - base) >> 1] = i + 1
    for i, insn in enumerate(insns):  # a block may end where data (a literal pool) follows
        end = (insn.fallthrough - base) >> 1
        if idx[end] == 0:
            idx[end] = i + 2

    # Each row and each prefix sum is filled from a Python list at once: element by element, numpy's
    # scalar access was most of the time a run spends before its first instruction.
    col = {name: [0] * n for name in nat.INSN.fields}  # btac stays 0: the branch predictor starts untrained
    n_traffic = len(nat.TRAFFIC_PLACES) * len(nat.TRAFFIC_KINDS)
    step_cycles, step_dynamic_sp, step_dual = [0] * n, [0] * n, [0] * n
    step_stalls = [[0] * n for _ in STALL_CAUSES]
    step_traffic = [[0] * n for _ in range(n_traffic)]
    regs = register_ids(arch)
    latency_sites, watch_sites, alignment_sites = [], [], []
    spmin_next = 0
    for i in range(n - 1, -1, -1):  # backwards: stack depth reached before the block ends
        insn = insns[i]
        nxt_same_block = i + 1 < n and not insn.ctrl and insns[i + 1].addr == insn.fallthrough
        delta = insn.sp_delta or 0
        spmin = min(0, delta + (spmin_next if nxt_same_block else 0))
        col["sp_min"][i] = spmin
        spmin_next = spmin
    for i, insn in enumerate(insns):
        prev = insns[i - 1] if i and insns[i - 1].fallthrough == insn.addr else None
        cost = instruction_cost(profile, mem, insn)
        lu, mc, dual = entry_cost(profile, mem, prev, insn)
        flags = 0
        flags |= nat.F_CTRL if insn.ctrl else 0
        flags |= nat.F_CALL if insn.call and not _long_branch(image, insn) else 0
        flags |= nat.F_IN_IT if insn.in_it else 0
        flags |= nat.F_LOAD if insn.klass == "load" else 0
        flags |= nat.F_SINGLE if insn.klass in ("load", "store") else 0
        flags |= nat.F_JR if insn.klass in ("jump_reg", "call_reg") else 0
        flags |= nat.F_MISALIGNED32 if insn.size == 4 and insn.addr & 2 else 0
        flags |= nat.F_SIGNED if insn.signed else 0
        flags |= nat.F_PREDICT if predictable(profile, insn) else 0
        word = 0
        if arch != "arm":
            word = _word_at(image, insn.addr)
        if _watches(insn, arch, word):
            if insn.ctrl:
                flags |= nat.F_WATCH
            else:
                watch_sites.append(insn.fallthrough)
        model = latency_model_of(profile, insn)
        if model is not None:
            col["latency_function"][i] = _hooks.latency_address(model.name)
            col["operand_a"][i] = regs[insn.operands[0]]
            col["operand_b"][i] = regs[insn.operands[1]]
            latency_sites.append(insn.addr)
        if aligned[i]:  # alignment_hook's sites where no plan checks them (functional runs)
            col["aligned_base"][i] = regs[_word_aligned_base(insn)]
            alignment_sites.append(insn.addr)
        col["address"][i], col["fallthrough"][i], col["flags"][i] = insn.addr, insn.fallthrough, flags
        col["reads"][i], col["writes"][i] = insn.reads, insn.writes
        col["load_dests"][i], col["addr_regs"][i] = insn.load_dests, insn.addr_regs
        col["entry_load_use"][i], col["entry_memory"][i], col["entry_dual"][i] = lu, mc, dual
        col["taken"][i] = taken_cost(profile, mem, insn, None) if insn.ctrl else 0
        if predictable(profile, insn):
            col["predicted"][i] = taken_cost(profile, mem, insn, None, predicted=True)
            col["not_taken"][i] = not_taken_cost(profile, insn, predicted=True)
        col["fetch"][i] = mem.stream.get(insn.addr, 0) if mem.stream is not None else 0
        col["function"][i] = func_of[i]
        step_cycles[i] = 1 + sum(cost[c] for c in STALL_CAUSES) + lu + mc + dual
        for k, c in enumerate(STALL_CAUSES):
            step_stalls[k][i] = cost[c] + (lu if c == "load_use" else mc if c == "memory" else 0)
        counts = (insn.mem_reads, insn.mem_writes, insn.read_bytes, insn.write_bytes)
        for what, count in enumerate(counts):  # the other places' rows stay 0
            step_traffic[insn.mem_where * len(nat.TRAFFIC_KINDS) + what][i] = count
        step_dynamic_sp[i] = insn.sp_delta is None
        step_dual[i] = -dual
    rows, prefix = state.insn, state.prefix
    for name, values in col.items():
        rows[name][:] = values
    # prefix[0] is 0 (a fresh state); prefix[i + 1] sums instructions 0..i
    sums = ((prefix.cycles, step_cycles), (prefix.dynamic_sp, step_dynamic_sp), (prefix.dual, step_dual),
            *zip(prefix.stalls, step_stalls), *zip(prefix.traffic, step_traffic))
    for target, steps in sums:
        target[1:] = np.cumsum(np.array(steps, dtype=np.int64))
    sites = [i.access is not None and (priced or a) for i, a in zip(insns, aligned)]
    access_sites = _plan(state, insns, runs, regs, sites, aligned) if planned else []
    return CodeMap(insns, functions, func_of, base, state, latency_sites, watch_sites, mem, hooked,
                   hooked and not priced, access_sites, _it_exits(insns), alignment_sites)


#: Price exact memory and data caches by access plans where every load and store can be planned (tests
#: switch it off to compare with the memory hook, the per-access model).
PLAN_ACCESSES = True


def ends_run(insns: list[Insn], i: int) -> bool:
    """Whether instruction ``i`` ends a straight-line run (a Unicorn block never goes past it)."""
    return i + 1 == len(insns) or insns[i].ctrl or insns[i].fallthrough != insns[i + 1].addr


def _straight_runs(insns: list[Insn]) -> list[range]:
    """Maximal straight-line ranges of instructions: a Unicorn block never spans two."""
    runs, start = [], 0
    for i in range(len(insns)):
        if ends_run(insns, i):
            runs.append(range(start, i + 1))
            start = i + 1
    return runs


def _most_accesses(insns: list[Insn], runs: list[range]) -> int:
    """Room for the priced accesses of any one block: two records (cache lines) per access of its run."""
    return max(1, max(sum(2 * insns[i].access.count for i in run if insns[i].access) for run in runs))


def _reg_bit(reg: int) -> int:
    return 1 << reg if reg >= 0 else 0


def _plan(state: nat.NativeState, insns: list[Insn], runs: list[range], regs: list[int], sites: list[bool],
          aligned: list[bool]) -> list[int]:
    """Fill the PLAN rows for the loads and stores ``sites`` says (all of them when the plans price
    accesses, else those whose base must be word-aligned, ``aligned``); return the sites ``access_hook``
    watches from the start: predicated ones (in an IT block), and every site after one in its run (once a
    block's plan stops, the hook does the rest). Other sites a plan may stop at are hooked when needed
    (``Machine._split_for_plan``)."""
    n = len(insns)
    rows = state.plans
    state.plan_deferred = n
    state.plan_registers[:len(regs)] = regs
    col = {name: [0] * (n + 1) for name in nat.PLAN.fields}
    for name in ("base", "index", "move_from", "move_from2", "dest"):
        col[name] = [-1] * (n + 1)
    reg_mask = (1 << len(regs)) - 1
    hooked: list[int] = []
    for run in runs:
        after_predicated = False
        for i in run:
            insn = insns[i]
            kind, lost = 0, (insn.writes | insn.load_dests) & reg_mask
            a, mv = insn.access if sites[i] else None, insn.move
            if a is not None:
                kind |= nat.K_SITE | (nat.K_DEFER if insn.in_it else 0) | (nat.K_SIGNED if a.signed else 0)
                kind |= nat.K_ALIGNED if aligned[i] else 0
                col["base"][i], col["index"][i], col["shift"][i], col["disp"][i] = a.base, a.index, a.shift, a.disp
                col["writeback"][i], col["first"][i], col["count"][i] = a.writeback, a.first, a.count
                col["size"][i], col["write"][i], col["dest"][i] = a.size, int(a.write), a.dest
                after_predicated = after_predicated or insn.in_it
                if after_predicated:
                    kind |= nat.K_HOOKED
                    hooked.append(insn.addr)
                if a.writeback and not insn.in_it:
                    lost &= ~_reg_bit(a.base)  # followed: base += writeback
            if mv is not None and not insn.in_it:
                kind |= nat.K_MOVE | (nat.K_HIGH if mv.high else 0)
                col["move_to"][i], col["move_from"][i], col["move_imm"][i] = mv.rd, mv.src, mv.imm
                col["move_from2"][i], col["move_shift"][i], col["move_op"][i] = mv.src2, mv.shift, MOVE_OPS.index(mv.op)
                lost &= ~_reg_bit(mv.rd)
            col["kind"][i], col["lost"][i] = kind, lost
        # the instructions a block's plan must look at: sites, and writers of a later site's address registers;
        # the values to follow through memory: loads of such registers, and stores before one in the run
        wanted, nxt, forwarded = 0, run.stop, False  # a block ends within its run
        for i in reversed(run):
            insn = insns[i]
            a = insn.access if sites[i] else None
            relevant = a is not None or bool((col["lost"][i] | (_reg_bit(insn.move.rd) if col["kind"][i] & nat.K_MOVE
                                                                else 0)) & wanted)
            if a is not None:
                if a.dest >= 0 and not (_reg_bit(a.dest) & wanted if not a.write else forwarded):
                    col["dest"][i] = -1
                if col["dest"][i] >= 0:
                    forwarded = forwarded or not a.write
                    wanted |= _reg_bit(a.dest) if a.write else 0
                wanted |= _reg_bit(a.base) | _reg_bit(a.index)
            if col["kind"][i] & nat.K_MOVE and wanted & _reg_bit(col["move_to"][i]):
                wanted |= _reg_bit(col["move_from"][i]) | _reg_bit(col["move_from2"][i])
            if not relevant:
                col["kind"][i] = col["lost"][i] = 0
            else:
                nxt = i
            col["next"][i] = nxt
    col["next"][n] = n
    for name, values in col.items():
        rows[name][:] = values
    return hooked


def site_ranges(sites: list[int], gap: int = MAX_SITE_GAP) -> list[tuple[int, int]]:
    """``sites`` as address ranges [begin, end], sites at most ``gap`` bytes apart in one range."""
    ranges: list[list[int]] = []
    for addr in sorted(set(sites)):
        if ranges and addr - ranges[-1][1] <= gap:
            ranges[-1][1] = addr
        else:
            ranges.append([addr, addr])
    return [(begin, end) for begin, end in ranges]


def _word_aligned_base(insn: Insn) -> int | None:
    """The base register (decoder number) of an access that must be word-aligned, unless it is SP
    (always aligned on Cortex-M) or PC (a literal load reads Align(PC, 4) + a multiple of 4):
    multiple and FP loads/stores, LDRD/STRD, exclusives."""
    multiple = insn.klass in ("load_multi", "store_multi", "fp_load", "fp_store")
    double = insn.klass in ("load", "store") and 8 in (insn.read_bytes, insn.write_bytes)
    exclusive = insn.text.startswith(("ldrex ", "strex ", "lda ", "stl ", "ldaex ", "stlex "))
    if not (multiple or double or exclusive) or not insn.addr_regs or insn.addr_regs & (thumb.SP_BIT | thumb.PC_BIT):
        return None
    return (insn.addr_regs & -insn.addr_regs).bit_length() - 1


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
