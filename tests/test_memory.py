"""Exact memory traffic and the Cortex-M7 caches: counts and cycles worked out by hand.

tests/firmware/memory_bench.c times three loops itself (DWT CYCCNT). The cache model has a line
fill of miss_cycles = 8 cycles from zero-wait-state memory (cortex-m7.toml) and 32-byte lines.
"""

import re

import pytest
import unicorn

from simmcu import Simulator

FILL = 8


def loops(result) -> dict[str, int]:
    assert result.exit_code == 0, result.message
    return {k: int(v) for k, v in re.findall(r"(\w+) (\d+)", result.console) if k != "sums"}


@pytest.fixture(scope="module")
def bench(elf):
    return elf("memory_bench.c", "cortex-m4")  # runs on the M4 and M7 alike


def test_data_cache_misses_cost_their_line_fills(bench):
    plain = loops(Simulator(bench, core="cortex-m7").run())
    cached = Simulator(bench, core="cortex-m7:dcache=true", check_timing=True).run()
    delta = {k: v - plain[k] for k, v in loops(cached).items()}
    # 1000-byte table, 32-byte aligned: 32 lines miss once; the victims are clean lines of `big`.
    assert delta["flash_table"] == 32 * FILL
    # 4 KiB read four times: its 128 lines miss in the first pass only.
    assert delta["reuse"] == 128 * FILL
    # 64 KiB read twice through a 16 KiB cache: every line misses in both passes (4096 fills), plus the
    # few stack lines the stream evicted that the timing calls around it touch again.
    assert 4096 * FILL <= delta["stream"] <= 4096 * FILL + 8 * FILL
    assert cached.caches["dcache"]["misses"] >= 4096 + 2048 + 32 + 128
    assert cached.timing_check["agree"], cached.timing_check["differences"]


def test_instruction_cache_misses_once_per_line_when_the_code_fits(bench):
    sim = Simulator(bench, core="cortex-m7:icache=true", check_timing=True)
    assert max(insn.fallthrough for insn in sim.code.insns) < 16 * 1024  # the whole program fits
    r = sim.run()
    # Every executed line misses exactly once: count the lines with a plain Unicorn code hook.
    lines = _executed_lines(bench)
    assert r.caches["icache"]["misses"] == len(lines)
    assert r.timing_check["agree"], r.timing_check["differences"]
    plain = Simulator(bench, core="cortex-m7").run()
    assert r.cycles - plain.cycles == len(lines) * FILL  # generic board: flash has no wait states


def _executed_lines(elf) -> set[int]:
    from simmcu import _machine

    seen = set()
    original = _machine.Machine._install_hooks

    def install(self):
        original(self)
        self.uc.hook_add(unicorn.UC_HOOK_CODE, lambda uc, a, size, _: seen.update({a // 32, (a + size - 1) // 32}))

    _machine.Machine._install_hooks = install
    try:
        Simulator(elf, core="cortex-m7").run()
    finally:
        _machine.Machine._install_hooks = original
    return seen


def test_exact_memory_prices_each_access_by_its_region(bench, tmp_path):
    from simmcu import load_board

    path = tmp_path / "slow-flash.toml"
    path.write_text(_board_toml(load_board("generic-cortex-m"), flash_read_wait=2))
    static = Simulator(bench, core="cortex-m4", board=path).run()
    exact = Simulator(bench, core="cortex-m4", board=path, exact_memory=True, check_timing=True).run()
    # Statically the table's byte loads (through a pointer) were priced as SRAM reads; now each of
    # the 1000 pays the flash's 2 wait states.
    assert loops(exact)["flash_table"] - loops(static)["flash_table"] == 1000 * 2
    assert (exact.memory["traffic"], static.memory["traffic"]) == ("exact", "static")
    assert exact.memory["regions"]["flash"]["reads"] >= 1000 + static.memory["regions"]["flash"]["reads"]
    assert exact.memory["regions"]["sram"]["reads"] >= 3 * 16384 + 4 * 1024
    assert exact.timing_check["agree"], exact.timing_check["differences"]


def _board_toml(board, flash_read_wait: int) -> str:
    lines = ['name = "slow-flash"', 'arch = "arm"', f"clock_hz = {board.clock_hz}", "irq_lines = 32"]
    for r in board.regions:
        lines += ["[[regions]]", f'name = "{r.name}"', f"base = {r.base}", f"size = {r.size}",
                  f'kind = "{r.kind}"', f'perms = "{r.perms}"']
        if r.name == "flash":
            lines.append(f"read_wait_states = {flash_read_wait}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("core", ["cortex-m3", "cortex-m4", "cortex-m7:dcache=true", "cortex-m33"])
def test_loads_and_stores_in_it_blocks_under_memory_hooks(elf, core):
    """Unicorn #2309: without simmcu's fix, the branch_out case counts 7 instead of 75."""
    target = "cortex-m3" if core == "cortex-m3" else "cortex-m4"
    r = Simulator(elf("it_memory.c", target), core=core, exact_memory=True, check_timing=True).run()
    assert (r.exit_code, r.console) == (0, "a=6039 b=75 c=3317\n"), r.message
    assert r.timing_check["agree"], r.timing_check["differences"]


def test_cmsis_cache_enable_runs_on_the_m7(elf):
    r = Simulator(elf("cache_enable.c", "cortex-m7"), core="cortex-m7:icache=true,dcache=true").run()
    assert (r.exit_code, r.console) == (0, "invalidated 1 caches enabled 3\n"), r.message
