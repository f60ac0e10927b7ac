"""The Cortex-M system parts Unicorn lacks: NVIC, SysTick, SCB, DWT, exception entry and return.

The System Control Space is an MMIO window at 0xE000_0000 handled here.
Exceptions are entered and left by this code (Unicorn has no NVIC): the
stack frame, EXC_RETURN, priorities, PRIMASK/BASEPRI masking and nesting
follow the ARMv7-M/ARMv6-M Architecture Reference Manuals. Faults are not
vectored to the firmware's fault handlers: the run ends with a report that
names the faulting instruction, which is what a designer needs to see.
"""

from __future__ import annotations

import struct
from collections import Counter

from unicorn import arm_const as A

from ._board import PPB_BASE, PPB_SIZE
from ._timing import NEVER_CYCLE
from ._bus import GuestAccessError
from .isa import thumb

SYSTEM_EXCEPTIONS = {2: "NMI", 3: "HardFault", 4: "MemManage", 5: "BusFault", 6: "UsageFault",
                     11: "SVCall", 12: "DebugMonitor", 14: "PendSV", 15: "SysTick"}
SVCALL, PENDSV, SYSTICK, FIRST_IRQ = 11, 14, 15, 16
_QEMU_EXCEPTIONS = {1: "UDEF", 3: "prefetch abort", 4: "data abort", 5: "IRQ", 9: "kernel trap",
                    17: "NOCP", 18: "INVSTATE", 19: "STKOF", 20: "LAZYFP", 21: "LSERR", 22: "UNALIGNED"}
_BASE_FRAME = (A.UC_ARM_REG_R0, A.UC_ARM_REG_R1, A.UC_ARM_REG_R2, A.UC_ARM_REG_R3, A.UC_ARM_REG_R12,
               A.UC_ARM_REG_LR)
_FP_FRAME = tuple(getattr(A, f"UC_ARM_REG_S{i}") for i in range(16))
_XPSR_T = 1 << 24
_XPSR_ALIGN = 1 << 9
# Registers that read as zero and ignore writes: MPU (TYPE=0: no MPU), fault status, ITM,
# debug, other DWT units, ACTLR, ID space, cache identification (CLIDR, CTR, CCSIDR, CSSELR) and
# cache maintenance (ICIALLU ... BPIALL: the caches of a timing profile need none). Firmware
# probes these; none changes behaviour here.
_RAZ_WI = ((0xE000_0000, 0xE000_1000), (0xE000_1008, 0xE000_2000), (0xE000_2000, 0xE000_3000),
           (0xE000_E008, 0xE000_E00C), (0xE000_ED28, 0xE000_ED40), (0xE000_ED78, 0xE000_ED88),
           (0xE000_ED90, 0xE000_EDC0), (0xE000_EDF0, 0xE000_EDFC), (0xE000_EF34, 0xE000_EF44),
           (0xE000_EF50, 0xE000_EF80), (0xE000_EFD0, 0xE000_F000), (0xE004_0000, 0xE010_0000))


def exception_name(n: int) -> str:
    return SYSTEM_EXCEPTIONS.get(n, f"IRQ{n - FIRST_IRQ}" if n >= FIRST_IRQ else f"exception{n}")


class SysTick:
    """The 24-bit SysTick down-counter, evaluated lazily from the cycle count.

    Counting restarts from ``start_value`` at cycle ``origin``; it reaches zero
    (setting COUNTFLAG and, with TICKINT, pending SysTick) at ticks
    ``start_value + k*(reload+1)`` and reloads on the tick after.
    """

    def __init__(self, ref_divider: int):
        self.ref_divider = ref_divider
        self.ctrl = 0
        self.reload = 0
        self.origin = 0
        self.start_value = 0
        self.frozen = 0
        self.wraps_seen = 0
        self.countflag = False

    @property
    def enabled(self) -> bool:
        return bool(self.ctrl & 1)

    @property
    def divider(self) -> int:
        return 1 if self.ctrl & 4 else self.ref_divider

    def _ticks(self, now: int) -> int:
        return (now - self.origin) // self.divider

    def value(self, now: int) -> int:
        if not self.enabled:
            return self.frozen
        n, v0 = self._ticks(now), self.start_value
        if n <= v0:
            return v0 - n
        if self.reload == 0:
            return 0
        return self.reload - (n - v0 - 1) % (self.reload + 1)

    def _first_wrap(self) -> int | None:
        """Tick of the first transition to zero after ``origin`` (None: it never happens)."""
        if self.start_value:
            return self.start_value
        return self.reload + 1 if self.reload else None

    def _wraps(self, now: int) -> int:
        """Transitions to zero in ticks (origin, now]; after the first, one every reload+1 ticks."""
        first, n = self._first_wrap(), self._ticks(now)
        if first is None or n < first:
            return 0
        return 1 + ((n - first) // (self.reload + 1) if self.reload else 0)

    def restart(self, now: int, value: int) -> None:
        self.origin, self.start_value, self.wraps_seen = now, value, 0

    def update(self, now: int) -> bool:
        """Account for wraps up to ``now``; True if SysTick should be pended."""
        if not self.enabled:
            return False
        total = self._wraps(now)
        fired = total > self.wraps_seen
        if fired:
            self.countflag = True
            self.wraps_seen = total
        return fired and bool(self.ctrl & 2)

    def next_event(self) -> int:
        if not (self.enabled and self.ctrl & 2):
            return NEVER_CYCLE
        first = self._first_wrap()
        if first is None or (self.wraps_seen and not self.reload):
            return NEVER_CYCLE
        tick = first + self.wraps_seen * (self.reload + 1)
        return self.origin + tick * self.divider

    def _reconfigure(self, now: int, **changes) -> None:
        """Change CTRL or RELOAD: the count so far freezes and counting restarts from it."""
        current = self.value(now)
        for name, value in changes.items():
            setattr(self, name, value)
        self.frozen = current
        self.restart(now, current)

    def write_ctrl(self, now: int, value: int) -> None:
        self._reconfigure(now, ctrl=value & 0x7)

    def read_ctrl(self, now: int) -> int:
        self.update(now)
        v = self.ctrl | (0x10000 if self.countflag else 0)
        self.countflag = False
        return v

    def write_reload(self, now: int, value: int) -> None:
        self._reconfigure(now, reload=value & 0xFFFFFF)

    def clear_current(self, now: int) -> None:
        self.frozen = 0
        self.countflag = False
        self.restart(now, 0)


class CortexM:
    """System model of one Cortex-M core: owns the PPB window and exception state."""

    def __init__(self, machine):
        self.m = machine
        self.uc = machine.uc
        core, board = machine.core, machine.board
        self.v6m = core.isa == "armv6-m"
        self.has_fpu = core.fpu != "none"
        self.prio_mask = (0xFF << (8 - core.nvic_priority_bits)) & 0xFF
        self.cpuid = core.cpuid
        self.n_exceptions = FIRST_IRQ + board.irq_lines
        self.vtor = board.code.base
        self.priority = [0] * self.n_exceptions
        self.enabled: set[int] = set()
        self.pending: set[int] = set()
        self.active: list[int] = []
        self.prigroup = 0
        self.regs = {0xE000_ED10: 0, 0xE000_ED14: 0x200, 0xE000_ED24: 0, 0xE000_ED88: 0xF << 20,
                     0xE000_EDFC: 0}
        self.systick = SysTick(board.systick_ref_divider)
        self.dwt_ctrl = (1 << 25) if self.v6m else 0  # NOCYCCNT on ARMv6-M
        self.cyccnt_base = 0
        self.cyccnt_since = 0
        self.taken = Counter()
        on_read, on_write = self.m.bus.device_callbacks(self._mmio_read, self._mmio_write)
        self.uc.mmio_map(PPB_BASE, PPB_SIZE, on_read, None, on_write, None)

    # -- reset and PC ------------------------------------------------------------------
    def reset(self) -> int:
        try:
            sp, pc = struct.unpack("<II", self.m.bus.read(self.vtor, 8))
        except GuestAccessError:
            raise self.m.fault("bad-vector-table", self.vtor, f"no Cortex-M vector table at {self.vtor:#010x}: "
                               "it is not in readable memory") from None
        if not pc & 1 or self.m.board.region_at(pc & ~1) is None:
            raise self.m.fault("bad-vector-table", self.vtor,
                               f"no Cortex-M vector table at {self.vtor:#010x}: reset vector is {pc:#010x}")
        self.uc.reg_write(A.UC_ARM_REG_MSP, sp)
        return pc & ~1

    def start_address(self, pc: int) -> int:
        return pc | 1

    def read_pc(self) -> int:
        return self.uc.reg_read(A.UC_ARM_REG_PC)

    def write_pc(self, pc: int) -> None:
        self.uc.reg_write(A.UC_ARM_REG_PC, pc | 1)

    def first_argument(self) -> int:
        return self.uc.reg_read(A.UC_ARM_REG_R0)

    def set_return_value(self, value: int) -> None:
        self.uc.reg_write(A.UC_ARM_REG_R0, value)

    def stopped_in_wfi(self, pc: int) -> int | None:
        """Address of the WFI that made emulation return at ``pc``, if it was one."""
        try:
            word = self.m.bus.code_word(pc - 4)
        except GuestAccessError:
            return None
        n = thumb.wfi_before((word & 0xFFFF, word >> 16))
        return pc - n if n else None

    # -- traps from Unicorn --------------------------------------------------------------
    def on_intr(self, intno: int) -> None:
        pc = self.read_pc()
        if intno in (3, 8) and self.is_exception_return(pc):
            self.m.act("exception-return", self.m.pc, pc)
        elif intno == 3:  # prefetch abort: a fetch from a device window or unmapped memory
            self.m.act("fault", pc, ("fetch", "unmapped", pc, 2))
        elif intno == 4 and self._access(pc) is not None:  # data abort: ARMv6-M faults on unaligned accesses
            self.m.act("unaligned", pc)
        elif intno == 7:
            imm = thumb.bkpt_imm(self.m.bus.code_word(pc) & 0xFFFF)
            if imm == thumb.SEMIHOSTING_BKPT:
                r0 = self.uc.reg_read(A.UC_ARM_REG_R0)
                r1 = self.uc.reg_read(A.UC_ARM_REG_R1)
                self.m.act("semihost", pc, (r0, r1, pc + 2))
            else:
                self.m.act("trap", pc, f"breakpoint (BKPT #{imm:#x}) with no debugger attached")
        elif intno == 2:
            self.m.act("svc", self.m.pc, pc)
        elif intno == 17:
            self.m.act("trap", self.m.pc, "UsageFault (NOCP): coprocessor instruction with no such coprocessor")
        else:
            name = _QEMU_EXCEPTIONS.get(intno, f"exception {intno}")
            self.m.act("trap", self.m.pc, f"fault ({name})")

    def _access(self, pc: int) -> tuple[int, int, bool] | None:
        """(address, bytes, is_write) of the load or store at ``pc``, from the registers now."""
        def register(name: str) -> int:
            return self.uc.reg_read(getattr(A, f"UC_ARM_REG_{name.upper()}")) & 0xFFFF_FFFF

        return thumb.data_access(self.m.bus.code_word(pc).to_bytes(4, "little"), pc, register)

    def unaligned_fault(self, pc: int):
        """The fault of the load/store at ``pc`` whose address is not aligned as it must be."""
        kind = "HardFault" if self.v6m else "UsageFault (UNALIGNED)"
        access = self._access(pc)
        if access is None:  # the code there changed since it was decoded (firmware wrote to it)
            return self.m.fault("unaligned", pc, f"{kind}: unaligned access by code rewritten at run time")
        address, size, write = access
        access = "write" if write else "read"
        return self.m.fault("unaligned", pc, f"{kind}: unaligned {access} of {size} bytes at", address=address,
                            access=access, size=size)

    def wrong_state_fault(self, pc: int) -> bool:
        """Raise INVSTATE when execution continued with the Thumb bit clear (Unicorn runs it as A32)."""
        if self.uc.reg_read(A.UC_ARM_REG_XPSR) & _XPSR_T:
            return False
        self.m.act("trap", pc, "UsageFault (INVSTATE): execution with the Thumb bit clear "
                               "(a branch to an even address)")
        return True

    def on_invalid(self) -> None:
        pc = self.read_pc()
        if self.wrong_state_fault(pc):
            return
        code = self.m.bus.code_word(pc)
        hw = code & 0xFFFF
        if thumb.is_32bit(hw):
            text = f"{hw << 16 | code >> 16:08x}"
        else:
            text = f"{hw:04x}"
        self.m.act("trap", pc, f"UsageFault (UNDEFINSTR): instruction {text} is undefined on {self.m.core.name}")

    def is_exception_return(self, addr: int) -> bool:
        return addr >= 0xFFFF_FF00

    def handle(self, action) -> int:
        if action.kind == "unaligned":
            raise self.unaligned_fault(action.pc)
        if action.kind == "trap":
            raise self.m.fault("usage-fault" if "UsageFault" in action.arg else "trap", action.pc, action.arg)
        if action.kind == "svc":
            if self._group(self._priority(SVCALL)) >= self._execution_priority():
                raise self.m.fault("hard-fault", action.pc, "HardFault: SVC executed where SVCall cannot preempt")
            return self._enter(SVCALL, action.arg)
        if action.kind == "exception-return":
            return self._return(action.arg | 1, action.pc)
        raise AssertionError(action.kind)

    # -- priorities ----------------------------------------------------------------------
    def _priority(self, n: int) -> int:
        if n == 2:
            return -2
        if n == 3:
            return -1
        return self.priority[n] & self.prio_mask

    def _group(self, prio: int) -> int:
        return prio if prio < 0 else prio & (0xFF << (self.prigroup + 1)) & 0xFF

    def _execution_priority(self, ignore_masks: bool = False) -> int:
        p = 256
        for n in self.active:
            p = min(p, self._group(self._priority(n)))
        if ignore_masks:
            return p
        if self.uc.reg_read(A.UC_ARM_REG_PRIMASK) & 1:
            p = min(p, 0)
        if not self.v6m:
            basepri = self.uc.reg_read(A.UC_ARM_REG_BASEPRI) & self.prio_mask
            if basepri:
                p = min(p, self._group(basepri))
            if self.uc.reg_read(A.UC_ARM_REG_FAULTMASK) & 1:
                p = min(p, -1)
        return p

    def _candidate(self) -> int | None:
        ready = [n for n in self.pending if n < FIRST_IRQ or n in self.enabled]
        if not ready:
            return None
        return min(ready, key=lambda n: (self._group(self._priority(n)), self._priority(n), n))

    def set_irq(self, line: int, level: bool) -> None:
        """A device interrupt line: a rising level pends IRQ ``line`` in the NVIC."""
        if level and line < self.n_exceptions - FIRST_IRQ:
            self.pend(FIRST_IRQ + line)

    def pend(self, n: int) -> None:
        """Make exception ``n`` pending; it is considered before the next instruction."""
        self.pending.add(n)
        self.m.bus.stop_soon()

    # -- events, delivery ------------------------------------------------------------------
    def next_event(self) -> int:
        return self.systick.next_event()

    def update(self) -> None:
        if self.systick.update(self.m.cycles):
            self.pending.add(SYSTICK)

    def deliver(self, pc: int) -> int:
        n = self._candidate()
        if n is None or self._group(self._priority(n)) >= self._execution_priority():
            return pc
        return self._enter(n, pc)

    def watch_registers(self) -> list[tuple[int, int]]:
        """While an interrupt waits only on PRIMASK/BASEPRI, stop as soon as they change."""
        n = self._candidate()
        if n is None:
            return []
        regs = [A.UC_ARM_REG_PRIMASK] if self.v6m else [A.UC_ARM_REG_PRIMASK, A.UC_ARM_REG_BASEPRI]
        return [(r, self.uc.reg_read(r)) for r in regs]

    def wake_pending(self) -> bool:
        n = self._candidate()
        return n is not None and self._group(self._priority(n)) < self._execution_priority(ignore_masks=True)

    def interrupt_counts(self) -> dict[str, int]:
        return {exception_name(n): c for n, c in self.taken.items()}

    # -- exception entry and return ---------------------------------------------------------
    def _enter(self, n: int, return_pc: int) -> int:
        uc = self.uc
        try:
            vector = self.m.bus.read32(self.vtor + 4 * n)
        except GuestAccessError:
            raise self.m.fault("bad-vector", return_pc, f"{exception_name(n)} vector at {self.vtor + 4 * n:#010x} "
                               f"(VTOR {self.vtor:#010x}) is not in readable memory when taken") from None
        if not vector & 1 or self.m.board.region_at(vector & ~1) is None:
            raise self.m.fault("bad-vector", return_pc, f"{exception_name(n)} vector at "
                               f"{self.vtor + 4 * n:#010x} holds {vector:#010x}, not a Thumb handler address, when taken")
        control = uc.reg_read(A.UC_ARM_REG_CONTROL)
        handler_mode = uc.reg_read(A.UC_ARM_REG_IPSR) != 0
        use_psp = not handler_mode and bool(control & 2)
        with_fp = self.has_fpu and bool(control & 4)
        sp_reg = A.UC_ARM_REG_PSP if use_psp else A.UC_ARM_REG_MSP
        sp = uc.reg_read(sp_reg)
        words = [uc.reg_read(r) for r in _BASE_FRAME] + [return_pc & ~1]
        xpsr = uc.reg_read(A.UC_ARM_REG_XPSR)
        if with_fp:
            fp = [uc.reg_read(r) for r in _FP_FRAME] + [uc.reg_read(A.UC_ARM_REG_FPSCR), 0]
        else:
            fp = []
        size = 4 * (8 + len(fp))
        realign = sp & 4
        frame = (sp - size) & ~4 if realign else sp - size
        words.append(xpsr | (_XPSR_ALIGN if realign else 0))
        try:
            self.m.bus.write(frame, struct.pack(f"<{8 + len(fp)}I", *words, *fp))
        except GuestAccessError:
            raise self.m.fault("stacking-fault", return_pc, f"stack overflow: {exception_name(n)} entry "
                               "pushes its frame to", address=frame, access="write", size=size) from None
        exc_return = 0xFFFF_FFF1 if handler_mode else 0xFFFF_FFFD if use_psp else 0xFFFF_FFF9
        if with_fp:
            exc_return &= ~0x10
        uc.reg_write(sp_reg, frame)
        uc.reg_write(A.UC_ARM_REG_CONTROL, control & ~0x6)   # thread mode still: switches to MSP
        uc.reg_write(A.UC_ARM_REG_IPSR, n)
        uc.reg_write(A.UC_ARM_REG_LR, exc_return)
        self.pending.discard(n)
        self.active.append(n)
        self.taken[n] += 1
        self.m.exception_entered(return_pc & ~1, frame)
        return vector & ~1

    def _return(self, exc_return: int, pc: int) -> int:
        uc = self.uc
        if not self.active:
            raise self.m.fault("usage-fault", pc, f"UsageFault (INVPC): exception return ({exc_return:#010x}) "
                               "outside any exception handler")
        mode = exc_return & 0xF
        if mode not in (1, 9, 0xD):
            raise self.m.fault("usage-fault", pc, f"UsageFault (INVPC): invalid EXC_RETURN {exc_return:#010x}")
        use_psp = mode == 0xD
        with_fp = not exc_return & 0x10
        sp_reg = A.UC_ARM_REG_PSP if use_psp else A.UC_ARM_REG_MSP
        frame = uc.reg_read(sp_reg)
        count = 26 if with_fp else 8
        try:
            words = struct.unpack(f"<{count}I", self.m.bus.read(frame, 4 * count))
        except GuestAccessError:
            raise self.m.fault("unstacking-fault", pc, "exception return pops its frame from",
                               address=frame, access="read", size=4 * count) from None
        for reg, value in zip(_BASE_FRAME, words):
            uc.reg_write(reg, value)
        if with_fp:
            for reg, value in zip(_FP_FRAME, words[8:24]):
                uc.reg_write(reg, value)
            uc.reg_write(A.UC_ARM_REG_FPSCR, words[24])
        xpsr = words[7]
        sp = frame + 4 * count + (4 if xpsr & _XPSR_ALIGN else 0)
        self.active.pop()
        uc.reg_write(sp_reg, sp)
        uc.reg_write(A.UC_ARM_REG_XPSR, (xpsr & ~_XPSR_ALIGN) | _XPSR_T)
        control = uc.reg_read(A.UC_ARM_REG_CONTROL) & ~0x6
        uc.reg_write(A.UC_ARM_REG_CONTROL, control | (2 if use_psp else 0) | (4 if with_fp else 0))
        self.m.exception_returned()
        return words[6]

    # -- System Control Space registers ---------------------------------------------------------
    def _mmio_read(self, uc, offset: int, size: int, _user) -> int:
        addr = PPB_BASE + offset
        word = self._read_word(addr & ~3, size)
        return (word >> (8 * (addr & 3))) & ((1 << (8 * size)) - 1)

    def _mmio_write(self, uc, offset: int, size: int, value: int, _user) -> None:
        addr = PPB_BASE + offset
        shift = 8 * (addr & 3)
        mask = ((1 << (8 * size)) - 1) << shift
        self._write_word(addr & ~3, (value << shift) & mask, mask, size)

    def _unmodelled(self, addr: int, access: str, size: int) -> None:
        self.m.act("fault", self.m.bus.access_pc(access == "write", size), (access, "unmodelled", addr, size))

    def _read_word(self, a: int, size: int) -> int:
        issue, now = self.m.bus.access_time(False, size)
        if 0xE000_E400 <= a < 0xE000_E400 + ((self.n_exceptions - FIRST_IRQ + 3) & ~3):
            n = FIRST_IRQ + (a - 0xE000_E400)
            return int.from_bytes(bytes(self.priority[n + i] & self.prio_mask if n + i < self.n_exceptions else 0
                                        for i in range(4)), "little")
        if 0xE000_ED18 <= a <= 0xE000_ED20:
            n = 4 + (a - 0xE000_ED18)
            return int.from_bytes(bytes(self.priority[n + i] & self.prio_mask for i in range(4)), "little")
        for base, bits in ((0xE000_E100, self.enabled), (0xE000_E180, self.enabled),
                           (0xE000_E200, self.pending), (0xE000_E280, self.pending), (0xE000_E300, self.active)):
            if base <= a < base + 0x40:
                first = FIRST_IRQ + 32 * ((a - base) // 4)
                return sum(1 << i for i in range(32) if first + i in bits)
        if a == 0xE000_E004:
            return (self.n_exceptions - FIRST_IRQ - 1) // 32
        if a == 0xE000_E010:
            return self.systick.read_ctrl(now)
        if a == 0xE000_E014:
            return self.systick.reload
        if a == 0xE000_E018:
            return self.systick.value(issue)
        if a == 0xE000_E01C:
            return 1 << 30  # CALIB: SKEW, no TENMS value
        if a == 0xE000_ED00:
            return self.cpuid
        if a == 0xE000_ED04:
            return self._icsr()
        if a == 0xE000_ED08:
            return self.vtor
        if a == 0xE000_ED0C:
            return 0xFA05_0000 | (self.prigroup << 8)
        if a in self.regs:
            return self.regs[a]
        if a == 0xE000_1000:
            return self.dwt_ctrl
        if a == 0xE000_1004 and not self.v6m:
            return self._cyccnt(issue)
        if any(lo <= a < hi for lo, hi in _RAZ_WI):
            return 0
        self._unmodelled(a, "read", size)
        return 0

    def _icsr(self) -> int:
        v = 0
        if self.active:
            v |= self.active[-1]
        n = self._candidate()
        if n is not None:
            v |= n << 12
        if any(p >= FIRST_IRQ for p in self.pending):
            v |= 1 << 22
        if SYSTICK in self.pending:
            v |= 1 << 26
        if PENDSV in self.pending:
            v |= 1 << 28
        if len(self.active) <= 1:
            v |= 1 << 11  # RETTOBASE
        return v

    def _cyccnt(self, now: int) -> int:
        counting = self.dwt_ctrl & 1 and self.regs[0xE000_EDFC] & (1 << 24)
        return (self.cyccnt_base + (now - self.cyccnt_since if counting else 0)) & 0xFFFF_FFFF

    def _write_word(self, a: int, value: int, mask: int, size: int) -> None:
        now = self.m.bus.access_time(True, size)[1]
        if 0xE000_E400 <= a < 0xE000_E400 + ((self.n_exceptions - FIRST_IRQ + 3) & ~3) or 0xE000_ED18 <= a <= 0xE000_ED20:
            n = FIRST_IRQ + (a - 0xE000_E400) if a >= 0xE000_E400 else 4 + (a - 0xE000_ED18)
            for i in range(4):
                if mask >> (8 * i) & 0xFF and n + i < self.n_exceptions:
                    self.priority[n + i] = (value >> (8 * i)) & 0xFF
            self.m.bus.stop_soon()
            return
        for base, bits, add in ((0xE000_E100, self.enabled, True), (0xE000_E180, self.enabled, False),
                                (0xE000_E200, self.pending, True), (0xE000_E280, self.pending, False)):
            if base <= a < base + 0x40:
                first = FIRST_IRQ + 32 * ((a - base) // 4)
                for i in range(32):
                    if value >> i & 1 and first + i < self.n_exceptions:
                        (bits.add if add else bits.discard)(first + i)
                self.m.bus.stop_soon()
                return
        if a == 0xE000_EF00:  # STIR
            n = FIRST_IRQ + (value & 0x1FF)
            if n < self.n_exceptions:
                self.pend(n)
            return
        if a == 0xE000_E010:
            self.systick.write_ctrl(now, value)
        elif a == 0xE000_E014:
            self.systick.write_reload(now, value)
        elif a == 0xE000_E018:
            self.systick.clear_current(now)
        elif a == 0xE000_ED04:
            self._write_icsr(value)
        elif a == 0xE000_ED08:
            self.vtor = value & 0xFFFF_FF80
        elif a == 0xE000_ED0C:
            self._write_aircr(value)
        elif a in self.regs:
            self.regs[a] = (self.regs[a] & ~mask) | value
            if a == 0xE000_EDFC:
                self._rebase_cyccnt(now)
        elif a == 0xE000_1000 and not self.v6m:
            self._rebase_cyccnt(now)
            self.dwt_ctrl = (self.dwt_ctrl & ~mask) | value
        elif a == 0xE000_1004 and not self.v6m:
            self.cyccnt_base, self.cyccnt_since = value, now
        elif any(lo <= a < hi for lo, hi in _RAZ_WI) or a in (0xE000_1000, 0xE000_1004):
            return
        else:
            self._unmodelled(a, "write", size)
            return
        self.m.bus.stop_soon()

    def _rebase_cyccnt(self, now: int) -> None:
        self.cyccnt_base, self.cyccnt_since = self._cyccnt(now), now

    def _write_icsr(self, value: int) -> None:
        if value & (1 << 31):
            self.pending.add(2)
        if value & (1 << 28):
            self.pending.add(PENDSV)
        if value & (1 << 27):
            self.pending.discard(PENDSV)
        if value & (1 << 26):
            self.pending.add(SYSTICK)
        if value & (1 << 25):
            self.pending.discard(SYSTICK)

    def _write_aircr(self, value: int) -> None:
        if value >> 16 != 0x05FA:
            return  # writes without VECTKEY are ignored
        if value & 0x4:
            self.m.act("unsupported", self.m.pc, "firmware requested a system reset (AIRCR.SYSRESETREQ)")
        if not self.v6m:
            self.prigroup = (value >> 8) & 7
