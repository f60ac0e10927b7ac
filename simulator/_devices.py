"""Accelerators attached to a run: their register windows, DMA, interrupts and events.

``Devices`` maps each model's MMIO window, answers its ``Bus`` calls from the machine (the
modeled cycle of the access, memory reads and writes, interrupt lines) and folds the cycles the
models want to be woken at into the machine's next event.
"""

from __future__ import annotations

from unicorn import arm_const, riscv_const
from unicorn import unicorn_const as uc_const

from . import _state as nat
from ._codemap import _word_at, register_ids
from ._errors import ConfigError

#: What Unicorn runs in place of a custom instruction (``Devices.install``): a branch to the next instruction
#: (Thumb-2 B.W +0, RISC-V JAL x0, +4). It ends the block as the trapping instruction did, without a code hook.
_BRANCH_TO_NEXT = {"arm": bytes([0x00, 0xF0, 0x00, 0xB8]), "riscv": (0x0040006F).to_bytes(4, "little")}
#: A stand-in's next-PC in its unit's site table: the hook writes no PC (the branch goes on by itself).
STAND_IN = -1


class _Bus:
    def __init__(self, machine, devices: Devices, accel):
        self.m, self.devices, self.accel = machine, devices, accel
        self.dma: dict[str, list[int]] = {}

    def now(self) -> int:
        pc = self.m.bus.accessing
        return self.m.blocks.cycle_at(pc) if pc is not None else self.m.cycles

    def check(self, addr: int, size: int, writable: bool) -> bool:
        region = self.m.board.region_at(addr)
        return (region is not None and region.kind != "mmio" and addr + size <= region.base + region.size
                and (not writable or "w" in region.perms))

    def read(self, addr: int, size: int) -> bytes:
        self._moved(addr, size, 0)
        return self.m.bus.read(addr, size)

    def write(self, addr: int, data: bytes) -> None:
        self._moved(addr, len(data), 1)
        self.m.bus.write(addr, data)

    def _moved(self, addr: int, size: int, direction: int) -> None:
        """Bytes by region the unit read (0) or wrote (1): where its DMA energy is drawn."""
        region = self.m.board.region_at(addr)
        if region is not None:
            self.dma.setdefault(region.name, [0, 0])[direction] += size

    def ram_accesses(self) -> int:
        self.devices.fold()
        return self.m.bus.ram_accesses()

    def set_irq(self, level: bool) -> None:
        self.m.platform.set_irq(self.accel.params["irq"], level)
        for notify in self.m.events.device_irq:
            notify(self.accel, level, self.now())

    def wake_at(self, cycle: int) -> None:
        self.devices.wakes[id(self.accel)] = cycle
        self.m.bus.stop_soon()  # re-arm the run's next event


class Devices:
    def __init__(self, machine, accelerators):
        self.m = machine
        self.accels = list(accelerators)
        self.wakes: dict[int, int] = {}
        self.stand_ins: dict[int, bytes] = {}  #: address -> the custom instruction's bytes a branch stands in for
        self.windows: dict[int, object] = {}   #: id(unit) -> its natively mapped register window (``_mmio``)
        self.buses = [_Bus(machine, self, a) for a in self.accels]
        for a, bus in zip(self.accels, self.buses):
            a.check_core(machine.core)
            if not a.MMIO_SIZE:
                a.attach(bus)
                continue
            base, size = a.params["base"], a.MMIO_SIZE
            region = machine.board.region_at(base)
            if region is None or region.kind != "mmio" or base + size > region.base + region.size:
                raise ConfigError(f"accelerator {a.NAME}: registers at {base:#010x} (+{size:#x}) are not inside "
                                  f"an mmio region of board {machine.board.name}")
            for b in self.accels:
                if b is not a and b.MMIO_SIZE and b.params["base"] < base + size and base < b.params["base"] + b.MMIO_SIZE:
                    raise ConfigError(f"accelerators {a.NAME} and {b.NAME} overlap at {base:#010x}: set base=")
            a.attach(bus)
            on_read, on_write = machine.bus.device_callbacks(*self._handlers(a, bus))
            if machine.events.device_accessed:  # each access is reported: all of them go through Python
                machine.uc.mmio_map(base, size, on_read, None, on_write, None)
            else:
                from ._mmio import SteadyWindow

                self.windows[id(a)] = SteadyWindow(machine.uc, machine.state.array, base, size, on_read, on_write)

    def _handlers(self, a, bus: _Bus):
        """The unit's register read and write handlers; reporting each access when an observer asks."""
        watchers = self.m.events.device_accessed
        if not watchers:
            def read(uc, off, size, user):
                self.fold()
                value = a.read(off, size) & 0xFFFF_FFFF
                self._arm(a, off, size)
                return value

            def write(uc, off, size, value, user):
                self.fold()
                self.windows[id(a)].arm(None)
                a.write(off, size, value & 0xFFFF_FFFF)

            return read, write

        def read(uc, off, size, user):
            value = a.read(off, size) & 0xFFFF_FFFF
            for notify in watchers:
                notify(a, False, off, size, value, bus.now())
            return value

        def write(uc, off, size, value, user):
            a.write(off, size, value & 0xFFFF_FFFF)
            for notify in watchers:
                notify(a, True, off, size, value & 0xFFFF_FFFF, bus.now())

        return read, write

    def install(self, native) -> None:
        """Custom-instruction units: each of their instructions becomes a branch to its successor in Unicorn's
        memory, which the block hook completes with the unit's native hook (``_native.F_CUSTOM``); one inside an
        IT block, or writing PC, keeps a code hook on it that runs it and skips it (slower: Unicorn walks every
        code hook on each hooked instruction)."""
        m = self.m
        self.latency_at: dict[int, int] = {}
        self.native = native
        regs = register_ids(m.core.arch)
        pc = arm_const.UC_ARM_REG_PC if m.core.arch == "arm" else riscv_const.UC_RISCV_REG_PC
        flags = m.state.insn.flags
        for a in self.accels:
            if a.MMIO_SIZE:
                continue
            units = m.state.array[nat.N_UNITS]
            sites = [self._stand_in(site) if units < nat.MAX_UNITS else site
                     for site in a.sites(m.code.insns, lambda addr: _word_at(m.image, addr), m.core.arch)]
            state = a.build_state(sites, regs, m.state.array, pc)
            hook = a.native_hook()
            for addr, op, *_, nxt in sites:
                if addr in self.latency_at:
                    raise ConfigError(f"accelerators: two units claim the instruction at {addr:#010x}")
                self.latency_at[addr] = a.latency_at(op)
                if nxt == STAND_IN:
                    flags[m.code.index(addr)] |= nat.F_CUSTOM
                else:
                    native.add(hook, state, uc_const.UC_HOOK_CODE, addr, addr)
            if any(site[-1] == STAND_IN for site in sites):
                native.add_unit(m.state.array, hook, state)

    def _stand_in(self, site):
        """The site with its instruction replaced by a branch to its successor, if it can be."""
        addr, op, sel, rd, ra, rb, _ = site
        m = self.m
        insn = m.code.insns[m.code.index(addr)]
        if insn.in_it or insn.fallthrough - insn.addr != 4 or (m.core.arch == "arm" and rd == 15):
            return site
        self.stand_ins[addr] = bytes(m.uc.mem_read(addr, 4))
        m.uc.mem_write(addr, _BRANCH_TO_NEXT[m.core.arch])
        return (addr, op, sel, rd, ra, rb, STAND_IN)

    def original(self, addr: int, data: bytes) -> bytes:
        """``data`` read from ``addr`` with the custom instructions that branches stand in for, as the ELF has them."""
        end = addr + len(data)
        hits = [(at, code) for at, code in self.stand_ins.items() if at < end and addr < at + len(code)]
        if not hits:
            return data
        out = bytearray(data)
        for at, code in hits:
            for k, byte in enumerate(code):
                if addr <= at + k < end:
                    out[at + k - addr] = byte
        return bytes(out)

    def settle(self) -> None:
        """After emulation stopped: a custom instruction that ended the last block and ran is completed now; the
        register windows answer nothing natively until the next register read (a replayed access or the loop's
        events may follow)."""
        if self.stand_ins:
            self.native.finish_custom(self.m.state.array)
        self.fold()
        for w in self.windows.values():
            w.arm(None)

    def fold(self) -> None:
        """Count the register reads the windows answered natively as the bus's device accesses."""
        for w in self.windows.values():
            self.m.bus.device_accesses += w.answered()

    def _arm(self, a, off: int, size: int) -> None:
        """After a read of ``a``'s register ``off``: let its window answer the next ones if the unit says the read
        is steady."""
        steady = a.steady_read()
        self.windows[id(a)].arm(None if steady is None or steady[0] != off else (off, size, steady[1], steady[2]))

    def answered_in_block(self) -> list[int]:
        """The sizes of the reads the windows answered natively in the block running now, since the last device
        access there."""
        st = self.m.state
        block = (st.block_start, st.block_start_cycle)
        return [size for w in self.windows.values() for size in w.in_block(block)]

    def next_event(self) -> int | None:
        pending = [c for c in self.wakes.values() if c > self.m.cycles]
        return min(pending) if pending else None

    def update(self) -> None:
        now = self.m.cycles
        for a in self.accels:
            if self.wakes.get(id(a), now + 1) <= now:
                del self.wakes[id(a)]
            a.update(now)
            for notify in self.m.events.device_updated:
                notify(a, now)

    def report(self, sleeps: list[tuple[int, int]]) -> list[dict]:
        """Each unit's report, with ``dma_regions``: the bytes it moved through its bus, by region."""
        return [{**a.report(self.m.cycles, sleeps),
                 "dma_regions": {name: dict(read_bytes=r, write_bytes=w) for name, (r, w) in bus.dma.items()}}
                for a, bus in zip(self.accels, self.buses)]
