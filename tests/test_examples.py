"""The bundled examples build and run on every core, deterministically."""

import pytest

from simmcu import ExitCode, Simulator
from simmcu.firmware import build, firmware_dir

from conftest import ALL_CORES


@pytest.mark.parametrize("core", ["rv32imc", "cortex-m4"])
def test_hello(run, core):
    r = run("hello", core)
    assert (r.exit_reason, r.exit_code) == ("exit", 0)
    assert r.console == f"Hello from simmcu on {core}!\n"
    assert r.instructions > 100 and r.cycles >= r.instructions


@pytest.mark.parametrize("core", ALL_CORES)
def test_conv2d_matches_numpy_checksum(run, core):
    r = run("conv2d", core)
    assert r.exit_code == 0, r.console
    line = r.console.strip()
    got, expected = line.split("checksum ")[1].split(" (expected ")
    assert got == expected.split(")")[0]
    # The kernel timed itself through the core's cycle counter: it ran most of the program.
    kernel_cycles = int(line.split("), ")[1].split()[0])
    assert 0.5 * r.cycles < kernel_cycles < r.cycles


@pytest.mark.parametrize("core, symbol", [("rv32imc", "read_sensor"), ("cortex-m4", "read_sensor")])
def test_fault_reports_pc_symbol_address(run, elf, core, symbol):
    r = run("fault", core)
    assert r.exit_reason == "fault" and r.exit_code == ExitCode.FAULT
    f = r.fault
    assert f.address == 0x6000_0000 and f.access == "read" and f.size == 4
    assert f.pc_symbol.startswith(symbol + "+")
    image = Simulator(elf("fault", core), core=core).image
    sym = image.symbols[symbol]
    assert sym.addr <= f.pc < sym.addr + sym.size
    assert r.console == "reading sensor at 0x60000000\n"
    assert f"{f.pc:#010x}" in r.message and "0x60000000" in r.message


@pytest.mark.parametrize("core", ["rv32imc", "cortex-m4"])
def test_runs_are_deterministic(elf, core):
    a = Simulator(elf("conv2d", core), core=core).run()
    sim = Simulator(elf("conv2d", core), core=core)
    sim.run()
    b = sim.run()  # a second run of one Simulator starts from fresh state too
    assert (a.cycles, a.instructions, a.console, a.functions) == (b.cycles, b.instructions, b.console, b.functions)


@pytest.mark.parametrize("example, core", [(e, c) for e in ("hello", "conv2d", "fault") for c in ALL_CORES]
                         + [(e, c) for e in ("conv2d_cfu", "conv2d_conv", "conv2d_conv_irq")
                            for c in ("rv32imc", "cortex-m4")])
def test_prebuilt_elfs_are_reproducible(tmp_path, example, core):
    """Shipped ELFs are exactly what the pinned toolchain builds from the shipped sources."""
    fresh = build(example, core, tmp_path / "fresh.elf")
    shipped = firmware_dir() / "prebuilt" / f"{example}-{core}.elf"
    assert shipped.read_bytes() == fresh.read_bytes(), "rebuild with: python -m simmcu.firmware"
