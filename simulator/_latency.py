"""Data-dependent latency models: the instructions whose cycles depend on their operand values.

A timing profile names a model per instruction class under ``[latency]``. Each model is one
registry entry with two implementations of the same rule, as cocotb pairs a fast model with a
reference: ``native`` is written in the subset of Python that Numba compiles (``_native``
compiles it into the function the latency hook calls), ``reference`` is plain Python for the
per-instruction reference model. tests/test_timing.py checks that the two agree on generated
operands. Both see 32-bit operand magnitudes (signed divides are made positive first) and
return the instruction's whole cycle count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class LatencyModel:
    name: str             #: as profiles name it under [latency]
    formula: str          #: the rule, in words (docs/timing.md lists them)
    native: Callable[[int, int], int]     #: the rule in Numba's subset, compiled by _native
    reference: Callable[[int, int], int]  #: the same rule in plain Python


def _arm_early_termination_native(a, b):
    if b == 0:
        return 2
    q = a // b if a >= b else 0
    bits = 0
    while q:
        bits += 1
        q >>= 1
    return min(12, 2 + (bits + 3) // 4)


def _arm_early_termination(a: int, b: int) -> int:
    if b == 0:
        return 2
    q = a // b if a >= b else 0
    return min(12, 2 + (q.bit_length() + 3) // 4)


def _cv32e40p_serial_native(a, b):
    if b == 0:
        return 35
    zeros = 32
    while b:
        zeros -= 1
        b >>= 1
    return 3 + zeros


def _cv32e40p_serial(a: int, b: int) -> int:
    """cv32e40p_alu_div.sv: one cycle loading, DIVIDE for the count cv32e40p_alu.sv loads
    (div_shift: leading zeros of the divisor; 31 + 1 for zero) plus one, then FINISH. On a
    magnitude that is exact for unsigned and non-negative divisors; a negative divisor counts the
    leading zeros of ~b, one fewer cycle unless |b| is a power of two (not modeled: the latency
    hook passes magnitudes)."""
    return 35 if b == 0 else 3 + (32 - b.bit_length())


def _ibex_long_native(a, b):
    return 2 if b == 0 else 37


def _ibex_long(a: int, b: int) -> int:
    """ibex_multdiv_fast.sv: IDLE, ABS_A, ABS_B, 31 cycles of COMP, LAST, CHANGE_SIGN, FINISH;
    a zero divisor goes from IDLE straight to FINISH."""
    return 2 if b == 0 else 37


def _picorv32_serial_shift_native(a, b):
    amount = b & 31
    return 4 + amount // 4 + amount % 4


def shift_cycles(amount: int) -> int:
    """PicoRV32 without barrel shifter: 4 bits per cycle, then single bits (README: 4-14)."""
    return 4 + amount // 4 + amount % 4


def _picorv32_serial_shift(a: int, b: int) -> int:
    return shift_cycles(b & 31)


LATENCY_MODELS: dict[str, LatencyModel] = {m.name: m for m in (
    LatencyModel("arm-early-termination", "SDIV/UDIV: 2 + one cycle per 4 bits of quotient length, at most 12",
                 _arm_early_termination_native, _arm_early_termination),
    LatencyModel("cv32e40p-serial", "DIV/REM: 3 + leading zeros of the divisor's magnitude, 35 for a zero divisor",
                 _cv32e40p_serial_native, _cv32e40p_serial),
    LatencyModel("ibex-long", "DIV/REM: 37 cycles, 2 for a zero divisor", _ibex_long_native, _ibex_long),
    LatencyModel("picorv32-serial-shift", "register shifts: 4 + amount // 4 + amount % 4 cycles",
                 _picorv32_serial_shift_native, _picorv32_serial_shift),
)}


def latency(model: LatencyModel, a: int, b: int, signed: bool = False) -> int:
    """Cycles of a data-dependent instruction under ``model``; ``a``, ``b`` its 32-bit operands."""
    if signed:  # dividers work on magnitudes
        a = (1 << 32) - a if a >> 31 else a
        b = (1 << 32) - b if b >> 31 else b
    return model.reference(a, b)
