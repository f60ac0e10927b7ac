"""The RISC-V machine-mode parts Unicorn lacks: a CLINT timer, interrupt entry, deterministic counters.

Unicorn's counter CSRs read host time, so every CSR instruction that touches
a counter gets an address-scoped hook that supplies the modeled value, and
implements only the counter CSRs the core has (cores.toml ``counter_csrs``:
Ibex has no unprivileged ``cycle``, PicoRV32 only ``rdcycle``-style reads,
CV32E40P starts with its counters inhibited). Machine timer and software
interrupts enter through ``mtvec`` in direct or vectored mode; ``mret`` is
Unicorn's own.
"""

from __future__ import annotations

from collections import Counter

import unicorn as uc_mod
from unicorn import riscv_const as R

from ._board import CLINT_SIZE as _CLINT_SIZE
from ._timing import NEVER_CYCLE
from ._bus import GuestAccessError
from .isa import rv32

MSTATUS_MIE, MSTATUS_MPIE, MSTATUS_MPP = 1 << 3, 1 << 7, 3 << 11
CAUSE_MSI, CAUSE_MTI, CAUSE_MEI = 3, 7, 11
CAUSE_ECALL_M = 11
QEMU_ECALL = 8  # QEMU raises every ecall as the U-mode cause and adds the privilege level when it traps
_INTERRUPT_NAMES = {CAUSE_MSI: "machine-software", CAUSE_MTI: "machine-timer", CAUSE_MEI: "machine-external"}
_PRIORITY = (CAUSE_MEI, CAUSE_MSI, CAUSE_MTI)  # the privileged spec's order: MEI, MSI, MTI
_TRAPS = {0: "instruction address misaligned", 1: "instruction access fault", 2: "illegal instruction",
          4: "load address misaligned", 5: "load access fault", 6: "store address misaligned",
          7: "store access fault"}
_WORD = 0xFFFF_FFFF
_COUNT = (1 << 64) - 1
#: mcountinhibit bit of each counter (the privileged spec: CY bit 0, IR bit 2).
_INHIBIT_BIT = {"mcycle": 1 << 0, "minstret": 1 << 2}


def _x(n: int) -> int:
    return R.UC_RISCV_REG_X0 + n


class RiscV:
    """System model of one RV32 machine-mode hart."""

    def __init__(self, machine):
        self.m = machine
        self.uc = machine.uc
        board = machine.board
        self.clint = board.clint_base
        self.divider = board.mtime_divider
        self.mtimecmp = (1 << 64) - 1
        self.mtime_offset = 0
        self.msip = 0
        self.device_lines: set[int] = set()  # asserted device interrupt lines, seen as MEIP
        self.counter_offset = {"mcycle": 0, "minstret": 0}
        core = machine.core
        # Writable inhibit bits: the two counters simmcu keeps, and any the core resets set.
        self.inhibit_mask = _INHIBIT_BIT["mcycle"] | _INHIBIT_BIT["minstret"] | core.mcountinhibit_reset
        self.inhibit = core.mcountinhibit_reset
        self.frozen = {"mcycle": 0, "minstret": 0}  # an inhibited counter's value
        self.taken = Counter()
        on_read, on_write = self.m.bus.device_callbacks(self._clint_read, self._clint_write)
        self.uc.mmio_map(self.clint, _CLINT_SIZE, on_read, None, on_write, None)
        for seg in machine.image.segments:
            if seg.executable:
                for addr in rv32.simulated_csr_sites(seg.data, seg.load_addr):
                    self.uc.hook_add(uc_mod.UC_HOOK_CODE, self._on_csr, begin=addr, end=addr)

    # -- reset and PC ------------------------------------------------------------------
    def reset(self) -> int:
        return self.m.image.entry

    def start_address(self, pc: int) -> int:
        return pc

    def read_pc(self) -> int:
        return self.uc.reg_read(R.UC_RISCV_REG_PC)

    def write_pc(self, pc: int) -> None:
        self.uc.reg_write(R.UC_RISCV_REG_PC, pc)

    def first_argument(self) -> int:
        return self.uc.reg_read(R.UC_RISCV_REG_A0)

    def set_return_value(self, value: int) -> None:
        self.uc.reg_write(R.UC_RISCV_REG_A0, value)

    def wrong_state_fault(self, pc: int) -> bool:
        """RV32 has no second instruction set to land in by mistake."""
        return False

    def stopped_in_wfi(self, pc: int) -> int | None:
        try:
            return pc - 4 if self.m.bus.code_word(pc - 4) == rv32.WFI else None
        except GuestAccessError:
            return None

    # -- counters ----------------------------------------------------------------------
    def mtime(self, cycle: int | None = None) -> int:
        cycle = self.m.cycles if cycle is None else cycle
        return (cycle // self.divider + self.mtime_offset) & ((1 << 64) - 1)

    def _counter(self, name: str, pc: int, at_issue: bool = True) -> int:
        """64-bit value of a counter CSR family (``cycle`` and ``mcycle`` are one counter) for the CSR
        instruction at ``pc``.

        Reads see the count when the reading instruction started; writes are relative to
        its end (``at_issue=False``), so a written value is what the next instruction reads.
        """
        if name in ("time", "timeh") and self.m.core.time_source == "mtime":
            return self.mtime(self._raw("mcycle", pc, at_issue))
        base = "minstret" if "instret" in name else "mcycle"
        if self.inhibit & _INHIBIT_BIT[base]:
            return self.frozen[base]
        return (self._raw(base, pc, at_issue) + self.counter_offset[base]) & _COUNT

    def _raw(self, base: str, pc: int, at_issue: bool) -> int:
        """Cycles or instructions since reset at the CSR instruction at ``pc``, before any write."""
        if base == "mcycle":
            return self.m.blocks.cycle_at(pc) if at_issue else self.m.blocks.cycle_after(pc)
        return self.m.blocks.instructions_at(pc) + (0 if at_issue else 1)

    def _illegal(self, csr: str, funct3: int, src: int) -> str | None:
        """Why the core rejects this access to ``csr``, or None when it implements it."""
        core = self.m.core
        if csr == "mip":
            return None
        if csr not in core.counter_csrs:
            return f"{core.name} has no CSR {csr}"
        if core.counter_access == "rdcounter" and (funct3 != 2 or src != 0):
            return f"{core.name} reads {csr} only as csrrs rd, {csr}, x0"
        return None

    def _on_csr(self, uc, address: int, size: int, _user) -> None:
        if self.m.state.stopped:
            return  # the counting hook stopped before this instruction; it runs again on resume
        word = self.m.bus.code_word(address)
        csr, rd, funct3, src = rv32.decode_csr(word)
        name = rv32.SIMULATED_CSRS[csr]
        why = self._illegal(name, funct3, src)
        if why:
            self.m.act("trap", address, f"illegal instruction {word:08x}: {why}")
            return
        if name == "mip":
            old = self._mip()
        elif name == "mcountinhibit":
            old = self.inhibit
        else:
            full = self._counter(name, address)
            old = (full >> 32) if name.endswith("h") else full & _WORD
        operand = src if funct3 >= 5 else uc.reg_read(_x(src)) if src else 0
        new = rv32.csr_update(funct3, old, operand)
        if new is not None and name != "mip":
            if not name.startswith("m"):
                self.m.act("trap", address, f"illegal instruction {word:08x}: write to read-only CSR {name}")
                return
            if name == "mcountinhibit":
                self._write_inhibit(new & self.inhibit_mask, address)
            else:
                self._write_counter(name, new & _WORD, address)
        if rd:
            uc.reg_write(_x(rd), old)
        self.m.skip_to(address + 4)

    def _write_counter(self, name: str, value: int, pc: int) -> None:
        base = name.rstrip("h")
        current = self._counter(base, pc, at_issue=False)
        if name.endswith("h"):
            wanted = (value << 32) | (current & _WORD)
        else:
            wanted = (current & ~_WORD) | value
        if self.inhibit & _INHIBIT_BIT[base]:
            self.frozen[base] = wanted
        else:
            self.counter_offset[base] = (self.counter_offset[base] + wanted - current) & _COUNT

    def _write_inhibit(self, value: int, pc: int) -> None:
        """Stop or restart counters from the end of the writing instruction: a stopped counter
        keeps its value, a restarted one continues from it."""
        for base, bit in _INHIBIT_BIT.items():
            if (self.inhibit ^ value) & bit:
                current = self._counter(base, pc, at_issue=False)
                if value & bit:
                    self.frozen[base] = current
                else:
                    self.counter_offset[base] = (current - self._raw(base, pc, at_issue=False)) & _COUNT
        self.inhibit = value

    # -- traps from Unicorn --------------------------------------------------------------
    def on_intr(self, intno: int) -> None:
        pc = self.m.pc
        if intno == QEMU_ECALL:
            if self.m.bus.code_word(pc) != rv32.ECALL:  # Unicorn has already stepped past it
                pc -= 4
            self.m.act("ecall", pc, pc)
        elif intno == 2:
            pc -= 4  # Unicorn reports an illegal instruction 4 bytes on, whatever its length
            word = self.m.bus.code_word(pc)
            text = f"{word:08x}" if rv32.length(word & 0xFFFF) == 4 else f"{word & 0xFFFF:04x}"
            self.m.act("trap", pc, f"illegal instruction {text} on {self.m.core.name}")
        else:
            self.m.act("trap", pc, _TRAPS.get(intno, f"exception {intno}"))

    def on_invalid(self) -> None:
        pc = self.read_pc()
        word = self.m.bus.code_word(pc)
        if word == rv32.EBREAK:
            if self.m.bus.code_word(pc - 4) == rv32.SEMIHOSTING_ENTRY and self.m.bus.code_word(pc + 4) == rv32.SEMIHOSTING_EXIT:
                a0 = self.uc.reg_read(R.UC_RISCV_REG_A0)
                a1 = self.uc.reg_read(R.UC_RISCV_REG_A1)
                self.m.act("semihost", pc, (a0, a1, pc + 8))
            else:
                self.m.act("trap", pc, "breakpoint (ebreak) with no debugger attached")
            return
        if word & 0xFFFF == rv32.C_EBREAK:
            self.m.act("trap", pc, "breakpoint (c.ebreak) with no debugger attached")
            return
        text = f"{word:08x}" if rv32.length(word & 0xFFFF) == 4 else f"{word & 0xFFFF:04x}"
        self.m.act("trap", pc, f"illegal instruction {text} on {self.m.core.name}")

    def is_exception_return(self, addr: int) -> bool:
        return False

    def handle(self, action) -> int:
        if action.kind == "trap":
            raise self.m.fault("illegal-instruction" if "illegal" in action.arg else "trap", action.pc, action.arg)
        if action.kind == "ecall":
            if not self.uc.reg_read(R.UC_RISCV_REG_MTVEC) & ~3:
                raise self.m.fault("trap", action.pc, "ecall with no trap handler (mtvec is 0)")
            return self._enter(CAUSE_ECALL_M, action.pc, interrupt=False)
        raise AssertionError(action.kind)

    # -- interrupts ------------------------------------------------------------------------
    def _mip(self) -> int:
        v = 0
        if self.msip & 1:
            v |= 1 << CAUSE_MSI
        if self.mtime() >= self.mtimecmp:
            v |= 1 << CAUSE_MTI
        if self.device_lines:
            v |= 1 << CAUSE_MEI
        return v

    def set_irq(self, line: int, level: bool) -> None:
        """A device interrupt line: any asserted line raises the machine external interrupt (a
        minimal PLIC: the handler asks the devices which one), held until the device drops it."""
        if level:
            self.device_lines.add(line)
            self.m.bus.stop_soon()
        else:
            self.device_lines.discard(line)

    def next_event(self) -> int:
        now_ticks = self.mtime()
        if now_ticks >= self.mtimecmp:
            return NEVER_CYCLE
        when = self.m.cycles + (self.mtimecmp - now_ticks) * self.divider - self.m.cycles % self.divider
        return min(when, NEVER_CYCLE)  # mtimecmp's reset value (all ones) is never reached

    def update(self) -> None:
        pass  # msip and mtime >= mtimecmp are levels, read when needed

    def _ready(self) -> int:
        return self._mip() & self.uc.reg_read(R.UC_RISCV_REG_MIE)

    def deliver(self, pc: int) -> int:
        ready = self._ready()
        if not ready or not self.uc.reg_read(R.UC_RISCV_REG_MSTATUS) & MSTATUS_MIE:
            return pc
        cause = next(c for c in _PRIORITY if ready >> c & 1)
        return self._enter(cause, pc, interrupt=True)

    def _enter(self, cause: int, pc: int, interrupt: bool) -> int:
        uc = self.uc
        mtvec = uc.reg_read(R.UC_RISCV_REG_MTVEC)
        if not mtvec & ~3:
            raise self.m.fault("trap", pc, f"{self._name(cause)} interrupt taken with mtvec = 0")
        old = uc.reg_read(R.UC_RISCV_REG_MSTATUS)
        status = (old & ~(MSTATUS_MIE | MSTATUS_MPIE)) | MSTATUS_MPP
        if old & MSTATUS_MIE:
            status |= MSTATUS_MPIE  # MPIE keeps the interrupt-enable the handler's mret restores
        uc.reg_write(R.UC_RISCV_REG_MEPC, pc)
        uc.reg_write(R.UC_RISCV_REG_MCAUSE, (1 << 31 | cause) if interrupt else cause)
        uc.reg_write(R.UC_RISCV_REG_MTVAL, 0)
        uc.reg_write(R.UC_RISCV_REG_MSTATUS, status)
        self.taken[self._name(cause) if interrupt else "ecall"] += 1
        self.m.exception_entered(pc if interrupt else pc + 4)
        base = mtvec & ~3
        return base + 4 * cause if interrupt and mtvec & 1 else base

    @staticmethod
    def _name(cause: int) -> str:
        return _INTERRUPT_NAMES[cause]

    def watch_registers(self) -> list[tuple[int, int]]:
        if not self._mip():
            return []
        return [(r, self.uc.reg_read(r)) for r in (R.UC_RISCV_REG_MSTATUS, R.UC_RISCV_REG_MIE)]

    def wake_pending(self) -> bool:
        return bool(self._ready())

    def interrupt_counts(self) -> dict[str, int]:
        return dict(self.taken)

    # -- CLINT -------------------------------------------------------------------------------
    def _clint_read(self, uc, offset: int, size: int, _user) -> int:
        if offset == 0:
            return self.msip
        if offset in (0x4000, 0x4004):
            return (self.mtimecmp >> (8 * (offset - 0x4000))) & _WORD
        if offset in (0xBFF8, 0xBFFC):
            return (self.mtime(self.m.bus.access_time(False, size)[0]) >> (8 * (offset - 0xBFF8))) & _WORD
        self.m.act("fault", self.m.bus.access_pc(False, size), ("read", "unmodelled", self.clint + offset, size))
        return 0

    def _clint_write(self, uc, offset: int, size: int, value: int, _user) -> None:
        if offset == 0:
            self.msip = value & 1
        elif offset in (0x4000, 0x4004):
            shift = 8 * (offset - 0x4000)
            self.mtimecmp = (self.mtimecmp & ~(_WORD << shift)) | ((value & _WORD) << shift)
        elif offset in (0xBFF8, 0xBFFC):
            shift = 8 * (offset - 0xBFF8)
            wanted = (self.mtime() & ~(_WORD << shift)) | ((value & _WORD) << shift)
            self.mtime_offset += wanted - self.mtime()
        else:
            self.m.act("fault", self.m.bus.access_pc(True, size), ("write", "unmodelled", self.clint + offset, size))
            return
        self.m.bus.stop_soon()

