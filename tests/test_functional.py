"""``timing="none"`` (functional runs) and ``fast_forward_to`` (functional until a symbol, timed from there)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import unicorn as U

from simmcu import Observer, Simulator
from simmcu.cli import main

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
CONTROL = str(BENCH / "control.c")
CONV = str(BENCH / "conv_loop.c")
#: programs whose instruction path does not depend on time (no timers, no cycle-counter reads)
PROGRAMS = [(CONTROL, "rv32imc", {"REPS": "2"}), (CONTROL, "cortex-m4", {"REPS": "2"}),
            (CONTROL, "cortex-m0plus", {"REPS": "1"}), (CONV, "cortex-m7", {"REPS": "1"}),
            ("hello", "cortex-m33", {})]


@pytest.mark.parametrize("what, core, defines", PROGRAMS)
def test_a_functional_run_counts_the_instructions_a_timed_run_counts(elf, what, core, defines):
    path = elf(what, core, **defines)
    timed = Simulator(path, core=core).run()
    functional = Simulator(path, core=core, timing="none").run()
    assert timed.exit_reason == "exit" and timed.exit_code == 0
    assert (functional.exit_code, functional.instructions, functional.console) == \
        (timed.exit_code, timed.instructions, timed.console)
    assert functional.cycles is None and functional.cpi is None and functional.timing == "none"
    d = functional.to_dict()
    assert d["cycles"] is None and d["seconds"] is None and d["memory"]["traffic"] == "none"
    assert d["functions"] == [] and d["stalls"] == {}


def test_the_functional_clock_ticks_once_per_instruction_skipped_it_instructions_included(run):
    # Between its two DWT CYCCNT reads: the first read's LDR, a MOVS, 100 passes of 7 instructions.
    assert run("it_count.c", "cortex-m3", timing="none").console.startswith("cycles 702 ")


def test_the_instruction_limit_stops_where_a_timed_run_stops(elf):
    path = elf(CONTROL, "cortex-m4", REPS="1")
    for limit in (1000, 40001):
        timed = Simulator(path, core="cortex-m4", max_instructions=limit).run()
        r = Simulator(path, core="cortex-m4", timing="none", max_instructions=limit).run()
        assert (r.exit_reason, r.instructions, r.message) == ("instruction-limit", timed.instructions, timed.message)


class Snapshot(Observer):
    """A timed run's counters when the instruction at ``symbol`` is first about to run: the run pauses
    there, so that the block being run is accounted exactly up to it."""

    def __init__(self, symbol: str):
        self.symbol, self.taken, self._asked = symbol, None, False

    def attach(self, run) -> None:
        self.run = run
        self.address = addr = run.image.symbols[self.symbol].addr
        self._hook = run.uc.hook_add(U.UC_HOOK_CODE, self._arrived, begin=addr, end=addr)

    def _arrived(self, uc, address, size, _user) -> None:
        if not self._asked:
            self._asked = True
            self.run.pause(address)

    def paused(self, pc: int) -> None:
        self.run.uc.hook_del(self._hook)
        self.taken = counters(self.run)


def counters(run) -> dict:
    st = run.state
    nodes, names = st.nodes, run.code.functions
    functions: Counter = Counter()
    for k in range(1, st.n_nodes):
        name = names[nodes.function[k]]
        functions[name, "cycles"] += int(nodes.cycles[k])
        functions[name, "instructions"] += int(nodes.instructions[k])
        functions[name, "calls"] += int(nodes.calls[k])
    return dict(cycles=st.cycles, instructions=st.instructions, stalls=[int(v) for v in st.stalls],
                dual=st.dual_issued, sleep=run.sleep_cycles, functions=functions)


def by_function(result) -> Counter:
    out: Counter = Counter()
    for f in result.functions:
        out[f["name"], "cycles"] += f["cycles_exclusive"]
        out[f["name"], "instructions"] += f["instructions_exclusive"]
        out[f["name"], "calls"] += f["calls"]
    return out


@pytest.mark.parametrize("core, case", [("cortex-m4", "ldrd"), ("cortex-m0plus", "unaligned-ldr"),
                                        ("rv32imc", "illegal-32"), ("cortex-m33", "unstack")])
def test_a_functional_run_faults_where_a_timed_run_does(elf, core, case):
    path = elf("faults.c", core)
    timed = Simulator(path, core=core, args=(case,)).run()
    functional = Simulator(path, core=core, args=(case,), timing="none").run()
    assert timed.exit_reason == "fault"
    assert (functional.exit_code, functional.fault, functional.instructions) == \
        (timed.exit_code, timed.fault, timed.instructions)


@pytest.mark.parametrize("what, core, defines, symbol", [
    (CONTROL, "rv32imc", {"REPS": "2"}, "sort_part"), (CONTROL, "cortex-m4", {"REPS": "2"}, "compare"),
    (CONTROL, "cortex-m0plus", {"REPS": "1"}, "string_part"), (CONTROL, "cortex-m33", {"REPS": "1"}, "fnv1a"),
    (CONTROL, "picorv32", {"REPS": "1"}, "quicksort"), (CONTROL, "ibex", {"REPS": "1"}, "crc8"),
    (CONV, "cortex-m3", {"REPS": "1"}, "main")])
def test_the_timed_part_of_a_fast_forward_is_the_timed_run_from_the_symbol_on(elf, what, core, defines, symbol):
    full = check_fast_forward(elf(what, "rv32imc" if core in ("picorv32", "ibex") else core, **defines), core, symbol)
    assert full.exit_code == 0


def test_a_fast_forward_to_an_exception_handler_counts_its_entry_as_a_call(elf):
    # The SVC handler's exception return then faults (its frame is popped from unmapped memory).
    full = check_fast_forward(elf("faults.c", "cortex-m4"), "cortex-m4", "SVC_Handler", args=("unstack",))
    assert full.exit_reason == "fault" and by_function(full)["SVC_Handler", "calls"] == 1


def check_fast_forward(path, core: str, symbol: str, args=()):
    """The fast-forwarded run's counts equal a full timed run's minus its counters at the symbol; returns the latter."""
    plain = Simulator(path, core=core, args=args).run()
    snap = Snapshot(symbol)
    full = Simulator(path, core=core, args=args, observers=[snap]).run()
    assert (full.cycles, full.instructions, full.stalls) == (plain.cycles, plain.instructions, plain.stalls)
    ff = Simulator(path, core=core, args=args, fast_forward_to=symbol).run()
    before = snap.taken
    assert ff.fast_forward == dict(symbol=symbol, address=snap.address, reached=True,
                                   instructions=before["instructions"])
    assert ff.instructions == full.instructions - before["instructions"]
    assert ff.cycles == full.cycles - before["cycles"]
    assert list(ff.stalls.values()) == [a - b for a, b in zip(full.stalls.values(), before["stalls"])]
    assert ff.dual_issued == full.dual_issued - before["dual"]
    expected = by_function(full)
    expected.subtract(before["functions"])
    assert +by_function(ff) == +expected and -expected == Counter()
    assert (ff.console, ff.exit_code, ff.fault) == (full.console, full.exit_code, full.fault)
    return full


def test_a_fast_forward_whose_symbol_is_never_reached_says_so(elf):
    path = elf(CONTROL, "rv32imc", REPS="1")
    r = Simulator(path, core="rv32imc", fast_forward_to="_exit", max_instructions=5000).run()
    assert (r.exit_reason, r.exit_code, r.cycles, r.timing) == ("instruction-limit", 122, None, "none")
    assert r.fast_forward["reached"] is False and r.fast_forward["instructions"] == r.instructions >= 5000
    assert "never reached" in r.warnings[0]


@pytest.mark.parametrize("args, message", [
    (["--fast-forward-to", "no_such_symbol"], "has no symbol 'no_such_symbol'"),
    (["--fast-forward-to", "pool"], "has no code symbol 'pool'"),
    (["--timing", "none", "--check-timing"], "--check-timing needs the timing model"),
    (["--timing", "none", "--exact-memory"], "--exact-memory needs the timing model"),
    (["--timing", "none", "--profile-lines"], "--profile-lines needs the timing model"),
    (["--timing", "none", "--accel", "cfu"], "--accel needs the timing model"),
    (["--timing", "none", "--trace", "t.json"], "--trace draws modeled time"),
    (["--timing", "none", "--baseline", "hello"], "--baseline compares cycles"),
    (["--fast-forward-to", "main", "--check-timing"], "--check-timing needs the timing model of the whole run"),
    (["--fast-forward-to", "main", "--timing", "none"], "cannot be combined with --timing none"),
])
def test_what_needs_timing_is_refused_in_one_line(elf, capsys, args, message):
    path = elf(CONTROL, "rv32imc", REPS="1")
    assert main(["run", str(path), *args]) == 120
    err = capsys.readouterr().err.strip()
    assert err.startswith("simmcu: error: ") and message in err and "\n" not in err


def test_the_cli_reports_a_functional_run_without_cycles(elf, capsys):
    path = elf(CONTROL, "cortex-m4", REPS="1")
    assert main(["run", str(path), "--core", "cortex-m4", "--timing", "none", "--json", "-"]) == 0
    out = capsys.readouterr()
    d = json.loads(out.out)
    assert d["timing"] == "none" and d["cycles"] is None and d["instructions"] > 0
    assert "cycles not modelled" in out.err
    assert main(["run", str(path), "--core", "cortex-m4", "--fast-forward-to", "hash_part", "--json", "-"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["fast_forward"]["reached"] and d["cycles"] > 0


def test_eval_refuses_timing_none(capsys, tmp_path):
    assert main(["eval", str(tmp_path / "m.tflite"), "--data", str(tmp_path / "x.npy"), "--timing", "none"]) == 120
    assert capsys.readouterr().err.startswith("simmcu: error: simmcu eval reports cycles per inference")


def test_a_fast_forward_on_the_m7_with_caches_counts_instructions_exactly_and_starts_them_cold(elf):
    # Cycles differ from a full run's by the caches' and the BTAC's warm-up (docs/engine.md); instructions do not.
    core = "cortex-m7:icache=true,dcache=true"
    path = elf(CONTROL, "cortex-m7", REPS="1")
    snap = Snapshot("sort_part")
    full = Simulator(path, core=core, observers=[snap]).run()
    ff = Simulator(path, core=core, fast_forward_to="sort_part").run()
    assert ff.instructions == full.instructions - snap.taken["instructions"]
    expected = Counter({k: v for k, v in by_function(full).items() if k[1] == "instructions"})
    expected.subtract({k: v for k, v in snap.taken["functions"].items() if k[1] == "instructions"})
    assert +Counter({k: v for k, v in by_function(ff).items() if k[1] == "instructions"}) == +expected
    assert ff.caches["dcache"]["misses"] > 0 and ff.memory["traffic"] == "exact"
