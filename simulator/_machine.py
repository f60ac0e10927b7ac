"""The core loop: one firmware on one core and board, run to an ending.

Unicorn executes; the native counting hook (``_native``) keeps time and stops
at instruction boundaries when something is due. Everything rare -- semihosting,
faults, exception entry and return, timers, WFI -- is handled here in Python
between ``emu_start`` calls, so the hot path never enters the interpreter.
Architecture specifics live in the platform objects (``_cortexm``, ``_riscv``).
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import unicorn as uc_mod
from unicorn import UcError

from . import _native as nat
from ._board import Board, load_board
from ._cores import Core, get_core
from ._elf import ElfImage, load_elf
from ._errors import ConfigError, ExitCode
from ._result import Fault, RunResult
from ._semihosting import Exit, Semihosting, SemihostingRefused
from .isa import thumb

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

    def __init__(self, image: ElfImage, core: Core, board: Board, *, max_instructions: int | None,
                 timeout: float | None, console: Callable[[str], None], stdin: bytes,
                 semihost_dir: str | Path | None, cmdline: str):
        self.image, self.core, self.board = image, core, board
        self.max_instructions = max_instructions
        self.timeout = timeout
        self.state = self._new_state()
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

    def _new_state(self):
        if self.core.arch != "arm":
            return nat.new_state()
        code = self.board.code
        sites = [site for seg in self.image.segments if seg.executable and code.contains(seg.load_addr)
                 for site in thumb.it_sites(seg.data, seg.load_addr)]
        return nat.new_state(sites, code.base, code.size)

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
        """Cycles including the instruction executing now: when its writes take effect."""
        return int(self.state[nat.CYCLES])

    @property
    def issue_cycle(self) -> int:
        """Cycle at which the instruction executing now started: what its counter reads see."""
        return int(self.state[nat.ISSUE_CYCLE])

    @property
    def instructions(self) -> int:
        return int(self.state[nat.INSTRET])

    @property
    def pc(self) -> int:
        """Address of the instruction executing now (valid inside hooks and MMIO callbacks)."""
        return int(self.state[nat.PC])

    def stop_soon(self) -> None:
        """Stop before the next instruction so the loop can act (e.g. a new pending interrupt)."""
        self.state[nat.STOP_AT_CYCLE] = 0

    # -- hooks ------------------------------------------------------------------------
    def _install_hooks(self) -> None:
        self.native = nat.NativeHooks(self.uc)
        self.native.add_code_hook(self.state)
        self.uc.hook_add(uc_mod.UC_HOOK_INTR, self._on_intr)
        self.uc.hook_add(uc_mod.UC_HOOK_INSN_INVALID, self._on_invalid)
        self.uc.hook_add(uc_mod.UC_HOOK_MEM_UNMAPPED | uc_mod.UC_HOOK_MEM_PROT, self._on_bad_access)

    def act(self, kind: str, pc: int, arg: object = None) -> None:
        """Called from hooks: stop emulation and let the loop handle ``kind``."""
        if self._action is None:
            self._action = Action(kind, pc, arg)
        self.uc.emu_stop()

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
        self.act("fault", self.pc, (kind, why, addr, size))
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
        self.state[nat.STOPPED] = 0
        self.state[nat.STOP_AT_CYCLE] = self.platform.next_event()
        watch = self.platform.watch_registers()
        self.state[nat.WATCH] = len(watch)
        for k, (reg, value) in enumerate((watch * 2)[:2]):  # one register fills both slots
            self.state[nat.WATCH_REG0 + 2 * k] = reg
            self.state[nat.WATCH_VAL0 + 2 * k] = value

    def _emulate(self, pc: int, deadline: float | None) -> UcError | None:
        timeout_us = 0
        if deadline is not None:
            timeout_us = max(1, int((deadline - time.monotonic()) * 1e6))
        try:
            self.uc.emu_start(self.platform.start_address(pc), _UNTIL, timeout=timeout_us)
        except UcError as e:
            return e
        return None

    def _after_stop(self, error: UcError | None, deadline: float | None) -> int:
        """Handle why emulation stopped; return the PC to resume at."""
        action, self._action = self._action, None
        if action is not None:
            pc = self._handle(action)
        elif self.state[nat.STOPPED]:
            pc = self.platform.read_pc()
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
            self._sleep(wfi)
        self.platform.update()
        return self.platform.deliver(pc)

    def _handle(self, action: Action) -> int:
        if action.kind == "fault":
            raise self._access_fault(action.pc, *action.arg)
        if action.kind == "semihost":
            return self._semihost(action)
        if action.kind == "unsupported":
            raise Stop("unsupported", ExitCode.UNSUPPORTED, f"{action.arg} at {self.where(action.pc)}")
        return self.platform.handle(action)

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

    def _sleep(self, wfi: int) -> None:
        """WFI at ``wfi``: jump time to the next event that wakes the core."""
        while not self.platform.wake_pending():
            when = self.platform.next_event()
            if when == nat.NEVER:
                raise Stop("deadlock", ExitCode.DEADLOCK,
                           f"WFI at {self.where(wfi)} waits for an interrupt "
                           "that no enabled source can raise")
            self.state[nat.CYCLES] = max(self.cycles, int(when))
            self.platform.update()

    def _result(self, stop: Stop, wall: float) -> RunResult:
        return RunResult(
            exit_code=int(stop.exit_code), exit_reason=stop.reason, message=stop.message,
            instructions=self.instructions, cycles=self.cycles, core=self.core.name, board=self.board.name,
            clock_hz=self.board.clock_hz, elf=self.image.path, console="".join(self._console_parts),
            fault=stop.fault, interrupts=self.platform.interrupt_counts(), wall_seconds=wall)


class Simulator:
    """Run a firmware ELF on a core and board: ``Simulator("app.elf", core="cortex-m4").run()``.

    Parameters mirror ``simmcu run``: ``board`` is a bundled name or a TOML path
    (default: the core's board); ``max_instructions`` and ``timeout`` (seconds,
    wall clock) bound runaway firmware; ``semihost_dir`` opts in to host file
    access inside that directory; ``console`` receives output as it is written.
    """

    def __init__(self, elf: str | Path, core: str = "rv32imc", board: str | Path | None = None, *,
                 max_instructions: int | None = None, timeout: float | None = None,
                 semihost_dir: str | Path | None = None, stdin: bytes = b"", args: tuple[str, ...] = (),
                 console: Callable[[str], None] | None = None):
        self.core = get_core(core)
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
        self._options = dict(max_instructions=max_instructions, timeout=timeout, stdin=stdin,
                             semihost_dir=semihost_dir, cmdline=" ".join((Path(str(elf)).name, *args)),
                             console=console or (lambda text: None))

    def run(self) -> RunResult:
        """Run from reset to an ending; each call is a fresh, deterministic run."""
        return Machine(self.image, self.core, self.board, **self._options).run()

