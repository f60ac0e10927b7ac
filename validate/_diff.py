"""The differential runner: each generated program on the RTL and on simmcu, compared per
program and, from the RTL's retire trace, per instruction.

Both sides run the same ELF over the same memory map (``rtl-board.toml``); simmcu gets the wait
states the memory condition adds (``board_for``). The comparison covers the instructions both
execute, from the one after the ELF's entry to the instruction before the exit EBREAK (the RTL
stops there): Ibex's boot jump at its reset address and the cores' reset latency are not the
program's.

Per-instruction cycles need one convention on both sides. The OBI testbenches stamp an
instruction when it retires, PicoRV32's when its time begins (tb_picorv32.cc); simmcu's side is
stamped from the plain-Python reference model at the same two points (``_Stamps``), so a cost
difference is the instruction's own. Where two models book the same cycles on neighbouring
instructions (a jump's refill on the jump or on its target), the running difference returns
within a few instructions: a divergence is a change of the running difference that does not
even out over a run of at most ``WINDOW`` + 1 neighbouring instructions.
"""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ._generator import Program, generate
from ._rtl import RTL_CORES, available, build, run

HERE = Path(__file__).resolve().parent
BOARD = HERE / "rtl-board.toml"
#: A difference that evens out over this many neighbours (+ 1) is a booking difference, not a divergence.
WINDOW = 3
#: The RTL testbenches stamp retirements (OBI) or the start of each instruction (PicoRV32).
_STAMP_BEGIN = ("picorv32",)


def extra_wait_states(core: str, memory: str, wait_states: int) -> int:
    """Cycles the memory condition adds per transfer over the comb memory: on OBI (Ibex,
    CV32E40P) registered N answers N cycles later than comb; PicoRV32's registered memory answers
    one cycle after mem_valid even with N = 0, so N + 1."""
    if memory == "comb":
        return 0
    return wait_states + (1 if core.startswith("picorv32") else 0)


def board_for(core: str, memory: str, wait_states: int, work: Path, prefetch: bool = False) -> Path:
    """rtl-board.toml with the memory condition's wait states on both regions. The board's
    ``prefetch`` (which hides every sequential fetch wait) is off by default: the profiles'
    [fetch] tables model what each core's fetch unit does with the wait states."""
    n = extra_wait_states(core, memory, wait_states)
    if n == 0:
        return BOARD
    prefetch = str(prefetch).lower()
    keys = f"read_wait_states = {n}\nwrite_wait_states = {n}\nfetch_wait_states = {n}\nprefetch = {prefetch}\n"
    text = BOARD.read_text().replace('kind = "flash"\n', f'kind = "flash"\n{keys}').replace(
        'kind = "sram"\n', f'kind = "sram"\n{keys}')
    path = Path(work) / f"board-{n}-{prefetch}.toml"
    path.write_text(text)
    return path


def _stamps_class():
    """The reference model, stamping each instruction where it begins and ends (imported late:
    simmcu's engine loads Numba and Unicorn)."""
    from simmcu._reference import ReferenceModel

    class _Stamps(ReferenceModel):
        NAME = "validate"

        def attach(self, machine) -> None:
            super().attach(machine)
            self.pcs, self.begins, self.ends = [], [], []

        def _execute(self, i: int, ran: bool = True) -> None:
            self.pcs.append(self.code.insns[i].addr)
            self.begins.append(self.cycles)
            super()._execute(i, ran)
            self.ends.append(self.cycles)

        def report(self) -> dict:
            check = super().report()
            sym = self.m.image.symbols.get("rtl_result")
            result = int.from_bytes(self.m.read(sym.addr, 4), "little") if sym else None
            # Per-function attribution is not what this compares (and local labels such as the
            # assembler's .Lpcrel_hi make the native profiler and the reference split differently).
            differences = [d for d in check["differences"] if not d.startswith("functions.")]
            return dict(agree=not differences, differences=differences, pcs=self.pcs, begins=self.begins,
                        ends=self.ends, result=result)

    return _Stamps


@dataclass
class Step:
    """One instruction of the common stream: its cycles on each side."""

    pc: int
    text: str
    rtl: int
    simmcu: int


@dataclass
class Divergence:
    index: int          #: position in the instruction stream from the ELF's entry
    step: Step
    before: list[Step]  #: the instructions just before it

    def describe(self) -> str:
        lines = [f"first divergence at instruction {self.index}: {self.step.pc:#010x} {self.step.text}: "
                 f"RTL {self.step.rtl} cycles, simmcu {self.step.simmcu}"]
        lines += [f"    {s.pc:#010x} {s.text:32s} RTL {s.rtl:3d} simmcu {s.simmcu:3d}" for s in self.before]
        return "\n".join(lines)


@dataclass
class ProgramResult:
    seed: int
    instructions: int   #: in the compared stream
    rtl: int            #: cycles over the compared stream
    simmcu: int
    same_result: bool   #: the checksum at rtl_result agrees, and so does the instruction stream
    model_agrees: bool  #: simmcu's native model and its reference agree (always required)
    divergence: Divergence | None = None
    #: mnemonic -> (divergences, net cycles simmcu - RTL) over every divergence of the program
    classes: dict[str, list[int]] = field(default_factory=dict)

    @property
    def error(self) -> float:
        """simmcu's cycles relative to the RTL's (positive: simmcu is slower)."""
        return self.simmcu / self.rtl - 1

    def to_dict(self) -> dict:
        d = dict(seed=self.seed, instructions=self.instructions, rtl_cycles=self.rtl, simmcu_cycles=self.simmcu,
                 error=round(self.error, 6), same_result=self.same_result, model_agrees=self.model_agrees,
                 divergence_classes=self.classes)
        if self.divergence:
            s = self.divergence.step
            d["first_divergence"] = dict(index=self.divergence.index, pc=s.pc, instruction=s.text, rtl_cycles=s.rtl,
                                         simmcu_cycles=s.simmcu, before=[dict(pc=b.pc, instruction=b.text,
                                                                              rtl_cycles=b.rtl, simmcu_cycles=b.simmcu)
                                                                         for b in self.divergence.before])
        return d


class _Disassembler:
    def __init__(self, elf: Path):
        import capstone
        from elftools.elf.elffile import ELFFile

        self.cs = capstone.Cs(capstone.CS_ARCH_RISCV, capstone.CS_MODE_RISCV32 | capstone.CS_MODE_RISCVC)
        with open(elf, "rb") as f:
            text = ELFFile(f).get_section_by_name(".text")
            self.base, self.code = text["sh_addr"], text.data()
        self.cache: dict[int, str] = {}

    def __call__(self, pc: int) -> str:
        if pc not in self.cache:
            off = pc - self.base
            insn = next(self.cs.disasm(self.code[off: off + 4], pc, 1), None) if 0 <= off < len(self.code) else None
            self.cache[pc] = f"{insn.mnemonic} {insn.op_str}".strip() if insn else "?"
        return self.cache[pc]


def _costs(stamps: list[int]) -> list[int]:
    """Differences of consecutive stamps: with stamps at each instruction's start, the cycles of
    every instruction but the last; with stamps at its end, of every instruction but the first."""
    return [b - a for a, b in zip(stamps, stamps[1:])]


def divergences(steps: list[Step]) -> list[int]:
    """Indices of the steps whose cycles differ between the sides, except where a run of at most
    WINDOW + 1 neighbouring steps around it evens out (the same cycles booked on a neighbour)."""
    running = [0]
    for s in steps:
        running.append(running[-1] + s.simmcu - s.rtl)
    found = []
    for i, s in enumerate(steps):
        if s.simmcu == s.rtl:
            continue
        evens = any(running[b + 1] == running[a] for a in range(max(0, i - WINDOW), i + 1)
                    for b in range(i, min(len(steps), a + WINDOW + 1)))
        if not evens:
            found.append(i)
    return found


def compare_program(exe: Path, elf: Path, core: str, memory: str = "comb", wait_states: int = 0,
                    work: Path | None = None, timing: str | Path | None = None, seed: int = -1) -> ProgramResult:
    """``elf`` on the RTL ``exe`` of ``core`` and on simmcu (``timing``: a profile instead of the
    core's own, e.g. a perturbed one), with the memory condition on both."""
    from simmcu import Simulator

    with tempfile.TemporaryDirectory() as tmp:
        board = board_for(core, memory, wait_states, Path(work or tmp))
        sim = Simulator(elf, core=RTL_CORES[core].spec, board=board, timing=timing, observers=[_stamps_class()])
        result = sim.run()
    if result.exit_reason != "exit":
        raise RuntimeError(f"{elf}: simmcu did not exit: {result.message}")
    mine = result.reports["validate"]
    rtl = run(exe, elf, BOARD, memory, wait_states, trace=True, max_cycles=100 * result.cycles + 10_000)
    entry = sim.image.entry
    trace = rtl.trace
    start = next((k for k, (pc, _) in enumerate(trace) if pc == entry), None)
    if start is None:
        raise RuntimeError(f"{elf}: the {core} RTL never ran the entry point {entry:#x}")
    trace = trace[start:]
    n = min(len(trace), len(mine["pcs"]))
    same = [pc for pc, _ in trace[:n]] == mine["pcs"][:n] and rtl.result == mine["result"]
    begin = core.split(":")[0] in _STAMP_BEGIN
    rtl_costs = _costs([c for _, c in trace[:n]])
    sim_costs = _costs((mine["begins"] if begin else mine["ends"])[:n])
    pcs = mine["pcs"][:n]
    pcs = pcs[:-1] if begin else pcs[1:]  # the instruction each cost belongs to
    if begin:  # the entry's own cost holds the core's reset-to-first-fetch latency
        pcs, rtl_costs, sim_costs = pcs[1:], rtl_costs[1:], sim_costs[1:]
    text = _Disassembler(elf)
    steps = [Step(pc, "", r, s) for pc, r, s in zip(pcs, rtl_costs, sim_costs)]
    found = divergences(steps)
    classes: dict[str, list[int]] = {}
    for i in found:
        steps[i].text = text(steps[i].pc)
        key = re.split(r"[ .]", steps[i].text)[0] if not steps[i].text.startswith("c.") else steps[i].text.split()[0]
        entry_ = classes.setdefault(key, [0, 0])
        entry_[0] += 1
        entry_[1] += steps[i].simmcu - steps[i].rtl
    first = None
    if found:
        i = found[0]
        before = steps[max(0, i - 5): i]
        for s in before:
            s.text = text(s.pc)
        first = Divergence(i + 1, steps[i], before)
    return ProgramResult(seed, n, sum(rtl_costs), sum(sim_costs), same, mine["agree"], first, classes)


@dataclass
class Report:
    core: str
    memory: str
    wait_states: int
    size: int
    programs: list[ProgramResult]

    @property
    def total_error(self) -> float:
        return sum(p.simmcu for p in self.programs) / sum(p.rtl for p in self.programs) - 1

    @property
    def worst(self) -> ProgramResult:
        return max(self.programs, key=lambda p: abs(p.error))

    def classes(self) -> Counter:
        """mnemonic -> net cycles simmcu - RTL at divergences, over all programs."""
        net: Counter = Counter()
        for p in self.programs:
            for k, (_, cycles) in p.classes.items():
                net[k] += cycles
        return net

    def to_dict(self) -> dict:
        return dict(core=self.core, memory=self.memory, wait_states=self.wait_states, size=self.size,
                    programs=[p.to_dict() for p in self.programs], total_error=round(self.total_error, 6),
                    worst_error=round(self.worst.error, 6), worst_seed=self.worst.seed,
                    all_agree=all(p.same_result and p.model_agrees for p in self.programs))


def build_program(program: Program, core: str, work: Path) -> Path:
    """The program as an ELF for ``core``'s family, built with simmcu's runtime (zig toolchain)."""
    from simmcu.firmware import build as build_firmware

    base = core.split(":")[0]
    src = Path(work) / f"gen-{base}-{program.seed}.S"
    src.write_text(program.source)
    return build_firmware([src], base, src.with_suffix(".elf"), board=BOARD,
                          defines={"SIMMCU_NO_CMDLINE": "1"})  # the testbench stops at the first EBREAK


def validate(core: str, seeds=range(10), memory: str = "comb", wait_states: int = 0, size: int = 120,
             timing: str | Path | None = None, progress=None) -> Report:
    """Generate, build and compare one program per seed on ``core`` (an RTL_CORES name);
    ``progress(ProgramResult)`` is called after each."""
    from simmcu._errors import ConfigError, ToolchainError

    if core not in RTL_CORES:
        raise ConfigError(f"no RTL for core {core!r} (known: {', '.join(RTL_CORES)})")
    if memory not in ("comb", "registered") or not 0 <= wait_states <= 3:
        raise ConfigError(f"memory must be comb or registered with 0..3 wait states, not {memory}/{wait_states}")
    why = available(core)
    if why:
        raise ToolchainError(f"the {core} RTL cannot be built here: {why}")
    exe = build(core)
    programs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            elf = build_program(generate(seed, core, size), core, Path(tmp))
            r = compare_program(exe, elf, core, memory, wait_states, Path(tmp), timing, seed)
            programs.append(r)
            if progress:
                progress(r)
    return Report(core, memory, wait_states, size, programs)
