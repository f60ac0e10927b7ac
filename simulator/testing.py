"""pytest plugin for cycle-count regression tests (registered as ``simmcu`` in ``pytest11``).

A test runs firmware or a model and hands the result to the ``simmcu_golden`` fixture, which
compares cycles (total, and per function or per layer) with a golden JSON file next to the test::

    def test_conv_kernel(simmcu_golden):
        result = Simulator("conv.elf", core="cortex-m4").run()
        simmcu_golden.check(result, "golden/conv-m4.json", functions=["conv2d_3x3"], tolerance=0.01)

``pytest --simmcu-update-golden`` writes the files from the run instead of comparing. Entries
default to a model's layers, else to the functions holding at least 1% of the cycles; the
golden file's entries are what later runs are held to. Counts are deterministic, so a tolerance
of 0 (the default) is right when the toolchain and sources are pinned.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ._result import RunResult

GOLDEN_VERSION = 1


def pytest_addoption(parser) -> None:
    parser.getgroup("simmcu").addoption(
        "--simmcu-update-golden", action="store_true",
        help="simmcu: write golden cycle files from this run instead of comparing with them")


def snapshot(result: RunResult, functions=None) -> dict:
    """The golden record of a run: totals and cycles (inclusive) per layer or function."""
    if functions is None and result.layers:
        entries = {r["name"]: r["cycles"] for r in result.layers}
    else:
        inclusive = {f["name"]: f["cycles_inclusive"] for f in result.functions}
        if functions is None:
            functions = [n for n, c in inclusive.items() if c * 100 >= result.cycles]
        missing = [n for n in functions if n not in inclusive]
        if missing:
            raise ValueError(f"no function {', '.join(missing)} in the run's profile")
        entries = {n: inclusive[n] for n in functions}
    return dict(version=GOLDEN_VERSION, elf=Path(result.elf).name, core=result.core, timing=result.timing,
                board=result.board, cycles=result.cycles, instructions=result.instructions,
                entries=dict(sorted(entries.items())))


def compare(golden: dict, now: dict, tolerance: float) -> list[str]:
    """What moved beyond ``tolerance`` (relative), one line each; empty when the run holds."""
    problems = [f"{key}: golden {golden.get(key)!r}, now {now.get(key)!r}"
                for key in ("core", "timing", "board") if golden.get(key) != now.get(key)]

    def check(name: str, was: int, value: int | None) -> None:
        if value is None:
            problems.append(f"{name}: golden {was:,} cycles, now absent")
        elif abs(value - was) > tolerance * was:
            problems.append(f"{name}: golden {was:,} cycles, now {value:,} ({(value - was) / was:+.2%})"
                            if was else f"{name}: golden 0 cycles, now {value:,}")

    check("total", golden["cycles"], now["cycles"])
    for name, was in golden["entries"].items():
        check(name, was, now["entries"].get(name))
    return problems


class GoldenCycles:
    """The ``simmcu_golden`` fixture: ``check(result, path, tolerance=0.0, functions=None)``."""

    def __init__(self, folder: Path, update: bool):
        self.folder, self.update = folder, update

    def check(self, result: RunResult, golden: str | Path, tolerance: float = 0.0, functions=None) -> None:
        path = self.folder / golden
        if not result.ok:
            pytest.fail(f"simmcu: {result.elf} did not run to a clean exit: {result.message}", pytrace=False)
        if path.exists() and functions is None and not self.update:
            functions = list(json.loads(path.read_text())["entries"])  # held to the golden file's entries
        try:
            now = snapshot(result, functions)
        except ValueError as e:
            pytest.fail(f"simmcu: {path}: {e}", pytrace=False)
        if self.update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(now, indent=2) + "\n")
            return
        if not path.exists():
            pytest.fail(f"simmcu: no golden file {path}; run pytest --simmcu-update-golden to write it",
                        pytrace=False)
        problems = compare(json.loads(path.read_text()), now, tolerance)
        if problems:
            pytest.fail(f"simmcu: cycles differ from {path} (tolerance {tolerance:.2%}):\n  " + "\n  ".join(problems)
                        + "\n  (pytest --simmcu-update-golden accepts the new counts)", pytrace=False)


@pytest.fixture
def simmcu_golden(request) -> GoldenCycles:
    """Compare a run's cycles with a golden JSON file (a path relative to the test file)."""
    return GoldenCycles(Path(request.path).parent, request.config.getoption("simmcu_update_golden"))
