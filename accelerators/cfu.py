"""``cfu``: a custom-instruction unit for int8 inference, and the base for units of your own.

RISC-V: R-type instructions in custom-0 (or custom-1); funct3 selects the operation, funct7 is
passed to it, rd gets its result. Cortex-M (ARMv7-M and later): coprocessor instructions on
coprocessor ``coproc``: MCRR runs an operation on two registers, MCR on one (opc1 selects it,
CRm is passed to it), MRC reads the result of the last one. Each
operation is a Numba function ``op(state, sel, a, b) -> result`` on the unit's int64 state
array; Unicorn runs a branch to the next instruction in its place and the machine's block hook
calls the unit's native hook when the next block starts (docs/accelerators.md), so kernels with
millions of custom instructions run without Python. Its latency beyond the instruction's own
cycle is charged as an accelerator stall.
"""

from __future__ import annotations

import numpy as np

from simmcu._energy import HOROWITZ_45NM as H
from simmcu._errors import ConfigError
from simmcu._params import Param
from simmcu.firmware._examples import cfu_capable
from simmcu.firmware._layer import FirmwareSupport

from ._base import MAC_AREA, MAC_ENERGY, Accelerator, Invocation, Signal

# Unit state slots; operations use slots from STATE0 on.
MACHINE, N_SITES, OFF_SITES, PC_REG, COUNT, STALLS, RESULT = range(7)
STATE0 = 8
N_OPS = 8
OFF_LATENCY = 32          # N_OPS latencies, then N_OPS per-operation counts
OFF_COUNTS = OFF_LATENCY + N_OPS
HEADER = OFF_COUNTS + N_OPS
S_ADDR, S_OP, S_SEL, S_RD, S_RA, S_RB, S_NEXT = range(7)  # S_NEXT -1: no PC to write (a stand-in branch)
N_SFIELDS = 7
OP_RESULT = N_OPS - 1     #: Cortex-M MRC: read the result of the last MCR/MCRR

# Built-in operations (RISC-V funct3 / Arm opc1) and their state.
ACC, IN_OFFSET, MULT, SHIFT, OUT_ZP, ACT_MIN, ACT_MAX, SINGLE_ROUNDING = range(STATE0, STATE0 + 8)
LANES = STATE0 + 8        #: macl's four lane accumulators
OP_MAC4, OP_READ, OP_RESET, OP_SET_OFFSET, OP_REQUANT, OP_SET, OP_MACL = range(7)


class CustomInstructionUnit(Accelerator):
    """Base of custom-instruction units: subclasses set OPS (names, in operation-id order) and
    HOOK (``numba.cfunc(SIG)(make_hook(their_op))``), and may add state and latency params."""

    MMIO_SIZE = 0
    OPS: tuple[str, ...] = ()
    HOOK = None

    def native_hook(self):
        """The compiled hook the machine installs on each of the unit's instructions (``HOOK``)."""
        return self.HOOK
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

    def signals(self) -> list[Signal]:
        """The instructions run so far, their stall cycles and the last result (sampled per basic block)."""
        return [self.slot(name, slot, width) for name, slot, width in (("instructions", COUNT, 32),
                                                                        ("stall_cycles", STALLS, 32),
                                                                        ("result", RESULT, 32))]

    def slot(self, name: str, slot: int, width: int) -> Signal:
        """A signal showing one slot of the unit's state array (0 before the run builds it)."""
        return Signal(name, width, lambda now: 0 if self.state is None else int(self.state[slot]))

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
    DESCRIPTION = ("custom-instruction unit for int8 inference: 4-lane int8 MAC into one accumulator or lane-wise "
                   "into four, requantise-and-clamp")
    OPS = ("mac4", "read", "reset", "set_offset", "requant", "set", "macl")
    PARAMS = {
        **CustomInstructionUnit.PARAMS,
        "mac_latency": Param(0, "cycles", "added to a mac4 or macl beyond the instruction's own cycle", int,
                             lambda v: v >= 0),
        "requant_latency": Param(2, "cycles", "added to a requant", int, lambda v: v >= 0),
        "other_latency": Param(0, "cycles", "added to read, reset, set_offset and set", int, lambda v: v >= 0),
        # the energy and area model (docs/energy.md): Horowitz, ISSCC 2014, 45 nm
        "mac_energy": MAC_ENERGY,
        "requant_energy": Param(H["mult32_pj"] + H["add32_pj"], "pJ/op", "a requant: 32-bit multiply (3.1 pJ) and "
                                "add (0.1 pJ), Horowitz, 45 nm", "quantity"),
        "op_energy": Param(H["add32_pj"], "pJ/op", "read, reset, set_offset or set: one 32-bit register operation, "
                           "priced as a 32-bit add (Horowitz, 45 nm)", "quantity"),
        "lane_area": MAC_AREA,  # each of the 4 lanes (mac4 and macl share them; macl adds 3 accumulators)
        "requant_area": Param(H["mult32_um2"] + H["add32_um2"], "um2", "the requantiser: a 32-bit multiplier and "
                              "adder (Horowitz, 45 nm)", "quantity"),
    }
    COMPILE_PARAMS = ()  # the kernels' instructions are fixed (simmcu_cfu.h: custom-0, coprocessor 0)

    def native_hook(self):
        from ._cfu_native import builtin_hook  # Numba: loaded when a run attaches the unit, not to list it

        return builtin_hook

    def firmware(self, core: str) -> FirmwareSupport:
        """The CPU kernels use its instructions (NN_CFU: mac4 over word-padded weight rows, macl over
        depthwise channels, fused requantise)."""
        return FirmwareSupport(defines={"NN_CFU": "1"})

    def latencies(self) -> list[int]:
        p = self.params
        lat = [p["other_latency"]] * N_OPS
        lat[OP_MAC4], lat[OP_MACL], lat[OP_REQUANT] = p["mac_latency"], p["mac_latency"], p["requant_latency"]
        return lat

    def init_state(self, st: np.ndarray) -> None:
        st[MULT], st[ACT_MIN], st[ACT_MAX] = 1 << 30, -128, 127

    def signals(self) -> list[Signal]:
        """The accumulator and the requantisation settings, then the base unit's."""
        own = [self.slot(name.lower(), slot, 32) for name, slot in (("ACC", ACC), ("IN_OFFSET", IN_OFFSET),
               ("MULT", MULT), ("SHIFT", SHIFT), ("OUT_ZP", OUT_ZP), ("ACT_MIN", ACT_MIN), ("ACT_MAX", ACT_MAX))]
        return [*own, *super().signals()]

    def macs(self, counts: dict[str, int]) -> int:
        return 4 * (counts["mac4"] + counts["macl"])

    def job_energy(self, job: Invocation) -> dict[str, float]:
        """The run's instructions: 4 MACs per mac4 or macl, a requant each, one register operation for the rest."""
        p, counts = self.params, job.info["instructions"]
        others = sum(n for op, n in counts.items() if op not in ("mac4", "macl", "requant"))
        return dict(compute=job.macs * p["mac_energy"] + counts["requant"] * p["requant_energy"]
                    + others * p["op_energy"])

    def area(self) -> dict[str, float]:
        return dict(lanes=4 * self.params["lane_area"], requant=self.params["requant_area"])


_NATIVE = ("HOOK_SIGNATURE", "make_hook", "builtin_hook", "builtin_op", "requantize")


def __getattr__(name: str):
    """The Numba side (``make_hook``, ``HOOK_SIGNATURE``, ``builtin_op``...) lives in ``_cfu_native``,
    imported on first use so that listing units does not load Numba."""
    if name not in _NATIVE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import _cfu_native

    globals()[name] = value = getattr(_cfu_native, name)
    return value
