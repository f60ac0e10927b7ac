"""The timeline (--trace, Chrome trace-event JSON) and the waveform (--vcd) of a run, checked against the run's own
profile, the accelerator's job record and the observer events the machine reports."""

from __future__ import annotations

import json
import sys
from collections import defaultdict

import pytest

import tflite_models
from simmcu import ConfigError, Observer, Simulator, Trace, Waveform
from simmcu.accelerators import Accelerator, Invocation, Phase, Signal
from simmcu._trace import timescale
from simmcu.cli import main

CONV_CORES = ["cortex-m4", "rv32imc"]


class Recorder(Observer):
    """What the machine reports, to check the trace against."""

    def __init__(self):
        self.entered, self.entry_cycles, self.returned, self.sleeps, self.irqs, self.writes = [], [], [], [], [], []
        self.charged = 0

    def attach(self, run):
        self.m = run

    def cycles_added(self, cycles, cause):
        self.charged = cycles

    def exception_entered(self, return_pc):  # the entry's cycles were charged just before
        self.entered.append(self.m.cycles)
        self.entry_cycles.append(self.charged)

    def exception_returned(self):
        self.returned.append(self.m.cycles)

    def slept(self, start, end):
        self.sleeps.append((start, end))

    def device_irq(self, unit, level, cycle):
        self.irqs.append((cycle, level))

    def device_accessed(self, unit, write, offset, size, value, cycle):
        if write:
            self.writes.append((cycle, offset, value))


def traced(elf_path, core, tmp_path, accelerators=(), max_events=1_000_000, **options):
    """Run with a trace and a recorder; (result, trace document, recorder)."""
    path, recorder = tmp_path / "trace.json", Recorder()
    r = Simulator(elf_path, core=core, accelerators=accelerators,
                  observers=[Trace(path, max_events), recorder], **options).run()
    return r, json.loads(path.read_text()), recorder


def slices(doc, pid=1, tid=1):
    return [e for e in doc["traceEvents"] if e["ph"] == "X" and e["pid"] == pid and e["tid"] == tid]


def cycles_of(e):
    return e["args"]["start_cycle"], e["args"]["end_cycle"]


def overlap(a, b, c, d):
    return max(0, min(b, d) - max(a, c))


def union(intervals):
    return sum(b - a for a, b in _merge(intervals))


@pytest.fixture(scope="module")
def conv_run(elf, tmp_path_factory):
    """conv_accel.c with the conv coprocessor, traced, per core: job 0 runs while the CPU computes the C reference
    (conv_c), job 2 ends in an interrupt the CPU sleeps for in WFI."""
    out = {}
    for core in CONV_CORES:
        out[core] = traced(elf("conv_accel.c", core), core, tmp_path_factory.mktemp(core), ["conv"])
    return out


@pytest.mark.parametrize("core", CONV_CORES)
def test_the_trace_is_well_formed_trace_event_json(conv_run, core):
    r, doc, _ = conv_run[core]
    assert r.exit_code == 0, r.message
    events = doc["traceEvents"]
    assert {e["ph"] for e in events} <= {"X", "M", "C", "i"}
    named = {(e["pid"], e["tid"]) for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    processes = {e["pid"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    for e in events:
        assert isinstance(e["pid"], int) and isinstance(e["tid"], int) and isinstance(e["name"], str)
        if e["ph"] == "M":
            continue
        assert e["pid"] in processes
        if e["ph"] == "X":
            assert (e["pid"], e["tid"]) in named
            start, end = cycles_of(e)
            assert e["ts"] == start * 1_000_000 / r.clock_hz and e["dur"] == (end - start) * 1_000_000 / r.clock_hz
            assert e["args"]["cycles"] == end - start >= 0
    assert doc["otherData"]["clock_hz"] == r.clock_hz and doc["otherData"]["truncated_at_cycle"] is None
    by_track = defaultdict(list)
    for e in events:
        if e["ph"] == "X":
            by_track[e["pid"], e["tid"]].append(cycles_of(e))
    for track, spans in by_track.items():  # each track's slices nest: contained in the enclosing one or after it
        open_ends = []
        for start, end in sorted(spans, key=lambda s: (s[0], -s[1])):
            while open_ends and open_ends[-1] <= start:
                open_ends.pop()
            assert not open_ends or end <= open_ends[-1], (track, start, end)
            open_ends.append(end)


def check_calls_against_profile(r, doc):
    """Per function: the union of its frames (minus WFI sleep) is the profile's inclusive cycles; frame time not in
    a child frame nor asleep is its exclusive cycles; the outermost frames cover the run."""
    calls, sleeps = slices(doc), [cycles_of(e) for e in slices(doc, tid=4)]

    def awake(a, b):
        return b - a - sum(overlap(a, b, c, d) for c, d in sleeps)

    inclusive, exclusive = defaultdict(list), defaultdict(int)
    for e in calls:
        inclusive[e["name"]].append(cycles_of(e))
    for e in calls:  # children are the frames one deeper inside it
        a, b = cycles_of(e)
        kids = [cycles_of(k) for k in calls if k["args"]["depth"] == e["args"]["depth"] + 1
                and a <= k["args"]["start_cycle"] and k["args"]["end_cycle"] <= b and k is not e]
        exclusive[e["name"]] += awake(a, b) - sum(awake(c, d) for c, d in kids)
    profile = {f["name"]: f for f in r.functions}
    assert set(profile) == set(inclusive)
    for name, f in profile.items():
        spans = inclusive[name]
        merged = union(spans) - sum(overlap(a, b, c, d) for c, d in sleeps for a, b in _merge(spans))
        assert merged == f["cycles_inclusive"], name
        assert exclusive[name] == f["cycles_exclusive"], name
    outer = [cycles_of(e) for e in calls if e["args"]["depth"] == 0]
    assert min(a for a, _ in outer) == 0 and max(b for _, b in outer) == r.cycles and union(outer) == r.cycles
    assert sum(b - a for a, b in sleeps) == r.sleep_cycles


def _merge(spans):
    out = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


@pytest.mark.parametrize("core", CONV_CORES)
def test_call_slices_equal_the_profile_with_an_accelerator(conv_run, core):
    r, doc, _ = conv_run[core]
    check_calls_against_profile(r, doc)


@pytest.mark.parametrize("core", ["cortex-m0plus", "cortex-m7:icache=true,dcache=true", "rv32imc"])
def test_call_slices_equal_the_profile_of_a_cpu_kernel(core, tmp_path):
    """The plain C conv2d (deep printf, division helpers; the M7 with caches charges misses between blocks)."""
    r, doc, _ = traced("conv2d", core, tmp_path)
    assert r.exit_code == 0
    check_calls_against_profile(r, doc)


@pytest.mark.parametrize("core", CONV_CORES)
def test_conv_interrupt_timeline_shows_cpu_work_overlapping_the_job_and_the_handler(conv_run, core):
    """Job slices are the unit's own job record, their phases span them; the CPU's C reference runs across job 0;
    the exception slice starts at the entry the machine reported (less the entry cycles) and ends at its return,
    after the job's interrupt; the CPU sleeps exactly when the machine says it slept."""
    r, doc, rec = conv_run[core]
    runs = r.accelerators[0]["runs"]
    jobs = [cycles_of(e) for e in slices(doc, pid=10, tid=1) if e["name"].startswith("job ")]
    assert jobs == [(j["start"], j["end"]) for j in runs] and len(jobs) == 4
    phases = [e for e in doc["traceEvents"] if e["ph"] == "X" and e["pid"] == 10 and not e["name"].startswith("job ")
              and e["tid"] != 2]
    for n, (start, end) in enumerate(jobs):
        mine = [cycles_of(p) for p in phases if p["args"]["job"] == n]
        assert min(a for a, _ in mine) == start and max(b for _, b in mine) == end
    lanes = {e["args"]["name"]: e["tid"] for e in doc["traceEvents"] if e["ph"] == "M" and e["pid"] == 10
             and e["name"] == "thread_name"}
    compute = [cycles_of(p) for p in phases if p["tid"] == lanes["compute"]]
    assert len(compute) == sum(j["tiles"] for j in runs)

    calls = slices(doc)
    work = [e for e in calls if e["name"] == "conv_c"]
    w0, w1 = cycles_of(work[0])
    assert jobs[0][0] < w0 < jobs[0][1] < w1  # started by the store before the call, done while it runs
    handler = "IRQ0_Handler" if core.startswith("cortex") else "trap_handler"
    handlers = [e for e in calls if e["name"] == handler]
    exceptions = slices(doc, tid=3)
    assert len(handlers) == len(exceptions) == len(rec.entered) == 1
    (main_frame,) = [e for e in calls if e["name"] == "main"]
    assert handlers[0]["args"]["depth"] == main_frame["args"]["depth"] + 1
    raised = [c for c, level in rec.irqs if level]
    assert jobs[2][1] <= raised[0]
    for h, x, entered, cost, irq in zip(handlers, exceptions, rec.entered, rec.entry_cycles, raised):
        start, end = cycles_of(x)
        assert x["name"] == f"exception: {handler}"
        assert x["args"]["handler_cycle"] == entered == h["args"]["start_cycle"]
        assert start == entered - cost and cost > 0 and irq <= start
        assert end == h["args"]["end_cycle"]
    if core.startswith("cortex"):
        assert [cycles_of(x)[1] for x in exceptions] == rec.returned
    sleeps = [cycles_of(e) for e in slices(doc, tid=4)]
    assert sleeps == rec.sleeps and sleeps
    waits = [cycles_of(e) for e in slices(doc, pid=10, tid=2)]
    assert union(waits) == r.accelerators[0]["cpu_wait_cycles"]
    instants = [(e["args"]["cycle"], e["name"]) for e in doc["traceEvents"] if e["ph"] == "i"]
    assert [c for c, n in instants if n == "irq raised"] == raised

    def counter(pid, name):
        return [(round(e["ts"] * r.clock_hz / 1_000_000), e["args"]) for e in doc["traceEvents"]
                if e["ph"] == "C" and e["pid"] == pid and e["name"] == name]

    busy = counter(10, "busy")  # the counter integrates to the report's busy cycles
    assert sum((t1 - t0) * a["busy"] for (t0, a), (t1, _) in zip(busy, busy[1:])) == r.accelerators[0]["busy_cycles"]
    assert all(0 < a["compute"] <= 1 or a["compute"] == 0 for _, a in counter(10, "utilisation"))
    depth = dict(counter(1, "stack"))  # at each call, the depth counter counts the frame
    for e in calls:
        assert depth[e["args"]["start_cycle"]]["call depth"] >= e["args"]["depth"] + 1


def test_a_capped_trace_holds_every_event_before_the_cut_and_says_so(elf, tmp_path):
    program = elf("conv_accel.c", "cortex-m4")
    (tmp_path / "full").mkdir(), (tmp_path / "cut").mkdir()
    r, full, _ = traced(program, "cortex-m4", tmp_path / "full", ["conv"])
    r2, cut_doc, _ = traced(program, "cortex-m4", tmp_path / "cut", ["conv"], max_events=120)
    assert r2.cycles == r.cycles
    cut = cut_doc["otherData"]["truncated_at_cycle"]
    assert cut is not None and 0 < cut < r.cycles
    body = [e for e in cut_doc["traceEvents"] if e["ph"] != "M" and not e["name"].startswith("trace truncated")]
    assert len(body) <= 120
    marks = [e for e in cut_doc["traceEvents"] if e["name"] == f"trace truncated at cycle {cut}"]
    assert len(marks) == 1 and marks[0]["ph"] == "i" and marks[0]["args"]["cycle"] == cut

    def key(e):
        return json.dumps(e, sort_keys=True)

    expected = sorted(key(e) for e in full["traceEvents"] if e["ph"] != "M" and e["ts"] < cut * 1e6 / r.clock_hz)
    assert sorted(key(e) for e in body) == expected
    assert full["otherData"]["truncated_at_cycle"] is None


def test_tracing_changes_nothing_in_the_result(elf, tmp_path):
    program = elf("conv_accel.c", "rv32imc")
    plain = Simulator(program, core="rv32imc", accelerators=["conv"]).run().to_dict()
    watched = Simulator(program, core="rv32imc", accelerators=["conv"],
                        observers=[Trace(tmp_path / "t.json"), Waveform(tmp_path / "w.vcd", cpu=True)]).run().to_dict()
    assert watched.pop("trace")["file"] == str(tmp_path / "t.json") and watched.pop("vcd")["changes"] > 0
    for d in (plain, watched):
        d.pop("wall_seconds")
    assert watched == plain


def read_vcd(path):
    """{(scope, name): [(time, value)]} and the timescale, with pyvcd's tokenizer."""
    from vcd.reader import TokenKind, tokenize

    ids, values, scope, scale = {}, defaultdict(list), [], None
    time = 0
    with open(path, "rb") as f:
        for tok in tokenize(f):
            if tok.kind is TokenKind.SCOPE:
                scope.append(tok.scope.ident)
            elif tok.kind is TokenKind.UPSCOPE:
                scope.pop()
            elif tok.kind is TokenKind.VAR:
                ids[tok.var.id_code] = (scope[-1], tok.var.reference)
            elif tok.kind is TokenKind.TIMESCALE:
                magnitude, unit = tok.timescale.magnitude, tok.timescale.unit
                scale = f"{getattr(magnitude, 'value', magnitude)} {getattr(unit, 'value', unit)}"
            elif tok.kind is TokenKind.CHANGE_TIME:
                time = tok.time_change
            elif tok.kind in (TokenKind.CHANGE_SCALAR, TokenKind.CHANGE_VECTOR, TokenKind.CHANGE_STRING):
                data = tok.data
                value = data.value if hasattr(data, "value") else data
                values[ids[data.id_code]].append((time, value))
    return values, scale


def value_at(changes, time):
    current = None
    for t, v in changes:
        if t > time:
            break
        current = v
    return current


@pytest.mark.parametrize("core", CONV_CORES)
def test_the_waveform_has_the_registers_and_lines_at_their_cycles(elf, core, tmp_path):
    rec = Recorder()
    r = Simulator(elf("conv_accel.c", core), core=core, accelerators=["conv"],
                  observers=[Waveform(tmp_path / "w.vcd", cpu=True), rec]).run()
    values, scale = read_vcd(tmp_path / "w.vcd")
    name, per_cycle, exact = timescale(r.clock_hz)
    assert scale == name and exact
    busy = values["conv", "busy"]
    for job in r.accelerators[0]["runs"]:
        start, end = job["start"] * per_cycle, job["end"] * per_cycle
        assert value_at(busy, start) in (1, "1") and value_at(busy, start - 1) in (0, "0")
        assert value_at(busy, end) in (0, "0") and value_at(busy, end - 1) in (1, "1")
    ctrl = [(c, v) for c, off, v in rec.writes if off == 0x00]
    assert 3 in [v for _, v in ctrl]  # START | IRQ_EN
    for cycle, v in ctrl:
        assert value_at(values["conv", "ctrl"], cycle * per_cycle) == v
    for job in r.accelerators[0]["runs"]:  # BUSY from the START on
        assert value_at(values["conv", "status"], job["start"] * per_cycle) & 1
    for cycle, level in rec.irqs:
        assert value_at(values["conv", "irq"], cycle * per_cycle) in (int(level), str(int(level)))
    handler = "IRQ0_Handler" if core.startswith("cortex") else "trap_handler"
    entered = [t for t, v in values["cpu", "function"] if v == handler]
    assert [t // per_cycle for t in entered] == rec.entered


def test_custom_instruction_signals_follow_the_unit(tmp_path):
    r = Simulator("conv2d_cfu", core="rv32imc", accelerators=["cfu"], observers=[Waveform(tmp_path / "w.vcd")]).run()
    values, _ = read_vcd(tmp_path / "w.vcd")
    counts = [v for _, v in values["cfu", "instructions"]]
    assert counts == sorted(counts) and counts[-1] == r.accelerators[0]["instructions"] > 0
    assert ("cfu", "busy") not in values  # its one Invocation is the run's total, not a job in time


def test_timescale_is_the_coarsest_exact_unit():
    assert timescale(100_000_000) == ("10 ns", 1, True)
    assert timescale(16_000_000) == ("100 ps", 625, True)  # 62.5 ns
    assert timescale(1) == ("1 s", 1, True)
    assert timescale(48_000_000)[2] is False  # 20.833... ns: rounded to 1 ps


def test_model_layers_are_slices_with_the_per_layer_cycles(tmp_path, monkeypatch):
    from simmcu.firmware import run_model

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    model = tmp_path / "m.tflite"
    model.write_bytes(tflite_models.MODELS["convolutions"]())
    r = run_model(model, "cortex-m4", accelerators=["conv"], observers=[Trace(tmp_path / "t.json")])
    doc = json.loads((tmp_path / "t.json").read_text())
    layers = slices(doc, tid=2)
    assert [e["name"] for e in layers] == [row["name"] for row in r.layers]
    assert [e["args"]["cycles"] for e in layers] == [row["cycles"] for row in r.layers]
    assert [e["args"]["op"] for e in layers] == [row["op"] for row in r.layers]


def test_cli_options_and_their_errors(tmp_path, capsys, monkeypatch):
    trace, wave = tmp_path / "t.json", tmp_path / "w.vcd"
    assert main(["run", "hello", "--core", "cortex-m0plus", "--quiet", "--trace", str(trace), "--vcd", str(wave),
                 "--vcd-cpu"]) == 0
    assert json.loads(trace.read_text())["traceEvents"] and wave.read_text().startswith("$comment")
    capsys.readouterr()
    for args in (["--trace", str(tmp_path / "missing" / "t.json")], ["--trace", str(trace), "--trace-max-events", "0"],
                 ["--vcd-cpu"]):
        assert main(["run", "hello", "--quiet", *args]) == 120
        err = capsys.readouterr().err
        assert err.startswith("simmcu: error: ") and err.count("\n") == 1
    monkeypatch.setitem(sys.modules, "vcd", None)  # pyvcd not installed
    with pytest.raises(ConfigError, match=r"simmcu\[trace\]"):
        Waveform(wave)
    assert main(["run", "hello", "--quiet", "--vcd", str(wave)]) == 120
    assert "pip install 'simmcu[trace]'" in capsys.readouterr().err


class Latch(Accelerator):
    """A third-party unit as a plug-in writes one: a register whose write starts a 10-cycle job."""

    NAME = "latch"
    SIGNAL_NAMES = ("value",)

    def reset(self):
        super().reset()
        self.value = 0

    def read(self, offset, size):
        return self.value

    def write(self, offset, size, value):
        now = self.bus.now()
        self.value = value
        self.invocations.append(Invocation(now, now + 10))

    def signals(self):
        return [Signal(name, 8, lambda now: self.value) for name in self.SIGNAL_NAMES]

    def phases(self, job):
        return [Phase("work", "latching", job.start + 2, job.end)]


LATCH_C = """#include "simmcu.h"
#define REG (*(volatile unsigned *)0x40000000u)
int main(void)
{
    REG = 5;
    for (volatile int i = 0; i < 20; i++) /* the first job (10 cycles) ends before the second starts */
        ;
    REG = 7;
    return REG == 7 ? 0 : 1;
}
"""


def test_a_plug_in_declares_its_signals_and_phases(tmp_path):
    from simmcu.firmware import build

    (tmp_path / "latch.c").write_text(LATCH_C)
    program = build(tmp_path / "latch.c", "cortex-m4", tmp_path / "latch.elf")
    rec = Recorder()
    r = Simulator(program, core="cortex-m4", accelerators=[Latch()],
                  observers=[Waveform(tmp_path / "w.vcd"), Trace(tmp_path / "t.json"), rec]).run()
    assert r.exit_code == 0
    values, _ = read_vcd(tmp_path / "w.vcd")
    writes = [(c, v) for c, _, v in rec.writes]
    assert [v for _, v in writes] == [5, 7]
    for cycle, v in writes:
        assert value_at(values["latch", "value"], cycle) == v and value_at(values["latch", "value"], cycle - 1) != v
    rises = [t for t, v in values["latch", "latching"] if v in (1, "1")]
    assert rises == [c + 2 for c, _ in writes]
    doc = json.loads((tmp_path / "t.json").read_text())
    lanes = {e["args"]["name"]: e["tid"] for e in doc["traceEvents"] if e["ph"] == "M" and e["pid"] == 10
             and e["name"] == "thread_name"}
    work = [cycles_of(e) for e in slices(doc, pid=10, tid=lanes["work"])]
    assert work == [(c + 2, c + 10) for c, _ in writes]

    class Clashing(Latch):
        SIGNAL_NAMES = ("value", "Value")

    with pytest.raises(ConfigError, match="signal names"):
        Simulator(program, core="cortex-m4", accelerators=[Clashing()], observers=[Waveform(tmp_path / "x.vcd")]).run()


def test_a_trace_is_deterministic_and_fresh_for_each_run(tmp_path):
    """One Trace instance watching two runs of one Simulator writes the same bytes each time (modeled time only)."""
    sim = Simulator("conv2d_conv", core="cortex-m0plus", accelerators=["conv"],
                    observers=[Trace(tmp_path / "t.json"), Waveform(tmp_path / "w.vcd", cpu=True)])
    sim.run()
    first = (tmp_path / "t.json").read_bytes(), (tmp_path / "w.vcd").read_bytes()
    sim.run()
    assert ((tmp_path / "t.json").read_bytes(), (tmp_path / "w.vcd").read_bytes()) == first


def test_the_block_hook_is_installed_only_for_an_observer_that_asks(tmp_path):
    from simmcu._calls import CallTracker, tracking
    from simmcu._reference import reference_model

    quiet = [Observer(), reference_model(False)()]
    assert tracking(quiet) is quiet  # no Python block hook: the run keeps the native path alone
    trace = Trace(tmp_path / "t.json")
    watched = tracking([trace])
    assert isinstance(watched[0], CallTracker) and watched[1:] == [trace]
