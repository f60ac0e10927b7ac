"""Seeded random RV32IMC programs that terminate, for the differential runner (``_diff``).

A program is RISC-V assembly for ``main`` (built with simmcu's runtime by the zig toolchain, so
the same ELF runs on the RTL and on simmcu). It is written under ``.option exact`` (no
compression, no linker relaxation) with explicit ``c.`` mnemonics, so that the generator knows
every instruction's size and hence the alignment of every label: branch and jump targets land
on 32-bit and compressed instructions at both halfword alignments. Termination is by
construction: branches and jumps only go forward, except loop back-edges counted down in
registers nothing else writes, and calls go to leaf functions.

Register use: s0 (x8) points at a 128-byte data buffer and is never written; s10 and s11 count
loops; sp, gp, tp are left alone; ra is saved in main's frame. Every other register is in the
pool that instructions read and write, so that back-to-back dependencies of every kind occur
(load-use, multiply-use, divide-use, address, jump target). Counter CSRs are read into a register
that is then cleared: their values differ between the RTL and simmcu whenever the timing does,
and must not reach the checksum that ``rtl_result`` gets at the end.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

#: Registers instructions may write: all but zero, ra, sp, gp, tp, s0 (the data base) and the loop
#: counters s10, s11 (x26, x27).
POOL = (5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 28, 29, 30, 31)
#: The pool registers a compressed instruction can name (x8-x15 without s0).
CPOOL = tuple(r for r in POOL if 8 <= r <= 15)
DATA_BYTES = 128
FRAME = 64  #: main's frame: ra at FRAME-4, sp-relative scratch below it
LOOP_REGS = (27, 26)

#: Operand values that exercise the data-dependent latencies: divider edge cases (zero, the
#: -2^31 / -1 overflow, -1, one) and magnitudes of every length.
SPECIAL = (0, 1, 2, 3, 7, 0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, 0xFFFFFFFE, 0x10000, 0xFFFF, 0x8000_0001)

ALU_RR = ("add", "sub", "and", "or", "xor", "slt", "sltu")
ALU_RI = ("addi", "andi", "ori", "xori", "slti", "sltiu")
SHIFT_RR = ("sll", "srl", "sra")
SHIFT_RI = ("slli", "srli", "srai")
MUL_LONG = ("mulh", "mulhsu", "mulhu")
DIV = ("div", "divu", "rem", "remu")
LOADS = {"lb": 1, "lbu": 1, "lh": 2, "lhu": 2, "lw": 4}
STORES = {"sb": 1, "sh": 2, "sw": 4}
BRANCHES = ("beq", "bne", "blt", "bge", "bltu", "bgeu")

#: The classes a program covers; ``Program.classes`` counts them (tests/test_validate.py checks
#: that each occurs).
CLASSES = ("alu", "alu_imm", "lui_auipc", "shift_reg", "shift_imm", "mul", "mul_long", "div", "div_special",
           "load", "store", "load_use", "mul_use", "address_dependency", "compressed", "branch",
           "branch_misaligned_target", "compressed_branch", "jump", "jump_misaligned_target", "jump_reg",
           "jump_reg_use", "call", "call_reg", "loop", "csr", "nop")


@dataclass(frozen=True)
class Target:
    """What a core accepts: which counter CSRs it has and whether misaligned data accesses work."""

    counters: tuple[str, ...]
    misaligned: bool
    other_csrs: tuple[str, ...] = ()


#: Per RTL core family (the RTL_CORES name before ':'). PicoRV32 (ENABLE_COUNTERS) has the
#: unprivileged cycle/instret and no machine CSRs; Ibex has mcycle/minstret and the machine CSRs,
#: not cycle/instret; CV32E40P has the machine counters and mscratch. Data accesses stay aligned
#: on all three: PicoRV32 traps on misaligned ones (CATCH_MISALIGN), and Ibex and CV32E40P split
#: them into two bus transfers, a cost no profile models yet (docs/validation.md).
TARGETS = {
    "picorv32": Target(("cycle", "instret"), misaligned=False),
    "ibex": Target(("mcycle", "minstret"), misaligned=False, other_csrs=("mscratch",)),
    "cv32e40p": Target(("mcycle", "minstret"), misaligned=False, other_csrs=("mscratch",)),
}


@dataclass
class Program:
    seed: int
    source: str                #: assembly of main, its leaf functions and the data buffer
    classes: Counter = field(default_factory=Counter)  #: static count per CLASSES entry


class _Gen:
    def __init__(self, seed: int, target: Target, size: int):
        self.r = random.Random(seed)
        self.t = target
        self.size = size
        self.lines: list[str] = []
        self.offset = 0        #: bytes from the 4-aligned start of the current section of code
        self.labels = 0
        self.classes: Counter = Counter()
        self.last: int | None = None  #: register the previous instruction wrote (for dependencies)
        self.functions: list[str] = []
        self.loop_depth = 0

    # -- emission --------------------------------------------------------------------------
    def emit(self, text: str, size: int, klass: str | None = None, writes: int | None = None) -> None:
        self.lines.append(f"    {text}")
        self.offset += size
        if klass:
            self.classes[klass] += 1
        if size == 2:
            self.classes["compressed"] += 1
        self.last = writes

    def label(self) -> str:
        self.labels += 1
        return f".Lg{self.labels}"

    def place(self, name: str) -> int:
        """Put label ``name`` here; returns its offset mod 4."""
        self.lines.append(f"{name}:")
        return self.offset % 4

    def src(self) -> int:
        """A source register: often the one just written (a back-to-back dependency)."""
        if self.last is not None and self.r.random() < 0.4:
            return self.last
        return self.r.choice(POOL)

    def dst(self, compressed: bool = False) -> int:
        return self.r.choice(CPOOL if compressed else POOL)

    def li(self, reg: int, value: int) -> None:
        """lui + addi (always two 32-bit instructions, so sizes stay known)."""
        value &= 0xFFFFFFFF
        lo = value & 0xFFF
        lo = lo - 0x1000 if lo >= 0x800 else lo
        hi = ((value - lo) >> 12) & 0xFFFFF
        self.emit(f"lui x{reg}, {hi}", 4, "lui_auipc", reg)
        self.emit(f"addi x{reg}, x{reg}, {lo}", 4, "alu_imm", reg)

    def pad(self) -> None:
        """Maybe a c.nop or nop, to move what follows to the other halfword alignment."""
        if self.r.random() < 0.5:
            self.emit("c.nop", 2, "nop", None)

    # -- straight-line instructions --------------------------------------------------------
    def simple(self) -> None:
        r = self.r
        kind = r.choices(("alu", "alu_imm", "shift_reg", "shift_imm", "mul", "mul_long", "div", "load", "store",
                          "compressed", "lui_auipc", "csr", "nop"),
                         (10, 8, 3, 3, 3, 2, 2, 6, 4, 10, 2, 1, 1))[0]
        getattr(self, f"_{kind}")()

    def _alu(self) -> None:
        rd = self.dst()
        self.emit(f"{self.r.choice(ALU_RR)} x{rd}, x{self.src()}, x{self.src()}", 4, "alu", rd)

    def _alu_imm(self) -> None:
        rd = self.dst()
        self.emit(f"{self.r.choice(ALU_RI)} x{rd}, x{self.src()}, {self.r.randint(-2048, 2047)}", 4, "alu_imm", rd)

    def _shift_reg(self) -> None:
        rd, amount = self.dst(), self.src()
        if self.r.random() < 0.5:  # a known amount of every size (the register's low five bits count)
            amount = self.dst()
            self.emit(f"addi x{amount}, x0, {self.r.randint(0, 31)}", 4, "alu_imm", amount)
        self.emit(f"{self.r.choice(SHIFT_RR)} x{rd}, x{self.src()}, x{amount}", 4, "shift_reg", rd)

    def _shift_imm(self) -> None:
        rd = self.dst()
        self.emit(f"{self.r.choice(SHIFT_RI)} x{rd}, x{self.src()}, {self.r.randint(0, 31)}", 4, "shift_imm", rd)

    def _mul(self) -> None:
        rd = self.dst()
        self.emit(f"mul x{rd}, x{self.src()}, x{self.src()}", 4, "mul", rd)
        self._use(rd, "mul_use")

    def _mul_long(self) -> None:
        rd = self.dst()
        self.emit(f"{self.r.choice(MUL_LONG)} x{rd}, x{self.src()}, x{self.src()}", 4, "mul_long", rd)
        self._use(rd, "mul_use")

    def _div(self) -> None:
        r = self.r
        a, b = self.dst(), self.dst()
        if r.random() < 0.6:  # operands chosen for the divider's edge cases and lengths
            self.li(a, r.choice(SPECIAL) if r.random() < 0.5 else r.getrandbits(32) >> r.randint(0, 31))
            self.li(b, r.choice(SPECIAL) if r.random() < 0.5 else r.getrandbits(32) >> r.randint(0, 31))
            self.classes["div_special"] += 1
        rd = self.dst()
        self.emit(f"{r.choice(DIV)} x{rd}, x{a}, x{b}", 4, "div", rd)
        self._use(rd, "mul_use")

    def _use(self, reg: int, klass: str) -> None:
        """Sometimes an instruction right after that reads ``reg``."""
        if self.r.random() < 0.5:
            rd = self.dst()
            self.emit(f"add x{rd}, x{reg}, x{self.src()}", 4, klass, rd)

    def _access(self, width: int) -> tuple[int, int]:
        """(base register, offset) of an access of ``width`` bytes into the data buffer: s0, or a
        pool register just computed from s0 (an address dependency)."""
        r = self.r
        align = 1 if self.t.misaligned else width
        off = r.randrange(0, DATA_BYTES - 4, align)
        if r.random() < 0.3:
            base = self.dst()
            delta = r.randrange(0, 128, align)
            self.emit(f"addi x{base}, x8, {delta}", 4, "alu_imm", base)
            self.classes["address_dependency"] += 1
            return base, off - delta
        return 8, off

    def _load(self) -> None:
        op = self.r.choice(tuple(LOADS))
        base, off = self._access(LOADS[op])
        rd = self.dst()
        self.emit(f"{op} x{rd}, {off}(x{base})", 4, "load", rd)
        self._use(rd, "load_use")

    def _store(self) -> None:
        op = self.r.choice(tuple(STORES))
        base, off = self._access(STORES[op])
        self.emit(f"{op} x{self.src()}, {off}(x{base})", 4, "store", None)

    def _lui_auipc(self) -> None:
        rd = self.dst()
        self.emit(f"{self.r.choice(('lui', 'auipc'))} x{rd}, {self.r.randint(0, 0xFFFFF)}", 4, "lui_auipc", rd)

    def _nop(self) -> None:
        self.emit("nop", 4, "nop", None)

    def _csr(self) -> None:
        r = self.r
        rd = self.dst()
        names = self.t.counters + self.t.other_csrs
        name = r.choice(names)
        if name in self.t.other_csrs and r.random() < 0.5:
            self.emit(f"csrw {name}, x{self.src()}", 4, "csr", None)
            return
        self.emit(f"csrr x{rd}, {name}", 4, "csr", rd)
        if r.random() < 0.5:  # a use of the value, which then dies
            self.emit(f"addi x{rd}, x{rd}, 1", 4, "alu_imm", rd)
        self.emit(f"andi x{rd}, x{rd}, 0", 4, "alu_imm", rd)

    def _compressed(self) -> None:
        r = self.r
        kind = r.choice(("addi", "li", "lui", "mv", "add", "sub", "and", "or", "xor", "andi", "slli", "srli", "srai",
                         "lw", "sw", "lwsp", "swsp"))
        if kind in ("addi", "li", "lui", "mv", "add", "slli", "lwsp"):
            rd = self.dst()
        else:
            rd = self.dst(compressed=True)
        if kind == "addi":
            self.emit(f"c.addi x{rd}, {r.choice([i for i in range(-32, 32) if i])}", 2, None, rd)
        elif kind == "li":
            self.emit(f"c.li x{rd}, {r.randint(-32, 31)}", 2, None, rd)
        elif kind == "lui":
            self.emit(f"c.lui x{rd}, {r.randint(1, 31)}", 2, None, rd)
        elif kind == "mv":
            self.emit(f"c.mv x{rd}, x{self.src()}", 2, None, rd)
        elif kind == "add":
            self.emit(f"c.add x{rd}, x{self.src()}", 2, None, rd)
        elif kind in ("sub", "and", "or", "xor"):
            self.emit(f"c.{kind} x{rd}, x{r.choice(CPOOL)}", 2, None, rd)
        elif kind == "andi":
            self.emit(f"c.andi x{rd}, {r.randint(-32, 31)}", 2, None, rd)
        elif kind in ("slli", "srli", "srai"):
            self.emit(f"c.{kind} x{rd}, {r.randint(1, 31)}", 2, "shift_imm", rd)
        elif kind == "lw":
            self.emit(f"c.lw x{rd}, {r.randrange(0, 128, 4)}(x8)", 2, "load", rd)
            self._use(rd, "load_use")
        elif kind == "sw":
            self.emit(f"c.sw x{rd}, {r.randrange(0, 128, 4)}(x8)", 2, "store", None)
        elif kind == "lwsp":
            self.emit(f"c.lwsp x{rd}, {r.randrange(0, FRAME - 4, 4)}(sp)", 2, "load", rd)
            self._use(rd, "load_use")
        else:
            self.emit(f"c.swsp x{self.src()}, {r.randrange(0, FRAME - 4, 4)}(sp)", 2, "store", None)

    # -- control flow ------------------------------------------------------------------------
    def block(self, budget: int) -> None:
        """About ``budget`` instructions of straight-line code, forward branches and jumps, calls and loops."""
        r = self.r
        while budget > 0:
            kind = r.choices(("simple", "branch", "jump", "jump_reg", "call", "loop"),
                             (12, 3, 1, 1, 1 if self.functions else 0, 1 if self.loop_depth < len(LOOP_REGS) else 0))[0]
            if kind == "simple":
                self.simple()
                budget -= 1
            elif kind == "branch":
                budget -= self.branch(min(budget, 6))
            elif kind == "jump":
                budget -= self.jump()
            elif kind == "jump_reg":
                budget -= self.jump_reg()
            elif kind == "call":
                self.call()
                budget -= 2
            else:
                budget -= self.loop(min(budget, 12))

    def _skipped(self, budget: int, target: str, klass: str) -> int:
        """The code a forward transfer may skip (at least one instruction: a transfer to its own
    fall-through looks not taken to simmcu, which sees only where execution goes), then its
    target, maybe moved by a halfword."""
        n = self.r.randint(1, 3)  # never the fall-through: simmcu cannot tell such a branch taken
        for _ in range(n):
            self.simple()
        self.pad()
        if self.place(target) == 2:
            self.classes[f"{klass}_misaligned_target"] += 1
        return n + 1

    def branch(self, budget: int) -> int:
        r = self.r
        target = self.label()
        if r.random() < 0.25:
            op = r.choice(("c.beqz", "c.bnez"))
            self.emit(f"{op} x{r.choice(CPOOL)}, {target}", 2, "compressed_branch", None)
        else:
            a = self.src()
            b = r.choice((0, a, self.src())) if r.random() < 0.3 else self.src()
            self.emit(f"{r.choice(BRANCHES)} x{a}, x{b}, {target}", 4, "branch", None)
        return self._skipped(budget, target, "branch")

    def jump(self) -> int:
        target = self.label()
        compressed = self.r.random() < 0.4
        self.emit(f"{'c.j' if compressed else 'jal x0,'} {target}", 2 if compressed else 4, "jump", None)
        return self._skipped(0, target, "jump")

    def jump_reg(self) -> int:
        """An indirect jump to a label whose address was computed just before (a jump-target
        dependency), through auipc + addi; sometimes the compressed c.jr."""
        target, here = self.label(), self.label()
        reg = self.dst()
        self.place(here)
        self.emit(f"auipc x{reg}, %pcrel_hi({target})", 4, "lui_auipc", reg)
        self.emit(f"addi x{reg}, x{reg}, %pcrel_lo({here})", 4, "alu_imm", reg)
        if self.r.random() < 0.5:  # the target register is then not written just before
            rd = self.r.choice([x for x in POOL if x != reg])
            self.emit(f"addi x{rd}, x{self.src()}, {self.r.randint(-2048, 2047)}", 4, "alu_imm", rd)
        else:
            self.classes["jump_reg_use"] += 1
        if self.r.random() < 0.4:
            self.emit(f"c.jr x{reg}", 2, "jump_reg", None)
        else:
            self.emit(f"jalr x0, 0(x{reg})", 4, "jump_reg", None)
        return 3 + self._skipped(0, target, "jump")

    def call(self) -> None:
        r = self.r
        f = r.choice(self.functions)
        kind = r.random()
        if kind < 0.4:
            self.emit(f"jal ra, {f}", 4, "call", None)
        elif kind < 0.6:
            self.emit(f"c.jal {f}", 2, "call", None)
        else:
            reg = self.dst()
            self.emit(f"la x{reg}, {f}", 8, "lui_auipc", reg)
            if r.random() < 0.5:
                self.emit(f"c.jalr x{reg}", 2, "call_reg", None)
            else:
                self.emit(f"jalr ra, 0(x{reg})", 4, "call_reg", None)
        self.last = None  # the function wrote whatever it wrote

    def loop(self, budget: int) -> int:
        r = self.r
        counter = LOOP_REGS[self.loop_depth]
        self.loop_depth += 1
        self.emit(f"addi x{counter}, x0, {r.randint(1, 4)}", 4, "loop", counter)
        self.pad()
        head = self.label()
        misaligned = self.place(head) == 2
        body = max(2, budget - 3)
        self.block(body)
        self.emit(f"addi x{counter}, x{counter}, -1", 4, "alu_imm", counter)
        if r.random() < 0.3 and counter in CPOOL:
            self.emit(f"c.bnez x{counter}, {head}", 2, "compressed_branch", None)
        else:
            self.emit(f"bne x{counter}, x0, {head}", 4, "branch", None)
        if misaligned:
            self.classes["branch_misaligned_target"] += 1
        self.loop_depth -= 1
        return body + 3

    # -- the program ----------------------------------------------------------------------------
    def align(self) -> None:
        if self.offset % 4:
            self.emit("c.nop", 2)

    def function(self, name: str) -> None:
        self.align()
        if self.r.random() < 0.5:
            self.emit("c.nop", 2, "nop", None)  # an entry at 2 mod 4
        self.lines.append(f"{name}:")
        saved, self.functions = self.functions, []  # leaf functions: no calls inside
        depth, self.loop_depth = self.loop_depth, len(LOOP_REGS)  # and no loops (they would clobber counters)
        self.block(self.r.randint(2, 6))
        self.functions, self.loop_depth = saved, depth
        if self.r.random() < 0.5:
            self.emit("c.jr ra", 2, "jump_reg")
        else:
            self.emit("jalr x0, 0(ra)", 4, "jump_reg")

    def program(self) -> str:
        r = self.r
        head = ["    .section .data", "    .balign 16", "gen_data:"]
        head += [f"    .word {r.getrandbits(32):#010x}" for _ in range(DATA_BYTES // 4)]
        head += ["    .section .bss", "    .balign 4", "    .globl rtl_result", "rtl_result:", "    .word 0",
                 "    .section .text", "    .option exact", "    .balign 4"]
        self.functions = [f"gen_f{i}" for i in range(r.randint(1, 3))]
        for name in self.functions:
            self.function(name)
        self.align()
        self.lines.append("    .globl main")
        self.lines.append("main:")
        self.emit(f"addi sp, sp, -{FRAME}", 4)
        self.emit(f"sw ra, {FRAME - 4}(sp)", 4)
        self.emit("la x8, gen_data", 8)
        for reg in POOL:
            self.li(reg, r.choice(SPECIAL) if r.random() < 0.3 else r.getrandbits(32))
        self.block(self.size)
        self.emit("addi x10, x0, 0", 4)  # the checksum: every pool register and the data buffer
        for reg in POOL:
            if reg != 10:
                self.emit(f"xor x10, x10, x{reg}", 4)
        for off in range(0, DATA_BYTES, 4):
            self.emit(f"lw x11, {off}(x8)", 4)
            self.emit("add x10, x10, x11", 4)
        self.emit("la x11, rtl_result", 8)
        self.emit("sw x10, 0(x11)", 4)
        self.emit(f"lw ra, {FRAME - 4}(sp)", 4)
        self.emit(f"addi sp, sp, {FRAME}", 4)
        self.emit("addi x10, x0, 0", 4)
        self.emit("jalr x0, 0(ra)", 4)
        return "\n".join(head + self.lines) + "\n"


def generate(seed: int, core: str = "ibex", size: int = 120) -> Program:
    """The program of ``seed`` for ``core`` (an RTL_CORES name; its family picks the CSRs and
    access alignments it accepts), with about ``size`` instructions in main's body."""
    family = core.split(":")[0]
    if family not in TARGETS:
        raise ValueError(f"no generator target for core {core!r} (known: {', '.join(TARGETS)})")
    g = _Gen(seed, TARGETS[family], size)
    source = g.program()
    return Program(seed, source, g.classes)
