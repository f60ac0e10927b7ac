"""The timing model in plain Python, one instruction at a time: the check on the native hooks.

The native block hook prices whole basic blocks from precomputed prefix sums
and patches in what depends on execution. This model prices each instruction
as it executes, straight from the ``_timing`` rules (``instruction_cost``,
``entry_cost``, ``flow_cost``, ``latency``) and the decoded instruction, with
no shared tables. ``Simulator(check_timing=True)`` runs both and reports any
difference in cycles, instructions, stalls or per-function cycles. It is slow
(a Python hook per instruction): a test tool for timing profiles and engine
changes. Caches and the per-access memory pricing are modeled here again, with
their own plain-Python LRU sets.
"""

from __future__ import annotations

from collections import Counter

from ._codemap import register_ids
from ._latency import latency
from ._lines import per_instruction
from ._observe import Observer
from ._profile import Profiler
from ._timing import (CACHEABLE_KINDS, STALL_CAUSES, entry_cost, flow_cost, instruction_cost, latency_model_of,
                      predictable)


class _Cache:
    """A set-associative LRU cache of line numbers: each set lists [line, dirty], most recent last."""

    def __init__(self, size: int, ways: int, line_bytes: int):
        self.sets = [[] for _ in range(size // (ways * line_bytes))]
        self.ways = ways
        self.hits = self.misses = self.writebacks = 0

    def access(self, line: int, write: bool, undo: list) -> tuple[bool, int | None]:
        """(hit, dirty line evicted); ``undo`` gets what restores the set."""
        s = self.sets[line % len(self.sets)]
        undo.append((self, s, [e[:] for e in s], self.hits, self.misses, self.writebacks))
        for k, entry in enumerate(s):
            if entry[0] == line:
                s.append(s.pop(k))
                entry[1] |= write
                self.hits += 1
                return True, None
        self.misses += 1
        victim = s.pop(0) if len(s) == self.ways else None
        s.append([line, write])
        if victim is not None and victim[1]:
            self.writebacks += 1
            return False, victim[0]
        return False, None


def _restore(undo: list) -> None:
    for cache, s, saved, hits, misses, writebacks in reversed(undo):
        s[:] = saved
        cache.hits, cache.misses, cache.writebacks = hits, misses, writebacks


class ReferenceModel(Observer):
    """An observer that prices every instruction as it executes; its report is ``timing_check``."""

    NAME = "timing_check"

    def attach(self, machine) -> None:
        self.m = machine
        self.code = machine.code
        self.profile = machine.timing
        self.mem = machine.code.mem
        self.regs = register_ids(machine.core.arch)
        self.cycles = 0
        self.instructions = 0
        self.dual_issued = 0
        self.stalls = dict.fromkeys(STALL_CAUSES, 0)
        self.function_cycles: Counter[str] = Counter()
        self.prev = None   #: instruction executed last; None after reset, an exception entry or return
        self.btac: dict[int, bool] = {}  #: direct transfer address -> taken the last time (predicted taken)
        self.at = None     #: index of the instruction executed last (charged with time between instructions)
        self.insn_cycles: Counter[int] = Counter()  #: cycles by the instruction that caused them
        self.insn_runs: Counter[int] = Counter()    #: times each instruction issued
        self._journal: list[tuple[int, int, int]] = []  #: (instruction, cycles, runs) since the last one began
        self._undo = None  #: (address, state before it) of the last instruction, for a stop that takes it back
        self._cache_undo: list = []
        c = machine.timing.cache
        self.line_bytes = c.get("line_bytes", 32)
        self.beats = self.line_bytes // c.get("bus_bytes", self.line_bytes)
        self.icache = _Cache(c["icache_bytes"], c["icache_ways"], self.line_bytes) if c.get("icache_bytes") else None
        self.dcache = _Cache(c["dcache_bytes"], c["dcache_ways"], self.line_bytes) if c.get("dcache_bytes") else None
        self.regions = {r.name: dict(reads=0, writes=0, read_bytes=0, write_bytes=0) for r in machine.board.regions}

    # -- hooks from the machine -----------------------------------------------------------
    def instruction(self, address: int, size: int) -> None:
        if self.m.state.stopped:
            return  # the native side stopped before this instruction: it does not run now
        i = self.code.index(address)
        if i < 0:
            return  # outside decoded code: the machine reports it
        self._undo = (address, self.cycles, self.instructions, self.dual_issued, dict(self.stalls),
                      Counter(self.function_cycles), self.prev, self.at, self._btac_entry())
        self._cache_undo = []
        self._journal = []
        self._skipped(address)
        self._execute(i)

    def _btac_entry(self) -> tuple[int, bool | None] | None:
        """The one BTAC entry the next instruction may update (the last one's), as it is now."""
        return None if self.prev is None else (self.prev.addr, self.btac.get(self.prev.addr))

    def _skipped(self, address: int) -> None:
        """Unicorn calls no hook for instructions an IT block skips; they still issue: charge them."""
        prev = self.prev
        if prev is None or prev.fallthrough == address or not (prev.in_it or prev.klass == "it"):
            return
        k = self.code.index(prev.fallthrough)
        while k >= 0 and self.code.insns[k].in_it and self.code.insns[k].addr < address:
            self._execute(k, ran=False)
            k += 1

    def _execute(self, i: int, ran: bool = True) -> None:
        insn = self.code.insns[i]
        address = insn.addr
        p, prev = self.profile, self.prev
        if prev is not None and prev.ctrl:
            self._charge(flow_cost(p, self.mem, prev, insn, address, self.btac.get(prev.addr, False)), "branch",
                         self.at)
            if predictable(p, prev):
                self.btac[prev.addr] = prev.fallthrough != address
        lu, mem, dual = entry_cost(p, self.mem, prev, insn)
        self._charge(lu, "load_use", i)
        self._charge(mem, "memory", i)
        self._charge(dual, None, i)
        self.dual_issued -= dual
        cost = instruction_cost(p, self.mem, insn)
        own = sum(cost.values())
        self._charge(1, None, i)
        for cause in STALL_CAUSES:
            self._charge(cost[cause], cause, i)
        dynamic = self._latency(insn) if ran else None
        if dynamic is not None:
            self._charge(dynamic - own, "muldiv", i)
        if ran and insn.klass == "custom":
            self._charge(self.m.devices.latency_at.get(address, 0), "accelerator", i)
        if self.icache is not None:
            for line in range(address // self.line_bytes, (address + insn.size - 1) // self.line_bytes + 1):
                region = self.m.board.region_at(line * self.line_bytes)
                if region is not None and region.kind in CACHEABLE_KINDS:
                    if not self.icache.access(line, False, self._cache_undo)[0]:
                        self._charge(self._fill(region), "memory", i)
        self.instructions += 1
        self.insn_runs[i] += 1
        self._journal.append((i, 0, 1))
        self.prev, self.at = insn, i

    def _fill(self, region) -> int:
        return self.m.timing.cache["miss_cycles"] + self.beats * region.read_wait_states

    def _memory(self, write: bool, address: int, size: int, value: int) -> None:
        """A data access (the native memory hook sees them too): traffic, wait states or the data cache."""
        region = self.m.board.region_at(address)
        if region is None:
            return
        traffic = self.regions[region.name]
        traffic["writes" if write else "reads"] += 1
        traffic["write_bytes" if write else "read_bytes"] += size
        if self.dcache is None or region.kind not in CACHEABLE_KINDS:
            self._charge(region.write_wait_states if write else region.read_wait_states, "memory", self.at)
            return
        lb = self.line_bytes
        for line in range(address // lb, (address + size - 1) // lb + 1):
            hit, evicted = self.dcache.access(line, write, self._cache_undo)
            if not hit:
                self._charge(self._fill(region), "memory", self.at)
            if evicted is not None:
                victim = self.m.board.region_at(evicted * lb)
                self._charge(self._fill(victim) if victim is not None else 0, "memory", self.at)

    def _latency(self, insn) -> int | None:
        model = latency_model_of(self.profile, insn)
        if not model:
            return None
        a, b = (self.m.uc.reg_read(self.regs[r]) & 0xFFFF_FFFF for r in insn.operands)
        return latency(model, a, b, insn.signed)

    def _charge(self, n: int, cause: str | None, at: int | None) -> None:
        """``n`` cycles of ``cause`` (None: issue and dual-issue cycles) caused by instruction ``at``."""
        self.cycles += n
        if cause is not None:
            self.stalls[cause] += n
        if at is not None:
            self.function_cycles[self.code.functions[self.code.func_of[at]]] += n
            self.insn_cycles[at] += n
            self._journal.append((at, n, 0))

    def cycles_added(self, n: int, cause: str) -> None:
        self._charge(n, cause, self.at)

    def slept(self, start: int, end: int) -> None:
        self.cycles += end - start

    def exception_entered(self, return_pc: int) -> None:
        self._skipped(return_pc)
        prev = self.prev
        if prev is not None and prev.ctrl:
            # transfer whose target the exception pre-empted: its refill (or misprediction) was still paid
            target = self.code.insns[self.code.index(return_pc)] if self.code.index(return_pc) >= 0 else None
            predicted = self.btac.get(prev.addr, False)  # the BTAC does not learn from a pre-empted transfer
            self._charge(flow_cost(self.profile, self.mem, prev, target, return_pc, predicted), "branch", self.at)
        self.prev = None

    def exception_returned(self) -> None:
        self.prev = None

    def taken_back(self, address: int) -> None:
        """The instruction at ``address`` did not complete (a fault, a stop mid-instruction): take it back."""
        if self._undo is not None and self._undo[0] == address:
            (_, self.cycles, self.instructions, self.dual_issued, self.stalls, self.function_cycles, self.prev,
             self.at, entry) = self._undo
            for i, n, runs in self._journal:
                self.insn_cycles[i] -= n
                self.insn_runs[i] -= runs
            self._journal = []
            if entry is not None:
                key, was = entry
                if was is None:
                    self.btac.pop(key, None)
                else:
                    self.btac[key] = was
            self._undo = None
            _restore(self._cache_undo)
            self._cache_undo = []

    # -- the verdict -----------------------------------------------------------------------
    def report(self) -> dict:
        """Reference and native totals side by side, with the quantities that differ."""
        profile = Profiler(self.m)
        st = self.m.state
        native = dict(cycles=st.cycles, instructions=st.instructions, dual_issued=st.dual_issued,
                      stalls={c: int(v) for c, v in zip(STALL_CAUSES, st.stalls)})
        reference = dict(cycles=self.cycles, instructions=self.instructions, dual_issued=self.dual_issued,
                         stalls=dict(self.stalls))
        differences = [k for k in ("cycles", "instructions", "dual_issued") if native[k] != reference[k]]
        differences += [f"stalls.{c}" for c in STALL_CAUSES if native["stalls"][c] != reference["stalls"][c]]
        by_name = {row["name"]: row["cycles_exclusive"] for row in profile.functions()[0]}
        for name in sorted(set(by_name) | set(self.function_cycles)):
            if by_name.get(name, 0) != self.function_cycles.get(name, 0):
                differences.append(f"functions.{name}")
        native["functions"] = by_name
        reference["functions"] = dict(self.function_cycles)
        if st.lines:
            differences += self._line_differences()
        for name, cache in (("icache", self.icache), ("dcache", self.dcache)):
            if cache is not None:
                mine = dict(misses=cache.misses)
                if name == "dcache":
                    mine.update(hits=cache.hits, writebacks=cache.writebacks)
                theirs = {k: v for k, v in profile.caches()[name].items() if k in mine}
                native[name], reference[name] = theirs, mine
                differences += [f"{name}.{k}" for k in mine if mine[k] != theirs[k]]
        if self.m.code.exact_accesses:
            native["regions"] = profile.region_traffic()
            reference["regions"] = self.regions
            differences += [f"regions.{r}" for r in self.regions if self.regions[r] != native["regions"][r]]
        return dict(agree=not differences, native=native, reference=reference, differences=differences)


    def _line_differences(self) -> list[str]:
        """With lines on: the instructions whose cycles or runs the native rows attribute otherwise."""
        per = per_instruction(self.code, self.m.state)
        out = []
        for i, insn in enumerate(self.code.insns):
            if (int(per["cycles"][i]), int(per["instructions"][i])) != (self.insn_cycles[i], self.insn_runs[i]):
                out.append(f"lines.{insn.addr:#x}")
        return out


class ExactMemoryReference(ReferenceModel):
    """The reference model when every data access is priced by its region (exact memory, a data cache)."""

    memory = ReferenceModel._memory


def reference_model(exact_memory: bool) -> type[ReferenceModel]:
    """The reference model class for a run: per-access pricing only where the native model does it
    (a memory hook changes how Unicorn translates code, so none is installed otherwise)."""
    return ExactMemoryReference if exact_memory else ReferenceModel
