"""RV32IMC encodings: lengths, CSR accesses, WFI, the semihosting trap sequence and a
full decoder (``decode``) that classifies each instruction for the timing models."""

from .insn import MEM_OTHER, MEM_STACK, Access, Insn, Move

WFI = 0x10500073
ECALL = 0x00000073
EBREAK = 0x00100073
C_EBREAK = 0x9002
SEMIHOSTING_ENTRY = 0x01F01013  # slli x0, x0, 0x1f
SEMIHOSTING_EXIT = 0x40705013   # srai x0, x0, 7
OPCODE_SYSTEM = 0x73

# CSRs whose value the simulator supplies: Unicorn's counters read host time,
# and its mip does not see the simulator's interrupt lines.
SIMULATED_CSRS = {
    0x344: "mip", 0x320: "mcountinhibit",
    0xB00: "mcycle", 0xB80: "mcycleh", 0xB02: "minstret", 0xB82: "minstreth",
    0xC00: "cycle", 0xC80: "cycleh", 0xC01: "time", 0xC81: "timeh", 0xC02: "instret", 0xC82: "instreth",
}
#: The simulated CSRs a core may or may not implement (cores.toml ``counter_csrs``).
COUNTER_CSRS = tuple(n for n in SIMULATED_CSRS.values() if n != "mip")
# CSR numbers by name, as a timing profile's [csr] table names them (the privileged spec's
# machine, unprivileged-counter and debug CSRs).
CSR_NUMBERS = {
    "mstatus": 0x300, "misa": 0x301, "mie": 0x304, "mtvec": 0x305, "mcounteren": 0x306, "mcountinhibit": 0x320,
    "mscratch": 0x340, "mepc": 0x341, "mcause": 0x342, "mtval": 0x343, "mip": 0x344,
    "mcycle": 0xB00, "minstret": 0xB02, "mcycleh": 0xB80, "minstreth": 0xB82,
    "cycle": 0xC00, "time": 0xC01, "instret": 0xC02, "cycleh": 0xC80, "timeh": 0xC81, "instreth": 0xC82,
    "mvendorid": 0xF11, "marchid": 0xF12, "mimpid": 0xF13, "mhartid": 0xF14,
    "dcsr": 0x7B0, "dpc": 0x7B1, "dscratch0": 0x7B2, "dscratch1": 0x7B3,
    **{f"mhpmevent{n}": 0x320 + n for n in range(3, 32)},
    **{f"mhpmcounter{n}": 0xB00 + n for n in range(3, 32)},
    **{f"mhpmcounter{n}h": 0xB80 + n for n in range(3, 32)},
    **{f"hpmcounter{n}": 0xC00 + n for n in range(3, 32)},
    **{f"hpmcounter{n}h": 0xC80 + n for n in range(3, 32)},
}
# funct3 of SYSTEM CSR instructions: 1 csrrw, 2 csrrs, 3 csrrc, 5/6/7 immediate forms.
CSR_FUNCT3 = (1, 2, 3, 5, 6, 7)


def length(low_halfword: int) -> int:
    """Instructions whose two low bits are 0b11 are 32-bit; the others are compressed (16-bit)."""
    return 4 if low_halfword & 3 == 3 else 2


def decode_csr(word: int) -> tuple[int, int, int, int] | None:
    """(csr, rd, funct3, rs1-or-uimm) of a CSR instruction, or None."""
    if word & 0x7F != OPCODE_SYSTEM:
        return None
    funct3 = (word >> 12) & 7
    if funct3 not in CSR_FUNCT3:
        return None
    return word >> 20, (word >> 7) & 0x1F, funct3, (word >> 15) & 0x1F


def csr_update(funct3: int, old: int, operand: int) -> int | None:
    """New CSR value after csrrw/s/c (or imm forms); None when the instruction does not write."""
    op = funct3 & 3
    if op == 1:
        return operand
    if operand == 0:
        return None  # csrrs/csrrc with x0 or uimm 0 only read
    return old | operand if op == 2 else old & ~operand


def simulated_csr_sites(code: bytes, base: int) -> list[int]:
    """Addresses of every CSR instruction in ``code`` that touches a simulated CSR.

    Every 2-byte offset is tried: a match that is not a real instruction start
    only costs a hook that never fires, while a linear sweep could lose sync on
    data in text and miss one (and a missed one would read host time).
    """
    out = []
    for off in range(0, len(code) - 3, 2):
        word = int.from_bytes(code[off:off + 4], "little")
        d = decode_csr(word)
        if d is not None and d[0] in SIMULATED_CSRS:
            out.append(base + off)
    return out


# -- full decoder for timing ---------------------------------------------------------
# Register masks use bit n for xn; x0 never appears (writing it does nothing).

def _sx(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) & 1 else value


def _bit(reg: int) -> int:
    return (1 << reg) & ~1


_LOAD_BYTES = {0: 1, 1: 2, 2: 4, 4: 1, 5: 2}
#: AMO (atomics: a read and a write, or none for a failing SC), FP loads and stores: accesses that
#: ``Insn.access`` does not describe.
_OPAQUE_MEMORY = (0x2F, 0x07, 0x27)
_STORE_BYTES = {0: 1, 1: 2, 2: 4}
SP, RA, T0 = 2, 1, 5


def _mem(insn: Insn, base: int) -> None:
    insn.addr_regs = _bit(base)
    insn.mem_where = MEM_STACK if base == SP else MEM_OTHER


def _load(insn: Insn, rd: int, base: int, nbytes: int, disp: int, signed: bool = True) -> None:
    insn.klass, insn.reads, insn.writes, insn.load_dests = "load", _bit(base), _bit(rd), _bit(rd)
    insn.mem_reads, insn.read_bytes = 1, nbytes
    insn.access = Access(base, disp, size=nbytes, dest=rd if rd else -1, signed=signed)
    _mem(insn, base)


def _store(insn: Insn, src: int, base: int, nbytes: int, disp: int) -> None:
    insn.klass, insn.reads, insn.sources = "store", _bit(base) | _bit(src), 2
    insn.mem_writes, insn.write_bytes = 1, nbytes
    insn.access = Access(base, disp, size=nbytes, write=True, dest=src)
    _mem(insn, base)


def _alu(insn: Insn, rd: int, *srcs: int, klass: str = "alu") -> None:
    insn.klass, insn.writes, insn.sources = klass, _bit(rd), len(srcs)
    for s in srcs:
        insn.reads |= _bit(s)
    if rd == SP:
        insn.sp_delta = None


def _move(insn: Insn, rd: int, src: int, imm: int, src2: int = 0, op: str = "add") -> None:
    """``rd = src OP (src2 + imm)`` (x0 as a source: none), for the access plans; nothing for rd x0."""
    if rd:
        if not src and op == "add":
            src, src2 = src2, 0
        insn.move = Move(rd, src if src else -1, imm, src2=src2 if src2 else -1, op=op)


#: OP-IMM and OP funct3 -> the operation (OP with funct7 0x20: sub for 0, asr for 5).
_RV_OPS = {0: "add", 1: "lsl", 4: "xor", 5: "lsr", 6: "or", 7: "and"}


def _jump(insn: Insn, rd: int, target: int | None, rs1: int | None = None) -> None:
    insn.ctrl = True
    insn.call = rd in (RA, T0)
    insn.writes = _bit(rd)
    insn.target = target
    if rs1 is None:
        insn.klass = "call" if insn.call else "jump"
    else:
        insn.klass = "call_reg" if insn.call else "jump_reg"
        insn.reads = _bit(rs1)


def decode(word: int, addr: int) -> Insn:
    """Decode the instruction at ``addr`` (``word`` holds at least its bytes, little-endian)."""
    if word & 3 != 3:
        return _decode16(word & 0xFFFF, addr)
    insn = Insn(addr, 4, "alu", f"{word:08x}")
    op, rd, f3 = word & 0x7F, (word >> 7) & 31, (word >> 12) & 7
    rs1, rs2, f7 = (word >> 15) & 31, (word >> 20) & 31, word >> 25
    imm_i = _sx(word >> 20, 12)
    if op in (0x37, 0x17):                      # LUI, AUIPC
        _alu(insn, rd)
        _move(insn, rd, 0, ((addr if op == 0x17 else 0) + (word & 0xFFFFF000)) & 0xFFFFFFFF)
    elif op == 0x6F:                            # JAL
        imm = _sx(((word >> 31) << 20) | (((word >> 12) & 0xFF) << 12) | (((word >> 20) & 1) << 11)
                  | (((word >> 21) & 0x3FF) << 1), 21)
        _jump(insn, rd, (addr + imm) & 0xFFFFFFFF)
    elif op == 0x67:                            # JALR
        _jump(insn, rd, None, rs1)
    elif op == 0x63:                            # branches
        imm = _sx(((word >> 31) << 12) | (((word >> 7) & 1) << 11) | (((word >> 25) & 0x3F) << 5)
                  | (((word >> 8) & 0xF) << 1), 13)
        insn.klass, insn.ctrl, insn.cond, insn.sources = "branch", True, True, 2
        insn.reads, insn.target = _bit(rs1) | _bit(rs2), (addr + imm) & 0xFFFFFFFF
    elif op == 0x03:
        _load(insn, rd, rs1, _LOAD_BYTES.get(f3, 4), imm_i, f3 < 4)
    elif op == 0x23:
        _store(insn, rs2, rs1, _STORE_BYTES.get(f3, 4), _sx((f7 << 5) | rd, 12))
    elif op in _OPAQUE_MEMORY:
        insn.opaque_access = True
    elif op == 0x13:                            # OP-IMM
        if f3 in (1, 5):
            _alu(insn, rd, rs1, klass="shift")
            insn.shamt = rs2
            _move(insn, rd, rs1, rs2, op="asr" if f7 == 0x20 else _RV_OPS[f3])
        else:
            _alu(insn, rd, rs1)
            if f3 in _RV_OPS:
                _move(insn, rd, rs1, imm_i & 0xFFFFFFFF if f3 else imm_i, op=_RV_OPS[f3])
            if rd == SP and rs1 == SP and f3 == 0:
                insn.sp_delta = imm_i
    elif op == 0x33:                            # OP, M extension
        if f7 == 1:
            klass = "mul" if f3 == 0 else "mul_long" if f3 < 4 else "div"
            _alu(insn, rd, rs1, rs2, klass=klass)
            insn.operands, insn.signed = (rs1, rs2), f3 in (4, 6)
        else:
            _alu(insn, rd, rs1, rs2, klass="shift" if f3 in (1, 5) else "alu")
            if f3 in (1, 5):
                insn.operands = (rs1, rs2)
            elif f7 in (0, 0x20) and f3 in _RV_OPS:  # ADD (rs x0: a move), SUB, logic, shifts
                if f3 in (0, 4, 6, 7) and (f7 == 0 or f3 == 0):
                    _move(insn, rd, rs1, 0, rs2, op="sub" if f7 else _RV_OPS[f3])
    elif op == 0x73:                            # SYSTEM
        insn.klass = "system"
        if word == 0x30200073:                  # MRET
            insn.klass, insn.ctrl = "jump_reg", True
        elif word == WFI:
            insn.klass = "hint"
        elif f3:                                # CSR access
            insn.csr = word >> 20
            insn.writes = _bit(rd)
            insn.reads = 0 if f3 >= 5 else _bit(rs1)
    elif op in (0x0B, 0x2B):                    # custom-0, custom-1
        _alu(insn, rd, rs1, rs2, klass="custom")
    elif op == 0x0F:
        insn.klass = "system"                   # FENCE, FENCE.I
    return insn


def _decode16(h: int, addr: int) -> Insn:
    insn = Insn(addr, 2, "alu", f"{h:04x}")
    q, f3 = h & 3, h >> 13
    rd, rs2 = (h >> 7) & 31, (h >> 2) & 31
    rdp, rs2p = 8 + ((h >> 2) & 7), 8 + ((h >> 7) & 7)   # rd'/rs2' (bits 4:2), rs1' (bits 9:7)
    imm6 = _sx(((h >> 12) & 1) << 5 | (h >> 2) & 31, 6)
    cj = _sx(((h >> 12) & 1) << 11 | ((h >> 11) & 1) << 4 | ((h >> 9) & 3) << 8 | ((h >> 8) & 1) << 10
             | ((h >> 7) & 1) << 6 | ((h >> 6) & 1) << 7 | ((h >> 3) & 7) << 1 | ((h >> 2) & 1) << 5, 12)
    if q == 0:
        uimm = ((h >> 10) & 7) << 3 | ((h >> 6) & 1) << 2 | ((h >> 5) & 1) << 6
        if f3 == 0:                             # C.ADDI4SPN
            _alu(insn, rdp, SP)
            _move(insn, rdp, SP, ((h >> 7) & 0xF) << 6 | ((h >> 11) & 3) << 4 | ((h >> 5) & 1) << 3
                  | ((h >> 6) & 1) << 2)
        elif f3 == 2:                           # C.LW
            _load(insn, rdp, rs2p, 4, uimm)
        elif f3 == 6:                           # C.SW
            _store(insn, rdp, rs2p, 4, uimm)
        elif f3 in (1, 3, 5, 7):                # C.FLD, C.FLW, C.FSD, C.FSW
            insn.opaque_access = True
    elif q == 1:
        if f3 == 0:                             # C.ADDI / C.NOP
            _alu(insn, rd, rd)
            _move(insn, rd, rd, imm6)
            if rd == SP:
                insn.sp_delta = imm6
        elif f3 == 1:                           # C.JAL (RV32)
            _jump(insn, RA, (addr + cj) & 0xFFFFFFFF)
        elif f3 == 2:                           # C.LI
            _alu(insn, rd)
            _move(insn, rd, 0, imm6)
        elif f3 == 3:
            if rd == SP:                        # C.ADDI16SP
                _alu(insn, SP, SP)
                insn.sp_delta = _sx(((h >> 12) & 1) << 9 | ((h >> 6) & 1) << 4 | ((h >> 5) & 1) << 6
                                    | ((h >> 3) & 3) << 7 | ((h >> 2) & 1) << 5, 10)
                _move(insn, SP, SP, insn.sp_delta)
            else:                               # C.LUI
                _alu(insn, rd)
                _move(insn, rd, 0, (imm6 << 12) & 0xFFFFFFFF)
        elif f3 == 4:
            f2 = (h >> 10) & 3
            if f2 in (0, 1):                    # C.SRLI, C.SRAI
                _alu(insn, rs2p, rs2p, klass="shift")
                insn.shamt = ((h >> 12) & 1) << 5 | (h >> 2) & 31
                _move(insn, rs2p, rs2p, insn.shamt, op="asr" if f2 else "lsr")
            elif f2 == 2:                       # C.ANDI
                _alu(insn, rs2p, rs2p)
                _move(insn, rs2p, rs2p, imm6 & 0xFFFFFFFF, op="and")
            else:                               # C.SUB/XOR/OR/AND
                _alu(insn, rs2p, rs2p, rdp)
                if not (h >> 12) & 1:
                    _move(insn, rs2p, rs2p, 0, rdp, op=("sub", "xor", "or", "and")[(h >> 5) & 3])
        elif f3 == 5:                           # C.J
            _jump(insn, 0, (addr + cj) & 0xFFFFFFFF)
        else:                                   # C.BEQZ, C.BNEZ
            imm = _sx(((h >> 12) & 1) << 8 | ((h >> 10) & 3) << 3 | ((h >> 5) & 3) << 6
                      | ((h >> 3) & 3) << 1 | ((h >> 2) & 1) << 5, 9)
            insn.klass, insn.ctrl, insn.cond, insn.sources = "branch", True, True, 2  # BEQ/BNE rs1', x0
            insn.reads, insn.target = _bit(rs2p), (addr + imm) & 0xFFFFFFFF
    elif q == 2:
        if f3 == 0:                             # C.SLLI
            _alu(insn, rd, rd, klass="shift")
            insn.shamt = ((h >> 12) & 1) << 5 | rs2
            _move(insn, rd, rd, insn.shamt, op="lsl")
        elif f3 == 2:                           # C.LWSP
            _load(insn, rd, SP, 4, ((h >> 12) & 1) << 5 | ((h >> 4) & 7) << 2 | ((h >> 2) & 3) << 6)
        elif f3 in (1, 3, 5, 7):                # C.FLDSP, C.FLWSP, C.FSDSP, C.FSWSP
            insn.opaque_access = True
        elif f3 == 4:
            if not (h >> 12) & 1:
                if rs2 == 0:                    # C.JR
                    _jump(insn, 0, None, rd)
                else:                           # C.MV: ADD rd, x0, rs2
                    _alu(insn, rd, rs2)
                    insn.sources = 2
                    _move(insn, rd, rs2, 0)
            elif rs2 == 0:
                if rd == 0:                     # C.EBREAK
                    insn.klass = "system"
                else:                           # C.JALR
                    _jump(insn, RA, None, rd)
            else:                               # C.ADD
                _alu(insn, rd, rd, rs2)
                _move(insn, rd, rd, 0, rs2)
        elif f3 == 6:                           # C.SWSP
            _store(insn, rs2, SP, 4, ((h >> 9) & 0xF) << 2 | ((h >> 7) & 3) << 6)
    return insn


def decode_all(code: bytes, base: int, progress=None) -> list[Insn]:
    """Linear sweep of ``code`` (RISC-V compilers keep data out of .text). ``progress()`` is called
    every 4096 instructions (it may raise to give up: a wall-clock limit)."""
    out, off = [], 0
    while off + 2 <= len(code):
        if progress is not None and len(out) % 4096 == 4095:
            progress()
        word = int.from_bytes(code[off:off + 4].ljust(4, b"\0"), "little")
        insn = decode(word, base + off)
        if off + insn.size > len(code):
            break
        out.append(insn)
        off += insn.size
    return out
