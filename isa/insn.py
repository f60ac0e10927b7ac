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

    @property
    def fallthrough(self) -> int:
        return self.addr + self.size
