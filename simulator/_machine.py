"""The core loop: one firmware on one core and board, run to an ending.

Unicorn executes; the native block hook (``_native``) prices each basic block from tables built
once per ELF (``_codemap``) and stops before a block when something is due. An event due *inside*
a block is reached exactly by running that block again with Unicorn's ``until`` address at the
right instruction (``_blocks.BlockAccounting.split_point``). Everything rare -- semihosting,
faults, exception entry and return, timers, WFI -- is handled here in Python between
``emu_start`` calls, so the hot path never enters the interpreter. The parts the loop drives
each own one concern: ``_blocks`` the accounting of the block running now, ``_bus`` guest
memory and device accesses, the platform (``_cortexm``, ``_riscv``) the system registers and
exceptions, ``_devices`` the accelerators, ``_observe`` whatever watches the run.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping

import unicorn as uc_mod
from unicorn import UcError

from . import _codemap
from . import _hooks
from . import _state as nat
from ._blocks import BlockAccounting, FunctionalAccounting
from ._board import Board, load_board
from ._bus import GuestAccessError, SystemBus
from ._calls import tracking
from ._cores import Core, get_core, parse_core_spec
from ._devices import Devices
from ._elf import ElfImage, load_elf
from ._energy import accelerator_area, run_energy
from ._errors import ConfigError, ExitCode, TimeLimitError
from ._observe import EndRun, Events, Observer, Restart, overrides
from ._params import check_run_limits
from ._profile import Profiler
from ._reference import reference_model
from ._result import Fault, RunResult
from ._semihosting import OPS, Exit, Semihosting, SemihostingRefused
from ._timing import NEVER_CYCLE, Profile, load_profile

_PROT = {"r": uc_mod.UC_PROT_READ, "w": uc_mod.UC_PROT_WRITE, "x": uc_mod.UC_PROT_EXEC}
_ACCESS = {
    uc_mod.UC_MEM_READ_UNMAPPED: ("read", "unmapped"), uc_mod.UC_MEM_WRITE_UNMAPPED: ("write", "unmapped"),
    uc_mod.UC_MEM_FETCH_UNMAPPED: ("fetch", "unmapped"), uc_mod.UC_MEM_READ_PROT: ("read", "protected"),
    uc_mod.UC_MEM_WRITE_PROT: ("write", "protected"), uc_mod.UC_MEM_FETCH_PROT: ("fetch", "protected"),
}
_UNTIL = 0xFFFF_FFFF  # never reached: code is 2-byte aligned on both ISAs
#: Splits of blocks at one site (a stop and a restart of emulation each) fewer than PLAN_SPLIT_GAP
#: instructions after the last one there, before access_hook watches the site instead.
PLAN_SPLITS_BEFORE_HOOK, PLAN_SPLIT_GAP = 64, 20_000


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
                 semihost_dir: str | Path | None, cmdline: str, observers: list[Observer] = (), accelerators=(),
                 writes: tuple[tuple[int, bytes], ...] = (), reads: tuple[tuple[str, int, int], ...] = (),
                 functional: bool = False, fast_forward: str | None = None):
        self.image, self.core, self.board, self.timing = image, core, board, timing
        #: counting only (``--timing none``, or a fast-forward until its symbol is reached)
        self.functional = functional or fast_forward is not None
        self._fast_forward = fast_forward
        self._fast_forwarded: dict | None = None  #: the functional part's counts once the timed part began
        self._reads = reads
        self.max_instructions = max_instructions
        self.timeout = timeout
        self.code = code.fresh()
        self.state = self.code.state
        self.blocks = (FunctionalAccounting if self.functional else BlockAccounting)(self.code, timing)
        self._until: int | None = None
        self._plan_splits: Counter[int] = Counter()  #: splits of a block at each site soon after the last one
        self._plan_split_at: dict[int, int] = {}  #: instructions executed at the last split at each site
        self.sleep_cycles = 0
        self.sleeps: list[tuple[int, int]] = []  # (from, to) cycles of WFI sleep
        self.heap_peak = 0
        self._heap_now = 0
        if max_instructions is not None:
            self.state.stop_at_instruction = max_instructions
        self.uc = uc_mod.Uc(core.uc_arch, core.uc_mode, cpu=core.uc_cpu_model)
        self.bus = SystemBus(self)
        self._action: Action | None = None
        self._pause_requested = False  # an observer asked to stop (``pause``)
        self._console_parts: list[str] = []

        def echo(text: str) -> None:
            self._console_parts.append(text)
            console(text)

        self.semihosting = Semihosting(
            read=self.bus.read, write=self.bus.write, cycles=lambda: self.cycles, clock_hz=board.clock_hz,
            console=echo, stdin=stdin, sandbox=semihost_dir, cmdline=cmdline, heapinfo=self._heapinfo(),
            check=self.bus.check)
        self._map_memory()
        self._load()
        for addr, data in writes:  # after the load: what the host puts into the firmware's buffers
            self.uc.mem_write(addr, data)
        if core.arch == "arm":
            from ._cortexm import CortexM as Platform
        else:
            from ._riscv import RiscV as Platform
        self.platform = Platform(self)
        self.observers = tracking(list(observers))
        self.events = Events(self.observers)
        self.devices = Devices(self, accelerators)
        self._install_hooks()
        for o in self.observers:
            o.attach(self)

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
        """Guest memory (for observers and tools; the platform and devices use ``bus``)."""
        return self.bus.read(addr, size)

    # -- time -------------------------------------------------------------------------
    @property
    def cycles(self) -> int:
        """Cycles at the end of the block executing now (between runs: now)."""
        return self.state.cycles

    @property
    def instructions(self) -> int:
        return self.state.instructions

    @property
    def pc(self) -> int:
        """Unicorn's PC: exact in instruction hooks, the block start inside MMIO callbacks."""
        return self.platform.read_pc()

    def add_cycles(self, n: int, cause: str = "other") -> None:
        """Charge ``n`` cycles spent outside instructions (exception entry and return)."""
        if self.functional:
            return
        self.blocks.charge(n, cause)
        for notify in self.events.cycles_added:
            notify(n, cause)

    def exception_entered(self, return_pc: int, sp: int | None = None) -> None:
        """The platform vectored to a handler; ``return_pc`` is where its return resumes,
        ``sp`` the lowest stack address its entry wrote."""
        self.add_cycles(self.timing.exception_entry)
        self.blocks.exception_entered(return_pc, sp)
        for notify in self.events.exception_entered:
            notify(return_pc)

    def exception_returned(self) -> None:
        self.add_cycles(self.timing.exception_return)
        self.blocks.exception_returned()
        for notify in self.events.exception_returned:
            notify()

    def _take_back(self, upto: int | None) -> None:
        """The block accounted last stopped before ``upto``: take back what did not run."""
        if upto is not None and self.blocks.truncate(upto):
            for notify in self.events.taken_back:
                notify(upto)

    def skip_to(self, pc: int) -> None:
        """From an instruction hook that emulated its instruction: continue at ``pc``. Unicorn starts a
        new block there, so the rest of the block accounted now is taken back."""
        self._take_back(pc)
        self.platform.write_pc(pc)

    # -- hooks ------------------------------------------------------------------------
    def _install_hooks(self) -> None:
        self.native = _hooks.NativeHooks(self.uc)
        array = self.state.array
        hooks = _hooks.entry_points()
        if self.functional:
            self._counting = self.native.add(hooks["count_hook"], array, uc_mod.UC_HOOK_BLOCK)
        else:
            self.native.add(hooks["block_hook"], array, uc_mod.UC_HOOK_BLOCK)
        self.devices.install(self.native)
        if not self.functional:
            self._timing_hooks()
        for addr in self.code.watch_sites:
            self.native.add(hooks["watch_hook"], array, uc_mod.UC_HOOK_CODE, addr, addr)
        if self.functional or not self.state.planning:  # else the block hook's plans check alignment
            for begin, end in _codemap.site_ranges(self.code.alignment_sites):
                self.native.add(hooks["alignment_hook"], array, uc_mod.UC_HOOK_CODE, begin, end)
        self._it_exits_hooked = (self.code.memory_hook and not self.functional) or \
            any(overrides(o, "memory") for o in self.observers)
        if self._it_exits_hooked:
            for addr in self.code.it_exits:  # any memory hook needs this (Unicorn #2309)
                self.native.add(hooks["it_exit_hook"], array, uc_mod.UC_HOOK_CODE, addr, addr)
        if self._fast_forward is not None:
            target = self.image.symbols[self._fast_forward].addr
            self._ff_hook = self.uc.hook_add(uc_mod.UC_HOOK_CODE, lambda uc, address, size, _: self.act(
                "fast-forward", address), begin=target, end=target)
        for o in self.observers:
            if overrides(o, "instruction"):
                self.uc.hook_add(uc_mod.UC_HOOK_CODE, lambda uc, address, size, _, o=o: o.instruction(address, size))
            if overrides(o, "memory"):
                self.uc.hook_add(uc_mod.UC_HOOK_MEM_READ | uc_mod.UC_HOOK_MEM_WRITE,
                                 lambda uc, access, address, size, value, _, o=o:
                                 o.memory(access == uc_mod.UC_MEM_WRITE, address, size, value))
        sbrk = self.image.symbols.get("_sbrk")
        if sbrk is not None and sbrk.is_function:
            self.uc.hook_add(uc_mod.UC_HOOK_CODE, self._on_sbrk, begin=sbrk.addr, end=sbrk.addr)
        self.uc.hook_add(uc_mod.UC_HOOK_INTR, self._on_intr)
        self.uc.hook_add(uc_mod.UC_HOOK_INSN_INVALID, self._on_invalid)
        self.uc.hook_add(uc_mod.UC_HOOK_MEM_UNMAPPED | uc_mod.UC_HOOK_MEM_PROT, self._on_bad_access)

    def _timing_hooks(self) -> None:
        """What only the timing model needs beyond its block hook: the memory hook, data-dependent latencies."""
        array = self.state.array
        hooks = _hooks.entry_points()
        if self.code.memory_hook:
            self.native.add(hooks["memory_hook"], array, uc_mod.UC_HOOK_MEM_READ | uc_mod.UC_HOOK_MEM_WRITE)
        for begin, end in _codemap.site_ranges(self.code.access_sites):
            self.native.add(hooks["access_hook"], array, uc_mod.UC_HOOK_CODE, begin, end)
        for begin, end in _codemap.site_ranges(self.code.latency_sites):
            self.native.add(hooks["latency_hook"], array, uc_mod.UC_HOOK_CODE, begin, end)

    def _split_for_plan(self, site: int) -> int:
        """A block's access plan stops at ``site``, which no hook watches: run the block up to it (the site
        then starts a block, whose plan reads its registers there). Where that keeps happening (a pointer
        loaded and used in a loop's body, few instructions apart), hook the site and those after it in its
        run instead: a hook costs every time the instructions of its range run, a split a restart of
        emulation."""
        last, self._plan_split_at[site] = self._plan_split_at.get(site), self.state.instructions
        if last is None or self.state.instructions - last < PLAN_SPLIT_GAP:
            self._plan_splits[site] += 1
        if self._plan_splits[site] == PLAN_SPLITS_BEFORE_HOOK:
            code, plans = self.code, self.state.plans
            sites = []
            for i in range(site, len(code.insns)):
                if plans.kind[i] & nat.K_SITE and not plans.kind[i] & nat.K_HOOKED:
                    plans.kind[i] |= nat.K_HOOKED
                    sites.append(code.insns[i].addr)
                if _codemap.ends_run(code.insns, i):
                    break
            hook = _hooks.entry_points()["access_hook"]
            for begin, end in _codemap.site_ranges(sites):
                self.native.add(hook, self.state.array, uc_mod.UC_HOOK_CODE, begin, end)
                self.uc.ctl_remove_cache(begin, end + 1)  # translated code calls only the hooks it was built with
        return self.code.insns[site].addr

    def _start_timing(self) -> None:
        """The fast-forward reached its symbol (nothing of its instruction has run): time from here. What
        the timed part starts from: the last instruction that ran (interlocks, the taken branch into the
        symbol, fetch state), as in a timed run; an untrained branch predictor and cold caches, as at
        reset; the stack peak and every profile count from zero, the function running at the switch at
        the top of the call tree; the clock goes on from the functional one (one cycle per instruction)
        so that scheduled timers keep their time."""
        st = self.state
        self._fast_forwarded = dict(instructions=st.instructions, cycles=st.cycles)
        self.uc.hook_del(self._ff_hook)
        self.native.remove(self._counting)
        self.functional = False
        self.blocks = BlockAccounting(self.code, self.timing)
        st.runs[:] = 0
        st.dynamic_stalls[:] = 0
        st.dynamic_dual = 0
        nodes = st.nodes
        for row in ("cycles", "instructions", "calls"):
            nodes[row][:] = 0
        if st.last >= 0:  # the function running at the switch, at the top of the timed part's call tree
            from . import _native  # Numba: compiles the call-tree helper for this one call

            st.node = _native._child(st.array, 0, self.code.func_of[st.last])
        st.sp_recheck = 1  # the first timed block reads SP
        self.sleep_cycles, self.sleeps = 0, []
        hooks = _hooks.entry_points()
        self.native.add(hooks["block_hook"], st.array, uc_mod.UC_HOOK_BLOCK)
        self._timing_hooks()
        if self.code.memory_hook and not self._it_exits_hooked:
            for addr in self.code.it_exits:
                self.native.add(hooks["it_exit_hook"], st.array, uc_mod.UC_HOOK_CODE, addr, addr)
        self.uc.ctl_flush_tb()  # blocks translated so far lack the code hooks just added

    def act(self, kind: str, pc: int, arg: object = None) -> None:
        """Called from hooks: stop emulation and let the loop handle ``kind``."""
        if self._action is None:
            self._action = Action(kind, pc, arg)
        self.uc.emu_stop()

    def pause(self, pc: int | None = None) -> None:
        """For observers: stop before the instruction at ``pc`` (from a Unicorn hook on it: what ran of its
        block stays accounted, the rest is taken back), or with ``pc`` None from anywhere, any thread
        included, at the next block boundary; then call the observers' ``paused``."""
        self._pause_requested = True
        if pc is None:
            self.state.stop_at_cycle = 0  # the next block stops before it starts, as for a due event
        else:
            self.act("pause", pc)

    def _paused(self, pc: int) -> int:
        """Between emulation runs, at ``pc``: the observers' ``paused``; returns the PC to go on from (a debugger
        may have written it)."""
        self.platform.write_pc(pc)
        try:
            for notify in self.events.paused:
                notify(pc)
        except EndRun as e:
            raise Stop(e.reason, ExitCode.ENDED, f"{e} at {self.where(pc)}") from None
        return self.platform.read_pc()

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
        pc = self.pc if kind == "fetch" else self.bus.access_pc(kind == "write", size)
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
    def run(self, started: float | None = None) -> RunResult:
        """Run to an ending; the wall-clock limit counts from ``started`` (default: now)."""
        started = time.monotonic() if started is None else started
        deadline = None if self.timeout is None else started + self.timeout
        try:
            pc = self.platform.reset()
            while True:
                if self._pause_requested:
                    self._pause_requested = False
                    pc = self._paused(pc)
                self._arm()
                error = self._emulate(pc, deadline)
                pc = self._after_stop(error, deadline)
        except Stop as stop:
            result = self._result(stop, time.monotonic() - started)
        except GuestAccessError as e:  # a platform access the firmware's state made impossible
            stop = self.fault("bad-access", self.pc, f"the core's {e.access} of {e.size} bytes", address=e.address,
                              access=e.access, size=e.size)
            result = self._result(stop, time.monotonic() - started)
        finally:
            self.semihosting.close()
            self.native.close()
        return result

    def _arm(self) -> None:
        st = self.state
        st.stopped = 0
        st.accounted = 0
        st.stop_at_cycle = 0 if self._pause_requested else min(self._next_event(), NEVER_CYCLE)
        watch = self.platform.watch_registers()
        st.watching = len(watch)
        for k, (reg, value) in enumerate((watch * 2)[:2]):  # one register fills both slots
            st.watch_registers[k] = reg
            st.watch_values[k] = value & 0xFFFF_FFFF

    def _emulate(self, pc: int, deadline: float | None) -> UcError | None:
        timeout_us = 0
        if deadline is not None:
            timeout_us = max(1, int((deadline - time.monotonic()) * 1e6))
        until = _UNTIL if self._until is None else self._until
        try:
            self.uc.emu_start(self.platform.start_address(pc), until, timeout=timeout_us)
        except UcError as e:
            return e
        finally:
            self.devices.settle()  # a custom instruction that ended the last block is completed first
        return None

    def _after_stop(self, error: UcError | None, deadline: float | None) -> int:
        """Handle why emulation stopped; return the PC to resume at."""
        action, self._action = self._action, None
        if action is not None and action.kind == "pause":  # an observer's stop: no event is handled here
            self._take_back(action.pc)
            return action.pc  # the loop calls ``paused``; a split block or re-run under way (``_until``) goes on
        until, self._until = self._until, None
        stop_after, self.bus.stop_after = self.bus.stop_after, False
        stopped = self.state.stopped
        if action is not None:
            pc = self._handle(action)
        elif stop_after:
            pc = self.platform.read_pc()  # exact here: the accessing instruction
            self._take_back(pc)
            self.bus.replay_at(pc)
            self._until = self.code.insns[self.code.index(pc)].fallthrough
            self.state.skip_stop_at = pc
            return pc
        elif stopped == nat.STOP_SPLIT:
            pc = self.state.stop_address
            self._until = self.blocks.split_point(pc)
            self.state.skip_stop_at = pc
            return pc
        elif stopped == nat.STOP_PLAN:
            pc = self.state.stop_address
            self._until = self._split_for_plan(self.state.plan_split)
            return pc
        elif stopped == nat.STOP_UNALIGNED:
            pc = self.state.stop_address
            self._take_back(pc)
            raise self.platform.unaligned_fault(pc)
        elif stopped == nat.STOP_OUTSIDE:
            pc = self.state.stop_address
            if self.platform.wrong_state_fault(pc):
                action, self._action = self._action, None
                return self._handle(action)
            raise Stop("unsupported", ExitCode.UNSUPPORTED,
                       f"execution reached {pc:#010x}, outside the ELF's executable sections "
                       "(code copied to RAM is not supported)")
        elif stopped or (until is not None and self.platform.read_pc() == until and error is None):
            pc = self.platform.read_pc()
            if stopped == nat.STOP_WATCH_INSN:
                self._take_back(pc)
            if self.instructions >= self.state.stop_at_instruction:
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
            self._take_back(pc)  # the block went on past the WFI
            self._sleep(wfi)
        self._update_events()
        return self.platform.deliver(pc)

    def _handle(self, action: Action) -> int:
        self._take_back(self._executed_upto(action))
        if action.kind == "fault":
            raise self._access_fault(action.pc, *action.arg)
        if action.kind == "semihost":
            return self._semihost(action)
        if action.kind == "unsupported":
            raise Stop("unsupported", ExitCode.UNSUPPORTED, f"{action.arg} at {self.where(action.pc)}")
        if action.kind == "fast-forward":
            self._start_timing()
            return action.pc
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
        except GuestAccessError as e:
            name = OPS.get(op, f"semihosting call {op:#x}")
            raise self.fault("semihosting-bad-pointer", action.pc, f"{name} passes a bad pointer: {e.access} of "
                             f"{e.size} bytes at", address=e.address, access=e.access, size=e.size) from None
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
            if when == NEVER_CYCLE:
                raise Stop("deadlock", ExitCode.DEADLOCK,
                           f"WFI at {self.where(wfi)} waits for an interrupt "
                           "that no enabled source can raise")
            if when > self.cycles:
                start = self.cycles
                self.sleeps.append((start, int(when)))
                self.sleep_cycles += int(when) - start
                self.state.cycles = int(when)
                for notify in self.events.slept:
                    notify(start, int(when))
            self._update_events()

    def _result(self, stop: Stop, wall: float) -> RunResult:
        _hooks.icache_flush(self.state.array)  # the last block's instruction lines
        for notify in self.events.ended:
            notify(stop.reason, int(stop.exit_code))
        reports = {o.NAME: o.report() for o in self.observers if o.NAME}
        common = dict(
            exit_code=int(stop.exit_code), exit_reason=stop.reason, message=stop.message,
            core=self.core.name, board=self.board.name,
            clock_hz=self.board.clock_hz, elf=self.image.path, console="".join(self._console_parts),
            fault=stop.fault, interrupts=self.platform.interrupt_counts(), wall_seconds=wall, reports=reports,
            symbol_data={name: bytes(self.uc.mem_read(addr, size)) for name, addr, size in self._reads})
        ff = None
        if self._fast_forward is not None:
            done = self._fast_forwarded
            ff = dict(symbol=self._fast_forward, address=self.image.symbols[self._fast_forward].addr,
                      reached=done is not None,
                      instructions=self.instructions if done is None else done["instructions"])
        if self.functional:  # --timing none, or a fast-forward that never reached its symbol
            warnings = [] if ff is None else [
                f"--fast-forward-to {ff['symbol']}: the symbol was never reached; nothing was timed"]
            return RunResult(instructions=self.instructions, cycles=None, cpi=None, timing="none",
                             memory=Profiler(self).memory(), accelerators=self.devices.report(self.sleeps),
                             warnings=warnings, fast_forward=ff, **common)
        instructions, cycles = self.instructions, self.cycles
        if ff is not None:  # the timed part's counts
            instructions -= self._fast_forwarded["instructions"]
            cycles -= self._fast_forwarded["cycles"]
        report = Profiler(self).report()
        report["cpi"] = round(cycles / instructions, 4) if instructions else 0.0
        accelerators = self.devices.report(self.sleeps)
        energy = run_energy(self.core, self.board, cycles, self.sleep_cycles, report["memory"]["regions"],
                            self.devices.accels, accelerators)
        return RunResult(
            instructions=instructions, cycles=cycles, timing=self.timing.name, timing_options=dict(self.timing.chosen),
            accelerators=accelerators, energy=energy, area=accelerator_area(self.devices.accels), fast_forward=ff,
            **common, **report)


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
    instances); ``observers`` attaches ``Observer`` instances, or classes to
    instantiate afresh for each run (``simmcu.Observer``: trace writers, checks);
    ``profile_lines`` adds ``lines`` to the result: cycles, instructions and stalls per source
    line from the ELF's DWARF line table (a little slower). ``timing="none"`` runs functionally: instruction
    counts only, no cycles (``RunResult.cycles`` is None), near plain Unicorn's speed; ``fast_forward_to``
    names a code symbol: the run is functional until it is first reached and timed from there
    (docs/engine.md#functional-runs-and-fast-forward).
    """

    def __init__(self, elf: str | Path, core: str = "rv32imc", board: str | Path | None = None, *,
                 timing: str | Path | None = None, max_instructions: int | None = None,
                 timeout: float | None = None, semihost_dir: str | Path | None = None, stdin: bytes = b"",
                 args: tuple[str, ...] = (), console: Callable[[str], None] | None = None,
                 check_timing: bool = False, exact_memory: bool = False, accelerators=(), observers=(),
                 profile_lines: bool = False, fast_forward_to: str | None = None):
        name, options = parse_core_spec(core)
        self.core = get_core(name)
        self._functional = timing == "none"  # a reserved profile name: no timing model
        _check_functional(self._functional, fast_forward_to, check_timing=check_timing, profile_lines=profile_lines,
                          exact_memory=exact_memory, accelerators=bool(accelerators))
        self.timing = load_profile(self.core.timing if timing is None or self._functional else timing, options)
        expected_isa = "thumb" if self.core.arch == "arm" else "rv32"
        if self.timing.isa != expected_isa:
            raise ConfigError(f"timing profile {self.timing.name} is for {self.timing.isa}; core {name} runs {expected_isa}")
        self.board = load_board(board if board is not None else self.core.board)
        if self.board.arch != self.core.arch:
            raise ConfigError(f"board {self.board.name} is for {self.board.arch} cores; {self.core.name} is {self.core.arch}")
        check_run_limits(max_instructions, timeout)
        if semihost_dir is not None and not Path(semihost_dir).is_dir():
            raise ConfigError(f"semihosting directory {semihost_dir} does not exist")
        self._created = time.monotonic()  # the first run's wall-clock limit covers loading and decoding

        def progress() -> None:
            if timeout is not None and time.monotonic() > self._created + timeout:
                raise TimeLimitError(f"wall-clock timeout of {timeout:g} s reached while decoding {elf}")

        from simmcu.firmware import example_elf  # here: the firmware package imports this one

        elf = example_elf(elf, self.core)  # a bundled example by name
        self.image = load_elf(elf, self.core, self.board)
        try:
            self.code = _codemap.build(self.image, self.core.arch, self.timing, self.board, exact_memory,
                                       strict_alignment=self.core.arch == "arm" and self.core.isa != "armv6-m",
                                       progress=progress, lines=profile_lines)
        except ValueError:
            raise ConfigError(f"{self.image.path} has no executable code") from None
        if fast_forward_to is not None:
            target = self.image.symbols.get(fast_forward_to)
            if target is None or self.code.index(target.addr) < 0:
                raise ConfigError(f"--fast-forward-to: {self.image.path} has no "
                                  f"{'code ' if target is not None else ''}symbol {fast_forward_to!r}")
        if accelerators:  # the registry reads the installed packages' entry points
            from simmcu.accelerators import make_accelerator
        self._options = dict(max_instructions=max_instructions, timeout=timeout, stdin=stdin,
                             functional=self._functional, fast_forward=fast_forward_to,
                             semihost_dir=semihost_dir, cmdline=" ".join((Path(str(elf)).name, *args)),
                             console=console or (lambda text: None),
                             accelerators=[make_accelerator(str(a)) if isinstance(a, (str, Path)) else a
                                           for a in accelerators])
        self._observers = [*observers, *([reference_model(self.code.exact_accesses)] if check_timing else [])]

    def run(self, write: Mapping[str, bytes] | None = None, read: Iterable[str] = ()) -> RunResult:
        """Run from reset to an ending; each call is a fresh, deterministic run on the ELF as loaded
        (its segments, kept since construction, are written into fresh memory: nothing is re-read or
        re-decoded, so many runs of one build cost only their execution).

        ``write`` maps symbols to bytes placed at them before reset, so one build serves many inputs:
        a constant (flash) is written where it lives, an initialised variable (``.data``) at its load
        image, which start-up code copies; a zeroed (``.bss``) symbol is refused. ``read`` names
        symbols whose bytes (their ELF size) the result carries after the run, in
        ``RunResult.symbol_data``."""
        writes = tuple(self._symbol_write(name, bytes(data)) for name, data in (write or {}).items())
        reads = tuple((name, self._symbol(name).addr, self._symbol(name).size) for name in read)
        observers = [o() if isinstance(o, type) else o for o in self._observers]
        started, self._created = self._created, None
        while True:
            try:
                return Machine(self.image, self.code, self.core, self.board, self.timing, observers=observers,
                               writes=writes, reads=reads, **self._options).run(started)
            except Restart:  # an observer (a debugger's reset) asked for a fresh run from reset
                continue

    def _symbol(self, name: str):
        symbol = self.image.symbols.get(name)
        if symbol is None or symbol.is_function or symbol.size == 0:
            raise ConfigError(f"{self.image.path} has no data symbol {name!r} with a size")
        return symbol

    def _symbol_write(self, name: str, data: bytes) -> tuple[int, bytes]:
        """Where ``data`` must go so that the firmware finds it at ``name`` after start-up."""
        symbol = self._symbol(name)
        if len(data) > symbol.size:
            raise ConfigError(f"{len(data)} bytes for symbol {name!r}, which holds {symbol.size}")
        for seg in self.image.segments:
            if seg.addr <= symbol.addr and symbol.addr + len(data) <= seg.addr + len(seg.data):
                return seg.load_addr + symbol.addr - seg.addr, data
        raise ConfigError(f"symbol {name!r} is in memory the start-up code zeroes (.bss): written before reset, "
                          f"it would not survive; make it a constant or an initialised variable")


def _check_functional(functional: bool, fast_forward_to: str | None, **asked: bool) -> None:
    """What needs cycles cannot run without them (``timing="none"``); the reference model and the
    per-line rows follow a whole run, so they cannot start at a fast-forward's switch either."""
    if functional and fast_forward_to is not None:
        raise ConfigError("--fast-forward-to times the run from its symbol: it cannot be combined with --timing none")
    names = dict(check_timing="--check-timing", profile_lines="--profile-lines", exact_memory="--exact-memory",
                 accelerators="--accel")
    refused = ("check_timing", "profile_lines") if fast_forward_to is not None else tuple(names) if functional else ()
    for option in refused:
        if asked[option]:
            mode = f"--fast-forward-to {fast_forward_to}" if fast_forward_to is not None else "--timing none"
            raise ConfigError(f"{names[option]} needs the timing model of the whole run: it cannot be combined "
                              f"with {mode}")
