"""What the timing models need to know about one instruction, for both ISAs.

The decoders (``rv32.decode``, ``thumb.decode_all``) turn machine code into
``Insn`` records once per ELF. Timing profiles give cycles per *class*; the
register masks drive the interlock (load-use) rules; the memory fields drive
traffic accounting without per-access hooks.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Instruction classes a timing profile prices (docs/timing.md describes each).
CLASSES = (
    "alu",          # integer data processing, moves, compares, bit-field, saturate, DSP SIMD add/sub/pack
    "shift",        # shifts (priced apart for cores without a barrel shifter)
    "mul",          # 32-bit result multiply, multiply-accumulate, DSP multiplies
    "mul_long",     # 64-bit result multiply (SMULL/UMLAL...) or RISC-V MULH/MULHSU/MULHU
    "div",          # integer divide and remainder
    "load",         # single load (LDR/LDRB/LDRD/LW...)
    "store",        # single store
    "load_multi",   # LDM/POP: priced as base + per_reg * registers
    "store_multi",  # STM/PUSH
    "branch",       # conditional branch (B<cc>, CBZ, BEQ...)
    "jump",         # unconditional direct jump (B, JAL x0, C.J)
    "jump_reg",     # indirect jump and return (BX, JALR x0, C.JR, MRET)
    "call",         # direct call (BL, JAL ra)
    "call_reg",     # indirect call (BLX rm, JALR ra)
    "table_branch", # TBB/TBH
    "it",           # Thumb-2 IT
    "system",       # CSR access, MRS/MSR, barriers, fences, ECALL, SVC, BKPT
    "hint",         # NOP, YIELD, WFI, WFE, SEV, CPS
    "fp",           # FPU add/sub/compare/convert/move
    "fp_mul",       # FPU multiply
    "fp_mac",       # FPU multiply-accumulate (chained or fused)
    "fp_div",       # FPU divide
    "fp_sqrt",      # FPU square root
    "fp_load",      # VLDR, VLDM, VPOP: base + per_reg * registers
    "fp_store",     # VSTR, VSTM, VPUSH
    "custom",       # custom-instruction space (RISC-V custom-0/1, Arm coprocessor)
)
CLASS_ID = {name: i for i, name in enumerate(CLASSES)}

#: Where a memory access goes when its address is statically known to be in one place.
MEM_STACK, MEM_CODE, MEM_OTHER = 0, 1, 2


@dataclass(frozen=True)
class Access:
    """How a load or store forms the addresses of its data accesses, one per access as Unicorn makes
    them (LDM: a word per register; LDRD: two words; VLDR of a D register: one 8-byte access), so
    that each can be priced by the region it reaches without a memory hook (``_codemap``'s plans)."""

    base: int          #: register number; -1: ``disp`` is the address itself (a literal, PC-relative)
    disp: int = 0      #: added to the base (and the scaled index) to give the address
    index: int = -1    #: register number of an index register, -1: none
    shift: int = 0     #: left shift of the index
    writeback: int = 0  #: added to the base register after the instruction
    first: int = 0     #: offset of the first access from the address (decrement-before: negative)
    count: int = 1     #: accesses, at consecutive addresses ``size`` bytes apart
    size: int = 4      #: bytes per access
    write: bool = False
    dest: int = -1     #: the register a single load writes or a single word store stores (the plans
    #: follow values through memory with it)
    signed: bool = False  #: a load that sign-extends


@dataclass(frozen=True)
class Move:
    """An instruction that sets a register to a known function of others: ``rd = src OP ((src2 << shift) +
    imm)`` (src -1: 0; src2 -1: none; OP one of MOVE_OPS), or with ``high`` ``rd = (rd & 0xFFFF) | imm``
    (MOVT). The access plans follow pointers and indices through these."""

    rd: int
    src: int = -1
    imm: int = 0
    high: bool = False
    src2: int = -1
    shift: int = 0
    op: str = "add"


#: The operations a ``Move`` may apply, in the order the native plans number them.
MOVE_OPS = ("add", "sub", "and", "or", "xor", "lsl", "lsr", "asr")


@dataclass
class Insn:
    addr: int
    size: int
    klass: str
    text: str = ""
    reads: int = 0        #: bit mask of registers read (see the ISA module for the bit numbering)
    writes: int = 0       #: bit mask of registers written
    load_dests: int = 0   #: registers written from memory (the load-use hazard source)
    addr_regs: int = 0    #: registers that form a memory address
    nregs: int = 0        #: registers transferred by a multiple load/store
    ctrl: bool = False    #: may write the PC (ends a basic block)
    cond: bool = False    #: conditional control transfer
    call: bool = False    #: saves a return address (BL, BLX, JAL ra, JALR ra)
    target: int | None = None  #: static target of a direct branch
    mem_reads: int = 0    #: memory read accesses (words for multiples)
    mem_writes: int = 0
    read_bytes: int = 0
    write_bytes: int = 0
    mem_where: int = MEM_OTHER  #: MEM_STACK (SP-based), MEM_CODE (PC-relative literal) or MEM_OTHER
    sp_delta: int | None = 0    #: static change of SP; None when SP gets a run-time value
    shamt: int | None = None    #: shift amount of an immediate shift; None for a register shift
    sources: int = 0      #: register source fields (RISC-V: 2 for R/S/B types, compressed ones as expanded)
    operands: tuple[int, ...] = ()  #: register numbers whose values a data-dependent latency reads
    signed: bool = False  #: signed divide (latency models work on magnitudes)
    csr: int | None = None  #: the CSR number a CSR instruction accesses (profiles may price CSRs apart)
    in_it: bool = False   #: covered by a Thumb-2 IT block
    access: Access | None = None  #: how its data accesses are addressed (loads, stores, table branches)
    move: Move | None = None      #: the known value it gives a register, if any
    opaque_access: bool = False   #: accesses memory in a way ``access`` cannot say (atomics, exclusive stores)

    @property
    def fallthrough(self) -> int:
        return self.addr + self.size
