"""Thumb and Thumb-2 encodings (ARMv6-M .. ARMv8-M mainline)."""

WFI16 = 0xBF30
WFI32 = (0xF3AF, 0x8003)
BKPT_MASK, BKPT = 0xFF00, 0xBE00
SEMIHOSTING_BKPT = 0xAB


def is_32bit(first_halfword: int) -> bool:
    """Thumb-2 32-bit encodings start with 0b11101, 0b11110 or 0b11111."""
    return (first_halfword >> 11) in (0x1D, 0x1E, 0x1F)


def length(first_halfword: int) -> int:
    return 4 if is_32bit(first_halfword) else 2


def bkpt_imm(halfword: int) -> int | None:
    """The immediate of a BKPT instruction, or None if ``halfword`` is not BKPT."""
    return halfword & 0xFF if halfword & BKPT_MASK == BKPT else None


def wfi_before(halfwords: tuple[int, int]) -> int:
    """Length of a WFI ending just before the two halfwords given as (pc-4, pc-2); 0 if none."""
    if halfwords[1] == WFI16:
        return 2
    if halfwords == WFI32:
        return 4
    return 0


def it_sites(code: bytes, base: int) -> list[tuple[int, int, int]]:
    """(address, instructions covered, bytes from the IT to its block's end) of each IT in ``code``.

    Unicorn runs the code hook of an IT-predicated instruction only when its condition
    passes, yet a failed one still issues; the counting hook uses these to add them back.
    Every halfword is tried (as for RISC-V counter CSRs): a false match is never an
    instruction start, so it is never consulted.
    """
    out = []
    for off in range(0, len(code) - 1, 2):
        hw = int.from_bytes(code[off:off + 2], "little")
        mask = hw & 0xF
        if hw & 0xFF00 != 0xBF00 or mask == 0:
            continue
        covered = 5 - (mask & -mask).bit_length()
        end = off + 2
        for _ in range(covered):
            if end + 2 > len(code):
                break
            end += length(int.from_bytes(code[end:end + 2], "little"))
        out.append((base + off, covered, end - off))
    return out
