"""The timing model in plain Python, one instruction at a time: the check on the native hooks.

The native block hook prices whole basic blocks from precomputed prefix sums
and patches in what depends on execution. This model prices each instruction
as it executes, straight from the ``_timing`` rules (``instruction_cost``,
``entry_cost``, ``taken_cost``, ``latency``) and the decoded instruction, with
no shared tables. ``Simulator(check_timing=True)`` runs both and reports any
difference in cycles, instructions, stalls or per-function cycles. It is slow
(a Python hook per instruction): a test tool for timing profiles and engine
changes.
"""

from __future__ import annotations

from collections import Counter

from . import _native as nat
from ._codemap import register_ids
from ._timing import STALL_CAUSES, entry_cost, instruction_cost, latency, latency_model_of, taken_cost


class ReferenceModel:
    def __init__(self, machine):
        self.m = machine
        self.code = machine.code
        self.profile = machine.timing
        self.mem = machine.code_mem
        self.regs = register_ids(machine.core.arch)
        self.cycles = 0
        self.instructions = 0
        self.stalls = dict.fromkeys(STALL_CAUSES, 0)
        self.function_cycles: Counter[str] = Counter()
        self.prev = None   #: instruction executed last; None after reset, an exception entry or return
        self.func = None   #: function of the instruction executed last (charged with time between instructions)
        self._undo = None  #: (address, state before it) of the last instruction, for a stop that takes it back

    # -- hooks from the machine -----------------------------------------------------------
    def on_instruction(self, uc, address: int, size: int, _user) -> None:
        if self.m.state[nat.STOPPED]:
            return  # the native side stopped before this instruction: it does not run now
        i = self.code.index(address)
        if i < 0:
            return  # outside decoded code: the machine reports it
        self._undo = (address, self.cycles, self.instructions, dict(self.stalls), Counter(self.function_cycles),
                      self.prev, self.func)
        self._skipped(address)
        self._execute(i)

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
        func = self.code.functions[self.code.func_of[i]]
        p, prev = self.profile, self.prev
        if prev is not None and prev.ctrl and prev.fallthrough != address:
            self._charge(taken_cost(p, prev, insn), "branch", self.func)
        lu, mem = entry_cost(p, self.mem, prev, insn)
        self._charge(lu, "load_use", func)
        self._charge(mem, "memory", func)
        cost = instruction_cost(p, self.mem, insn)
        own = sum(cost.values())
        self._charge(1, None, func)
        for cause in STALL_CAUSES:
            self._charge(cost[cause], cause, func)
        dynamic = self._latency(insn) if ran else None
        if dynamic is not None:
            self._charge(dynamic - own, "muldiv", func)
        self.instructions += 1
        self.prev, self.func = insn, func

    def _latency(self, insn) -> int | None:
        model = latency_model_of(self.profile, insn)
        if not model:
            return None
        a, b = (self.m.uc.reg_read(self.regs[r]) & 0xFFFF_FFFF for r in insn.operands)
        return latency(model, a, b, insn.signed)

    def _charge(self, n: int, cause: str | None, func: str | None) -> None:
        self.cycles += n
        if cause is not None:
            self.stalls[cause] += n
        if func is not None:
            self.function_cycles[func] += n

    def add_cycles(self, n: int, cause: str) -> None:
        self._charge(n, cause, self.func)

    def sleep(self, n: int) -> None:
        self.cycles += n

    def exception_entered(self, return_pc: int) -> None:
        self._skipped(return_pc)
        prev = self.prev
        if prev is not None and prev.ctrl and prev.fallthrough != return_pc:
            # taken transfer whose target the exception pre-empted: its refill was still paid
            target = self.code.insns[self.code.index(return_pc)] if self.code.index(return_pc) >= 0 else None
            self._charge(taken_cost(self.profile, prev, target), "branch", self.func)
        self.prev = None

    def exception_returned(self) -> None:
        self.prev = None

    def truncate(self, address: int) -> None:
        """The instruction at ``address`` did not complete (a fault, a stop mid-instruction): take it back."""
        if self._undo is not None and self._undo[0] == address:
            _, self.cycles, self.instructions, self.stalls, self.function_cycles, self.prev, self.func = self._undo
            self._undo = None

    # -- the verdict -----------------------------------------------------------------------
    def compare(self, native_functions: list[dict]) -> dict:
        """Reference and native totals side by side, with the quantities that differ."""
        st = self.m.state
        native = dict(cycles=int(st[nat.CYCLES]), instructions=int(st[nat.INSTRET]),
                      stalls={c: int(st[nat.STALL0 + k]) for k, c in enumerate(STALL_CAUSES)})
        reference = dict(cycles=self.cycles, instructions=self.instructions, stalls=dict(self.stalls))
        differences = [k for k in ("cycles", "instructions") if native[k] != reference[k]]
        differences += [f"stalls.{c}" for c in STALL_CAUSES if native["stalls"][c] != reference["stalls"][c]]
        by_name = {row["name"]: row["cycles_exclusive"] for row in native_functions}
        for name in sorted(set(by_name) | set(self.function_cycles)):
            if by_name.get(name, 0) != self.function_cycles.get(name, 0):
                differences.append(f"functions.{name}")
        native["functions"] = by_name
        reference["functions"] = dict(self.function_cycles)
        return dict(agree=not differences, native=native, reference=reference, differences=differences)
