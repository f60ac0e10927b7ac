"""The GDB remote server (simulator/_gdb.py): a pure-Python RSP client drives every packet the server
implements on rv32imc and cortex-m4; a run stopped and stepped must end with the same counts as one
never stopped; bad clients get protocol errors or a clean refusal; gdb-multiarch drives the same
scenario where it is installed."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import pytest

from simmcu import ConfigError, GdbServer, Simulator
from simmcu._gdb import registers, unescape

CORES = ["rv32imc", "cortex-m4"]
JOIN = 120  # seconds: a hang guard, never reached by a passing run


class Client:
    """The client side of the GDB Remote Serial Protocol: frames, checksums, acknowledgements."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=JOIN)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as GDB does: no 40 ms Nagle waits
        self.buf = b""
        self.naks = 0

    def _byte(self) -> bytes:
        while not self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("server closed the connection")
            self.buf += data
        b, self.buf = self.buf[:1], self.buf[1:]
        return b

    def raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv(self) -> str:
        while self._byte() != b"$":
            pass
        body = b""
        while (b := self._byte()) != b"#":
            body += b
        check = self._byte() + self._byte()
        assert int(check, 16) == sum(body) & 0xFF, "bad checksum from the server"
        self.sock.sendall(b"+")
        return unescape(body).decode("latin-1")

    def send(self, packet: str | bytes, checksum: int | None = None) -> None:
        data = packet.encode("latin-1") if isinstance(packet, str) else packet
        good = sum(data) & 0xFF
        self.raw(b"$" + data + b"#%02x" % (good if checksum is None else checksum))
        ack = self._byte()
        while ack == b"-":  # the server asks for the packet again: resend it intact
            self.naks += 1
            self.raw(b"$" + data + b"#%02x" % good)
            ack = self._byte()
        assert ack == b"+"

    def cmd(self, packet: str | bytes) -> str:
        self.send(packet)
        return self.recv()

    def monitor(self, command: str) -> tuple[str, str]:
        """(console text, final reply) of ``monitor COMMAND``."""
        self.send("qRcmd," + command.encode().hex())
        text = ""
        while (reply := self.recv()).startswith("O") and reply != "OK":
            text += bytes.fromhex(reply[1:]).decode()
        return text, reply

    def xfer(self, what: str) -> str:
        out, offset = "", 0
        while True:
            reply = self.cmd(f"qXfer:{what}:{offset:x},200")
            assert reply[:1] in ("m", "l"), reply
            out += reply[1:]
            offset += len(reply) - 1
            if reply[0] == "l":
                return out

    def close(self) -> None:
        self.sock.close()


class Session:
    """A run in a thread with a GDB server and a client connected to it."""

    def __init__(self, elf_path, core: str, **options):
        self.notices: list[str] = []
        self.console: list[str] = []
        self.server = GdbServer("127.0.0.1:0", log=self.notices.append)
        self.sim = Simulator(elf_path, core=core, observers=[self.server], console=self.console.append, **options)
        self.core = core
        self.regs = [r.name for r in registers(self.sim.core)]
        self.result = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.client = Client(self.server.port)

    def _run(self) -> None:
        try:
            self.result = self.sim.run()
        except BaseException as e:  # reported by finish()
            self.error = e

    def sym(self, name: str) -> int:
        return self.sim.image.symbols[name].addr

    def reg(self, name: str) -> int:
        return int.from_bytes(bytes.fromhex(self.client.cmd(f"p{self.regs.index(name):x}")), "little")

    @property
    def pc(self) -> int:
        return self.reg("pc")

    def finish(self):
        self.thread.join(JOIN)
        assert not self.thread.is_alive(), "the run did not end"
        self.client.close()
        if self.error is not None:
            raise self.error
        return self.result


@contextmanager
def session(elf_path, core: str, **options):
    s = Session(elf_path, core, **options)
    try:
        yield s
    finally:
        s.client.close()
        s.thread.join(JOIN)


def started(path, core: str, **options):
    """(the run never stopped, a session stopped before its first instruction, its client)."""
    plain = Simulator(path, core=core, **options).run()
    s = Session(path, core, **options)
    assert s.client.cmd("?") == "T05thread:1;"
    return plain, s, s.client


def reset_pc(s: Session) -> int:
    """Where the core starts: the ELF entry (RISC-V), the vector table's reset vector (Cortex-M)."""
    if s.core == "rv32imc":
        return s.sim.image.entry
    return int.from_bytes(bytes.fromhex(s.client.cmd("m4,4")), "little") & ~1


def comparable(result) -> dict:
    doc = result.to_dict()
    doc.pop("wall_seconds")
    return doc


@pytest.fixture(scope="module")
def target(elf):
    return {core: elf("gdb_target.c", core) for core in CORES}


@pytest.mark.parametrize("core", CORES)
def test_every_packet(target, core):
    plain = Simulator(target[core], core=core).run()
    s = Session(target[core], core)
    c = s.client
    supported = c.cmd("qSupported:multiprocess+;swbreak+;hwbreak+")
    for feature in ("PacketSize=4000", "qXfer:features:read+", "qXfer:memory-map:read+", "swbreak+", "hwbreak+"):
        assert feature in supported.split(";")
    assert c.cmd("?") == "T05thread:1;"
    assert c.cmd("qAttached") == "1" and c.cmd("qC") == "QC1"
    assert c.cmd("qfThreadInfo") == "m1" and c.cmd("qsThreadInfo") == "l"
    assert c.cmd("Hg0") == "OK" and c.cmd("vMustReplyEmpty") == "" and c.cmd("qNoSuchThing") == ""
    assert c.cmd("vCont?") == "vCont;c;C;s;S"

    xml = c.xfer("features:read:target.xml")
    names = [r.name for r in registers(s.sim.core)]
    if core == "cortex-m4":
        assert "org.gnu.gdb.arm.m-profile" in xml and "org.gnu.gdb.arm.vfp" in xml
        for name in ("r0", "r12", "sp", "lr", "pc", "xpsr", "msp", "psp", "d0", "d15", "fpscr"):
            assert f'name="{name}"' in xml and name in names
    else:
        assert "org.gnu.gdb.riscv.cpu" in xml and "org.gnu.gdb.riscv.csr" in xml
        for name in ("x0", "x31", "pc", "mstatus", "mepc", "mcause", "mtvec"):
            assert f'name="{name}"' in xml
    mmap = c.xfer("memory-map:read:")
    flash, ram = s.sim.board.code, s.sim.board.data
    assert f'<memory type="flash" start="{flash.base:#x}" length="{flash.size:#x}">' in mmap
    assert '<property name="blocksize">' in mmap
    assert f'<memory type="ram" start="{ram.base:#x}" length="{ram.size:#x}"/>' in mmap

    # Registers: the g packet holds the core registers; p/P and G read and write them.
    entry = reset_pc(s)
    assert s.pc == entry
    g = c.cmd("g")
    ncore = 17 if core == "cortex-m4" else 33
    assert len(g) == ncore * 8
    assert int.from_bytes(bytes.fromhex(g[names.index("pc") * 8:][:8]), "little") == entry
    scratch = "r7" if core == "cortex-m4" else "x7"
    saved = s.reg(scratch)
    assert c.cmd(f"P{names.index(scratch):x}=" + (0x12345678).to_bytes(4, "little").hex()) == "OK"
    assert s.reg(scratch) == 0x12345678
    g2 = bytearray(bytes.fromhex(c.cmd("g")))
    k = names.index(scratch) * 4
    g2[k:k + 4] = saved.to_bytes(4, "little")
    assert c.cmd("G" + g2.hex()) == "OK" and s.reg(scratch) == saved
    assert c.cmd(f"p{len(names):x}") == "E45"

    # Memory: m reads flash and RAM, M and X write RAM, flash and unmapped memory are refused.
    seg = next(g for g in s.sim.image.segments if g.load_addr <= entry < g.load_addr + len(g.data))
    assert bytes.fromhex(c.cmd(f"m{entry:x},8")) == seg.data[entry - seg.load_addr:][:8]
    buf = s.sym("a")
    assert c.cmd(f"M{buf:x},4:deadbeef") == "OK" and c.cmd(f"m{buf:x},4") == "deadbeef"
    assert c.cmd(b"X%x,4:" % buf + b"}\x03}]}\x04}\x0a") == "OK"  # '#', '}', '$', '*' escaped
    assert c.cmd(f"m{buf:x},4") == "237d242a"
    assert c.cmd(f"M{entry:x},2:0000") == "E01"
    assert c.cmd("m10000000,4" if core == "cortex-m4" else "m0,4") == "E01"

    # monitor cycles: nothing has run yet.
    text, reply = c.monitor("cycles")
    assert reply == "OK" and text.startswith("cycles 0 instructions 0 ")
    assert "unknown" in c.monitor("frobnicate")[0]

    # A hardware breakpoint at dot, hit, then single steps (s and vCont;s).
    dot = s.sym("dot")
    assert c.cmd(f"Z1,{dot:x},2") == "OK"
    assert c.cmd("c") == "T05hwbreak:;thread:1;" and s.pc == dot
    text, _ = c.monitor("cycles")
    at_dot = int(text.split()[1])
    assert 0 < at_dot < plain.cycles and "(dot)" in text
    assert c.cmd("s") == "T05thread:1;"
    first = s.pc
    assert first != dot
    assert c.cmd("vCont;s:1") == "T05thread:1;" and s.pc not in (dot, first)
    assert c.cmd(f"z1,{dot:x},2") == "OK"

    # A software breakpoint inside dot, set after its code ran once: the next call stops there.
    assert c.cmd(f"Z0,{first:x},2") == "OK"
    assert c.cmd("vCont;c") == "T05swbreak:;thread:1;" and s.pc == first
    assert c.cmd(f"z0,{first:x},2") == "OK"

    # Watchpoints report the address, after the access (the written value is there).
    total, scale = s.sym("total"), s.sym("scale")
    assert c.cmd(f"Z2,{total:x},4") == "OK"
    before = int.from_bytes(bytes.fromhex(c.cmd(f"m{total:x},4")), "little")
    assert c.cmd("c") == f"T05watch:{total:x};thread:1;"
    after = int.from_bytes(bytes.fromhex(c.cmd(f"m{total:x},4")), "little")
    assert after != before
    assert c.cmd(f"z2,{total:x},4") == "OK"
    assert c.cmd(f"Z3,{scale:x},4") == "OK"
    assert c.cmd("c") == f"T05rwatch:{scale:x};thread:1;"
    assert c.cmd(f"z3,{scale:x},4") == "OK"
    assert c.cmd(f"Z4,{total:x},4") == "OK"
    assert c.cmd("c") == f"T05awatch:{total:x};thread:1;"
    assert c.cmd(f"z4,{total:x},4") == "OK"
    assert c.cmd(f"Z2,{0x40000000:x},4") == "E01"  # a device window is not watched

    # Run to the end: the client gets the exit code; the model is the never-stopped run's.
    assert c.cmd("c") == "W03"
    result = s.finish()
    assert comparable(result) == comparable(plain)
    assert "".join(s.console) == plain.console  # semihosting output still reaches the console
    assert s.notices[0] == f"gdb server listening on 127.0.0.1:{s.server.port}"


def drive(s: Session, stops: list[str], steps: int) -> int:
    """Break at each function in ``stops`` in turn, stepping ``steps`` instructions at each hit, until the run
    exits; return how many times the run stopped."""
    c = s.client
    for name in stops:
        c.cmd(f"Z0,{s.sym(name):x},2")
    paused = 0
    while True:
        reply = c.cmd("c")
        if reply.startswith("W"):
            return paused
        assert reply.startswith("T05"), reply
        paused += 1
        for _ in range(steps):
            reply = c.cmd("s")
            if reply.startswith("W"):
                return paused
            paused += 1
        if paused > 400:
            for name in stops:
                c.cmd(f"z0,{s.sym(name):x},2")


@pytest.mark.parametrize("core, firmware, stops", [
    ("rv32imc", "gdb_target.c", ["dot", "printf", "main"]),
    ("cortex-m4", "gdb_target.c", ["dot", "printf", "main"]),
    ("rv32imc", "rv_timer.c", ["trap_handler", "main"]),
    ("cortex-m4", "systick.c", ["SysTick_Handler", "IRQ3_Handler", "IRQ5_Handler", "PendSV_Handler", "main"]),
])
def test_stopped_and_stepped_run_has_the_same_counts(elf, core, firmware, stops):
    path = elf(firmware, core)
    plain = Simulator(path, core=core).run()
    s = Session(path, core)
    assert s.client.cmd("?").startswith("T05")
    paused = drive(s, stops, steps=3)
    result = s.finish()
    assert paused > 10
    assert (result.cycles, result.instructions, result.stalls) == (plain.cycles, plain.instructions, plain.stalls)
    assert comparable(result) == comparable(plain)


@pytest.mark.parametrize("core", CORES)
def test_ctrl_c_interrupts_a_running_target(elf, core):
    path = elf("gdb_target.c", core, SPIN=1)
    s = Session(path, core)
    c = s.client
    c.cmd("?")
    main = s.sim.image.symbols["main"]
    for _ in range(50):  # until the interrupt finds the core in the spin loop (not still in the start-up code)
        c.send("c")
        time.sleep(0.1)
        c.raw(b"\x03")
        assert c.recv() == "T02thread:1;"
        if main.addr <= s.pc < main.addr + main.size:
            break
    assert main.addr <= s.pc < main.addr + main.size
    spin = s.sym("spin")
    assert c.cmd(f"M{spin:x},4:00000000") == "OK"
    assert c.cmd("c") == "W03"
    assert s.finish().exit_code == 3


@pytest.mark.parametrize("core", CORES)
def test_monitor_reset_runs_again_from_reset(target, core):
    plain, s, c = started(target[core], core)
    dot = s.sym("dot")
    c.cmd(f"Z1,{dot:x},2")
    assert c.cmd("c").startswith("T05hwbreak")
    assert c.monitor("reset")[1] == "OK"
    assert s.pc == reset_pc(s)
    assert c.monitor("cycles")[0].startswith("cycles 0 instructions 0 ")
    assert c.cmd("c").startswith("T05hwbreak") and s.pc == dot  # breakpoints stay set
    c.cmd(f"z1,{dot:x},2")
    assert c.cmd("c") == "W03"
    assert comparable(s.finish()) == comparable(plain)


@pytest.mark.parametrize("core", CORES)
def test_detach_runs_on_and_kill_ends_the_run(target, core):
    plain = Simulator(target[core], core=core).run()
    s = Session(target[core], core)
    s.client.cmd("?")
    s.client.cmd(f"Z1,{s.sym('dot'):x},2")
    assert s.client.cmd("c").startswith("T05")
    assert s.client.cmd("D") == "OK"
    assert comparable(s.finish()) == comparable(plain)  # the breakpoint went with the client

    s = Session(target[core], core)
    s.client.cmd("?")
    s.client.cmd(f"Z1,{s.sym('dot'):x},2")
    assert s.client.cmd("c").startswith("T05")
    s.client.send("k")
    result = s.finish()
    assert (result.exit_reason, result.exit_code) == ("killed", 127)
    assert "GDB killed the run" in result.message and result.cycles < plain.cycles


@pytest.mark.parametrize("core", CORES)
def test_firmware_fault_stops_then_sends_x(core):
    s = Session("fault", core)
    s.client.cmd("?")
    assert s.client.cmd("c") == "T0bthread:1;"  # SIGSEGV, the faulting state readable
    pc = s.pc
    assert s.client.cmd("c") == "X0b"
    result = s.finish()
    assert result.exit_reason == "fault" and result.fault.pc == pc and result.fault.pc_symbol.startswith("read_sensor")


@pytest.mark.parametrize("core", CORES)
def test_bad_clients(target, core):
    plain = Simulator(target[core], core=core).run()
    s = Session(target[core], core)
    c = s.client
    # Garbage between packets is ignored; a bad checksum gets '-' and the resend is answered.
    c.raw(b"garbage+++\x00\xff")
    c.send("qC", checksum=0)
    assert c.naks == 1 and c.recv() == "QC1"
    # A malformed packet gets an error, an unknown one the empty reply; the server asks again for a reply
    # the client NAKs.
    assert c.cmd("mzz,4") == "E01" and c.cmd("Z1,") == "E01" and c.cmd("P99999=00") == "E45"
    assert c.cmd("\x01\x02junk") == ""
    c.send("qC")
    c.recv()
    c.raw(b"-")
    assert c.recv() == "QC1"
    # An oversized packet is refused with '-', not buffered without bound.
    c.raw(b"$" + b"a" * 0x5000 + b"#00")
    assert c._byte() == b"-"
    # A second client is refused while this one is connected.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", s.server.port), timeout=5)
    # The connection drops mid-packet: the run goes on to its end, unchanged.
    c.cmd(f"Z1,{s.sym('dot'):x},2")
    c.raw(b"$m0,4#")
    c.close()
    result = s.finish()
    assert comparable(result) == comparable(plain)
    assert "gdb client disconnected; the run goes on to its end" in s.notices


def test_bad_gdb_argument_is_a_one_line_error(tmp_path):
    for bad in ("70000", "abc", "127.0.0.1:", ":80", "-1", "nosuch.invalid:1234"):
        r = subprocess.run([sys.executable, "-m", "simmcu", "run", "hello", "--gdb", bad],
                           capture_output=True, text=True, timeout=JOIN)
        assert r.returncode == 120, (bad, r.stderr)
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("simmcu: error: ") and "Traceback" not in r.stderr


def test_cli_prints_the_port_and_serves(target):
    proc = subprocess.Popen([sys.executable, "-m", "simmcu", "run", str(target["rv32imc"]), "--core", "rv32imc",
                             "--gdb", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert line.startswith("simmcu: gdb server listening on 127.0.0.1:")
        c = Client(int(line.rsplit(":", 1)[1]))
        assert c.cmd("?") == "T05thread:1;"
        assert c.cmd("c") == "W03"
        out, _ = proc.communicate(timeout=JOIN)
    finally:
        proc.kill()
    assert proc.returncode == 3 and "dot 5072 total 15216" in out


GDB = shutil.which("gdb-multiarch")


@pytest.mark.skipif(GDB is None, reason="gdb-multiarch is not on PATH")
@pytest.mark.parametrize("core", CORES)
def test_gdb_multiarch_session(target, core):
    plain = Simulator(target[core], core=core).run()
    server = GdbServer("127.0.0.1:0", log=lambda line: None)
    sim = Simulator(target[core], core=core, observers=[server])
    out: dict = {}
    thread = threading.Thread(target=lambda: out.setdefault("result", sim.run()), daemon=True)
    thread.start()
    script = ["set pagination off", "set confirm off", f"target remote 127.0.0.1:{server.port}", "break dot",
              "continue", "stepi", "info registers pc", "x/4x &a", "monitor cycles", "delete", "continue"]
    r = subprocess.run([GDB, "-nx", "-batch", *(x for cmd in script for x in ("-ex", cmd)), str(target[core])],
                       capture_output=True, text=True, timeout=JOIN)
    thread.join(JOIN)
    assert "Breakpoint 1, " in r.stdout and "dot" in r.stdout, r.stdout + r.stderr
    assert "0x00000001\t0x00000002\t0x00000003\t0x00000004" in r.stdout
    assert "cycles " in r.stdout and "exited with code 03" in r.stdout
    assert comparable(out["result"]) == comparable(plain)


def test_it_blocks_are_stepped_whole_and_keep_their_results(elf):
    """The run never stops inside a Thumb IT block (its IT state would not survive a stop): a step steps the block
    as a whole and a breakpoint or watchpoint inside one stops after it, as the loop takes events."""
    path = elf("it_blocks.c", "cortex-m4", PERIOD=97)
    plain = Simulator(path, core="cortex-m4").run()
    s = Session(path, "cortex-m4")
    c = s.client
    c.cmd("?")
    mix = s.sim.image.symbols["mix"]
    inside = [i.addr for i in s.sim.code.insns if mix.addr <= i.addr < mix.addr + mix.size and i.in_it]
    assert inside
    c.cmd(f"Z1,{mix.addr:x},2")
    assert c.cmd("c").startswith("T05hwbreak") and c.cmd("c").startswith("T05hwbreak")  # the call with SysTick on
    c.cmd(f"z1,{mix.addr:x},2")
    for _ in range(300):
        assert c.cmd("s") == "T05thread:1;" and s.pc not in inside
    c.cmd(f"Z1,{inside[1]:x},2")
    for _ in range(20):
        assert c.cmd("c") == "T05thread:1;" and s.pc not in inside
    c.cmd(f"z1,{inside[1]:x},2")
    assert c.cmd("c") == "W00"
    result = s.finish()
    assert result.console == plain.console and "same" in result.console
    assert comparable(result) == comparable(plain)


@pytest.mark.parametrize("core", CORES)
def test_reference_model_agrees_across_stops(target, core):
    """The plain-Python reference model (--check-timing) follows the same stops, breakpoints, steps and watchpoint
    re-runs included, and still agrees with the native model instruction by instruction."""
    plain, s, c = started(target[core], core, check_timing=True)
    dot, total = s.sym("dot"), s.sym("total")
    c.cmd(f"Z1,{dot:x},2")
    c.cmd(f"Z2,{total:x},4")
    replies = [c.cmd(p) for _ in range(4) for p in ("c", "s", "c", "s")]
    assert replies.count(f"T05watch:{total:x};thread:1;") == 4 and replies.count("T05hwbreak:;thread:1;") == 4
    c.cmd(f"z1,{dot:x},2")
    c.cmd(f"z2,{total:x},4")
    assert c.cmd("c") == "W03"
    result = s.finish()
    assert result.reports["timing_check"]["agree"] and result.reports == plain.reports
    assert comparable(result) == comparable(plain)


@pytest.mark.parametrize("core", CORES)
def test_client_gone_while_running_detaches(target, core):
    plain, s, c = started(target[core], core)
    c.cmd(f"Z1,{s.sym('dot'):x},2")
    assert c.cmd("c").startswith("T05hwbreak")
    c.send("c")
    c.close()  # gone while the target runs: the next breakpoint hit finds no client and detaches
    result = s.finish()
    assert comparable(result) == comparable(plain)
    assert "gdb client disconnected; the run goes on to its end" in s.notices


def test_port_in_use_is_a_config_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        with pytest.raises(ConfigError, match="gdb server cannot listen on 127.0.0.1:"):
            GdbServer(("127.0.0.1", taken.getsockname()[1]), log=lambda line: None)
