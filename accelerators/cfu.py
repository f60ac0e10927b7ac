"""``cfu``: a custom-instruction unit for int8 inference, and the base for units of your own.

RISC-V: R-type instructions in custom-0 (or custom-1); funct3 selects the operation, funct7 is
passed to it, rd gets its result. Cortex-M (ARMv7-M and later): coprocessor instructions on
coprocessor ``coproc``: MCRR runs an operation on two registers, MCR on one (opc1 selects it,
CRm is passed to it), MRC reads the result of the last one. Each
operation is a Numba function ``op(state, sel, a, b) -> result`` on the unit's int64 state
array; the machine calls it natively from an address-scoped hook on every such instruction, so
kernels with millions of custom instructions keep near full speed. Its latency beyond the
instruction's own cycle is charged as an accelerator stall.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import carray, types

from simmcu import _native as nat
from simmcu._errors import ConfigError
from simmcu._params import Param
from simmcu.firmware._examples import cfu_capable
from simmcu.firmware._layer import FirmwareSupport

from ._base import Accelerator, Invocation

# Unit state slots; operations use slots from STATE0 on.
MACHINE, N_SITES, OFF_SITES, PC_REG, COUNT, STALLS, RESULT = range(7)
STATE0 = 8
N_OPS = 8
OFF_LATENCY = 32          # N_OPS latencies, then N_OPS per-operation counts
OFF_COUNTS = OFF_LATENCY + N_OPS
HEADER = OFF_COUNTS + N_OPS
S_ADDR, S_OP, S_SEL, S_RD, S_RA, S_RB, S_NEXT = range(7)
N_SFIELDS = 7
OP_RESULT = N_OPS - 1     #: Cortex-M MRC: read the result of the last MCR/MCRR

# Built-in operations (RISC-V funct3 / Arm opc1) and their state.
ACC, IN_OFFSET, MULT, SHIFT, OUT_ZP, ACT_MIN, ACT_MAX, SINGLE_ROUNDING = range(STATE0, STATE0 + 8)
OP_MAC4, OP_READ, OP_RESET, OP_SET_OFFSET, OP_REQUANT, OP_SET = range(6)


@numba.njit(cache=True)
def _s8(v, lane):
    b = (v >> (8 * lane)) & 0xFF
    return b - 256 if b >= 128 else b


@numba.njit(cache=True)
def _wrap32(v):
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


@numba.njit(cache=True)
def requantize(x, mult, shift, single_rounding):
    """TFLite MultiplyByQuantizedMultiplier on one int32 value as firmware/reference.py computes it:
    one rounding (fully connected) or gemmlowp's two (convolutions)."""
    if single_rounding:
        total = 31 - shift
        return (x * mult + (np.int64(1) << (total - 1))) >> total
    if shift > 0:
        x = _wrap32(x << shift)
    ab = x * mult
    ab += (1 << 30) if ab >= 0 else 1 - (1 << 30)
    high = ab >> 31 if ab >= 0 else -((-ab) >> 31)
    right = -shift if shift < 0 else 0
    mask = (np.int64(1) << right) - 1
    threshold = (mask >> 1) + (1 if high < 0 else 0)
    return (high >> right) + (1 if (high & mask) > threshold else 0)


@numba.njit(cache=True)
def builtin_op(st, op, sel, a, b):
    if op == OP_MAC4:
        off = st[IN_OFFSET]
        for lane in range(4):
            st[ACC] += (_s8(a, lane) + off) * _s8(b, lane)
        st[ACC] = _wrap32(st[ACC])
        return st[ACC]
    if op == OP_READ:
        return st[ACC]
    if op == OP_RESET:
        st[ACC] = _wrap32(a)
        return 0
    if op == OP_SET_OFFSET:
        st[IN_OFFSET] = _wrap32(a)
        return 0
    if op == OP_REQUANT:
        v = requantize(_wrap32(a), st[MULT], st[SHIFT], st[SINGLE_ROUNDING]) + st[OUT_ZP]
        return max(st[ACT_MIN], min(st[ACT_MAX], v))
    if op == OP_SET and 0 <= sel <= 5:
        st[MULT + sel] = _wrap32(a)
        return 0
    return 0


#: Signature of a unit's instruction hook: ``numba.cfunc(HOOK_SIGNATURE)(make_hook(op))``.
HOOK_SIGNATURE = types.void(types.voidptr, types.uint64, types.uint32, types.CPointer(types.int64))


@numba.njit(cache=True)
def _site(st_ptr, address):
    """The unit's state and the site row of its instruction at ``address`` (-1: none, or it does not
    run now because the block hook stopped before it), with the instruction's two operands."""
    hdr = carray(st_ptr, HEADER)
    st = carray(st_ptr, hdr[OFF_SITES] + N_SFIELDS * hdr[N_SITES])
    lo, hi = 0, st[N_SITES] - 1
    site = -1
    while lo <= hi:
        mid = (lo + hi) // 2
        at = st[OFF_SITES] + N_SFIELDS * mid
        if st[at + S_ADDR] == address:
            site = at
            break
        if st[at + S_ADDR] < address:
            lo = mid + 1
        else:
            hi = mid - 1
    return st, site


@numba.njit(cache=True)
def _operands(uc, st, site):
    machine = st[MACHINE]
    a = nat.read_register(uc, machine, st[site + S_RA]) if st[site + S_RA] >= 0 else np.int64(0)
    b = nat.read_register(uc, machine, st[site + S_RB]) if st[site + S_RB] >= 0 else np.int64(0)
    return a, b


@numba.njit(cache=True)
def _complete(uc, st, site, op, result):
    """Write the result, skip the instruction Unicorn would trap on, count it and charge its latency."""
    machine = st[MACHINE]
    if op != OP_RESULT:
        st[RESULT] = result
    if st[site + S_RD] >= 0:
        nat.write_register(uc, machine, st[site + S_RD], result & 0xFFFFFFFF)
    nat.write_register(uc, machine, st[PC_REG], st[site + S_NEXT])
    latency = st[OFF_LATENCY + op]
    st[COUNT] += 1
    st[OFF_COUNTS + op] += 1
    if latency:
        st[STALLS] += latency
        nat.charge_accelerator(nat.machine_state(machine), latency)


@numba.njit(cache=True)
def _runs_now(st, site):
    return site >= 0 and not nat.stopped_before(nat.machine_state(st[MACHINE]))


def make_hook(op):
    """The native instruction hook of a unit whose operations ``op(state, op, sel, a, b)`` runs. A closure
    over ``op``: Numba compiles it in every process (about a second); the bundled unit's
    ``builtin_hook`` is written out so that its compiled code is cached on disk."""
    def hook(uc, address, size, st_ptr):
        st, site = _site(st_ptr, np.int64(address))
        if not _runs_now(st, site):
            return
        k = st[site + S_OP]
        a, b = _operands(uc, st, site)
        _complete(uc, st, site, k, st[RESULT] if k == OP_RESULT else op(st, k, st[site + S_SEL], a, b))
    return hook


@numba.cfunc(HOOK_SIGNATURE, nopython=True, cache=True)
def builtin_hook(uc, address, size, st_ptr):
    """``make_hook(builtin_op)``, written out (see make_hook)."""
    st, site = _site(st_ptr, np.int64(address))
    if not _runs_now(st, site):
        return
    k = st[site + S_OP]
    a, b = _operands(uc, st, site)
    _complete(uc, st, site, k, st[RESULT] if k == OP_RESULT else builtin_op(st, k, st[site + S_SEL], a, b))


class CustomInstructionUnit(Accelerator):
    """Base of custom-instruction units: subclasses set OPS (names, in operation-id order) and
    HOOK (``numba.cfunc(SIG)(make_hook(their_op))``), and may add state and latency params."""

    MMIO_SIZE = 0
    OPS: tuple[str, ...] = ()
    HOOK = None
    PARAMS = {
        "opcode": Param("custom-0", "", "RISC-V: the major opcode the unit decodes", ("custom-0", "custom-1")),
        "coproc": Param(0, "", "Cortex-M: the coprocessor number the unit answers (0-7)", int, lambda v: 0 <= v <= 7),
    }

    def latencies(self) -> list[int]:
        """Cycles each operation adds beyond its instruction's own (index: operation id)."""
        return [0] * N_OPS

    def check_core(self, core) -> None:
        """Custom instructions need a RISC-V core or coprocessor instructions (not ARMv6-M)."""
        if not cfu_capable(core):
            raise ConfigError(f"accelerator {self.NAME}: custom instructions need coprocessor instructions, "
                              f"which {core.name} (ARMv6-M) lacks")

    def reset(self) -> None:
        super().reset()
        self.state = None

    def sites(self, insns, word_at, arch: str) -> list[tuple[int, int, int, int | None, int | None, int | None, int]]:
        """(address, op, sel, rd, ra, rb, next pc) of every decoded instruction this unit executes;
        registers as architectural numbers (None: not used). ``word_at(addr)`` reads 32 bits."""
        out = []
        for insn in insns:
            if insn.klass != "custom":
                continue
            word = word_at(insn.addr)
            if arch == "arm":  # halfword order: first halfword in the high bits, as the ARM ARM writes it
                word = (word & 0xFFFF) << 16 | word >> 16
            site = _decode_riscv(word, self.params["opcode"]) if arch == "riscv" else \
                _decode_arm(word, self.params["coproc"])
            if site is not None:
                op, sel, rd, ra, rb = site
                if op >= len(self.OPS) and op != OP_RESULT:
                    raise ConfigError(f"accelerator {self.NAME}: instruction at {insn.addr:#010x} selects "
                                      f"operation {op}; the unit has {len(self.OPS)} ({', '.join(self.OPS)})")
                out.append((insn.addr, op, sel, rd, ra, rb, insn.fallthrough | (1 if arch == "arm" else 0)))
        return out

    def build_state(self, sites, reg_id, machine_state: np.ndarray, pc_reg: int) -> np.ndarray:
        st = np.zeros(HEADER + N_SFIELDS * len(sites), np.int64)
        st[MACHINE] = machine_state.ctypes.data
        st[N_SITES], st[OFF_SITES], st[PC_REG] = len(sites), HEADER, pc_reg
        st[OFF_LATENCY:OFF_LATENCY + N_OPS] = self.latencies()
        for k, (addr, op, sel, rd, ra, rb, nxt) in enumerate(sorted(sites)):
            row = HEADER + N_SFIELDS * k
            st[row:row + N_SFIELDS] = (addr, op, sel, -1 if rd is None else reg_id[rd], -1 if ra is None else reg_id[ra],
                                       -1 if rb is None else reg_id[rb], nxt)
        self.init_state(st)
        self.state = st
        return st

    def init_state(self, st: np.ndarray) -> None:
        """Power-on values of the operations' state slots (from STATE0)."""

    def latency_at(self, op: int) -> int:
        return self.latencies()[op]

    def macs(self, counts: dict[str, int]) -> int:
        """Multiply-accumulates done by instructions run ``counts`` times (by operation name)."""
        return 0

    def report(self, total_cycles: int, sleeps) -> dict:
        """One entry for the whole run: the instructions by operation, their stall cycles as busy time."""
        st = self.state
        if st is not None and st[COUNT]:
            counts = {name: int(st[OFF_COUNTS + k]) for k, name in enumerate(self.OPS)}
            self.invocations = [Invocation(0, int(st[STALLS]), macs=self.macs(counts), info=dict(instructions=counts))]
        out = super().report(total_cycles, sleeps)
        out["busy_cycles"] = out["cpu_wait_cycles"] = int(st[STALLS]) if st is not None else 0
        out["instructions"] = out["invocations"] = int(st[COUNT]) if st is not None else 0
        return out


def _decode_riscv(word: int, opcode: str):
    if word & 0x7F != (0x0B if opcode == "custom-0" else 0x2B):
        return None
    rd, funct3, rs1, rs2, funct7 = (word >> 7) & 31, (word >> 12) & 7, (word >> 15) & 31, (word >> 20) & 31, word >> 25
    return funct3, funct7, rd or None, rs1, rs2


def _decode_arm(word: int, coproc: int):
    hw1, hw2 = word >> 16, word & 0xFFFF
    if (hw2 >> 8) & 0xF != coproc:
        return None
    if hw1 & 0xFFE0 == 0xEC40:                            # MCRR / MRRC p, opc1, Rt, Rt2, CRm
        if hw1 & 0x10:
            return None                                   # MRRC: not used by the unit
        return (hw2 >> 4) & 0xF, hw2 & 0xF, None, hw2 >> 12, hw1 & 0xF
    if hw1 & 0xFF00 == 0xEE00 and hw2 & 0x10:             # MCR / MRC p, opc1, Rt, CRn, CRm, opc2
        opc1, rt = (hw1 >> 5) & 7, hw2 >> 12
        if hw1 & 0x10:
            return OP_RESULT, 0, rt, None, None           # MRC: the last result to Rt
        return opc1, hw2 & 0xF, None, rt, None            # MCR: one operand
    return None


class CfuAccelerator(CustomInstructionUnit):
    NAME = "cfu"
    DESCRIPTION = "custom-instruction unit for int8 inference: 4-lane int8 MAC, accumulator, requantise-and-clamp"
    OPS = ("mac4", "read", "reset", "set_offset", "requant", "set")
    HOOK = builtin_hook
    PARAMS = {
        **CustomInstructionUnit.PARAMS,
        "mac_latency": Param(0, "cycles", "added to a mac4 beyond the instruction's own cycle", int, lambda v: v >= 0),
        "requant_latency": Param(2, "cycles", "added to a requant", int, lambda v: v >= 0),
        "other_latency": Param(0, "cycles", "added to read, reset, set_offset and set", int, lambda v: v >= 0),
    }
    COMPILE_PARAMS = ()  # the kernels' instructions are fixed (simmcu_cfu.h: custom-0, coprocessor 0)

    def firmware(self, core: str) -> FirmwareSupport:
        """The CPU kernels use its instructions (NN_CFU: mac4 over word-padded weight rows, fused requantise)."""
        return FirmwareSupport(defines={"NN_CFU": "1"})

    def latencies(self) -> list[int]:
        p = self.params
        lat = [p["other_latency"]] * N_OPS
        lat[OP_MAC4], lat[OP_REQUANT] = p["mac_latency"], p["requant_latency"]
        return lat

    def init_state(self, st: np.ndarray) -> None:
        st[MULT], st[ACT_MIN], st[ACT_MAX] = 1 << 30, -128, 127

    def macs(self, counts: dict[str, int]) -> int:
        return 4 * counts["mac4"]
