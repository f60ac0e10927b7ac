"""A GDB remote server: the GDB Remote Serial Protocol over TCP, attached to a run as an observer.

``GdbServer`` listens (loopback by default), waits for one client when the run attaches it and
stops the run before its first instruction. It never changes the model: breakpoints are Unicorn
code hooks on their exact addresses, watchpoints memory hooks on the watched bytes, a single step a
one-shot code hook over all code, and every stop goes through ``Machine.pause``, which accounts the
running block up to the stop (``_blocks.BlockAccounting.truncate``) exactly as the loop does for
an event inside a block. With no breakpoint, watchpoint or step armed, nothing is hooked and the
run goes at full speed. A run stopped and stepped therefore ends with the same cycles,
instructions and stalls as one never stopped.

One thread reads the socket (framing, checksums, acknowledgements, Ctrl-C); the run's own thread
answers packets while the run is paused.
"""

from __future__ import annotations

import queue
import socket
import sys
import threading
from dataclasses import dataclass

import unicorn as uc_mod
from unicorn import UcError
from unicorn import arm_const as A
from unicorn import riscv_const as R

from ._errors import ConfigError
from ._observe import EndRun, Observer, Restart

PACKET_SIZE = 0x4000  #: largest packet we accept and announce (qSupported PacketSize)
_SIGINT, _SIGTRAP, _SIGSEGV = 2, 5, 11
_WATCH = {"2": ("watch", uc_mod.UC_HOOK_MEM_WRITE), "3": ("rwatch", uc_mod.UC_HOOK_MEM_READ),
          "4": ("awatch", uc_mod.UC_HOOK_MEM_READ | uc_mod.UC_HOOK_MEM_WRITE)}
_RV_CSRS = {"mstatus": 0x300, "misa": 0x301, "mie": 0x304, "mtvec": 0x305, "mscratch": 0x340, "mepc": 0x341,
            "mcause": 0x342, "mtval": 0x343}


def parse_address(text: str) -> tuple[str, int]:
    """``[HOST:]PORT`` -> (host, port); the host defaults to loopback."""
    host, sep, port = str(text).rpartition(":")
    if not sep:
        host = "127.0.0.1"
    host = host.strip("[]")
    if not port.isdigit() or not 0 <= int(port) <= 65535 or (sep and not host):
        raise ConfigError(f"gdb address {text!r} is not [HOST:]PORT with a port from 0 to 65535")
    return host, int(port)


@dataclass(frozen=True)
class Register:
    name: str
    bits: int
    uc: int
    feature: str
    type: str = "uint32"
    group: str = "general"


def registers(core) -> list[Register]:
    """The registers GDB sees, in remote register-number order; those of the first feature fill the ``g`` packet."""
    if core.arch == "riscv":
        regs = [Register(f"x{n}", 32, R.UC_RISCV_REG_X0 + n, "org.gnu.gdb.riscv.cpu",
                         "data_ptr" if n in (2, 3, 4) else "int") for n in range(32)]
        regs.append(Register("pc", 32, R.UC_RISCV_REG_PC, "org.gnu.gdb.riscv.cpu", "code_ptr"))
        regs += [Register(name, 32, getattr(R, f"UC_RISCV_REG_{name.upper()}"), "org.gnu.gdb.riscv.csr", "int",
                          "system") for name in _RV_CSRS]
        return regs
    cpu = "org.gnu.gdb.arm.m-profile"
    regs = [Register(f"r{n}", 32, getattr(A, f"UC_ARM_REG_R{n}"), cpu) for n in range(13)]
    regs += [Register("sp", 32, A.UC_ARM_REG_SP, cpu, "data_ptr"), Register("lr", 32, A.UC_ARM_REG_LR, cpu),
             Register("pc", 32, A.UC_ARM_REG_PC, cpu, "code_ptr"), Register("xpsr", 32, A.UC_ARM_REG_XPSR, cpu)]
    system = ["msp", "psp", "primask", "control"] if core.isa == "armv6-m" else \
        ["msp", "psp", "primask", "basepri", "faultmask", "control"]
    regs += [Register(n, 32, getattr(A, f"UC_ARM_REG_{n.upper()}"), "org.gnu.gdb.arm.m-system", group="system")
             for n in system]
    if core.fpu != "none":
        regs += [Register(f"d{n}", 64, getattr(A, f"UC_ARM_REG_D{n}"), "org.gnu.gdb.arm.vfp", "ieee_double", "float")
                 for n in range(16)]
        regs.append(Register("fpscr", 32, A.UC_ARM_REG_FPSCR, "org.gnu.gdb.arm.vfp", "int", "float"))
    return regs


def target_xml(core) -> str:
    arch = "riscv:rv32" if core.arch == "riscv" else "arm"
    parts = ['<?xml version="1.0"?>', '<!DOCTYPE target SYSTEM "gdb-target.dtd">', '<target version="1.0">',
             f"<architecture>{arch}</architecture>"]
    feature = None
    for n, r in enumerate(registers(core)):
        if r.feature != feature:
            parts.append(("</feature>" if feature else "") + f'<feature name="{r.feature}">')
            feature = r.feature
        parts.append(f'<reg name="{r.name}" bitsize="{r.bits}" regnum="{n}" type="{r.type}" group="{r.group}"/>')
    parts += ["</feature>", "</target>"]
    return "\n".join(parts)


def memory_map_xml(board) -> str:
    """Flash as ``flash`` (GDB then uses hardware breakpoints there), SRAM and TCM as ``ram``; device windows
    are left out, so GDB does not read them (a read could have a device's side effects)."""
    parts = ['<?xml version="1.0"?>', '<!DOCTYPE memory-map PUBLIC "+//IDN gnu.org//DTD GDB Memory Map V1.0//EN" '
             '"http://sourceware.org/gdb/gdb-memory-map.dtd">', "<memory-map>"]
    for r in board.regions:
        if r.kind == "flash":
            parts.append(f'<memory type="flash" start="{r.base:#x}" length="{r.size:#x}">'
                         '<property name="blocksize">0x1000</property></memory>')
        elif r.kind != "mmio":
            parts.append(f'<memory type="ram" start="{r.base:#x}" length="{r.size:#x}"/>')
    parts.append("</memory-map>")
    return "\n".join(parts)


def _checksum(data: bytes) -> bytes:
    return b"%02x" % (sum(data) & 0xFF)


def _escape(data: bytes) -> bytes:
    out = bytearray()
    for b in data:
        if b in b"#$}*":
            out += bytes((0x7D, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


class _Connection:
    """One client's socket. The reader thread frames packets into ``packets`` (None: the client is gone),
    acknowledges them (``-`` on a bad checksum, so the client resends) and reports Ctrl-C."""

    def __init__(self, sock: socket.socket, on_interrupt, on_idle):
        self.sock = sock
        self.packets: queue.Queue = queue.Queue()
        self._send_lock = threading.Lock()
        self._last = b""
        self._on_interrupt, self._on_idle = on_interrupt, on_idle
        self.sock.settimeout(0.1)
        self._thread = threading.Thread(target=self._read, name="simmcu-gdb-reader", daemon=True)
        self._thread.start()

    def _write(self, data: bytes) -> None:
        with self._send_lock:
            try:
                self.sock.sendall(data)
            except OSError:
                pass  # the reader sees the client go and reports it

    def send(self, payload: str | bytes) -> None:
        data = _escape(payload.encode("latin-1") if isinstance(payload, str) else payload)
        self._last = b"$" + data + b"#" + _checksum(data)
        self._write(self._last)

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def _read(self) -> None:
        packet: bytearray | None = None  # inside $...#
        tail = b""  # checksum characters after '#'
        while True:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                self._on_idle()
                continue
            except OSError:
                data = b""
            if not data:
                self.packets.put(None)
                return
            for b in data:
                if packet is None:
                    if b == 0x24:  # '$'
                        packet, tail = bytearray(), b""
                    elif b == 0x03:
                        self._on_interrupt()
                    elif b == 0x2D:  # '-': our last reply was garbled
                        self._write(self._last)
                    continue  # '+' and garbage between packets
                if tail or b == 0x23:  # '#'
                    tail += bytes((b,))
                    if len(tail) == 3:
                        body, packet = bytes(packet), None
                        if tail[1:].lower() == _checksum(body):
                            self._write(b"+")
                            self.packets.put(unescape(body))
                        else:
                            self._write(b"-")
                elif len(packet) >= PACKET_SIZE:
                    packet = None
                    self._write(b"-")
                else:
                    packet.append(b)


def unescape(body: bytes) -> bytes:
    """A packet's payload with its escapes undone: ``}`` escapes the next byte (XOR 0x20)."""
    out, escaped = bytearray(), False
    for b in body:
        if escaped:
            out.append(b ^ 0x20)
            escaped = False
        elif b == 0x7D:
            escaped = True
        else:
            out.append(b)
    return bytes(out)


class _Resume(Exception):
    """A packet that lets the run go on (continue, step, detach)."""


class GdbServer(Observer):
    """Serve one GDB client for a run: ``Simulator(elf, observers=[GdbServer("127.0.0.1:1234")]).run()``.

    The socket is bound when the server is made (``port`` is the one chosen, for port 0); the run waits
    for the client before its first instruction. ``log`` receives one-line notices (default: stderr).
    One client per server: once it connects the server stops listening, so a second one is refused. A
    client that disconnects (or drops mid-packet) detaches: the run goes on to its end.
    """

    def __init__(self, address: str | tuple[str, int] = "127.0.0.1:0", log=None):
        self.host, port = parse_address(address) if isinstance(address, str) else address
        self._log = log or (lambda line: print(f"simmcu: {line}", file=sys.stderr, flush=True))
        try:
            infos = socket.getaddrinfo(self.host, port, type=socket.SOCK_STREAM)
            self._listener = socket.socket(infos[0][0], socket.SOCK_STREAM)
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._listener.bind(infos[0][4])
            self._listener.listen(1)
        except OSError as e:
            raise ConfigError(f"gdb server cannot listen on {self.host}:{port}: {e.strerror or e}") from None
        self.port = self._listener.getsockname()[1]
        self._conn: _Connection | None = None
        self._lock = threading.Lock()  # guards _running and _interrupted against the reader thread
        self._running = False
        self._interrupted = False
        self._detached = False
        self._breakpoints: dict[int, str] = {}                 # address -> "swbreak" / "hwbreak"
        self._watchpoints: set[tuple[str, int, int]] = set()   # (kind, address, length)
        self._log(f"gdb server listening on {self.host}:{self.port}")

    # -- observer ---------------------------------------------------------------------
    def attach(self, run) -> None:
        self.run = run
        self._regs = registers(run.core)
        self._gpacket = sum(r.feature == self._regs[0].feature for r in self._regs)  # core registers; the rest by p
        self._hooks: dict[object, object] = {}   # breakpoint address or watchpoint key -> Unicorn hook
        self._step_hook = None
        self._it_hooks = False
        self._resume_from: tuple[int, int] | None = None  # (pc, instructions): the instance we resume at
        self._hit: tuple[str, int] | None = None           # breakpoint or watchpoint seen, not yet reported
        self._watch_step = False                           # stepping over the instruction a watchpoint saw
        self._stepping = False                             # the client asked for a single step
        self._first = True
        if self._conn is None and not self._detached:
            self._accept()
        if self._detached:
            return
        for addr in self._breakpoints:
            self._hook_breakpoint(addr)
        for key in self._watchpoints:
            self._hook_watchpoint(key)
        run.pause()  # before the first instruction

    def _accept(self) -> None:
        try:
            sock, peer = self._listener.accept()
        finally:
            self._listener.close()  # one client: a second connection is refused
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._log(f"gdb connected from {peer[0]}:{peer[1]}")
        self._conn = _Connection(sock, self._on_interrupt, self._on_idle)

    def paused(self, pc: int) -> None:
        with self._lock:
            self._running = False
            interrupted, self._interrupted = self._interrupted, False
        if self._detached:
            return
        count = self.run.instructions
        hit, self._hit = self._hit, None
        if self._step_hook is not None:
            self.run.uc.hook_del(self._step_hook)
            self._step_hook = None
            self.run.uc.ctl_flush_tb()  # back to the fast path
        if hit is not None and hit[0] in ("watch", "rwatch", "awatch") and not self._watch_step:
            # Stopped before the accessing instruction: run it, then report with the access done.
            self._watch_step = True
            self._hit = hit
            self._step_from(pc, count)
            return
        stepped, self._watch_step = self._watch_step or self._stepping, False
        self._stepping = False
        if hit is not None and hit[0] in ("watch", "rwatch", "awatch"):
            reply = f"T{_SIGTRAP:02x}{hit[0]}:{hit[1]:x};thread:1;"
        elif interrupted:
            reply = f"T{_SIGINT:02x}thread:1;"
        elif hit is not None and hit[1] == pc:
            reply = f"T{_SIGTRAP:02x}{hit[0]}:;thread:1;"
        elif stepped or hit is not None:
            reply = f"T{_SIGTRAP:02x}thread:1;"
        elif self._first:
            reply = None  # the client asks with '?'
        else:
            self._go(pc, count)  # a stray stop (a late Ctrl-C retry): nothing to report
            return
        self._first = False
        self._last_stop = reply or f"T{_SIGTRAP:02x}thread:1;"
        if reply:
            self._conn.send(reply)
        self._serve(pc, count)

    def ended(self, reason: str, exit_code: int) -> None:
        if self._conn is None or self._detached:
            return
        signal = _SIGSEGV if reason == "fault" else _SIGTRAP
        if reason == "fault":  # stop there first, so the client can look at the faulting state
            self._last_stop = f"T{signal:02x}thread:1;"
            self._conn.send(self._last_stop)
            try:
                self._serve(self.run.pc, self.run.instructions)
            except EndRun:
                return  # killed: the run has ended anyway
            if self._detached:
                return
        if reason == "exit":
            self._conn.send(f"W{exit_code:02x}")
        elif reason != "killed":
            self._conn.send(f"X{signal:02x}")
        self._log(f"gdb session ended: {reason}")
        self._close()

    # -- hooks ------------------------------------------------------------------------
    def _same_instance(self, pc: int) -> bool:
        """Is this the instruction we resumed at, not yet executed (the stop we already reported)?"""
        return self._resume_from == (pc, self.run.blocks.instructions_at(pc))

    def _in_it(self, pc: int) -> bool:
        """Inside a Thumb IT block: the run never stops there (the IT state would not survive), as the loop
        takes no event there either; a stop asked for there is made at the next block boundary after it."""
        i = self.run.code.index(pc)
        return i >= 0 and self.run.code.insns[i].in_it

    def _on_breakpoint(self, uc, address: int, size: int, _user) -> None:
        if self.run.state.stopped or self._same_instance(address):
            return  # the loop stops before this instruction anyway / we resume from this very stop
        self._hit = (self._breakpoints.get(address, "swbreak"), address)
        self.run.pause(None if self._in_it(address) else address)

    def _on_step(self, uc, address: int, size: int, _user) -> None:
        if self.run.state.stopped or self._same_instance(address) or self._in_it(address):
            return  # an IT block is stepped as a whole
        self.run.pause(address)

    def _on_watch(self, uc, access: int, address: int, size: int, value: int, _user) -> None:
        if self.run.state.stopped or self._watch_step:
            return  # the loop stops before this instruction anyway / it re-runs after a watchpoint stop
        pc = self.run.pc
        for (kind, start, length) in self._watchpoints:
            wants = access == uc_mod.UC_MEM_WRITE if kind == "watch" else \
                access == uc_mod.UC_MEM_READ if kind == "rwatch" else True
            if wants and address < start + length and start < address + size:
                self._hit = (kind, max(address, start))
                if self._in_it(pc):  # reported at the next block boundary, the access done
                    self._watch_step = True
                    self.run.pause()
                else:
                    self.run.pause(pc)
                return

    def _hook_breakpoint(self, addr: int) -> None:
        self._hooks[addr] = self.run.uc.hook_add(uc_mod.UC_HOOK_CODE, self._on_breakpoint, begin=addr, end=addr)
        self.run.uc.ctl_remove_cache(addr, addr + 1)  # retranslate the block holding it, now with the hook

    def _hook_watchpoint(self, key: tuple[str, int, int]) -> None:
        kind, addr, length = key
        mask = next(m for k, m in _WATCH.values() if k == kind)
        run = self.run
        if run.core.arch == "arm" and not self._it_hooks and not run.code.memory_hook:
            from ._hooks import entry_points  # a memory hook needs these (Unicorn #2309), as --exact-memory does

            for site in run.code.it_exits:
                run.native.add(entry_points()["it_exit_hook"], run.state.array, uc_mod.UC_HOOK_CODE, site, site)
            self._it_hooks = True
        self._hooks[key] = run.uc.hook_add(mask, self._on_watch, begin=max(0, addr - 7), end=addr + length - 1)
        run.uc.ctl_flush_tb()

    def _unhook(self, key) -> None:
        hook = self._hooks.pop(key, None)
        if hook is not None:
            self.run.uc.hook_del(hook)
            if isinstance(key, int):
                self.run.uc.ctl_remove_cache(key, key + 1)
            else:
                self.run.uc.ctl_flush_tb()

    def _step_from(self, pc: int, count: int) -> None:
        self._step_hook = self.run.uc.hook_add(uc_mod.UC_HOOK_CODE, self._on_step)
        self.run.uc.ctl_flush_tb()  # every block retranslated with the step hook
        self._go(pc, count)

    def _go(self, pc: int, count: int) -> None:
        self._resume_from = (pc, count)
        with self._lock:
            self._running = True
            if self._interrupted:  # Ctrl-C came right behind the packet that resumes
                self.run.pause()

    # -- the reader thread's callbacks ------------------------------------------------
    def _on_interrupt(self) -> None:
        with self._lock:
            self._interrupted = True
            if self._running:
                self.run.pause()

    def _on_idle(self) -> None:
        with self._lock:  # a pause request the loop's own re-arming overwrote: ask again
            if self._running and self._interrupted:
                self.run.pause()

    # -- packets ----------------------------------------------------------------------
    def _serve(self, pc: int, count: int) -> None:
        """Answer packets until one lets the run go on."""
        self._stepping = False
        while True:
            packet = self._conn.packets.get()
            if packet is None:
                self._log("gdb client disconnected; the run goes on to its end")
                self._detach()
                return
            try:
                reply = self._dispatch(packet.decode("latin-1"), pc)
            except _Resume:
                if self._detached:
                    return
                if self._stepping:
                    self._step_from(pc, count)
                else:
                    self._go(pc, count)
                return
            except Restart:
                self._conn.send("OK")
                raise
            except (ValueError, IndexError, TypeError, UcError):
                reply = "E01"  # a malformed packet
            self._conn.send(reply)

    def _dispatch(self, p: str, pc: int) -> str:
        head = p[:1]
        if not p:
            return ""
        if p == "?":
            return self._last_stop
        if p.startswith("qSupported"):
            return (f"PacketSize={PACKET_SIZE:x};qXfer:features:read+;qXfer:memory-map:read+;swbreak+;hwbreak+;"
                    "vContSupported+")
        if p.startswith("qXfer:features:read:target.xml:"):
            return self._xfer(target_xml(self.run.core), p.rsplit(":", 1)[1])
        if p.startswith("qXfer:memory-map:read::"):
            return self._xfer(memory_map_xml(self.run.board), p.rsplit(":", 1)[1])
        if p == "qAttached" or p.startswith("qAttached:"):
            return "1"
        if p == "qC":
            return "QC1"
        if p == "qfThreadInfo":
            return "m1"
        if p == "qsThreadInfo":
            return "l"
        if p.startswith("H") or p.startswith("T"):
            return "OK"  # one thread
        if p.startswith("qRcmd,"):
            return self._monitor(bytes.fromhex(p[6:]).decode("latin-1").strip(), pc)
        if head == "g":
            return "".join(self._reg_hex(r) for r in self._regs[:self._gpacket])
        if head == "G":
            data = bytes.fromhex(p[1:])
            at = 0
            for r in self._regs[:self._gpacket]:
                if at + r.bits // 8 <= len(data):
                    self._write_reg(r, int.from_bytes(data[at:at + r.bits // 8], "little"))
                at += r.bits // 8
            return "OK"
        if head == "p":
            n = int(p[1:], 16)
            return self._reg_hex(self._regs[n]) if n < len(self._regs) else "E45"
        if head == "P":
            n, value = p[1:].split("=")
            if int(n, 16) >= len(self._regs):
                return "E45"
            r = self._regs[int(n, 16)]
            self._write_reg(r, int.from_bytes(bytes.fromhex(value), "little"))
            return "OK"
        if head == "m":
            addr, length = (int(x, 16) for x in p[1:].split(","))
            data = self._read(addr, min(length, (PACKET_SIZE - 8) // 2))
            return data.hex() if data or not length else "E01"
        if head in "MX" and p:
            where, data = p[1:].split(":", 1)
            addr, length = (int(x, 16) for x in where.split(","))
            raw = bytes.fromhex(data) if head == "M" else data.encode("latin-1")
            if len(raw) != length:
                return "E01"
            return self._write(addr, raw)
        if head in "Zz" and p[1:2] in "01234" and len(p) > 2:
            return self._point(head == "Z", p[1], *(int(x, 16) for x in p[3:].split(";")[0].split(",")[:2]))
        if p == "vCont?":
            return "vCont;c;C;s;S"
        if p.startswith("vCont;"):
            action = p[6:].split(";")[0].split(":")[0]
            if action[:1] in ("c", "C", "s", "S"):
                self._stepping = action[:1] in "sS"
                raise _Resume
            return "E01"
        if head in "cCsS":
            self._stepping = head in "sS"
            if head in "cs" and len(p) > 1:
                self.run.platform.write_pc(int(p[1:], 16))
            raise _Resume
        if head == "D":
            self._conn.send("OK")
            self._log("gdb detached; the run goes on to its end")
            self._detach()
            raise _Resume
        if head == "k" or p.startswith("vKill"):
            if p.startswith("vKill"):
                self._conn.send("OK")
            self._close()
            raise EndRun("killed", "GDB killed the run")
        return ""  # not supported: the empty reply

    def _xfer(self, text: str, span: str) -> str:
        offset, length = (int(x, 16) for x in span.split(","))
        chunk = text[offset:offset + min(length, PACKET_SIZE - 8)]
        return ("l" if offset + len(chunk) >= len(text) else "m") + chunk

    def _monitor(self, command: str, pc: int) -> str:
        run = self.run
        if command == "cycles":
            hz = run.board.clock_hz
            text = (f"cycles {run.cycles} instructions {run.instructions} ({run.cycles / hz * 1e6:.3f} us modeled "
                    f"at {hz / 1e6:g} MHz) at {run.where(pc)}\n")
        elif command == "reset":
            self._log("gdb: monitor reset: the run starts again from reset")
            raise Restart
        else:
            text = f"monitor commands: cycles (modeled cycles and instructions now), reset (run again from reset)" \
                   f"{'' if command in ('', 'help') else f'; unknown: {command!r}'}\n"
        self._conn.send("O" + text.encode().hex())
        return "OK"

    def _point(self, insert: bool, kind: str, addr: int, length: int) -> str:
        if kind in "01":
            if insert and addr not in self._hooks:
                self._breakpoints[addr] = "swbreak" if kind == "0" else "hwbreak"
                self._hook_breakpoint(addr)
            elif not insert:
                self._breakpoints.pop(addr, None)
                self._unhook(addr)
            return "OK"
        name = _WATCH[kind][0]
        key = (name, addr, length)
        if insert:
            if length <= 0 or self.run.bus.span(addr, "read") < length:
                return "E01"  # memory only: a watched device register could not be re-run without side effects
            if key not in self._hooks:
                self._watchpoints.add(key)
                self._hook_watchpoint(key)
        else:
            self._watchpoints.discard(key)
            self._unhook(key)
        return "OK"

    # -- registers and memory ---------------------------------------------------------
    def _reg_hex(self, r: Register) -> str:
        value = self.run.uc.reg_read(r.uc) & ((1 << r.bits) - 1)
        return value.to_bytes(r.bits // 8, "little").hex()

    def _write_reg(self, r: Register, value: int) -> None:
        if r.name == "pc":
            self.run.platform.write_pc(value)
        elif r.name != "x0":
            self.run.uc.reg_write(r.uc, value)

    def _read(self, addr: int, length: int) -> bytes:
        n = min(length, self.run.bus.span(addr, "read"))
        return bytes(self.run.uc.mem_read(addr, n)) if n > 0 else b""

    def _write(self, addr: int, data: bytes) -> str:
        if self.run.bus.span(addr, "write") < len(data):
            return "E01"  # flash and device windows are not written from the debugger
        if data:
            self.run.uc.mem_write(addr, data)
        return "OK"

    # -- ending -----------------------------------------------------------------------
    def _detach(self) -> None:
        for key in list(self._hooks):
            self._unhook(key)
        self._breakpoints.clear()
        self._watchpoints.clear()
        self._detached = True
        self._close()

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
