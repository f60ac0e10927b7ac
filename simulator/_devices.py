"""Accelerators attached to a run: their register windows, DMA, interrupts and events.

``Devices`` maps each model's MMIO window, answers its ``Bus`` calls from the machine (the
modeled cycle of the access, memory reads and writes, interrupt lines) and folds the cycles the
models want to be woken at into the machine's next event.
"""

from __future__ import annotations

from unicorn import arm_const, riscv_const
from unicorn import unicorn_const as uc_const

from ._codemap import _word_at, register_ids
from ._errors import ConfigError


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
            machine.uc.mmio_map(base, size, on_read, None, on_write, None)

    def _handlers(self, a, bus: _Bus):
        """The unit's register read and write handlers; reporting each access when an observer asks."""
        watchers = self.m.events.device_accessed
        if not watchers:
            return (lambda uc, off, size, user: a.read(off, size) & 0xFFFF_FFFF,
                    lambda uc, off, size, value, user: a.write(off, size, value & 0xFFFF_FFFF))

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
        """Native hooks of custom-instruction units on every instruction each of them executes."""
        m = self.m
        self.latency_at: dict[int, int] = {}
        regs = register_ids(m.core.arch)
        pc = arm_const.UC_ARM_REG_PC if m.core.arch == "arm" else riscv_const.UC_RISCV_REG_PC
        for a in self.accels:
            if a.MMIO_SIZE:
                continue
            sites = a.sites(m.code.insns, lambda addr: _word_at(m.image, addr), m.core.arch)
            state = a.build_state(sites, regs, m.state.array, pc)
            for addr, op, *_ in sites:
                if addr in self.latency_at:
                    raise ConfigError(f"accelerators: two units claim the instruction at {addr:#010x}")
                self.latency_at[addr] = a.latency_at(op)
                native.add(a.native_hook(), state, uc_const.UC_HOOK_CODE, addr, addr)

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
