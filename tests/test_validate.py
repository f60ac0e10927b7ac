"""simmcu validate: the program generator, the differential runner, and the RISC-V profiles held
to their RTL on a fixed set of generated programs (docs/validation.md).

The RTL builds are the ones tests/test_rtl.py makes (cached by content hash); every program runs
as the same ELF on the RTL and on simmcu, must compute the same checksum along the same
instruction stream, and simmcu's native model must agree with its reference. Programs are small
(size 80-120) so that every core and memory condition fits in CI: about 1.5 minutes with cached
RTL builds on 2 shared cores.
"""

import json
import subprocess
import sys
from collections import Counter
from importlib import resources

import pytest

from simmcu import validate

#: (core, memory, wait states) -> (largest |error| of one program, |error| of the total), as
#: measured on SEEDS today plus a margin (docs/validation.md has the table). The issue's goal is
#: 2% per program and 0.5% in total. Comb memory: PicoRV32 and Ibex match exactly, CV32E40P is
#: within 0.1%. Registered memory, with the profiles' [fetch] models: PicoRV32 and Ibex within
#: 0.3% per program, CV32E40P 0.4% but for N = 3 (+1.5%, its fetch after stores and taken
#: branches, docs/validation.md).
BOUNDS = {
    ("picorv32", "comb", 0): (0.002, 0.001),
    ("ibex", "comb", 0): (0.002, 0.001),
    ("ibex:single_cycle_multiplier=true", "comb", 0): (0.002, 0.001),
    ("cv32e40p", "comb", 0): (0.005, 0.002),
}
REGISTERED = {  # per N = 0..3: (one program, total)
    "picorv32": ((0.004, 0.002), (0.004, 0.002), (0.004, 0.002), (0.004, 0.002)),
    "ibex": ((0.002, 0.001), (0.004, 0.002), (0.004, 0.002), (0.004, 0.002)),
    "ibex:single_cycle_multiplier=true": ((0.002, 0.001), (0.004, 0.002), (0.004, 0.002), (0.004, 0.002)),
    "cv32e40p": ((0.006, 0.003), (0.006, 0.003), (0.005, 0.002), (0.019, 0.016)),
}
for _core, _bounds in REGISTERED.items():
    for _n, _b in enumerate(_bounds):
        BOUNDS[_core, "registered", _n] = _b
SEEDS = {"comb": range(100, 106), "registered": range(200, 203)}
SIZE = {"comb": 120, "registered": 80}


def _skip(core):
    why = validate.available(core)
    return pytest.mark.skipif(why is not None, reason=f"{core} RTL: {why}")


def test_generator_is_deterministic_per_seed():
    a, b, c = validate.generate(7, "ibex"), validate.generate(7, "ibex"), validate.generate(8, "ibex")
    assert a.source == b.source and a.classes == b.classes
    assert a.source != c.source


@pytest.mark.parametrize("family", list(validate.TARGETS))
def test_generator_covers_every_class(family):
    seen = Counter()
    for seed in range(20):
        seen.update(validate.generate(seed, family).classes)
    assert {k for k in validate.CLASSES if seen[k] == 0} == set()


def test_generator_reads_only_the_counters_the_core_has():
    pico = "".join(validate.generate(s, "picorv32").source for s in range(20))
    ibex = "".join(validate.generate(s, "ibex").source for s in range(20))
    assert ", cycle" in pico and "mcycle" not in pico and "mscratch" not in pico
    assert "mcycle" in ibex and ", cycle\n" not in ibex


def test_a_booking_difference_between_neighbours_is_not_a_divergence():
    steps = [validate.Step(4 * i, "", r, s) for i, (r, s) in enumerate([(1, 1), (2, 1), (3, 4), (1, 1), (1, 2),
                                                                        (1, 1), (1, 1), (1, 1), (1, 1)])]
    assert validate.divergences(steps) == [4]  # 2/1 then 3/4 even out; the +1 at 4 does not


def test_the_runner_reports_a_perturbed_profile(tmp_path):
    """The comparison can fail: Ibex priced with MUL one cycle slow diverges at a multiply."""
    core = "ibex"
    if validate.available(core):
        pytest.skip(f"{core} RTL: {validate.available(core)}")
    text = resources.files("simmcu").joinpath("timing", "ibex.toml").read_text()  # installed or not
    assert "\nmul = 3\n" in text
    perturbed = tmp_path / "ibex-slow-mul.toml"
    perturbed.write_text(text.replace("\nmul = 3\n", "\nmul = 4\n"))
    seeds = [s for s in range(50) if validate.generate(s, core, 60).classes["mul"]][:1]
    honest = validate.validate(core, seeds, size=60)
    off = validate.validate(core, seeds, size=60, timing=perturbed)
    assert honest.programs[0].divergence is None
    first = off.programs[0].divergence
    assert first is not None and first.step.text.startswith("mul") and first.step.simmcu == first.step.rtl + 1
    assert off.programs[0].simmcu > off.programs[0].rtl


@pytest.mark.parametrize("core,memory,wait_states",
                         [pytest.param(*k, marks=_skip(k[0]), id=f"{k[0]}-{k[1]}{k[2]}") for k in BOUNDS])
def test_generated_programs_against_the_rtl(core, memory, wait_states):
    report = validate.validate(core, SEEDS[memory], memory, wait_states, SIZE[memory])
    for p in report.programs:
        assert p.same_result, f"seed {p.seed}: the RTL and simmcu computed differently"
        assert p.model_agrees, f"seed {p.seed}: simmcu's native model and its reference disagree"
    one, total = BOUNDS[core, memory, wait_states]
    worst = report.worst
    assert abs(worst.error) < one, (f"seed {worst.seed}: RTL {worst.rtl}, simmcu {worst.simmcu} "
                                    f"({100 * worst.error:+.2f}%)\n" + (worst.divergence.describe()
                                                                        if worst.divergence else ""))
    assert abs(report.total_error) < total, f"total {100 * report.total_error:+.2f}%"


@pytest.mark.skipif(validate.available("ibex") is not None, reason=f"ibex RTL: {validate.available('ibex')}")
def test_cli_validate_prints_json():
    out = subprocess.run([sys.executable, "-m", "simmcu", "validate", "--core", "ibex", "--seeds", "1", "--size", "40",
                          "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["core"] == "ibex" and len(doc["programs"]) == 1 and doc["all_agree"]


def test_cli_validate_unknown_core_is_a_one_line_error():
    out = subprocess.run([sys.executable, "-m", "simmcu", "validate", "--core", "nope"], capture_output=True, text=True)
    assert out.returncode == 120 and out.stderr.count("\n") == 1 and "no RTL for core 'nope'" in out.stderr
