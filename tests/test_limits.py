"""Wall-clock limits cover everything a run does, loading and decoding included."""

from __future__ import annotations

import time

import pytest

from simmcu import ExitCode, Simulator, TimeLimitError


@pytest.mark.parametrize("core", ["rv32imc", "cortex-m4"])
def test_timeout_covers_decoding(elf, core):
    """A limit shorter than the decoding of a large ELF ends while decoding, with the timeout exit code."""
    path = elf("big_code.c", core)
    started = time.monotonic()
    Simulator(path, core=core)
    decode = time.monotonic() - started
    with pytest.raises(TimeLimitError, match="while decoding") as e:
        Simulator(path, core=core, timeout=decode / 50)
    assert e.value.exit_code == ExitCode.TIMEOUT


def test_the_first_run_counts_from_loading(elf):
    """What decoding used is not given again to the run: a limit just above it ends the run early."""
    path = elf("misbehave.c", "rv32imc")
    sim = Simulator(path, core="rv32imc", timeout=0.5, args=("spin",))
    time.sleep(0.4)
    started = time.monotonic()
    r = sim.run()
    assert r.exit_reason == "timeout" and time.monotonic() - started < 0.3
