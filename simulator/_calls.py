"""Function enter and exit events in modeled time, from the call tree the native block hook grows.

Installed only for observers that override ``block``, ``function_entered`` or ``function_exited``
(``_observe.BLOCK_EVENTS``): a Python Unicorn block hook, added after the native one, reads which
call-tree node the block runs in (``NativeState.node``) and the cycle it started at
(``block_start_cycle``). A frame is a call-tree path, so the frames' cycles are the profile's by
construction. A node change is committed one step late -- at the next block, or at the next loop
event -- because the loop may still take the block back as never entered (``BlockAccounting.truncate``
restores the node); then the change is dropped.
"""

from __future__ import annotations

import unicorn as uc_mod

from ._observe import BLOCK_EVENTS, Observer, overrides


def tracking(observers: list[Observer]) -> list[Observer]:
    """``observers``, led by a ``CallTracker`` serving them when any needs block or function events."""
    wanted = [o for o in observers if any(overrides(o, e) for e in BLOCK_EVENTS)]
    return [CallTracker(wanted), *observers] if wanted else observers


class CallTracker(Observer):
    """Turns call-tree node changes into ``function_entered`` / ``function_exited`` for ``observers``;
    as an observer itself (first in the list) it commits a pending change before any loop event."""

    def __init__(self, observers: list[Observer]):
        self._block = [o.block for o in observers if overrides(o, "block")]
        self._entered = [o.function_entered for o in observers if overrides(o, "function_entered")]
        self._exited = [o.function_exited for o in observers if overrides(o, "function_exited")]
        self.frames: list[int] = []          # the committed call stack: call-tree nodes, outermost first
        self._pending: tuple[int, int, int] | None = None  # (node, cycle, sp) of the block run last
        self._paths: dict[int, tuple[int, ...]] = {}

    def attach(self, run) -> None:
        self.m, self.state = run, run.state
        self.names, self.sp = run.code.functions, run.state.sp_register
        self.nodes = run.state.nodes
        run.uc.hook_add(uc_mod.UC_HOOK_BLOCK, self._on_block)

    def _on_block(self, uc, address: int, size: int, _user) -> None:
        st = self.state
        self._commit(st.block_node)
        node, cycle = st.node, st.block_start_cycle
        if node != (self.frames[-1] if self.frames else 0):
            self._pending = (node, cycle, uc.reg_read(self.sp))
        for notify in self._block:
            notify(address, cycle)

    def _commit(self, node: int) -> None:
        """``node`` is where the run is now: the pending change stands if it led there, else it was taken back."""
        pending, self._pending = self._pending, None
        if pending is not None and pending[0] == node:
            self._move(*pending)

    def _path(self, node: int) -> tuple[int, ...]:
        path = self._paths.get(node)
        if path is None:
            parent = int(self.nodes.parent[node])
            path = self._paths[node] = (*(self._path(parent) if parent else ()), node)
        return path

    def _move(self, node: int, cycle: int, sp: int) -> None:
        path = self._path(node) if node else ()
        common = 0
        while common < min(len(path), len(self.frames)) and path[common] == self.frames[common]:
            common += 1
        while len(self.frames) > common:
            self._exit(self.frames.pop(), cycle)
        for n in path[common:]:
            self.frames.append(n)
            name = self._name(n)
            for notify in self._entered:
                notify(name, cycle, sp)

    def _name(self, node: int) -> str:
        f = int(self.nodes.function[node])
        return self.names[f] if f >= 0 else "?"

    def _exit(self, node: int, cycle: int) -> None:
        name = self._name(node)
        for notify in self._exited:
            notify(name, cycle)

    # -- loop events: the block run last stands as it is now --------------------------------------
    def _now(self, *_args) -> None:
        self._commit(self.state.node)

    cycles_added = exception_entered = exception_returned = taken_back = slept = _now  # not device events: mid-block

    def ended(self, reason: str, exit_code: int) -> None:
        self._commit(self.state.node)
        cycles = self.m.cycles
        while self.frames:
            self._exit(self.frames.pop(), cycles)
