"""Block accounting: what the native block hook charged for the block running now, read and undone.

The block hook prices a whole basic block when it starts (``_native.block_hook``). Between
``emu_start`` calls the loop needs three things from that accounting, all here:
- the cycle and instruction count *inside* the block at a given instruction (``cycle_at``,
  ``cycle_after``, ``instructions_at``): what a counter read or a device access sees;
- taking back the part of a block that did not run when emulation stopped early (``truncate``):
  a fault, a semihosting call, an interrupt due mid-block;
- where to stop inside the next block so an event due in it is taken at the exact instruction
  boundary (``split_point``).
Time spent outside instructions (exception entry and return) is charged here too.
"""

from __future__ import annotations

import numpy as np

from . import _state as nat
from ._codemap import CodeMap
from ._timing import STALL_CAUSES, Profile, entry_cost, flow_cost

_BRANCH, _LOAD_USE, _MEMORY = (STALL_CAUSES.index(c) for c in ("branch", "load_use", "memory"))


class BlockAccounting:
    def __init__(self, code: CodeMap, timing: Profile):
        self.code, self.timing = code, timing
        self.state = code.state
        self.last_ran = -1  #: the instruction that ran last, kept across exception entry and return

    def in_block(self, pc: int) -> int:
        """Index of ``pc`` if it lies in the block accounted last, else -1."""
        i = self.code.index(pc)
        st = self.state
        if st.accounted and st.block_start <= i < st.block_end:
            return i
        return -1

    def _cycle_at_index(self, i: int, own_accesses: int = 0) -> int:
        """Cycle at which instruction ``i`` of the current block is reached, before its own interlocks, with
        the first ``own_accesses`` of its own planned accesses done."""
        st = self.state
        s = st.block_start
        if i <= s and not own_accesses:
            return st.block_start_cycle
        return (st.block_start_cycle + st.block_adjust + st.block_dynamic + self._cycles_between(s, i)
                + self._planned_wait(i, own_accesses))

    def _planned(self, i: int, own_accesses: int) -> tuple[np.ndarray, np.ndarray]:
        """The ACCESS records the access plan priced at the block's start (``_native._plan_block``), and
        which of them a memory hook would have seen by the time instruction ``i`` runs (the accesses of
        the instructions before it, and the first ``own_accesses`` of its own)."""
        st = self.state
        n = st.accesses if st.planning else 0
        rows = st.access_rows
        insn, planned = rows.instruction[:n], rows.late[:n] == 0
        done = insn < i
        if own_accesses:
            own = (insn == i) & planned & (rows.bytes[:n] > 0)
            done |= (insn == i) & (np.cumsum(own) <= own_accesses)
        return planned, done

    def _planned_wait(self, i: int, own_accesses: int) -> int:
        planned, done = self._planned(i, own_accesses)
        return int(self.state.access_rows.wait[:len(planned)][planned & done].sum())

    def accesses_ahead(self, region: int, pc: int, own_accesses: int) -> int:
        """Accesses to board region ``region`` (its index) that the plan counted already although a memory
        hook would not have seen them yet at the ``own_accesses``-th access of the instruction at ``pc``."""
        i = self.in_block(pc)
        if i < 0:
            return 0
        st = self.state
        planned, done = self._planned(i, own_accesses)
        rows = st.access_rows
        row = st.region_table + region * nat.N_RFIELDS
        n = len(planned)
        return int((planned & ~done & (rows.region[:n] == row) & (rows.bytes[:n] > 0)).sum())

    def cycle_at(self, pc: int, own_accesses: int = 0) -> int:
        """Cycle at which the instruction at ``pc`` (in the current block) issues, after the interlock and
        fetch stalls it waits for: what a counter read sees (from a device access: the ``own_accesses``-th
        access of the instruction, whose own wait states come first)."""
        i = self.in_block(pc)
        if i < 0:
            return self.state.cycles
        entry = sum(self.code.field(f"entry_{part}", i) for part in ("load_use", "memory", "dual"))
        if i == self.state.block_start:
            entry += self.state.block_adjust
        return self._cycle_at_index(i, own_accesses) + entry

    def cycle_after(self, pc: int) -> int:
        """Cycle at which the instruction at ``pc`` completes: when its writes take effect."""
        i = self.in_block(pc)
        return self.state.cycles if i < 0 else self._cycle_at_index(i + 1)

    def instructions_at(self, pc: int) -> int:
        """Instructions retired before the one at ``pc``."""
        i = self.in_block(pc)
        done = self.state.instructions
        return done if i < 0 else done - (self.state.block_end - i)

    def charge(self, cycles: int, cause: str) -> None:
        """Cycles spent outside instructions (exception entry and return), charged per line to the
        instruction that ran last, as the function profile charges its function."""
        last = self.state.last
        self.state.charge(cycles, cause, last if last >= 0 else self.last_ran)

    def _forget_last(self) -> None:
        if self.state.last >= 0:
            self.last_ran = self.state.last
        self.state.last = -1

    def exception_entered(self, return_pc: int, sp: int | None) -> None:
        """The next block is a handler, entered as if called from ``return_pc``."""
        st = self.state
        self._forget_last()
        st.taken_paid = 0
        st.push_return = return_pc
        if sp is not None:
            st.min_sp = min(st.min_sp, sp)

    def exception_returned(self) -> None:
        self._forget_last()

    def truncate(self, upto: int) -> bool:
        """The block accounted last stopped before ``upto``: take back what did not run. False when
        ``upto`` is not in it (nothing to take back)."""
        i = self.in_block(upto)
        if i < 0:
            return False
        st, code = self.state, self.code
        if st.planning:
            self._take_back_accesses(i)
        e = st.block_end
        cyc = code.prefix("cycles", e) - code.prefix("cycles", i)
        at_start = i == st.block_start
        if at_start:
            cyc += st.block_adjust
            st.last = st.block_previous
        else:
            st.last = i - 1
        st.cycles -= cyc
        st.instructions -= e - i
        st.runs[i] -= 1  # the block ran [block_start, i): its static totals follow
        st.runs[e] += 1
        nodes = st.nodes
        nodes.cycles[st.node] -= cyc
        nodes.instructions[st.node] -= e - i
        if at_start:  # as if the block had not been entered: refill, call-tree step
            taken = st.block_taken
            st.cycles -= taken
            stalls = st.dynamic_stalls
            stalls[_BRANCH] -= taken
            stalls[_LOAD_USE] -= st.block_adjust_load_use
            stalls[_MEMORY] -= st.block_adjust - st.block_adjust_load_use - st.block_adjust_dual
            st.dynamic_dual += st.block_adjust_dual
            nodes.cycles[st.block_node] -= taken
            st.node, st.depth, st.push_return = st.block_node, st.block_depth, st.block_push_return
            if st.block_btac >= 0:  # nor has the BTAC learnt from the transfer into it
                code.state.insn.btac[st.block_previous] = st.block_btac
            if st.block_called >= 0:
                nodes.calls[st.block_called] -= 1
        if st.lines and at_start:
            self._truncate_lines()
        st.block_end = i
        st.icache_pending_end = max(i, st.icache_pending_start)  # the I-cache sees only what ran
        st.accounted = 0
        return True

    def _take_back_accesses(self, upto: int) -> None:
        """Undo, last first, the priced accesses of instructions from ``upto`` on (ACCESS records): their
        traffic, their cycles and what they did to the data cache."""
        st = self.state
        rows = st.access_rows
        n = st.accesses
        sets = st.dcache_sets * st.dcache_ways
        dc = st.dcache_table
        outcome_counter = {1: ("dcache_hits",), 2: ("dcache_misses",), 3: ("dcache_misses", "dcache_writebacks")}
        while n > 0 and rows.instruction[n - 1] >= upto:
            n -= 1
            region = st.region((int(rows.region[n]) - st.region_table) // nat.N_RFIELDS)
            nbytes = int(rows.bytes[n])
            if nbytes and rows.write[n]:
                region.writes -= 1
                region.write_bytes -= nbytes
            elif nbytes:
                region.reads -= 1
                region.read_bytes -= nbytes
            wait = int(rows.wait[n])
            if wait:
                st.charge(-wait, "memory", int(rows.instruction[n]))
                if rows.late[n]:
                    st.block_dynamic -= wait
            slot = int(rows.cache_slot[n])
            if slot >= 0:
                st.array[dc + slot], st.array[dc + sets + slot], st.array[dc + 2 * sets + slot] = (
                    rows.old_tag[n], rows.old_stamp[n], rows.old_dirty[n])
                st.cache_clock = int(rows.old_clock[n])
                for counter in outcome_counter[int(rows.outcome[n])]:
                    setattr(st, counter, getattr(st, counter) - 1)
        st.accesses = n

    def _truncate_lines(self) -> None:
        """The per-instruction records of a block taken back from its start: its entry costs."""
        st = self.state
        rows = st.line_rows
        s, p = st.block_start, st.block_previous
        lu, dual = st.block_adjust_load_use, st.block_adjust_dual
        rows.cycles[s] -= st.block_adjust
        rows.stalls[_LOAD_USE, s] -= lu
        rows.stalls[_MEMORY, s] -= st.block_adjust - lu - dual
        rows.dual[s] += dual
        if st.block_taken:
            rows.cycles[p] -= st.block_taken
            rows.stalls[_BRANCH, p] -= st.block_taken

    def split_point(self, start: int) -> int | None:
        """Address of the instruction in the block at ``start`` before which the next event is due."""
        code, st = self.code, self.state
        s = code.index(start)
        when, limit = st.stop_at_cycle, st.stop_at_instruction
        taken, adjust = self._entry_adjust(st.last, s)
        cycle = st.cycles + taken
        for k in range(s + 1, len(code.insns)):
            insn = code.insns[k]
            before = code.insns[k - 1]
            if before.ctrl or before.fallthrough != insn.addr:
                return None
            at = cycle + adjust + self._cycles_between(s, k)
            if (at >= when or st.instructions + (k - s) >= limit) and not insn.in_it:
                return insn.addr
        return None

    def _cycles_between(self, s: int, k: int) -> int:
        """Static cycles of instructions [s, k) in a block."""
        return self.code.prefix("cycles", k) - self.code.prefix("cycles", s)

    def _entry_adjust(self, prev: int, s: int) -> tuple[int, int]:
        """(taken penalty, entry adjustment) the block hook computes for block start ``s`` after ``prev``."""
        code = self.code
        insn = code.insns[s]
        p = code.insns[prev] if prev >= 0 else None
        transferred = p is not None and p.ctrl and not self.state.taken_paid
        taken = flow_cost(self.timing, code.mem, p, insn, insn.addr, bool(code.field("btac", prev))) if transferred \
            else 0
        static = sum(code.field(f"entry_{part}", s) for part in ("load_use", "memory", "dual"))
        return taken, sum(entry_cost(self.timing, code.mem, p, insn)) - static


class FunctionalAccounting(BlockAccounting):
    """The same questions for ``_native.count_hook`` (``--timing none``, a fast-forward before its symbol):
    one cycle per instruction, nothing priced, so a block is its instruction range and its start cycle."""

    def _cycle_at_index(self, i: int, own_accesses: int = 0) -> int:
        st = self.state
        return st.block_start_cycle + max(0, i - st.block_start)

    def cycle_at(self, pc: int, own_accesses: int = 0) -> int:
        i = self.in_block(pc)
        return self.state.cycles if i < 0 else self._cycle_at_index(i)

    def charge(self, cycles: int, cause: str) -> None:
        """Exception entry and return take no time on the functional clock."""

    def truncate(self, upto: int) -> bool:
        i = self.in_block(upto)
        if i < 0:
            return False
        st = self.state
        undone = st.block_end - i
        st.cycles -= undone
        st.instructions -= undone
        if i == st.block_start:  # as if the block had not been entered
            st.last, st.push_return = st.block_previous, st.block_push_return
        else:
            st.last = i - 1
        st.block_end = i
        st.accounted = 0
        return True

    def _cycles_between(self, s: int, k: int) -> int:
        return k - s

    def _entry_adjust(self, prev: int, s: int) -> tuple[int, int]:
        """No refill, no interlock: ``split_point`` is the timed one on the functional clock."""
        return 0, 0
