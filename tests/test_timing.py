"""Timing models: micro-benchmarks against the published tables, native vs reference, profiles."""

from __future__ import annotations

import functools
import random
import re
from pathlib import Path

import pytest

from simmcu import ConfigError, Simulator, bundled_profiles, load_profile
from simmcu import _codemap
from simmcu._latency import LATENCY_MODELS, latency

# Cycles of one body of tests/firmware/microbench.c, from each core's published timing
# (../shared/reference/core-timing.md and the documents each profile cites):
RV32 = {
    # PicoRV32 README, dual-port register file, BARREL_SHIFTER: ALU 3, load/store 5, branch 3 / taken
    # 5, jal 3, MUL 40, MULH 72, DIV 40; load_use = load + ALU. misaligned32 (C.NOP, ADD at 2 mod 4,
    # C.NOP): three ALU instructions + 1 for the ADD's second fetch transfer (measured on the RTL).
    "picorv32": dict(alu_imm=3, alu_reg=3, shift_reg=3, load=5, load_use=8, store=5, mul=40, mulh=72,
                     div=40, div_zero=40, jump=3, branch_taken=5, branch_not_taken=3, misaligned32=10),
    # Without the dual-port register file: +1 for instructions with two source registers.
    "picorv32:dual_port_regs=false": dict(alu_imm=3, alu_reg=4, shift_reg=4, load=5, load_use=9, store=6,
                                          mul=41, mulh=73, div=41, div_zero=41, jump=3, branch_taken=6,
                                          branch_not_taken=4, misaligned32=11),
    # Without the barrel shifter: SLL by 5 = 4 + 5 // 4 + 5 % 4.
    "picorv32:barrel_shifter=false": dict(shift_reg=6),
    # Ibex: stall counts + 1; load/store 1 stall, jump 1, taken branch 2, fast multiplier 2/3 stalls,
    # divide 37 cycles (ibex_multdiv_fast.sv; 2 for a zero divisor); no load-use stall beyond the load's own.
    "ibex": dict(alu_imm=1, alu_reg=1, shift_reg=1, load=2, load_use=3, store=2, mul=3, mulh=4, div=37,
                 div_zero=2, jump=2, branch_taken=3, branch_not_taken=1, misaligned32=3),
    "ibex:single_cycle_multiplier=true": dict(mul=1, mulh=2),
    "ibex:branch_target_alu=true": dict(branch_taken=2),
    # CV32E40P: ALU, load, store, mul 1; mulh 5; divide 3..35 = 3 + leading zeros of the divisor
    # (3: 30 zeros), 35 for a zero divisor (cv32e40p_alu_div.sv); jump 2; branch 1 / taken 3; load-use +1.
    "rv32imc": dict(alu_imm=1, alu_reg=1, shift_reg=1, load=1, load_use=3, store=1, mul=1, mulh=5,
                    div=33, div_zero=35, jump=2, branch_taken=3, branch_not_taken=1, misaligned32=3),
}
# Cortex-M: data processing 1, MUL 1, LDR 2, back-to-back LDRs pipelined (N + 1), STR 1, PUSH/POP of
# two registers 1 + 2 each, B taken 1 + P (P = 2), CMP + B<cc> not taken 1 + 1, UDIV 1000 / 3 = 2 +
# 9 quotient bits in 4-bit steps = 5, by zero 2; VADD 1, VMLA 3, VDIV 14.
_M4 = dict(alu=1, load=3, load_pipelined=1, store=1, mul=1, push_pop=6, branch_taken=3, branch_not_taken=2,
           div=5, div_zero=2, fp_add=1, fp_mac=3, fp_div=14)
ARM = {
    # Cortex-M0+: LDR/STR 2 (no pipelining), taken branch 2, MULS 1 or 32 with the small multiplier.
    "cortex-m0plus": dict(alu=1, load=3, load_pipelined=2, store=2, mul=1, push_pop=6, branch_taken=2,
                          branch_not_taken=2),
    "cortex-m0plus:fast_multiplier=false": dict(mul=32),
    "cortex-m3": {k: v for k, v in _M4.items() if not k.startswith("fp_")},
    "cortex-m4": _M4,
    "cortex-m33": _M4,
    # Cortex-M7 (docs/cores/cortex-m7.md): M4 costs but LDR 1 with a 1-cycle load-use wait; pairs
    # by issue unit (2 ALUs, 1 LSU, 1 write-back port, 1 branch unit), never a second instruction
    # that reads the first's result (a branch may read its flags); pairs restart at branch targets.
    # BTAC: a direct transfer is predicted as it went the last time it ran (refill 0 when predicted
    # taken and taken); otherwise a taken transfer, or a predicted one falling through, pays P = 1.
    # Every body's branches run once (cold) except the loop's.
    #   load: LDR 1 + NOP 1 (a hint issues alone); push_pop: 3 + 3 + 1 (PUSH reads what POP loaded);
    #   branch_taken: B 1 + cold refill 1 = 2; branch_not_taken: CMP + BEQ paired, falls through, 1;
    #   branch_forward_taken: CMP + BNE paired 1, cold refill +1 = 2;
    #   dual_alu_load: ADDS + LDR in one cycle, 1; dual_independent: 1; dual_dependent: 2;
    #   dual_two_loads: one LSU, 2; dual_mul_store: one write-back port, 2;
    #   loop_predicted: MOVS 1 + 4 x (SUBS + BNE paired, 1) + first taken BNE cold + 1, two predicted
    #   0, the last falls through predicted taken + 1 = 7.
    "cortex-m7": dict(_M4, load=2, push_pop=7, branch_taken=2, branch_not_taken=1, branch_forward_taken=2,
                      dual_alu_load=1, dual_independent=1, dual_dependent=2, dual_two_loads=2,
                      dual_mul_store=2, loop_predicted=7),
}


def _build(elf, program: str, core: str):
    """``program`` for ``core``, with microbench.c counting as firmware for that core does: PicoRV32
    has only ``cycle``; CV32E40P starts with its counters inhibited."""
    base = core.split(":")[0]
    counters = {"picorv32": {"COUNTER_CSR": "cycle"}, "cv32e40p": {"START_COUNTERS": "1"}}.get(base, {})
    return elf(program, base, **counters)


@pytest.fixture(scope="module")
def microbench(elf):
    def go(core: str) -> dict[str, int]:
        r = Simulator(_build(elf, "microbench.c", core), core=core).run()
        assert r.exit_code == 0, r.message
        return {name: int(value) // 10 for name, value in (line.split() for line in r.console.splitlines())}
    return go


@pytest.mark.parametrize("core", [*RV32, *ARM])
def test_micro_benchmarks_match_published_timing(microbench, core):
    measured = microbench(core)
    expected = {**RV32, **ARM}[core]
    assert {k: measured[k] for k in expected} == expected


# The same bodies with code in a flash that answers 2 cycles after each request (fetch wait
# states 1, so W = 2 cycles per 4-byte fetch line), derived by hand from each core's fetch unit:
#   Ibex, CV32E40P (streaming prefetch, 3 and 2 lines ahead): an instruction issues when its lines are
#   in, one line per W; a taken transfer costs (its cycles + taken extra) fetches, W each:
#   branch 3W, jump 2W. So alu/load/store/mul: max(cycles, W); load_use: 2 lines, 2W;
#   misaligned32 (8 bytes): 2W; not-taken branch: W.
#   PicoRV32 (no prefetch buffer): every new line + 1; a taken branch also fetches its
#   fall-through (the NOP, a new line) in vain: beq 5 + 1 + 1 and the target's line + 1.
WAIT1 = {
    "ibex": dict(alu_imm=2, alu_reg=2, load=2, store=2, mul=3, load_use=4, jump=4, branch_taken=6,
                 branch_not_taken=2, misaligned32=4),
    "cv32e40p": dict(alu_imm=2, alu_reg=2, load=2, store=2, mul=2, load_use=4, jump=4, branch_taken=6,
                     branch_not_taken=2, misaligned32=4),
    "picorv32": dict(alu_imm=4, alu_reg=4, load=6, store=6, load_use=10, jump=4, branch_taken=7,
                     branch_not_taken=4, misaligned32=12),
}


@pytest.fixture(scope="module")
def slow_flash(tmp_path_factory):
    from importlib import resources

    text = (resources.files("simmcu").joinpath("boards", "generic-rv32.toml").read_text()
            .replace('kind = "flash"\n', 'kind = "flash"\nfetch_wait_states = 1\n'))
    path = tmp_path_factory.mktemp("board") / "slow-flash.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("core", list(WAIT1))
def test_fetch_wait_states_follow_each_cores_fetch_unit(elf, slow_flash, core):
    r = Simulator(_build(elf, "microbench.c", core), core=core, board=slow_flash, check_timing=True).run()
    assert r.exit_code == 0, r.message
    assert r.timing_check["agree"], r.timing_check["differences"]
    measured = {name: int(value) // 10 for name, value in (line.split() for line in r.console.splitlines())}
    assert {k: measured[k] for k in WAIT1[core]} == WAIT1[core]


CORES = ["rv32imc", "picorv32:barrel_shifter=false,dual_port_regs=false", "ibex", "cortex-m0plus",
         "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33"]
RISCV_ONLY = ("rv_timer.c", "rv_vectored.c")
ARM_ONLY = ("systick.c", "exceptions.c")
ARMV7_ONLY = ("masking.c", "it_count.c")  # BASEPRI, IT blocks


def _applies(program: str, core: str) -> bool:
    arm = core.startswith("cortex")
    return not ((program in RISCV_ONLY and arm) or (program in ARM_ONLY + ARMV7_ONLY and not arm)
                or (program in ARMV7_ONLY and "m0plus" in core))


@pytest.mark.parametrize("program, core", [
    (p, c) for p in ("hello", "microbench.c", *RISCV_ONLY, *ARM_ONLY, *ARMV7_ONLY) for c in CORES if _applies(p, c)])
def test_native_model_agrees_with_reference_cycle_for_cycle(elf, program, core):
    r = Simulator(_build(elf, program, core), core=core, check_timing=True).run()
    assert r.exit_code == 0, r.message
    check = r.timing_check
    assert check["agree"], (check["differences"], check["native"], check["reference"])
    assert check["reference"]["cycles"] == r.cycles


@pytest.mark.parametrize("core", ["cortex-m4", "cortex-m7"])  # M7: pairs and BTAC entries across interrupts
def test_reference_agrees_through_interrupts_inside_loops(elf, core):
    r = Simulator(elf("it_blocks.c", core, PERIOD="97"), core=core, check_timing=True).run()
    assert r.console == "same ticks>100=1\n"
    assert r.timing_check["agree"], r.timing_check["differences"]


def test_every_bundled_profile_loads_and_states_its_limits():
    for name in bundled_profiles():
        p = load_profile(name)
        assert p.sources and p.accuracy and p.description, name


def test_unknown_timing_option_is_a_clear_error():
    with pytest.raises(ConfigError, match="barrel_shifter"):
        load_profile("picorv32", {"barrel": True})


@pytest.mark.parametrize("a, b, signed, cycles", [(1000, 3, False, 5), (7, 0, False, 2), (5, 7, False, 2),
                                                  (0xFFFFFFFF, 1, False, 10), ((1 << 32) - 1000, 3, True, 5)])
def test_arm_divide_early_termination(a, b, signed, cycles):
    assert latency(LATENCY_MODELS["arm-early-termination"], a, b, signed) == cycles


@pytest.mark.parametrize("name", list(LATENCY_MODELS))
def test_native_latency_rule_equals_its_reference(name):
    """Each latency model's compiled rule (what the latency hook calls through its address) gives the
    reference's cycles on edge operands and 20,000 generated ones of every magnitude."""
    import ctypes
    import random

    from simmcu._hooks import latency_address

    model = LATENCY_MODELS[name]
    native = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64, ctypes.c_int64)(latency_address(name))
    rng = random.Random(name)
    edges = [0, 1, 2, 3, 31, 32, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF]
    pairs = [(a, b) for a in edges for b in edges]
    pairs += [(rng.getrandbits(rng.randint(0, 32)), rng.getrandbits(rng.randint(0, 32))) for _ in range(20_000)]
    assert [native(a, b) for a, b in pairs] == [model.reference(a, b) for a, b in pairs]


@pytest.mark.parametrize("text, message", [
    ('name = "x"\nisa = "rv32"\nsources = ["a"]\nexception_entry = "twelve"', "exception_entry: expected int"),
    ('name = "x"\nisa = "arm"\nsources = ["a"]', "isa: 'arm' is not one of rv32, thumb"),
    ('name = "x"\nisa = "rv32"', "missing required key 'sources'"),
    ('name = "x"\nisa = "rv32"\nsources = ["a"]\n[cycles]\nalu = -1', "alu must be a whole number"),
    ('name = "x"\nisa = "rv32"\nsources = ["a"]\n[cycles]\nvector = 2', "unknown key 'vector'"),
    ('name = "x"\nisa = "rv32"\nsources = ["a"]\noptions = { fast = 1 }', "option fast needs a table"),
    ('name = "x"\nisa = "rv32"\nsources = ["a"]\n[dual_issue.units]\nalu = 2\n[dual_issue.uses]\nload = ["lsu"]',
     "load must list units of"),
    ('name = "x"\nisa = "rv32"\nsources = ["a"]\n[dual_issue.uses]\nvector = []', "unknown class 'vector'"),
    ('name = "x"\nisa = "rv32"\nsources = ["a"]\n[prediction]\nmodel = "2bit"', "model: '2bit' is not one of"),
])
def test_bad_timing_profile_is_a_clear_error(tmp_path, text, message):
    path = tmp_path / "mine.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_profile(path)


def test_every_timing_profile_has_a_core_page():
    """docs/cores/NAME.md says what the profile models, leaves out, and how close it lands."""
    pages = Path(__file__).parent.parent / "docs" / "cores"
    for name in bundled_profiles():
        text = (pages / f"{name}.md").read_text()
        assert all(h in text for h in ("## Modeled", "## Not modeled", "## Expected error")), name


@pytest.mark.parametrize("core", ["rv32imc", "picorv32", "cortex-m0plus", "cortex-m4", "cortex-m7:icache=true"])
def test_a_kernel_timing_itself_agrees_with_the_function_profile(elf, core):
    """conv2d reads the cycle counter (mcycle, DWT CYCCNT, SysTick on the M0+) around its kernel: the
    span is the kernel's inclusive cycles plus the call, the return and the two counter calls."""
    r = Simulator(elf("conv2d", core.split(":")[0]), core=core).run()
    measured = int(re.search(r"(\d+) cycles", r.console).group(1))
    kernel = next(f for f in r.functions if f["name"] == "conv2d_3x3")
    assert kernel["calls"] == 1
    assert kernel["cycles_inclusive"] < measured <= kernel["cycles_inclusive"] + 120


@pytest.mark.parametrize("core", ["cortex-m0plus", "cortex-m4"])
def test_a_bl_within_its_own_function_is_a_branch_not_a_call(run, core):
    r = run("long_branch.c", core)
    assert r.console.strip() == "21"
    calls = {f["name"]: f["calls"] for f in r.functions}
    assert calls["far_jump"] == 1 and calls["after"] == 1
    assert "far_jump;" not in r.folded(), r.folded()


def test_site_ranges_cover_every_site_and_merge_only_close_ones():
    """Divide and alignment sites share a hook only when close (Unicorn walks every code hook at each
    hooked instruction); every site stays inside a range, and no range spans a wider gap than allowed."""
    rng = random.Random(7)
    for _ in range(200):
        sites = [rng.randrange(0, 4096, 2) for _ in range(rng.randrange(0, 60))]
        gap = rng.choice([0, 2, 16, 64])
        ranges = _codemap.site_ranges(sites, gap)
        assert all(any(b <= s <= e for b, e in ranges) for s in sites)
        assert all(e1 < b2 and b2 - e1 > gap for (_, e1), (b2, _) in zip(ranges, ranges[1:]))
        inside = sorted(set(sites))
        for b, e in ranges:  # a range starts and ends at sites, and its sites are within gap of each other
            members = [s for s in inside if b <= s <= e]
            assert members[0] == b and members[-1] == e
            assert all(y - x <= gap for x, y in zip(members, members[1:]))


ORIGINAL_SITE_RANGES = _codemap.site_ranges


@pytest.mark.parametrize("core, what, args", [("rv32imc", "microbench.c", ()), ("cortex-m4", "microbench.c", ()),
                                              ("cortex-m7", "microbench.c", ()), ("cortex-m4", "faults.c", ("ldrd",)),
                                              ("cortex-m4", "faults.c", ("unaligned-ldr",))])
def test_merged_site_hooks_price_and_fault_as_one_hook_per_site(run, monkeypatch, core, what, args):
    """The same run with all divide and alignment sites in one range as with one hook per site (the hooks
    return at once between sites): cycles, stalls, functions and faults."""
    results = []
    for gap in (-1, 1 << 20):
        monkeypatch.setattr(_codemap, "site_ranges", functools.partial(ORIGINAL_SITE_RANGES, gap=gap))
        r = run(what, core, *args)
        results.append((r.cycles, r.instructions, r.stalls, r.functions, r.message, r.exit_reason))
    assert results[0] == results[1]


# -- the fetch rules found against the RTL (docs/validation.md), on hand-assembled code ----------
_ADDI, _DIV, _BEQ8, _CNOP = 0x00108093, 0x023140B3, 0x00000463, 0x0001  # addi x1,x1,1; div x1,x2,x3; beq x0,x0,+8


def _code(*parts: int, base: int = 0x1000):
    from simmcu.isa import rv32

    raw = b"".join(p.to_bytes(2 if p < 0x10000 and p & 3 != 3 else 4, "little") for p in parts)
    return rv32.decode_all(raw, base)


def _stream(core: str, wait: int, insns):
    import dataclasses

    from simmcu._timing import MemoryCosts, stream_stalls

    mem = MemoryCosts((wait,) * 3, (wait,) * 3, wait, 2, False, refill_scale=1 + wait)
    return stream_stalls(load_profile(core), dataclasses.replace(mem, stream={}), insns)


@pytest.mark.parametrize("wait", [1, 2, 3])
def test_ibex_refill_waits_behind_the_fetch_in_flight_and_the_request_held(wait):
    """Derived from ibex_prefetch_buffer.sv with W = wait + 1 cycles per fetch: after fetch-bound
    code the branch finds a fetch in flight and a request held, so the target is granted 2 W after
    the branch's own word came: refill 3 W - 1 (the RTL's target 5 / 11 at N = 1 / 3). After a
    divide the buffer is full: only the fetch its own issue made room for is ahead, refill 2 W."""
    w = wait + 1
    code = _code(_ADDI, _ADDI, _ADDI, _ADDI, _BEQ8)
    assert _stream("ibex", wait, code)[1][code[-1].addr] == 3 * w - 1
    code = _code(_DIV, _BEQ8)
    assert _stream("ibex", wait, code)[1][code[-1].addr] == 2 * w


def test_picorv32_taken_branch_finishes_a_misaligned_32bit_fallthrough():
    """picorv32.v: a fall-through that starts in the halfword buffered by the branch's fetch waits for
    mem_do_rinst; a 32-bit one then fetches its second word before the taken branch ends: +1."""
    from simmcu._board import load_board
    from simmcu._timing import MemoryCosts, taken_cost

    profile, board = load_profile("picorv32"), load_board("generic-rv32")
    split = _code(_CNOP, _BEQ8, _ADDI, _ADDI)     # beq at 2 mod 4, addi after it at 2 mod 4
    aligned = _code(_BEQ8, _ADDI, _CNOP, _ADDI)   # beq at 0 mod 4, addi after it aligned
    costs = [taken_cost(profile, MemoryCosts.of(board, profile, insns=c), c[i], None) for c, i in ((split, 1),
                                                                                                   (aligned, 0))]
    assert costs == [profile.taken["branch"] + 1, profile.taken["branch"]]
