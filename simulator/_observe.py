"""Observers: what watches a run without being part of its model.

The plain-Python reference timing model (``_reference``) is one; trace writers and a debugger
attach the same way. An observer overrides only the events it needs. The machine installs a
per-instruction or per-access Unicorn hook only for an observer that overrides ``instruction``
or ``memory`` (those take Unicorn off its fast path), and calls the other events from the
loop's rare paths through ``Events``, which holds, per event, the bound methods of the observers
that override it: with no observer attached nothing is installed and every event is a loop over
an empty tuple, so the model runs as fast as without the interface.

Events are in modeled time (integer cycles); an observer reads the run through ``attach``'s
argument (``cycles``, ``instructions``, ``pc``, ``read``, ``uc``, ``image``, ``board``, ``core``)
and never changes the model.
"""

from __future__ import annotations

#: Events called from the loop (not per instruction); ``Events`` has one tuple per name.
EVENTS = ("cycles_added", "exception_entered", "exception_returned", "taken_back", "slept", "paused", "ended",
          "block", "function_entered", "function_exited", "device_accessed", "device_updated", "device_irq")
#: Events that need a Python block hook (``_calls.CallTracker``): installed only when one is overridden.
BLOCK_EVENTS = ("block", "function_entered", "function_exited")


class Observer:
    """Base of run observers; every method is optional."""

    #: Key of ``report()`` in ``RunResult.reports`` and the JSON (e.g. ``timing_check``); "" for none.
    NAME = ""

    def attach(self, run) -> None:
        """Called once before the first instruction, with the machine running this run."""

    def instruction(self, address: int, size: int) -> None:
        """Before each instruction executes (a Python hook per instruction: slow)."""

    def memory(self, write: bool, address: int, size: int, value: int) -> None:
        """Each data access (a Python hook per access: slow)."""

    def cycles_added(self, cycles: int, cause: str) -> None:
        """Cycles spent outside instructions were charged (exception entry and return)."""

    def exception_entered(self, return_pc: int) -> None:
        """The core vectored to a handler; its return resumes at ``return_pc``."""

    def exception_returned(self) -> None:
        """A handler returned (Cortex-M, where the machine performs the return; a RISC-V ``mret`` is
        Unicorn's own instruction and is not reported)."""

    def taken_back(self, address: int) -> None:
        """The instruction at ``address`` did not complete after all (a fault, a stop mid-block):
        what the native model charged for it and the rest of its block was taken back."""

    def slept(self, start: int, end: int) -> None:
        """The core slept in WFI over cycles [start, end)."""

    def paused(self, pc: int) -> None:
        """The run stopped before the instruction at ``pc`` because an observer asked (``run.pause``); it goes
        on from the PC when this returns. The model is accounted exactly up to ``pc``. Raise ``EndRun`` to end
        the run here, ``Restart`` to start it again from reset."""

    def ended(self, reason: str, exit_code: int) -> None:
        """The run ended (``reason`` as ``RunResult.exit_reason``); the core's state is still readable (a fault: the
        PC on the faulting instruction), at ``cycles``; called before ``report``. ``Restart`` raised here
        runs again from reset."""

    def block(self, address: int, cycle: int) -> None:
        """A basic block starts at ``cycle`` (a Python hook per block: slow)."""

    def function_entered(self, function: str, cycle: int, sp: int) -> None:
        """A call-stack frame of ``function`` starts at ``cycle`` (a call, a tail call, or a handler the core
        vectored to), ``sp`` at its first instruction. Frames are the profile's call-tree paths and nest;
        cycles summed over them equal the profile's (WFI sleep inside a frame aside). Per block: slow."""

    def function_exited(self, function: str, cycle: int) -> None:
        """The innermost frame, of ``function``, ends at ``cycle`` (every frame ends, at the latest with the run)."""

    def device_accessed(self, unit, write: bool, offset: int, size: int, value: int, cycle: int) -> None:
        """The CPU read (the value answered) or wrote a register of accelerator ``unit`` at ``cycle``, after the
        unit acted on it."""

    def device_updated(self, unit, cycle: int) -> None:
        """Accelerator ``unit`` was brought up to ``cycle`` (its ``update``): its state may have changed."""

    def device_irq(self, unit, level: bool, cycle: int) -> None:
        """Accelerator ``unit`` set its interrupt line to ``level`` at ``cycle``."""

    def report(self) -> dict | None:
        """What the run's result carries under ``NAME`` (called once at the end)."""
        return None


class EndRun(Exception):
    """Raised from ``Observer.paused`` to end the run there with exit reason ``reason`` (a debugger's kill)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class Restart(Exception):
    """Raised from ``Observer.paused`` or ``ended`` to run again from reset with the same observers (a debugger's
    reset)."""


def overrides(observer: Observer, event: str) -> bool:
    return getattr(type(observer), event) is not getattr(Observer, event)


class Events:
    """Per event, the bound methods of the observers that override it."""

    def __init__(self, observers: list[Observer]):
        for event in EVENTS:
            setattr(self, event, tuple(getattr(o, event) for o in observers if overrides(o, event)))
