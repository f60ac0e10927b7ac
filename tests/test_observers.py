"""Observers: events in modeled time, reports in the result, and nothing installed when none is attached."""

from __future__ import annotations

import unicorn

from simmcu import Observer, Simulator
from simmcu._machine import Machine


class Counting(Observer):
    NAME = "counting"

    def attach(self, run):
        self.run, self.instructions, self.entries, self.returns, self.sleeps, self.added = run, 0, [], 0, [], 0
        self.last = None

    def instruction(self, address, size):
        if not self.run.state.stopped:  # an instruction the block hook stopped before does not run now
            self.instructions += 1
            self.last = address

    def taken_back(self, address):
        if address == self.last:  # the instruction seen last did not complete after all
            self.instructions -= 1
            self.last = None

    def exception_entered(self, return_pc):
        self.entries.append(return_pc)

    def exception_returned(self):
        self.returns += 1

    def cycles_added(self, cycles, cause):
        self.added += cycles

    def slept(self, start, end):
        self.sleeps.append((start, end))

    def report(self):
        return dict(instructions=self.instructions, entries=len(self.entries), returns=self.returns,
                    sleeps=self.sleeps, added=self.added)


def test_an_observer_sees_every_instruction_and_sleep(elf):
    """RISC-V timer program: every retired instruction (Unicorn hooks each one on RV32; on Thumb it
    skips failed IT-predicated ones) and the WFI sleeps, matching the run's own totals."""
    r = Simulator(elf("rv_timer.c", "rv32imc"), core="rv32imc", observers=[Counting]).run()
    assert r.exit_code == 0, r.message
    seen = r.reports["counting"]
    assert seen["instructions"] == r.instructions
    assert sum(b - a for a, b in seen["sleeps"]) == r.sleep_cycles > 0
    assert r.to_dict()["counting"] == seen  # reports are top-level JSON keys


def test_an_observer_sees_exception_entries_and_returns(elf):
    """SysTick program on a Cortex-M3: each entry and return, and the cycles the profile charges for them."""
    r = Simulator(elf("systick.c", "cortex-m3"), core="cortex-m3", observers=[Counting]).run()
    assert r.exit_code == 0, r.message
    seen = r.reports["counting"]
    assert seen["entries"] == seen["returns"] == sum(r.interrupts.values()) > 0
    assert seen["added"] == seen["entries"] * 12 + seen["returns"] * 10  # cortex-m3.toml entry and return


def test_an_observer_class_is_fresh_for_each_run(elf):
    sim = Simulator(elf("hello", "cortex-m4"), core="cortex-m4", observers=[Counting])
    first, second = sim.run(), sim.run()
    assert first.reports == second.reports and first.cycles == second.cycles


def test_no_python_hook_without_observers(elf, monkeypatch):
    """With no observer the machine installs no per-instruction or per-access Python hook."""
    kinds = []
    real = unicorn.Uc.hook_add

    def spy(self, htype, callback, *args, **kwargs):
        kinds.append((htype, kwargs.get("begin", args[1] if len(args) > 1 else 1),
                      kwargs.get("end", args[2] if len(args) > 2 else 0)))
        return real(self, htype, callback, *args, **kwargs)

    monkeypatch.setattr(unicorn.Uc, "hook_add", spy)
    for observers in ([], [Counting]):
        kinds.clear()
        r = Simulator(elf("hello", "rv32imc"), core="rv32imc", observers=observers).run()
        assert r.exit_code == 0
        everywhere = [k for k, begin, end in kinds if k in (unicorn.UC_HOOK_CODE, unicorn.UC_HOOK_MEM_READ |
                                                             unicorn.UC_HOOK_MEM_WRITE) and begin > end]
        assert len(everywhere) == (1 if observers else 0)
    assert Machine  # the machine is private; observers only see what attach hands them
