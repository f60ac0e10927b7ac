"""The cycle-regression plugin (simmcu.testing) from a user's side: a pytest session that checks a
run against a golden file, is told how to write it, writes it, passes, and fails with the
functions that moved once the counts differ."""

import json

import pytest

TEST = """
from simmcu import Simulator

def test_cycles(simmcu_golden):
    simmcu_golden.check(Simulator("{elf}", core="rv32imc").run(), "golden/conv2d.json",
                        functions=["conv2d_3x3"], tolerance={tolerance})
"""


@pytest.fixture
def conv2d(elf):
    return elf("conv2d", "rv32imc")


def test_missing_golden_then_update_then_pass(pytester, conv2d):
    pytester.makepyfile(test_user=TEST.format(elf=conv2d, tolerance=0.0))
    first = pytester.runpytest_subprocess()
    first.assert_outcomes(failed=1)
    first.stdout.fnmatch_lines(["*no golden file*--simmcu-update-golden*"])
    pytester.runpytest_subprocess("--simmcu-update-golden").assert_outcomes(passed=1)
    golden = json.loads((pytester.path / "golden" / "conv2d.json").read_text())
    assert set(golden["entries"]) == {"conv2d_3x3"} and golden["core"] == "rv32imc"
    assert 0 < golden["entries"]["conv2d_3x3"] < golden["cycles"]
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


@pytest.mark.parametrize("drift,tolerance,fails", [(0.005, 0.0, True), (0.005, 0.01, False), (0.05, 0.01, True)])
def test_cycles_outside_the_tolerance_fail_naming_the_function(pytester, conv2d, drift, tolerance, fails):
    pytester.makepyfile(test_user=TEST.format(elf=conv2d, tolerance=tolerance))
    pytester.runpytest_subprocess("--simmcu-update-golden").assert_outcomes(passed=1)
    path = pytester.path / "golden" / "conv2d.json"
    golden = json.loads(path.read_text())
    golden["entries"]["conv2d_3x3"] = round(golden["entries"]["conv2d_3x3"] * (1 + drift))
    path.write_text(json.dumps(golden))
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=int(fails), passed=int(not fails))
    if fails:
        result.stdout.fnmatch_lines(["*conv2d_3x3: golden * cycles, now * (-*%)*"])
