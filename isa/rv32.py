"""RV32IMC encodings: lengths, CSR accesses, WFI and the semihosting trap sequence."""

WFI = 0x10500073
EBREAK = 0x00100073
C_EBREAK = 0x9002
SEMIHOSTING_ENTRY = 0x01F01013  # slli x0, x0, 0x1f
SEMIHOSTING_EXIT = 0x40705013   # srai x0, x0, 7
OPCODE_SYSTEM = 0x73

# CSRs whose value the simulator supplies: Unicorn's counters read host time,
# and its mip does not see the simulator's interrupt lines.
SIMULATED_CSRS = {
    0x344: "mip",
    0xB00: "mcycle", 0xB80: "mcycleh", 0xB02: "minstret", 0xB82: "minstreth",
    0xC00: "cycle", 0xC80: "cycleh", 0xC01: "time", 0xC81: "timeh", 0xC02: "instret", 0xC82: "instreth",
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
