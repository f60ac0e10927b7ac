"""The core loop: one firmware on one core and board, run to an ending.

Unicorn executes; the native block hook (``_native``) prices each basic block
from tables built once per ELF (``_codemap``) and stops before a block when
something is due. An event due *inside* a block is reached exactly by running
that block again with Unicorn's ``until`` address at the right instruction.
Everything rare -- semihosting, faults, exception entry and return, timers,
WFI -- is handled here in Python between ``emu_start`` calls, so the hot path
never enters the interpreter. Architecture specifics live in the platform
objects (``_cortexm``, ``_riscv``).
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import unicorn as uc_mod
from unicorn import UcError

from . import _codemap
from . import _native as nat
from ._board import Board, load_board
from ._cores import Core, get_core, parse_core_spec
from ._elf import ElfImage, load_elf
from ._errors import ConfigError, ExitCode
from simmcu.accelerators import make_accelerator

from ._devices import Devices
from ._profile import Profiler
from ._result import Fault, RunResult
from ._semihosting import Exit, Semihosting, SemihostingRefused
from ._timing import STALL_CAUSES, Profile, entry_cost, load_profile, taken_cost
from .isa.insn import MEM_OTHER

_PROT = {"r": uc_mod.UC_PROT_READ, "w": uc_mod.UC_PROT_WRITE, "x": uc_mod.UC_PROT_EXEC}
_ACCESS = {
    uc_mod.UC_MEM_READ_UNMAPPED: ("read", "unmapped"), uc_mod.UC_MEM_WRITE_UNMAPPED: ("write", "unmapped"),
    uc_mod.UC_MEM_FETCH_UNMAPPED: ("fetch", "unmapped"), uc_mod.UC_MEM_READ_PROT: ("read", "protected"),
    uc_mod.UC_MEM_WRITE_PROT: ("write", "protected"), uc_mod.UC_MEM_FETCH_PROT: ("fetch", "protected"),
}
_UNTIL = 0xFFFF_FFFF  # never reached: code is 2-byte aligned on both ISAs


class Stop(Exception):
    """Raised inside the loop to end the run with a result."""

    def __init__(self, reason: str, exit_code: int, message: str, fault: Fault | None = None):
        super().__init__(message)
        self.reason, self.exit_code, self.message, self.fault = reason, exit_code, message, fault


@dataclass
class Action:
    """What a Python hook asks the loop to do once emulation has stopped."""

    kind: str
    pc: int
    arg: object = None


class Machine:
    """One run of one ELF. Use ``Simulator`` (the public API) rather than this directly."""

    def __init__(self, image: ElfImage, code: _codemap.CodeMap, core: Core, board: Board, timing: Profile, *,
                 max_instructions: int | None, timeout: float | None, console: Callable[[str], None], stdin: bytes,
                 semihost_dir: str | Path | None, cmdline: str, reference: bool = False, accelerators=()):
        self.image, self.core, self.board, self.timing = image, core, board, timing
        self.max_instructions = max_instructions
        self.timeout = timeout
        self.code = code.fresh()
        self.state = self.code.state
        self.code_mem = self.code.mem
        self._until: int | None = None
        self._mmio_cursor = (-1, -1, -1, 0)  # (block start index, block start cycle, instruction, accesses left)
        self._access_pc: int | None = None  # instruction of the device access being handled
        self._access_key: tuple[int, int] | None = None
        self._access_log: list = []   # results of the device accesses of that instruction so far
        self._replay: list = []       # results to give again while that instruction re-executes
        self._stop_after = False     # a device access asked to stop after its instruction
        self.sleep_cycles = 0
        self.device_accesses = 0  # CPU loads and stores that reached a device (MMIO, system registers)
        self.heap_peak = 0
        self._heap_now = 0
        if max_instructions is not None:
            self.state[nat.STOP_AT_INSTRET] = max_instructions
        self.uc = uc_mod.Uc(core.uc_arch, core.uc_mode, cpu=core.uc_cpu_model)
        self._action: Action | None = None
        self._console_parts: list[str] = []
        self._console = console

        def echo(text: str) -> None:
            self._console_parts.append(text)
            console(text)

        self.semihosting = Semihosting(
            read=self.read, write=self.write, cycles=lambda: self.cycles, clock_hz=board.clock_hz,
            console=echo, stdin=stdin, sandbox=semihost_dir, cmdline=cmdline, heapinfo=self._heapinfo())
        self._map_memory()
        self._load()
        if core.arch == "arm":
            from ._cortexm import CortexM as Platform
        else:
            from ._riscv import RiscV as Platform
        self.platform = Platform(self)
        self.sleeps: list[tuple[int, int]] = []  # (from, to) cycles of WFI sleep
        self.devices = Devices(self, accelerators)
        self.reference = None
        if reference:
            from ._reference import ReferenceModel
            self.reference = ReferenceModel(self)
        self._install_hooks()

    # -- memory -----------------------------------------------------------------------
    def _map_memory(self) -> None:
        page = 0x1000
        for r in self.board.regions:
            if r.kind == "mmio":
                continue  # devices map themselves; an empty window faults as unmapped
            if r.base % page or r.size % page:
                raise ConfigError(f"board {self.board.name}: region {r.name!r} base and size must be multiples of 4 KiB")
            perms = 0
            for c in r.perms:
                perms |= _PROT[c]
            self.uc.mem_map(r.base, r.size, perms)

    def _load(self) -> None:
        for seg in self.image.segments:
            self.uc.mem_write(seg.load_addr, seg.data)
            if seg.load_addr == seg.addr and seg.mem_size > len(seg.data):
                self.uc.mem_write(seg.addr + len(seg.data), bytes(seg.mem_size - len(seg.data)))

    def _heapinfo(self) -> tuple[int, int, int, int]:
        sym = self.image.symbols
        data = self.board.data
        top = data.end
        heap = sym["_end"].addr if "_end" in sym else data.base
        return heap, top - self.board.stack_bytes, top, top - self.board.stack_bytes

    def read(self, addr: int, size: int) -> bytes:
        return bytes(self.uc.mem_read(addr, size))

    def write(self, addr: int, data: bytes) -> None:
        self.uc.mem_write(addr, bytes(data))

    def read32(self, addr: int) -> int:
        return struct.unpack("<I", self.read(addr, 4))[0]

    # -- time -------------------------------------------------------------------------
    @property
    def cycles(self) -> int:
        """Cycles at the end of the block executing now (between runs: now)."""
        return int(self.state[nat.CYCLES])

    @property
    def instructions(self) -> int:
        return int(self.state[nat.INSTRET])

    @property
    def pc(self) -> int:
        """Unicorn's PC: exact in instruction hooks, the block start inside MMIO callbacks."""
        return self.platform.read_pc()

    def _in_block(self, pc: int) -> int:
        """Index of ``pc`` if it lies in the block accounted last, else -1."""
        i = self.code.index(pc)
        st = self.state
        if st[nat.ACCOUNTED] and st[nat.BLOCK_S] <= i < st[nat.BLOCK_E]:
            return i
        return -1

    def _cycle_at_index(self, i: int) -> int:
        """Cycle at which instruction ``i`` of the current block is reached, before its own interlocks."""
        st = self.state
        s = int(st[nat.BLOCK_S])
        if i <= s:
            return int(st[nat.BLOCK_START])
        return int(st[nat.BLOCK_START] + st[nat.BLOCK_ADJ] + st[nat.BLOCK_DYN]) + \
            self.code.prefix(nat.P_CYC, i) - self.code.prefix(nat.P_CYC, s)

    def cycle_at(self, pc: int) -> int:
        """Cycle at which the instruction at ``pc`` (in the current block) issues, after the interlock and
        fetch stalls it waits for: what a counter read sees."""
        i = self._in_block(pc)
        if i < 0:
            return self.cycles
        entry = self.code.field(nat.I_ENTRY_LU, i) + self.code.field(nat.I_ENTRY_MEM, i)
        if i == int(self.state[nat.BLOCK_S]):
            entry += int(self.state[nat.BLOCK_ADJ])
        return self._cycle_at_index(i) + entry

    def cycle_after(self, pc: int) -> int:
        """Cycle at which the instruction at ``pc`` completes: when its writes take effect."""
        i = self._in_block(pc)
        return self.cycles if i < 0 else self._cycle_at_index(i + 1)

    def instructions_at(self, pc: int) -> int:
        """Instructions retired before the one at ``pc``."""
        i = self._in_block(pc)
        return self.instructions if i < 0 else self.instructions - (int(self.state[nat.BLOCK_E]) - i)

    def access_pc(self, write: bool, size: int) -> int:
        """The instruction making the data access seen from a device or memory callback."""
        return self._access_pc if self._access_pc is not None else self._locate_access(write, size)

    def _locate_access(self, write: bool, size: int) -> int:
        """Unicorn reports the block start in access callbacks, so device accesses are matched in order
        with the block's decoded loads or stores that can reach a device (not SP-relative, not a
        literal, of the access's size): an access belongs to the instruction the previous one came
        from while that one has accesses left, else to the next candidate."""
        st = self.state
        block = (int(st[nat.BLOCK_S]), int(st[nat.BLOCK_START]))
        i, left = self._mmio_cursor[2:] if self._mmio_cursor[:2] == block else (block[0] - 1, 0)
        if left > 0:
            self._mmio_cursor = (*block, i, left - 1)
            return self.code.insns[i].addr
        for i in range(max(i + 1, block[0]), int(st[nat.BLOCK_E])):
            insn = self.code.insns[i]
            count = insn.mem_writes if write else insn.mem_reads
            nbytes = insn.write_bytes if write else insn.read_bytes
            if count and insn.mem_where == MEM_OTHER and nbytes % size == 0 and nbytes // count >= size:
                self._mmio_cursor = (*block, i, nbytes // size - 1)
                return insn.addr
        return self.pc

    def device_callbacks(self, read, write):
        """Wrap a device's Unicorn MMIO callbacks so that each access knows its instruction and an access
        that must take effect at once (``stop_soon``) can stop emulation right after its instruction."""
        def on_read(uc, offset, size, user):
            return self._device_access(False, size, read, uc, offset, size, user)

        def on_write(uc, offset, size, value, user):
            self._device_access(True, size, write, uc, offset, size, value, user)

        return on_read, on_write

    def _device_access(self, write: bool, size: int, handler, *args):
        pc = self._locate_access(write, size)
        if self._replay:  # the instruction runs again after a stop: its device accesses already happened
            return self._replay.pop(0)
        self.device_accesses += 1
        key = (pc, int(self.state[nat.BLOCK_START]))
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
        return self.cycle_at(pc), self.cycle_after(pc)

    def stop_soon(self) -> None:
        """Stop before the next instruction so the loop can act (e.g. a new pending interrupt).

        From a device access Unicorn stops at once with the PC on the accessing instruction, its
        register results not yet written: the loop re-runs that one instruction with its device
        accesses replayed (``_device_access``), then acts. Elsewhere the next block stops."""
        self.state[nat.STOP_AT_CYCLE] = 0
        if self._access_pc is not None and not self._stop_after:
            self._stop_after = True
            self.uc.emu_stop()

    def add_cycles(self, n: int, cause: str = "other") -> None:
        """Charge ``n`` cycles spent outside instructions (exception entry and return)."""
        self.state[nat.CYCLES] += n
        self.state[nat.STALL0 + STALL_CAUSES.index(cause)] += n
        if self.reference is not None:
            self.reference.add_cycles(n, cause)
        self.state[self._node_slot(nat.N_CYC, int(self.state[nat.CUR_NODE]))] += n

    def _node_slot(self, row: int, node: int) -> int:
        """Index in the state array of call-tree ``row`` (N_CYC, N_INS, N_CALLS) for ``node``."""
        return int(self.state[nat.OFF_NODE]) + row * _codemap.MAX_NODES + node

    def exception_entered(self, return_pc: int, sp: int | None = None) -> None:
        """The platform vectored to a handler; ``return_pc`` is where its return resumes,
        ``sp`` the lowest stack address its entry wrote."""
        self.add_cycles(self.timing.exception_entry)
        self.state[nat.LAST] = -1
        self.state[nat.TAKEN_PAID] = 0
        self.state[nat.PUSH_RET] = return_pc
        if sp is not None:
            self.state[nat.MIN_SP] = min(int(self.state[nat.MIN_SP]), sp)
        if self.reference is not None:
            self.reference.exception_entered(return_pc)

    def exception_returned(self) -> None:
        self.add_cycles(self.timing.exception_return)
        self.state[nat.LAST] = -1
        if self.reference is not None:
            self.reference.exception_returned()

    def _truncate(self, upto: int | None) -> None:
        """The block accounted last stopped before ``upto``: take back what did not run."""
        if upto is None:
            return
        i = self._in_block(upto)
        st = self.state
        if i < 0:
            return
        e = int(st[nat.BLOCK_E])
        code = self.code
        cyc = code.prefix(nat.P_CYC, e) - code.prefix(nat.P_CYC, i)
        at_start = i == int(st[nat.BLOCK_S])
        if at_start:
            cyc += int(st[nat.BLOCK_ADJ])
            st[nat.LAST] = st[nat.BLOCK_PREV]
        else:
            st[nat.LAST] = i - 1
        st[nat.CYCLES] -= cyc
        st[nat.INSTRET] -= e - i
        for k in range(6):
            st[nat.STALL0 + k] -= code.prefix(nat.P_STALL0 + k, e) - code.prefix(nat.P_STALL0 + k, i)
        for k in range(12):
            st[nat.MEM0 + k] -= code.prefix(nat.P_MEM0 + k, e) - code.prefix(nat.P_MEM0 + k, i)
        node = int(st[nat.CUR_NODE])
        st[self._node_slot(nat.N_CYC, node)] -= cyc
        st[self._node_slot(nat.N_INS, node)] -= e - i
        if at_start:  # as if the block had not been entered: refill, call-tree step
            taken = int(st[nat.BLOCK_TAKEN])
            st[nat.CYCLES] -= taken
            st[nat.STALL0] -= taken
            st[nat.STALL0 + 1] -= st[nat.BLOCK_ADJ_LU]
            st[nat.STALL0 + 3] -= st[nat.BLOCK_ADJ] - st[nat.BLOCK_ADJ_LU]
            st[self._node_slot(nat.N_CYC, int(st[nat.BLOCK_NODE0]))] -= taken
            st[nat.CUR_NODE] = st[nat.BLOCK_NODE0]
            st[nat.DEPTH] = st[nat.BLOCK_DEPTH0]
            st[nat.PUSH_RET] = st[nat.BLOCK_PUSH_RET]
            if st[nat.BLOCK_CALLED] >= 0:
                st[self._node_slot(nat.N_CALLS, int(st[nat.BLOCK_CALLED]))] -= 1
        st[nat.BLOCK_E] = i
        st[nat.IC_PEND_E] = max(i, int(st[nat.IC_PEND_S]))  # the I-cache sees only what ran
        st[nat.ACCOUNTED] = 0
        if self.reference is not None:
            self.reference.truncate(upto)

    def skip_to(self, pc: int) -> None:
        """From an instruction hook that emulated its instruction: continue at ``pc``. Unicorn starts a
        new block there, so the rest of the block accounted now is taken back."""
        self._truncate(pc)
        self.platform.write_pc(pc)

    # -- hooks ------------------------------------------------------------------------
    def _install_hooks(self) -> None:
        self.native = nat.NativeHooks(self.uc)
        self.native.add(nat.block_hook, self.state, uc_mod.UC_HOOK_BLOCK)
        self.devices.install(self.native)
        if self.code.memory_hook:
            self.native.add(nat.memory_hook, self.state, uc_mod.UC_HOOK_MEM_READ | uc_mod.UC_HOOK_MEM_WRITE)
            for addr in self.code.it_exits:
                self.native.add(nat.it_exit_hook, self.state, uc_mod.UC_HOOK_CODE, addr, addr)
        for addr in self.code.latency_sites:
            self.native.add(nat.latency_hook, self.state, uc_mod.UC_HOOK_CODE, addr, addr)
        for addr in self.code.watch_sites:
            self.native.add(nat.watch_hook, self.state, uc_mod.UC_HOOK_CODE, addr, addr)
        if self.reference is not None:
            self.uc.hook_add(uc_mod.UC_HOOK_CODE, self.reference.on_instruction)
            if self.code.memory_hook:
                self.uc.hook_add(uc_mod.UC_HOOK_MEM_READ | uc_mod.UC_HOOK_MEM_WRITE, self.reference.on_memory)
        sbrk = self.image.symbols.get("_sbrk")
        if sbrk is not None and sbrk.is_function:
            self.uc.hook_add(uc_mod.UC_HOOK_CODE, self._on_sbrk, begin=sbrk.addr, end=sbrk.addr)
        self.uc.hook_add(uc_mod.UC_HOOK_INTR, self._on_intr)
        self.uc.hook_add(uc_mod.UC_HOOK_INSN_INVALID, self._on_invalid)
        self.uc.hook_add(uc_mod.UC_HOOK_MEM_UNMAPPED | uc_mod.UC_HOOK_MEM_PROT, self._on_bad_access)

    def act(self, kind: str, pc: int, arg: object = None) -> None:
        """Called from hooks: stop emulation and let the loop handle ``kind``."""
        if self._action is None:
            self._action = Action(kind, pc, arg)
        self.uc.emu_stop()

    def _on_sbrk(self, uc, address: int, size: int, _user) -> None:
        """Heap high-water mark from the increments asked of ``_sbrk`` (its first argument)."""
        incr = self.platform.first_argument()
        self._heap_now = max(0, self._heap_now + (incr - (1 << 32) if incr >> 31 else incr))
        self.heap_peak = max(self.heap_peak, self._heap_now)

    def _on_intr(self, uc, intno: int, _user) -> None:
        self.platform.on_intr(intno)

    def _on_invalid(self, uc, _user) -> bool:
        self.platform.on_invalid()
        return False

    def _on_bad_access(self, uc, access: int, addr: int, size: int, value: int, _user) -> bool:
        kind, why = _ACCESS.get(access, ("access", "invalid"))
        if kind == "fetch" and self.platform.is_exception_return(addr):
            self.act("exception-return", self.pc, addr)
            return False
        pc = self.pc if kind == "fetch" else self.access_pc(kind == "write", size)
        self.act("fault", pc, (kind, why, addr, size))
        return False

    # -- faults -----------------------------------------------------------------------
    def where(self, pc: int) -> str:
        return f"PC {pc:#010x} ({self.image.describe(pc)})"

    def fault(self, kind: str, pc: int, detail: str, address: int | None = None,
              access: str | None = None, size: int | None = None) -> Stop:
        where = self.where(pc)
        if address is not None:
            sym = self.image.describe(address)
            target = f"{address:#010x}" + ("" if sym == "?" else f" ({sym})")
            message = f"{detail} {target} at {where}"
        else:
            message = f"{detail} at {where}"
        f = Fault(kind=kind, pc=pc, pc_symbol=self.image.describe(pc), address=address,
                  address_symbol=None if address is None else self.image.describe(address),
                  access=access, size=size, message=message)
        return Stop("fault", ExitCode.FAULT, message, f)

    def _access_fault(self, pc: int, kind: str, why: str, addr: int, size: int) -> Stop:
        region = self.board.region_at(addr)
        if why == "unmodelled":
            detail = f"{kind} of {size} bytes to unmodelled system register"
        elif why == "protected" and region is not None:
            detail = f"{kind} of {size} bytes to {region.kind} region {region.name!r} ({region.perms}) at address"
        elif region is not None and region.kind == "mmio":
            detail = f"{kind} of {size} bytes to MMIO region {region.name!r} with no device at address"
        else:
            detail = f"{kind} of {size} bytes at unmapped address"
        return self.fault(f"{kind}-{why}", pc, detail, address=addr, access=kind, size=size)

    # -- the loop ---------------------------------------------------------------------
    def run(self) -> RunResult:
        started = time.monotonic()
        deadline = None if self.timeout is None else started + self.timeout
        pc = self.platform.reset()
        try:
            while True:
                self._arm()
                error = self._emulate(pc, deadline)
                pc = self._after_stop(error, deadline)
        except Stop as stop:
            result = self._result(stop, time.monotonic() - started)
        finally:
            self.semihosting.close()
            self.native.close()
        return result

    def _arm(self) -> None:
        st = self.state
        st[nat.STOPPED] = 0
        st[nat.ACCOUNTED] = 0
        st[nat.STOP_AT_CYCLE] = min(self._next_event(), int(nat.NEVER))
        watch = self.platform.watch_registers()
        st[nat.WATCH] = len(watch)
        for k, (reg, value) in enumerate((watch * 2)[:2]):  # one register fills both slots
            st[nat.WATCH_REG0 + 2 * k] = reg
            st[nat.WATCH_VAL0 + 2 * k] = value & 0xFFFF_FFFF

    def _emulate(self, pc: int, deadline: float | None) -> UcError | None:
        timeout_us = 0
        if deadline is not None:
            timeout_us = max(1, int((deadline - time.monotonic()) * 1e6))
        until = _UNTIL if self._until is None else self._until
        try:
            self.uc.emu_start(self.platform.start_address(pc), until, timeout=timeout_us)
        except UcError as e:
            return e
        return None

    def _split_point(self, start: int) -> int | None:
        """Address of the instruction in the block at ``start`` before which the next event is due."""
        code, st = self.code, self.state
        s = code.index(start)
        when, limit = int(st[nat.STOP_AT_CYCLE]), int(st[nat.STOP_AT_INSTRET])
        prev = int(st[nat.LAST])
        entry = self._entry_adjust(prev, s)
        cycle = self.cycles + entry[0]
        for k in range(s + 1, len(code.insns)):
            insn = code.insns[k]
            before = code.insns[k - 1]
            if before.ctrl or before.fallthrough != insn.addr:
                return None
            at = cycle + entry[1] + code.prefix(nat.P_CYC, k) - code.prefix(nat.P_CYC, s)
            if (at >= when or self.instructions + (k - s) >= limit) and not insn.in_it:
                return insn.addr
        return None

    def _entry_adjust(self, prev: int, s: int) -> tuple[int, int]:
        """(taken penalty, entry adjustment) the block hook computes for block start ``s`` after ``prev``."""
        code = self.code
        insn = code.insns[s]
        p = code.insns[prev] if prev >= 0 else None
        seq = p is not None and p.fallthrough == insn.addr
        paid = int(self.state[nat.TAKEN_PAID])
        taken = taken_cost(self.timing, p, insn) if p is not None and p.ctrl and not seq and not paid else 0
        lu, mem = entry_cost(self.timing, self.code_mem, p, insn)
        return taken, lu + mem - code.field(nat.I_ENTRY_LU, s) - code.field(nat.I_ENTRY_MEM, s)

    def _after_stop(self, error: UcError | None, deadline: float | None) -> int:
        """Handle why emulation stopped; return the PC to resume at."""
        action, self._action = self._action, None
        until, self._until = self._until, None
        stop_after, self._stop_after = self._stop_after, False
        stopped = int(self.state[nat.STOPPED])
        if action is not None:
            pc = self._handle(action)
        elif stop_after:
            pc = self.platform.read_pc()  # exact here: the accessing instruction
            self._truncate(pc)
            located = self._access_key is not None and self._access_key[0] == pc
            self._replay = self._access_log if located else self._access_log[-1:]
            self._access_log, self._access_key = [], None
            self._until = self.code.insns[self.code.index(pc)].fallthrough
            self.state[nat.SKIP_STOP_AT] = pc
            return pc
        elif stopped == nat.STOP_SPLIT:
            pc = int(self.state[nat.STOP_ADDR])
            self._until = self._split_point(pc)
            self.state[nat.SKIP_STOP_AT] = pc
            return pc
        elif stopped == nat.STOP_OUTSIDE:
            pc = int(self.state[nat.STOP_ADDR])
            if self.platform.wrong_state_fault(pc):
                action, self._action = self._action, None
                return self._handle(action)
            raise Stop("unsupported", ExitCode.UNSUPPORTED,
                       f"execution reached {pc:#010x}, outside the ELF's executable sections "
                       "(code copied to RAM is not supported)")
        elif stopped or (until is not None and self.platform.read_pc() == until and error is None):
            pc = self.platform.read_pc()
            if stopped == nat.STOP_WATCH_INSN:
                self._truncate(pc)
            if self.instructions >= int(self.state[nat.STOP_AT_INSTRET]):
                raise Stop("instruction-limit", ExitCode.INSTRUCTION_LIMIT,
                           f"instruction limit of {self.max_instructions} reached at {self.where(pc)}")
        elif error is not None:
            raise self.fault("emulation-error", self.pc, f"Unicorn stopped with '{error}'")
        else:
            pc = self.platform.read_pc()
            if deadline is not None and time.monotonic() >= deadline:
                raise Stop("timeout", ExitCode.TIMEOUT,
                           f"wall-clock timeout of {self.timeout:g} s reached at {self.where(pc)}")
            wfi = self.platform.stopped_in_wfi(pc)
            if wfi is None:
                raise self.fault("emulation-error", pc, "emulation stopped without a reason")
            self._truncate(pc)  # the block went on past the WFI
            self._sleep(wfi)
        self._update_events()
        return self.platform.deliver(pc)

    def _handle(self, action: Action) -> int:
        self._truncate(self._executed_upto(action))
        if action.kind == "fault":
            raise self._access_fault(action.pc, *action.arg)
        if action.kind == "semihost":
            return self._semihost(action)
        if action.kind == "unsupported":
            raise Stop("unsupported", ExitCode.UNSUPPORTED, f"{action.arg} at {self.where(action.pc)}")
        return self.platform.handle(action)

    @staticmethod
    def _executed_upto(action: Action) -> int | None:
        """First instruction that did not run when ``action`` stopped emulation mid-block."""
        if action.kind == "semihost":
            return action.arg[2]
        if action.kind == "svc":
            return action.arg
        if action.kind == "ecall":
            return action.pc + 4
        if action.kind == "exception-return":
            return None
        return action.pc

    def _semihost(self, action: Action) -> int:
        op, arg, next_pc = action.arg
        try:
            result = self.semihosting.call(op, arg)
        except SemihostingRefused as e:
            raise Stop("unsupported", ExitCode.UNSUPPORTED, f"{e} at {self.where(action.pc)}") from None
        if isinstance(result, Exit):
            raise Stop("exit", result.code & 0xFF, f"firmware exited with code {result.code} ({result.detail})")
        self.platform.set_return_value(result & 0xFFFFFFFF)
        return next_pc

    def _next_event(self) -> int:
        """The next cycle at which a timer or an accelerator needs the loop."""
        device = self.devices.next_event()
        platform = self.platform.next_event()
        return platform if device is None else min(platform, device)

    def _update_events(self) -> None:
        self.platform.update()
        self.devices.update()

    def _sleep(self, wfi: int) -> None:
        """WFI at ``wfi``: jump time to the next event that wakes the core."""
        while not self.platform.wake_pending():
            when = self._next_event()
            if when == nat.NEVER:
                raise Stop("deadlock", ExitCode.DEADLOCK,
                           f"WFI at {self.where(wfi)} waits for an interrupt "
                           "that no enabled source can raise")
            if when > self.cycles:
                self.sleeps.append((self.cycles, int(when)))
                self.sleep_cycles += int(when) - self.cycles
                if self.reference is not None:
                    self.reference.sleep(int(when) - self.cycles)
                self.state[nat.CYCLES] = int(when)
            self._update_events()

    def cache_report(self) -> dict:
        """Hits and misses of the caches the timing profile has (empty without caches)."""
        st, c = self.state, self.timing.cache
        out = {}
        if st[nat.IC_SETS]:
            out["icache"] = dict(bytes=c["icache_bytes"], ways=c["icache_ways"], line_bytes=c["line_bytes"],
                                 misses=int(st[nat.IC_MISSES]))  # lookups are per block, so no hit count
        if st[nat.DC_SETS]:
            out["dcache"] = dict(bytes=c["dcache_bytes"], ways=c["dcache_ways"], line_bytes=c["line_bytes"],
                                 hits=int(st[nat.DC_HITS]), misses=int(st[nat.DC_MISSES]),
                                 writebacks=int(st[nat.DC_WRITEBACKS]))
        return out

    def ram_accesses(self) -> int:
        """CPU data accesses to RAM so far: the data region's, exactly with the memory hook; else the
        static count of SP-relative and pointer accesses less those that reached devices."""
        st = self.state
        if self.code.memory_hook:
            k = self.board.regions.index(self.board.data)
            row = int(st[nat.OFF_REGION]) + k * nat.N_RFIELDS
            return int(st[row + nat.R_READS] + st[row + nat.R_WRITES])
        stack, other = nat.MEM0, nat.MEM0 + 8  # (reads, writes) of _profile._WHERE "stack", "unattributed"
        return int(st[stack] + st[stack + 1] + st[other] + st[other + 1]) - self.device_accesses

    def region_traffic(self) -> dict[str, dict[str, int]]:
        """Data accesses by board region, as the memory hook counted them."""
        st, out = self.state, {}
        for k, r in enumerate(self.board.regions):
            row = int(st[nat.OFF_REGION]) + k * nat.N_RFIELDS
            out[r.name] = dict(reads=int(st[row + nat.R_READS]), writes=int(st[row + nat.R_WRITES]),
                               read_bytes=int(st[row + nat.R_READ_BYTES]),
                               write_bytes=int(st[row + nat.R_WRITE_BYTES]))
        return out

    def _result(self, stop: Stop, wall: float) -> RunResult:
        nat.icache_sync(self.state)  # the last block's instruction lines
        report = Profiler(self).report()
        return RunResult(
            exit_code=int(stop.exit_code), exit_reason=stop.reason, message=stop.message,
            instructions=self.instructions, cycles=self.cycles, core=self.core.name, board=self.board.name,
            clock_hz=self.board.clock_hz, elf=self.image.path, console="".join(self._console_parts),
            fault=stop.fault, interrupts=self.platform.interrupt_counts(), wall_seconds=wall,
            timing=self.timing.name, timing_options=dict(self.timing.chosen),
            accelerators=self.devices.report(self.sleeps), **report)


class Simulator:
    """Run a firmware ELF on a core and board: ``Simulator("app.elf", core="cortex-m4").run()``.

    Parameters mirror ``simmcu run``: ``core`` is a core name with optional
    timing options (``"picorv32:barrel_shifter=false"``); ``board`` is a bundled
    name or a TOML path (default: the core's board); ``timing`` overrides the
    core's timing profile (a bundled name or a TOML path); ``max_instructions``
    and ``timeout`` (seconds, wall clock) bound runaway firmware;
    ``semihost_dir`` opts in to host file access inside that directory;
    ``console`` receives output as it is written; ``check_timing`` also runs the
    plain-Python reference timing model and reports any disagreement with the
    native one (slow; for testing timing profiles); ``exact_memory`` hooks every
    data access, for traffic by board region and wait states priced by the region
    really accessed (slower; implied by a data cache); ``accelerators`` attaches
    accelerator models (``"conv:pe_rows=16"``, a TOML path, or ``Accelerator``
    instances).
    """

    def __init__(self, elf: str | Path, core: str = "rv32imc", board: str | Path | None = None, *,
                 timing: str | Path | None = None, max_instructions: int | None = None,
                 timeout: float | None = None, semihost_dir: str | Path | None = None, stdin: bytes = b"",
                 args: tuple[str, ...] = (), console: Callable[[str], None] | None = None,
                 check_timing: bool = False, exact_memory: bool = False, accelerators=()):
        name, options = parse_core_spec(core)
        self.core = get_core(name)
        self.timing = load_profile(timing if timing is not None else self.core.timing, options)
        expected_isa = "thumb" if self.core.arch == "arm" else "rv32"
        if self.timing.isa != expected_isa:
            raise ConfigError(f"timing profile {self.timing.name} is for {self.timing.isa}; core {name} runs {expected_isa}")
        self.board = load_board(board if board is not None else self.core.board)
        if self.board.arch != self.core.arch:
            raise ConfigError(f"board {self.board.name} is for {self.board.arch} cores; {self.core.name} is {self.core.arch}")
        if max_instructions is not None and max_instructions <= 0:
            raise ConfigError("max_instructions must be positive")
        if timeout is not None and timeout <= 0:
            raise ConfigError("timeout must be positive")
        if semihost_dir is not None and not Path(semihost_dir).is_dir():
            raise ConfigError(f"semihosting directory {semihost_dir} does not exist")
        self.image = load_elf(elf, self.core, self.board)
        try:
            self.code = _codemap.build(self.image, self.core.arch, self.timing, self.board, exact_memory)
        except ValueError:
            raise ConfigError(f"{self.image.path} has no executable code") from None
        self._options = dict(max_instructions=max_instructions, timeout=timeout, stdin=stdin,
                             semihost_dir=semihost_dir, cmdline=" ".join((Path(str(elf)).name, *args)),
                             console=console or (lambda text: None), reference=check_timing,
                             accelerators=[make_accelerator(str(a)) if isinstance(a, (str, Path)) else a
                                           for a in accelerators])

    def run(self) -> RunResult:
        """Run from reset to an ending; each call is a fresh, deterministic run."""
        return Machine(self.image, self.code, self.core, self.board, self.timing, **self._options).run()
