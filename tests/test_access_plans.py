"""Access plans (``_native._plan_block``) against the per-access model they replace.

With exact memory or a data cache, the block hook prices each data access from the registers at the
block's start instead of a memory hook seeing every access (docs/engine.md, "Exact memory without a
memory hook"). Nothing of a run may change: each run here is made twice, planned and with the memory
hook (``_codemap.PLAN_ACCESSES = False``), and the plain-Python reference (per access, its own LRU
sets) checks the planned one. The programs are generated (RISC-V: ``simmcu.validate``'s random
programs; both ISAs: tests/firmware/pointer_mix.c under several seeds) or the speed suite's, on boards
whose regions all have different wait states, so that an access priced by the wrong region shows.
"""

import re
from importlib import resources

import pytest

from simmcu import Simulator, _codemap

WAITS = {"flash": (2, 0), "sram": (1, 1), "mmio": (3, 2), "tcm": (0, 0)}  # (read, write) wait states by kind


def slow_board(tmp_path, name: str):
    """``name`` (a bundled board) with different read and write wait states on every region."""
    text = resources.files("simmcu").joinpath("boards", f"{name}.toml").read_text()
    out = re.sub(r'(kind = "(\w+)")', lambda m: f"{m.group(1)}\nread_wait_states = {WAITS[m.group(2)][0]}\n"
                 f"write_wait_states = {WAITS[m.group(2)][1]}", text)
    path = tmp_path / f"{name}-slow.toml"
    path.write_text(out)
    return path


def result(elf, core, board=None, planned=True, labels_as_functions=False, **options):
    """A run's full result (without host time), planned or with the memory hook. ``labels_as_functions``:
    the ELF's local labels are function symbols (generated assembly), which the reference model attributes
    cycles to otherwise than the native one, planned or not: its per-function check is left out."""
    _codemap.PLAN_ACCESSES = planned
    try:
        r = Simulator(elf, core=core, board=board, check_timing=planned, profile_lines=True, **options).run()
    finally:
        _codemap.PLAN_ACCESSES = True
    assert r.exit_code == 0, r.message
    if planned:
        differences = [d for d in r.timing_check["differences"]
                       if not (labels_as_functions and d.startswith("functions."))]
        assert not differences, differences
    out = r.to_dict()
    for key in ("wall_seconds", "timing", "timing_check"):
        out.pop(key, None)
    return out


def assert_same_as_the_memory_hook(elf, core, board=None, **options):
    planned = result(elf, core, board, True, **options)
    hooked = result(elf, core, board, False, **options)
    assert planned == hooked
    return planned


CASES = [("rv32imc", "rv32imc", {}), ("cortex-m0plus", "cortex-m0plus", {}), ("cortex-m4", "cortex-m4", {}),
         ("cortex-m33", "cortex-m33", {}), ("cortex-m7", "cortex-m7", {}),
         ("cortex-m7", "cortex-m7:dcache=true,icache=true", {})]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("target,core,_", CASES, ids=[c for _, c, _ in CASES])
def test_generated_pointer_code_prices_as_the_memory_hook(elf, tmp_path, target, core, _, seed):
    from simmcu import get_core

    board = slow_board(tmp_path, get_core(target).board)
    exact = ":" not in core  # a data cache implies per-access pricing by itself
    r = assert_same_as_the_memory_hook(elf("pointer_mix.c", target, SEED=str(seed)), core, board,
                                       exact_memory=exact)
    assert r["memory"]["traffic"] == "exact"
    assert r["memory"]["regions"]["flash"]["reads"] > 0 and r["memory"]["regions"]["sram"]["writes"] > 0


@pytest.mark.parametrize("source", ["control.c", "conv_loop.c"])
@pytest.mark.parametrize("core", ["rv32imc", "cortex-m4", "cortex-m7:dcache=true"])
def test_speed_suite_programs_price_as_the_memory_hook(tmp_path, source, core):
    from pathlib import Path

    from simmcu import get_core
    from simmcu.firmware import build

    target = core.split(":")[0]
    elf = build(Path(__file__).parents[1] / "benchmarks" / source, target, tmp_path / "b.elf",
                defines={"REPS": "2"})
    assert_same_as_the_memory_hook(elf, core, slow_board(tmp_path, get_core(target).board),
                                   exact_memory=":" not in core)


@pytest.mark.parametrize("seed", range(6))
def test_random_riscv_programs_price_as_the_memory_hook(tmp_path, seed):
    from simmcu.validate import generate
    from simmcu.validate._diff import BOARD, build_program

    elf = build_program(generate(seed, "cv32e40p", size=150), "cv32e40p", tmp_path)
    text = BOARD.read_text().replace('kind = "flash"', 'kind = "flash"\nread_wait_states = 3') \
        .replace('kind = "sram"', 'kind = "sram"\nread_wait_states = 1\nwrite_wait_states = 2')
    board = tmp_path / "board.toml"
    board.write_text(text)
    assert_same_as_the_memory_hook(elf, "rv32imc", board, exact_memory=True, labels_as_functions=True)


@pytest.mark.parametrize("source,core", [("systick.c", "cortex-m4"), ("exceptions.c", "cortex-m7:dcache=true"),
                                         ("it_memory.c", "cortex-m33"), ("rv_timer.c", "rv32imc")])
def test_interrupts_and_faults_take_planned_accesses_back_as_the_memory_hook(elf, tmp_path, source, core):
    """Blocks cut short (interrupts due inside them, exceptions, IT blocks, timers read as devices)."""
    from simmcu import get_core

    target = core.split(":")[0]
    assert_same_as_the_memory_hook(elf(source, target), core, slow_board(tmp_path, get_core(target).board),
                                   exact_memory=":" not in core)


@pytest.mark.parametrize("fault_at", [-1, 0, 5, 23])
@pytest.mark.parametrize("core", ["cortex-m4", "cortex-m7", "cortex-m33", "cortex-m7:dcache=true"])
def test_alignment_faults_come_where_the_alignment_hook_raises_them(elf, core, fault_at):
    """The plans check the bases that must be word-aligned (LDRD, LDM, VLDR...) in place of a hook per site:
    the same fault at the same instruction, address and cycle, or the same clean run, as the hooks give."""
    program = elf("align_mix.c", core.split(":")[0], FAULT_AT=str(fault_at))
    runs = []
    for planned in (True, False):
        _codemap.PLAN_ACCESSES = planned
        try:
            r = Simulator(program, core=core).run()
        finally:
            _codemap.PLAN_ACCESSES = True
        out = r.to_dict()
        out.pop("wall_seconds", None)
        out.pop("timing", None)
        runs.append(out)
    assert runs[0] == runs[1]
    assert (runs[0]["exit_reason"] == "exit") == (fault_at < 0), runs[0]["message"]
    if fault_at >= 0:
        assert "UsageFault (UNALIGNED)" in runs[0]["message"]


@pytest.mark.parametrize("core", ["cortex-m4", "rv32imc"])
def test_sites_hooked_after_repeated_splits_price_as_the_memory_hook(tmp_path, monkeypatch, core):
    """Every site a plan stops at is hooked at its first split (not its 64th): access_hook then prices what
    the plans cannot, from the registers as the instruction runs."""
    from pathlib import Path

    from simmcu import _machine, get_core
    from simmcu.firmware import build

    monkeypatch.setattr(_machine, "PLAN_SPLITS_BEFORE_HOOK", 1)
    elf = build(Path(__file__).parents[1] / "benchmarks" / "control.c", core, tmp_path / "c.elf",
                defines={"REPS": "2"})
    assert_same_as_the_memory_hook(elf, core, slow_board(tmp_path, get_core(core).board), exact_memory=True)
