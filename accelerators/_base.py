"""The accelerator plug-in interface: what a model implements and what the machine gives it.

A model is a subclass of ``Accelerator``: it declares its parameters (``Param``: default, unit,
description, check), the size of its register window, and answers register reads and writes.
Through ``self.bus`` it reads and writes memory (DMA), learns the modeled cycle of the access it
is answering, raises its interrupt line and asks to be woken at a future cycle. Time is integer
cycles of the core clock; a model never looks at host time. For the model compiler it may take
layers (``compile_layer``) and add sources and definitions to the firmware (``firmware``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from simmcu._energy import HOROWITZ_45NM as H
from simmcu._errors import ConfigError
from simmcu._params import Param, apply_params
from simmcu.firmware._layer import FirmwareSupport, Layer, LayerCode

#: Parameters every memory-mapped accelerator has.
COMMON_PARAMS = {
    "base": Param(0x4000_0000, "address", "start of the register window (inside a board mmio region)", int,
                  lambda v: 0 <= v < 1 << 32 and v % 0x1000 == 0),
    "irq": Param(0, "line", "device interrupt line (Cortex-M: IRQn; RISC-V: a machine external interrupt)",
                 int, lambda v: 0 <= v < 240),
}

#: An int8 multiply-accumulate's energy and area, for units' own ``PARAMS`` (docs/energy.md).
MAC_ENERGY = Param(H["mult8_pj"] + H["add32_pj"], "pJ/MAC", "an 8-bit multiply (0.2 pJ) and 32-bit accumulate "
                   "(0.1 pJ), Horowitz ISSCC 2014, 45 nm", "quantity")
MAC_AREA = Param(H["mult8_um2"] + H["add32_um2"], "um2/PE", "an 8-bit multiplier (282) and 32-bit adder (137 um2), "
                 "Horowitz, 45 nm; the accumulator register left out", "quantity")


class Bus(Protocol):
    """What the machine offers a model (``simulator/_devices.py`` implements it)."""

    def now(self) -> int:
        """The cycle at which the register access being answered happens (else the current cycle)."""

    def read(self, addr: int, size: int) -> bytes:
        """DMA read; ``check`` first: an address outside RAM/flash raises."""

    def write(self, addr: int, data: bytes) -> None: ...

    def check(self, addr: int, size: int, writable: bool) -> bool:
        """Whether [addr, addr + size) lies in one mapped memory region (writable if asked)."""

    def ram_accesses(self) -> int:
        """CPU data accesses to RAM so far (for a model of contention on the RAM port)."""

    def set_irq(self, level: bool) -> None: ...

    def wake_at(self, cycle: int) -> None:
        """Ask for ``update`` at ``cycle`` (the run stops there if the CPU is still running)."""


@dataclass
class Invocation:
    """One job of an accelerator: its busy interval and what it moved and computed."""

    start: int
    end: int
    macs: int = 0
    dma_read_bytes: int = 0
    dma_write_bytes: int = 0
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Signal:
    """A value a waveform shows (``Accelerator.signals``): ``width`` bits, and ``value(now)`` reading it from the
    model's state at cycle ``now`` without side effects. Sampled after each register access, ``update`` and
    interrupt change of the unit (a unit without a register window: at each basic block)."""

    name: str
    width: int
    value: Callable[[int], int]


@dataclass(frozen=True)
class Phase:
    """Part of a job in modeled cycles [start, end) (``Accelerator.phases``): on ``lane`` (a timeline track
    of the unit, e.g. ``dma`` or ``compute``; phases of one lane do not overlap), named ``name``; optionally
    the share of the unit's compute resources in use (its utilisation counter)."""

    lane: str
    name: str
    start: int
    end: int
    utilisation: float | None = None


class Accelerator:
    """Base class: set NAME, DESCRIPTION, PARAMS (added to COMMON_PARAMS) and MMIO_SIZE; implement
    ``read``, ``write`` and, for work that finishes later, ``update``."""

    @classmethod
    def all_params(cls) -> dict[str, Param]:
        """Every parameter: the register window's (``base``, ``irq``) when it has one, then its own."""
        return {**(COMMON_PARAMS if cls.MMIO_SIZE else {}), **cls.PARAMS}

    NAME = ""
    DESCRIPTION = ""
    PARAMS: dict[str, Param] = {}
    MMIO_SIZE = 0x1000
    #: The parameters ``compile_layer`` and ``firmware`` depend on (None: all of them); a compiled
    #: model is cached per their values, so list every one that changes the generated code.
    COMPILE_PARAMS: tuple[str, ...] | None = None

    def __init__(self, **values: Any):
        self.params = apply_params(self.all_params(), values, f"accelerator {self.NAME}")
        self.validate()
        self.bus: Bus | None = None
        self.invocations: list[Invocation] = []
        self.errors: list[str] = []
        self._wait: list[tuple[int, int]] = []

    def validate(self) -> None:
        """Check parameter combinations; raise ConfigError with a clear message."""

    def attach(self, bus: Bus) -> None:
        self.bus = bus
        self.reset()

    def reset(self) -> None:
        """Back to the power-on state (before each run)."""
        self.invocations, self.errors, self._wait = [], [], []

    # -- registers ---------------------------------------------------------------------------
    def read(self, offset: int, size: int) -> int:
        raise NotImplementedError

    def write(self, offset: int, size: int, value: int) -> None:
        raise NotImplementedError

    def update(self, now: int) -> None:
        """Called at a cycle asked for with ``bus.wake_at`` (and whenever the machine updates)."""

    def steady_read(self) -> tuple[int, int, int] | None:
        """(offset, value, until): a CPU read of register ``offset`` at any cycle before ``until`` returns
        ``value`` and changes nothing (a status polled while a job runs), so the machine may answer such reads
        without calling ``read`` until the next ``read`` or ``write``. Asked after each ``read``; default None."""
        return None

    # -- what a trace and a waveform show (docs/debugging.md) --------------------------------
    def signals(self) -> list[Signal]:
        """Registers and lines a waveform (``--vcd``) shows, beyond the busy, interrupt and phase wires every
        unit gets. Default: none."""
        return []

    def phases(self, job: Invocation) -> list[Phase]:
        """The parts of a finished job, in time order, for the timeline (``--trace``) and the waveform.
        Called only when one is written. Default: none (the job shows as one slice)."""
        return []

    # -- model compiler support -----------------------------------------------------------------
    def compile_layer(self, layer: Layer) -> LayerCode | str | None:
        """The code that runs ``layer`` on this unit; or a one-line reason it cannot with these
        parameters (the layer then runs on the CPU, and the report says why); or None, the
        default: not an operator this unit handles."""
        return None

    def check_core(self, core) -> None:
        """Raise ConfigError when the unit cannot work with ``core`` (a ``simmcu.Core``); called when a
        run attaches it and when a model firmware is compiled for it."""

    def firmware(self, core: str) -> FirmwareSupport:
        """The C sources and preprocessor definitions a model firmware for this unit compiles in."""
        return FirmwareSupport()

    # -- energy and area (docs/energy.md) ---------------------------------------------------------
    def job_energy(self, job: Invocation) -> dict[str, float]:
        """Energy of one job inside the unit, in pJ by part: ``compute``, ``buffer`` (its local memory),
        ``dma`` (its side of the transfers) or parts of one's own (reported as ``accelerator_<part>``).
        The memory side of the job's DMA bytes is added by the machine at the board's region figures.
        Default: nothing modeled."""
        return {}

    def static_power(self) -> float:
        """Leakage in uW, drawn for as long as the run lasts. Default: not modeled (0)."""
        return 0.0

    def area(self) -> dict[str, float]:
        """Area in um2 by part (``pes``, ``buffer``, ...), from the parameters alone: a sweep checks an
        area constraint before a point runs. Default: not modeled (none)."""
        return {}

    # -- accounting helpers -------------------------------------------------------------------
    def error(self, message: str) -> None:
        """Bad programming: recorded for the run report; the model also sets its error status."""
        self.errors.append(message)

    def cpu_waited(self, start: int, end: int) -> None:
        """The CPU spent [start, end) waiting for this accelerator (polling a busy status)."""
        if end > start:
            self._wait.append((start, end))

    def waits(self, sleeps: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
        """(start, end, how) the CPU waited for this unit: ``polling`` its status, or ``asleep`` in WFI (the
        run's ``sleeps``) while a job ran."""
        asleep = [(max(a, j.start), min(b, j.end)) for a, b in sleeps for j in self.invocations]
        return [(a, b, "polling") for a, b in self._wait] + [(a, b, "asleep") for a, b in asleep if b > a]

    def report(self, total_cycles: int, sleeps: list[tuple[int, int]]) -> dict:
        """The JSON ``accelerators`` entry: totals and the per-invocation list."""
        busy = _union_length([(j.start, j.end) for j in self.invocations])
        wait = _union_length([(a, b) for a, b, _ in self.waits(sleeps)])
        return dict(
            name=self.NAME, params=dict(self.params), invocations=len(self.invocations),
            busy_cycles=busy, utilisation=round(busy / total_cycles, 4) if total_cycles else 0.0,
            macs=sum(j.macs for j in self.invocations),
            dma_read_bytes=sum(j.dma_read_bytes for j in self.invocations),
            dma_write_bytes=sum(j.dma_write_bytes for j in self.invocations),
            cpu_wait_cycles=wait, errors=list(self.errors),
            runs=[dict(start=j.start, end=j.end, macs=j.macs, dma_read_bytes=j.dma_read_bytes,
                       dma_write_bytes=j.dma_write_bytes, **j.info) for j in self.invocations])


def _union_length(intervals: list[tuple[int, int]]) -> int:
    total, reach = 0, None
    for a, b in sorted(intervals):
        if reach is None or a > reach:
            total += b - a
            reach = b
        elif b > reach:
            total += b - reach
            reach = b
    return total


def parse_value(param: Param, text: str, where: str) -> Any:
    """A command-line value (``pe_rows=8``, ``double_buffer=false``, ``buffer=32KiB``) as the param's type."""
    if param.kind is bool:
        if text.lower() not in ("true", "false", "1", "0", "on", "off", "yes", "no"):
            raise ConfigError(f"{where}: {text!r} is not true or false")
        return text.lower() in ("true", "1", "on", "yes")
    if param.kind is int:
        try:
            return int(text, 0)
        except ValueError:
            raise ConfigError(f"{where}: {text!r} is not a whole number") from None
    return text
