"""Static instruction-set knowledge: decoding done once per ELF, never per executed instruction.

``thumb`` covers Thumb/Thumb-2 (Cortex-M), ``rv32`` covers RV32IMC. The
simulator asks these modules what an instruction is (its length, whether it is
WFI, a semihosting trap or a counter read); timing models build on the same
decoders.
"""

from . import rv32, thumb

__all__ = ["rv32", "thumb"]
