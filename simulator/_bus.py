"""The CPU's side of the system bus: guest memory, and loads and stores that reach devices.

Unicorn calls a device's MMIO callback with the *block's* start as PC, not the accessing
instruction's. ``SystemBus`` finds the instruction (``access_pc``: the block's decoded loads and
stores that can reach a device, matched in order), so a device knows the modeled cycle of the
access (``access_time``). A device write that must act at once (a pended interrupt, a timer
reprogrammed) calls ``stop_soon``: Unicorn then stops with the PC on the accessing instruction,
its register results not yet written, and the loop re-runs that one instruction with its device
accesses *replayed* (the same values again, no second side effect).
"""

from __future__ import annotations

import struct

from .isa.insn import MEM_OTHER


class GuestAccessError(Exception):
    """The simulator was asked to touch guest memory the firmware may not: outside every memory region,
    in an MMIO window, or against the region's permissions (a write to flash)."""

    def __init__(self, address: int, size: int, access: str):
        super().__init__(f"{access} of {size} bytes at {address:#010x}")
        self.address, self.size, self.access = address, size, access


class SystemBus:
    def __init__(self, machine):
        self.m = machine
        self.uc = machine.uc
        self.code = machine.code
        self.state = machine.code.state
        self.device_accesses = 0   #: CPU loads and stores that reached a device (MMIO, system registers)
        self._cursor = (-1, -1, -1, 0)  # (block start index, block start cycle, instruction, accesses left)
        self._access_pc: int | None = None  # instruction of the device access being handled
        self._access_key: tuple[int, int] | None = None
        self._access_log: list = []   # results of the device accesses of that instruction so far
        self._replay: list = []       # results to give again while that instruction re-executes
        self.stop_after = False       # a device access asked to stop after its instruction

    # -- guest memory ---------------------------------------------------------------------
    def span(self, addr: int, access: str = "read") -> int:
        """Bytes from ``addr`` to the end of its memory region if ``access`` (read or write) is allowed
        there, else 0: the most a simulator-side access at ``addr`` may touch."""
        region = self.m.board.region_at(addr) if 0 <= addr < 1 << 32 else None
        if region is None or region.kind == "mmio" or ("w" if access == "write" else "r") not in region.perms:
            return 0
        return region.end - addr

    def check(self, addr: int, size: int, access: str) -> None:
        """Raise ``GuestAccessError`` unless [addr, addr + size) lies in one region allowing ``access``."""
        if size < 0 or (size and self.span(addr, access) < size):
            raise GuestAccessError(addr, size, access)

    def read(self, addr: int, size: int) -> bytes:
        """Guest memory as the simulator reads it for the firmware (semihosting arguments, vector
        tables, DMA): within one readable region, else ``GuestAccessError``."""
        self.check(addr, size, "read")
        data = bytes(self.uc.mem_read(addr, size)) if size else b""
        devices = getattr(self.m, "devices", None)  # created after the bus
        return devices.original(addr, data) if devices is not None and devices.stand_ins else data

    def write(self, addr: int, data: bytes) -> None:
        """Within one writable region (never flash), else ``GuestAccessError``."""
        self.check(addr, len(data), "write")
        if data:
            self.uc.mem_write(addr, bytes(data))

    def read32(self, addr: int) -> int:
        return struct.unpack("<I", self.read(addr, 4))[0]

    def code_word(self, addr: int) -> int:
        """The 32 bits at ``addr`` as instruction bytes (any permissions; zeros past the end of the
        region, so a 16-bit instruction in its last halfword reads), for decoding a trapped instruction."""
        region = self.m.board.region_at(addr) if 0 <= addr < 1 << 32 else None
        if region is None or region.kind == "mmio":
            raise GuestAccessError(addr, 4, "fetch")
        data = bytes(self.uc.mem_read(addr, min(4, region.end - addr)))
        return int.from_bytes(data.ljust(4, b"\0"), "little")

    # -- device accesses --------------------------------------------------------------------
    @property
    def accessing(self) -> int | None:
        """The instruction whose device access is being answered now, else None."""
        return self._access_pc

    def access_pc(self, write: bool, size: int) -> int:
        """The instruction making the data access seen from a device or memory callback."""
        return self._access_pc if self._access_pc is not None else self._locate(write, size)

    def _locate(self, write: bool, size: int) -> int:
        """Device accesses are matched in order with the block's decoded loads or stores that can reach a
        device (not SP-relative, not a literal, of the access's size): an access belongs to the
        instruction the previous one came from while that one has accesses left, else to the next
        candidate."""
        st = self.state
        block = (st.block_start, st.block_start_cycle)
        i, left = self._cursor[2:] if self._cursor[:2] == block else (block[0] - 1, 0)
        if left > 0:
            self._cursor = (*block, i, left - 1)
            return self.code.insns[i].addr
        for i in range(max(i + 1, block[0]), st.block_end):
            insn = self.code.insns[i]
            count = insn.mem_writes if write else insn.mem_reads
            nbytes = insn.write_bytes if write else insn.read_bytes
            if count and insn.mem_where == MEM_OTHER and nbytes % size == 0 and nbytes // count >= size:
                self._cursor = (*block, i, nbytes // size - 1)
                return insn.addr
        return self.m.pc

    def device_callbacks(self, read, write):
        """Wrap a device's Unicorn MMIO callbacks so that each access knows its instruction and an access
        that must take effect at once (``stop_soon``) can stop emulation right after its instruction."""
        def on_read(uc, offset, size, user):
            return self._device_access(False, size, read, uc, offset, size, user)

        def on_write(uc, offset, size, value, user):
            self._device_access(True, size, write, uc, offset, size, value, user)

        return on_read, on_write

    def _device_access(self, write: bool, size: int, handler, *args):
        for answered in self.m.devices.answered_in_block():  # reads a register window answered natively before
            self._locate(False, answered)
        pc = self._locate(write, size)
        if self._replay:  # the instruction runs again after a stop: its device accesses already happened
            return self._replay.pop(0)
        self.device_accesses += 1
        key = (pc, self.state.block_start_cycle)
        if key != self._access_key:
            self._access_key, self._access_log = key, []
        self._access_pc = pc
        try:
            value = handler(*args)
        finally:
            self._access_pc = None
        self._access_log.append(value)
        return value

    def access_time(self, write: bool, size: int) -> tuple[int, int]:
        """(start, end) cycle of the instruction making the current device access."""
        pc = self.access_pc(write, size)
        return self.m.blocks.cycle_at(pc, self._own_accesses()), self.m.blocks.cycle_after(pc)

    def _own_accesses(self) -> int:
        """Which access of its instruction the current device access is (1: the first), as the access
        plans need it: a memory hook would have priced that many of the instruction's accesses by now."""
        return len(self._access_log) + 1 if self._access_pc is not None else 0

    def stop_soon(self) -> None:
        """Stop before the next instruction so the loop can act (e.g. a new pending interrupt).

        From a device access Unicorn stops at once with the PC on the accessing instruction: the loop
        re-runs it with its device accesses replayed (``replay_at``), then acts. Elsewhere the next
        block stops."""
        self.state.stop_at_cycle = 0
        if self._access_pc is not None and not self.stop_after:
            self.stop_after = True
            self.uc.emu_stop()

    def replay_at(self, pc: int) -> None:
        """Emulation stopped on the device-accessing instruction at ``pc``: give its accesses again."""
        located = self._access_key is not None and self._access_key[0] == pc
        self._replay = self._access_log if located else self._access_log[-1:]
        self._access_log, self._access_key = [], None

    def ram_accesses(self) -> int:
        """CPU data accesses to RAM so far: the data region's, exactly with exact memory; else the
        static count of SP-relative and pointer accesses less those that reached devices."""
        m = self.m
        if self.code.exact_accesses:
            k = m.board.regions.index(m.board.data)
            region = self.state.region(k)
            ahead = m.blocks.accesses_ahead(k, self._access_pc, self._own_accesses()) \
                if self._access_pc is not None else 0
            return region.reads + region.writes - ahead
        traffic = self.state.static_traffic()
        cpu = sum(traffic[place][kind] for place in ("stack", "unattributed") for kind in ("reads", "writes"))
        return cpu - self.device_accesses
