"""A run's timeline (Chrome trace-event JSON, for ui.perfetto.dev and chrome://tracing) and waveform (VCD).

Both are observers (``_observe``): they see the run through its events and change nothing in it.
Time is modeled: a timestamp is the integer cycle at the board clock (the trace's ``ts`` in
microseconds, the VCD's in the coarsest exact timescale), and every trace slice carries its cycles in
``args``. docs/debugging.md describes the tracks and the signals.
"""

from __future__ import annotations

import heapq
import itertools
import json
from collections import defaultdict
from pathlib import Path

from ._errors import ConfigError, SimmcuError
from ._observe import Observer

#: Default cap on a trace's events (``--trace-max-events``) and a waveform's value changes.
MAX_EVENTS = 1_000_000

_CPU = 1                                       # the CPU's pid; accelerator k has pid _UNIT0 + k
_UNIT0 = 10
_CALLS, _LAYERS, _EXCEPTIONS, _SLEEP = 1, 2, 3, 4  # the CPU's threads
_JOBS, _WAITING = 1, 2                          # an accelerator's threads; its phase lanes follow


def _writable(path: str | Path, what: str) -> Path:
    """A file the run may write at its end: checked before the run starts."""
    path = Path(path)
    if not path.parent.is_dir():
        raise ConfigError(f"{what} {path}: directory {path.parent} does not exist")
    return path


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text)
    except OSError as e:
        raise SimmcuError(f"cannot write {path}: {e.strerror}") from None


def _order(event: tuple[int, dict]) -> tuple[int, int]:
    """Trace events by start cycle, of slices starting together the longer first (the enclosing one)."""
    start, e = event
    return start, start - e.get("end", start)


def _jobs_in_time(unit) -> bool:
    """A unit with a register window records jobs as busy intervals; a custom-instruction unit's one
    ``Invocation`` is the run's total, not an interval."""
    return bool(unit.MMIO_SIZE)


class Trace(Observer):
    """``--trace FILE``: the CPU's call stack, layers, exceptions and sleep; each accelerator's jobs, their
    phases and the CPU's waiting; counters for stack depth and utilisation. Holds every event that starts
    before the cycle at which ``max_events`` was reached, and says so when it cut."""

    NAME = "trace"

    def __init__(self, path: str | Path, max_events: int = MAX_EVENTS):
        if max_events < 1:
            raise ConfigError(f"--trace-max-events must be at least 1, not {max_events}")
        self.path, self.max_events = _writable(path, "--trace"), max_events

    def attach(self, run) -> None:
        """Each run starts a fresh trace (an instance may watch several runs; the file is the last one's)."""
        from simmcu.firmware._layer import LAYER_FUNCTION  # numpy, Numba: the CLI imports this module to parse

        from ._profile import stack_top

        self.events: list[tuple[int, int, dict]] = []  # heap of (-start cycle, arrival, event with cycles for ts)
        self._seq = itertools.count()
        self.cut: int | None = None               # the earliest start of an event dropped
        self.stack: list[tuple[str, int, int]] = []  # open frames: (function, start cycle, sp)
        self.exceptions: list[dict] = []          # open exceptions, innermost last
        self._last_depth: dict | None = None
        self.m, self.layer = run, LAYER_FUNCTION
        self.clock = run.board.clock_hz
        self.top = stack_top(run.image, run.board)

    def _add(self, start: int, event: dict) -> None:
        """Keep the ``max_events`` earliest-starting events (slices arrive when they end, out of start order);
        ``cut`` is the earliest start of one dropped."""
        if self.cut is not None and start >= self.cut:
            return
        heapq.heappush(self.events, (-start, next(self._seq), event))
        if len(self.events) > self.max_events:
            dropped = -heapq.heappop(self.events)[0]
            self.cut = dropped if self.cut is None else min(self.cut, dropped)

    def _slice(self, pid: int, tid: int, name: str, start: int, end: int, **args) -> dict:
        return dict(ph="X", pid=pid, tid=tid, name=name, start=start, end=end,
                    args=dict(start_cycle=start, end_cycle=end, cycles=end - start, **args))

    # -- the CPU ---------------------------------------------------------------------------------
    def function_entered(self, function: str, cycle: int, sp: int) -> None:
        open_exception = self.exceptions and self.exceptions[-1]
        if open_exception and open_exception["handler"] is None and open_exception["depth"] == len(self.stack):
            open_exception["handler"] = function
        self.stack.append((function, cycle, sp))
        self._depth(cycle, sp)

    def function_exited(self, function: str, cycle: int) -> None:
        name, start, sp = self.stack.pop()
        depth = len(self.stack)
        self._add(start, self._slice(_CPU, _CALLS, name, start, cycle, depth=depth, sp=sp))
        layer = self.layer.fullmatch(name)
        if layer:
            self._add(start, self._slice(_CPU, _LAYERS, name, start, cycle, layer=int(layer[1]), op=layer[2].upper()))
        if self.exceptions and self.exceptions[-1]["depth"] == depth and self.exceptions[-1]["handler"] is not None:
            self._exception_ended(cycle)  # a handler's return the machine does not report (RISC-V mret)
        self._depth(cycle, self.stack[-1][2] if self.stack else self.top)

    def _depth(self, cycle: int, sp: int) -> None:
        """The stack counter now; of several changes at one cycle (a return and a call) the last stands."""
        args = {"call depth": len(self.stack), "stack bytes": max(0, self.top - sp)}
        if self._last_depth is not None and self._last_depth["start"] == cycle:
            self._last_depth["args"] = args
            return
        self._last_depth = dict(ph="C", pid=_CPU, tid=_CALLS, name="stack", start=cycle, args=args)
        self._add(cycle, self._last_depth)

    def exception_entered(self, return_pc: int) -> None:
        self.exceptions.append(dict(start=self.m.cycles - self.m.timing.exception_entry, entered=self.m.cycles,
                                    depth=len(self.stack), handler=None, return_pc=return_pc))

    def exception_returned(self) -> None:
        if self.exceptions:
            self._exception_ended(self.m.cycles)

    def _exception_ended(self, cycle: int) -> None:
        e = self.exceptions.pop()
        self._add(e["start"], self._slice(_CPU, _EXCEPTIONS, f"exception: {e['handler'] or '?'}", e["start"], cycle,
                                          handler_cycle=e["entered"], return_pc=f"{e['return_pc']:#010x}"))

    def slept(self, start: int, end: int) -> None:
        self._add(start, self._slice(_CPU, _SLEEP, "WFI sleep", start, end))

    def device_irq(self, unit, level: bool, cycle: int) -> None:
        k = self.m.devices.accels.index(unit)
        self._add(cycle, dict(ph="i", s="t", pid=_UNIT0 + k, tid=_JOBS, name=f"irq {'raised' if level else 'dropped'}",
                              start=cycle, args=dict(cycle=cycle, line=unit.params["irq"])))

    def ended(self, reason: str, exit_code: int) -> None:
        end = self.m.cycles
        for e in reversed(self.exceptions):  # a handler still running when the run ended
            self._add(e["start"], self._slice(_CPU, _EXCEPTIONS, f"exception: {e['handler'] or '?'}", e["start"],
                                              end, handler_cycle=e["entered"], return_pc=f"{e['return_pc']:#010x}"))
        self.exceptions = []

    # -- accelerators, from their jobs once the run is over ----------------------------------------
    def _unit_events(self, k: int, unit):
        """Unit ``k``'s events in start order: jobs with their phases, the CPU's waits, counters."""
        pid = _UNIT0 + k
        lanes: dict[str, int] = {"job": _JOBS}
        out = []
        busy = []
        for n, job in enumerate(unit.invocations):
            info = {key: v for key, v in job.info.items() if isinstance(v, (int, float, str, bool, list))}
            out.append((job.start, self._slice(pid, _JOBS, f"job {n}", job.start, job.end, macs=job.macs,
                                               dma_read_bytes=job.dma_read_bytes,
                                               dma_write_bytes=job.dma_write_bytes, **info)))
            busy.append((job.start, job.end))
            util = []
            for ph in unit.phases(job):
                tid = lanes.setdefault(ph.lane, len(lanes) + _WAITING)
                out.append((ph.start, self._slice(pid, tid, ph.name, ph.start, ph.end, job=n)))
                if ph.utilisation is not None:
                    util += [(ph.start, ph.utilisation), (ph.end, 0)]
            out += self._counter(pid, "utilisation", "compute", util)
        out += self._counter(pid, "busy", "busy", [c for a, b in _merged(busy) for c in ((a, 1), (b, 0))])
        for a, b, how in unit.waits(self.m.sleeps):
            out.append((a, self._slice(pid, _WAITING, f"CPU waiting ({how})", a, b)))
        out.sort(key=_order)
        names = [(_JOBS, "jobs"), (_WAITING, "CPU waiting"),
                 *((tid, lane) for lane, tid in lanes.items() if tid != _JOBS)]
        return out, names

    def _counter(self, pid: int, name: str, series: str, changes: list[tuple[int, float]]):
        """Counter events from (cycle, value) changes; of two at one cycle the later stands."""
        at: dict[int, float] = {}
        for cycle, value in changes:
            at[cycle] = value
        return [(c, dict(ph="C", pid=pid, tid=0, name=name, start=c, args={series: v})) for c, v in sorted(at.items())]

    def report(self) -> dict:
        units = [(k, u) for k, u in enumerate(self.m.devices.accels) if _jobs_in_time(u)]
        per_unit = [self._unit_events(k, u) for k, u in units]
        kept = sorted((e for e in self.events if self.cut is None or -e[0] < self.cut),
                      key=lambda e: (*_order((-e[0], e[2])), e[1]))  # ties in the order they came
        streams = [[(-start, e) for start, _, e in kept]] + \
            [[e for e in events if self.cut is None or e[0] < self.cut] for events, _ in per_unit]
        merged = list(itertools.islice(heapq.merge(*streams, key=_order), self.max_events + 1))
        cut = self.cut
        if len(merged) > self.max_events:
            cut = merged[self.max_events][0]
            merged = [e for e in merged[:self.max_events] if e[0] < cut]
        trace = [self._meta(_CPU, "process_name", f"CPU ({self.m.core.name})"),
                 self._meta(_CPU, "process_sort_index", 0)]
        for tid, name in ((_CALLS, "call stack"), (_LAYERS, "model layers"), (_EXCEPTIONS, "exceptions"),
                          (_SLEEP, "WFI sleep")):
            trace += [self._meta(_CPU, "thread_name", name, tid), self._meta(_CPU, "thread_sort_index", tid, tid)]
        for (k, unit), (_, names) in zip(units, per_unit):
            trace += [self._meta(_UNIT0 + k, "process_name", f"{unit.NAME} (accelerator {k})"),
                      self._meta(_UNIT0 + k, "process_sort_index", 1 + k)]
            for tid, name in names:
                trace += [self._meta(_UNIT0 + k, "thread_name", name, tid),
                          self._meta(_UNIT0 + k, "thread_sort_index", tid, tid)]
        trace += [self._render(e) for _, e in merged]
        if cut is not None:
            trace.append(self._render(dict(ph="i", s="g", pid=_CPU, tid=_CALLS, name=f"trace truncated at cycle {cut}",
                                           start=cut, args=dict(cycle=cut, max_events=self.max_events))))
        doc = dict(traceEvents=trace, displayTimeUnit="ns",
                   otherData=dict(elf=str(self.m.image.path), core=self.m.core.name, board=self.m.board.name,
                                  clock_hz=self.clock, time="modeled: ts = cycle / clock_hz, in microseconds",
                                  cycles=self.m.cycles, truncated_at_cycle=cut))
        _write(self.path, json.dumps(doc, separators=(",", ":")) + "\n")
        return dict(file=str(self.path), events=len(merged), truncated_at_cycle=cut)

    @staticmethod
    def _meta(pid: int, name: str, value, tid: int = 0) -> dict:
        return dict(ph="M", pid=pid, tid=tid, name=name, args={"sort_index" if "sort" in name else "name": value})

    def _render(self, event: dict) -> dict:
        out = {k: v for k, v in event.items() if k not in ("start", "end")}
        out["ts"] = event["start"] * 1_000_000 / self.clock
        if "end" in event:
            out["dur"] = (event["end"] - event["start"]) * 1_000_000 / self.clock
        return out


#: VCD timescale units, coarsest first, in femtoseconds.
_UNITS = [(m * 10 ** e, f"{m} {u}") for e, u in ((15, "s"), (12, "ms"), (9, "us"), (6, "ns"), (3, "ps"), (0, "fs"))
          for m in (100, 10, 1)]


def timescale(clock_hz: int) -> tuple[str, int, bool]:
    """(timescale, time units per cycle, exact): the coarsest VCD unit that a clock period is a whole number
    of; a clock no unit divides gets 1 ps, with times rounded to it."""
    for fs, name in _UNITS:
        if 10 ** 15 % (clock_hz * fs) == 0:
            return name, 10 ** 15 // (clock_hz * fs), True
    return "1 ps", 0, False


def _merged(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The union of [start, end) intervals as disjoint ones, in order (touching ones joined)."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        elif b > a:
            out.append((a, b))
    return out


def _settled(changes) -> list[tuple[int, tuple, object]]:
    """Time-ordered changes with, per cycle and variable, only the last value, and only where it changes."""
    out, last = [], {}
    for cycle, group in itertools.groupby(changes, key=lambda c: c[0]):
        for key, value in {key: value for _, key, value in group}.items():
            if last.get(key, object()) != value:
                last[key] = value
                out.append((cycle, key, value))
    return out


def _identifier(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_") or "signal"


class Waveform(Observer):
    """``--vcd FILE``: per accelerator its declared signals (``Accelerator.signals``), its busy and interrupt
    lines and one wire per job phase; with ``cpu``, the CPU's current function and call depth."""

    NAME = "vcd"

    def __init__(self, path: str | Path, cpu: bool = False, max_changes: int = MAX_EVENTS):
        try:
            import vcd  # noqa: F401  (pyvcd)
        except ImportError:
            raise ConfigError("--vcd needs pyvcd: pip install 'simmcu[trace]'") from None
        if max_changes < 1:
            raise ConfigError(f"--trace-max-events must be at least 1, not {max_changes}")
        self.path, self.cpu, self.max_changes = _writable(path, "--vcd"), cpu, max_changes

    def attach(self, run) -> None:
        """Each run starts a fresh waveform."""
        self.changes: list[tuple[int, tuple, object]] = []  # (cycle, variable key, value), as they came
        self.last: dict[tuple, object] = {}
        self.cut: int | None = None
        self.functions: list[str] = []
        self.m = run
        self.units = list(run.devices.accels)
        self.signals = [u.signals() for u in self.units]
        for unit, sigs in zip(self.units, self.signals):
            names = [_identifier(sig.name) for sig in sigs]
            clash = {"busy", "irq"} & set(names) or {n for n in names if names.count(n) > 1}
            if clash:
                raise ConfigError(f"accelerator {unit.NAME}: waveform signal names {sorted(clash)} are taken "
                                  "(busy and irq are every unit's; names must differ after lower-casing)")
        self.per_block = [k for k, u in enumerate(self.units) if not u.MMIO_SIZE and self.signals[k]]
        for k in range(len(self.units)):
            self._sample(k, 0)
            if _jobs_in_time(self.units[k]):
                self._change(0, (k, "busy"), 0)
            self._change(0, (k, "irq"), 0)
        if self.cpu:
            self._change(0, ("cpu", "function"), "")
            self._change(0, ("cpu", "call_depth"), 0)

    def _change(self, cycle: int, key: tuple, value) -> None:
        if self.last.get(key) == value or (self.cut is not None and cycle >= self.cut):
            return
        if len(self.changes) >= self.max_changes:
            self.cut = cycle
            return
        self.last[key] = value
        self.changes.append((cycle, key, value))

    def _sample(self, k: int, cycle: int) -> None:
        for s in self.signals[k]:
            self._change(cycle, (k, "signal", s.name), s.value(cycle) & ((1 << s.width) - 1))

    def device_accessed(self, unit, write: bool, offset: int, size: int, value: int, cycle: int) -> None:
        self._sample(self.units.index(unit), cycle)

    def device_updated(self, unit, cycle: int) -> None:
        self._sample(self.units.index(unit), cycle)

    def device_irq(self, unit, level: bool, cycle: int) -> None:
        k = self.units.index(unit)
        self._change(cycle, (k, "irq"), int(level))
        self._sample(k, cycle)

    def block(self, address: int, cycle: int) -> None:
        for k in self.per_block:
            self._sample(k, cycle)

    def function_entered(self, function: str, cycle: int, sp: int) -> None:
        self.functions.append(function)
        self._cpu(cycle)

    def function_exited(self, function: str, cycle: int) -> None:
        self.functions.pop()
        self._cpu(cycle)

    def _cpu(self, cycle: int) -> None:
        if self.cpu:
            self._change(cycle, ("cpu", "function"), self.functions[-1] if self.functions else "")
            self._change(cycle, ("cpu", "call_depth"), len(self.functions))

    def _job_wires(self) -> list[tuple[int, tuple, int]]:
        """Busy and phase wires of the units' jobs (known once the run is over), in time order."""
        spans = defaultdict(list)
        for k, unit in enumerate(self.units):
            if not _jobs_in_time(unit):
                continue
            for job in unit.invocations:
                spans[k, "busy"].append((job.start, job.end))
                for ph in unit.phases(job):
                    spans[k, "phase", ph.name].append((ph.start, ph.end))
        out = [c for key, intervals in spans.items() for a, b in _merged(intervals) for c in ((a, key, 1), (b, key, 0))]
        return sorted(out, key=lambda c: c[0])

    def report(self) -> dict:
        from vcd import VCDWriter

        wires = [c for c in self._job_wires() if self.cut is None or c[0] < self.cut]
        changes = _settled(heapq.merge(sorted(self.changes, key=lambda c: c[0]), wires, key=lambda c: c[0]))
        cut = self.cut
        if len(changes) > self.max_changes:
            cut = changes[self.max_changes][0]
            changes = [c for c in changes[:self.max_changes] if c[0] < cut]
        clock = self.m.board.clock_hz
        scale, per_cycle, exact = timescale(clock)
        comment = f"simmcu {Path(self.m.image.path).name} on {self.m.core.name}, {clock} Hz: one cycle is " + \
            (f"{per_cycle} x {scale}" if exact else f"{10 ** 12 / clock:g} ps (times rounded)") + \
            (f"; truncated at cycle {cut}" if cut is not None else "")
        keys = {key for _, key, _ in changes}
        scopes = [_identifier(u.NAME) + (str(k) if [v.NAME for v in self.units].count(u.NAME) > 1 else "")
                  for k, u in enumerate(self.units)]
        widths = {(k, "signal", s.name): s.width for k, sigs in enumerate(self.signals) for s in sigs}

        def at(cycle: int) -> int:
            return cycle * per_cycle if exact else (cycle * 10 ** 12 * 2 + clock) // (2 * clock)  # to the nearest ps

        try:
            with open(self.path, "w") as f, VCDWriter(f, timescale=scale, date="", comment=comment,
                                                       version="simmcu") as w:
                variables = {}
                for key in sorted(keys, key=str):
                    if key[0] == "cpu":
                        kind = "string" if key[1] == "function" else "integer"
                        variables[key] = w.register_var("cpu", key[1], kind, size=None if kind == "string" else 32)
                    elif key[1] == "phase":
                        variables[key] = w.register_var(scopes[key[0]], _identifier(key[2]), "wire", size=1, init=0)
                    elif key[1] == "signal":
                        width = widths[key]
                        variables[key] = w.register_var(scopes[key[0]], _identifier(key[2]),
                                                        "wire" if width == 1 else "reg", size=width)
                    else:  # busy, irq
                        variables[key] = w.register_var(scopes[key[0]], key[1], "wire", size=1)
                for cycle, key, value in changes:
                    w.change(variables[key], at(cycle), value)
        except OSError as e:
            raise SimmcuError(f"cannot write {self.path}: {e.strerror}") from None
        return dict(file=str(self.path), changes=len(changes), truncated_at_cycle=cut, timescale=scale)
