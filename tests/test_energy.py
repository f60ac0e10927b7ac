"""Energy and area estimates (docs/energy.md): every component follows from the run's counted
cycles, bytes and MACs and the documented figures, written out again here from the parameters;
area scales with the unit's parameters; bad figures are one-line errors; JSON, per-layer and sweep
rows carry them; the sweep's progress bar is silent unless stderr is a terminal."""

from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path

import pytest

import simmcu
from simmcu import Simulator, get_core, load_board
from simmcu._energy import COMPONENTS
from simmcu._sweep import _Progress, load_sweep
from simmcu.accelerators import MAC_ENERGY, Accelerator, make_accelerator
from simmcu.cli import main
from simmcu.firmware import firmware_dir, run_model

from tflite_models import MODELS

HELLO = firmware_dir() / "prebuilt" / "hello-rv32imc.elf"


def cli(*args, capsys):
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def region_pj(board, traffic: dict) -> dict[str, float]:
    """pJ by component of the CPU's data traffic, from the board's per-byte figures."""
    out = {"sram": 0.0, "flash": 0.0}
    for name, t in traffic.items():
        region = board.data if name == "unattributed" else board.region(name)
        read, write = region.access_energy()
        out["flash" if region.kind == "flash" else "sram"] += t["read_bytes"] * read + t["write_bytes"] * write
    return out


def test_cpu_energy_is_cycles_and_bytes_times_the_documented_figures():
    r = Simulator(HELLO, core="rv32imc", exact_memory=True).run()
    e, core, board = r.energy, get_core("rv32imc"), load_board("generic-rv32")
    assert list(e["components"]) == list(COMPONENTS)
    # uA/MHz x V = pJ per cycle: WCH CH32V203's 44.65 uA/MHz at 3.3 V
    assert core.active_pj_per_cycle == pytest.approx(44.65 * 3.3)
    assert e["components"]["cpu_active"] == pytest.approx(r.cycles * 44.65 * 3.3 / 1e6)
    mem = region_pj(board, r.memory["regions"])
    assert mem["sram"] > 0 and e["components"]["sram"] == pytest.approx(mem["sram"] / 1e6)
    # the bundled SRAM figure is the rule's: Horowitz's 8 KB 10 pJ / 64 bits, x sqrt(256 KiB / 8 KiB)
    assert board.data.access_energy()[0] == pytest.approx(10 / 8 * math.sqrt(32), abs=0.01)
    assert e["total_uj"] == pytest.approx(sum(e["components"].values()))
    assert r.area == {"total_mm2": 0.0, "components": {}}  # no accelerator


def test_static_traffic_prices_unattributed_bytes_at_the_data_region():
    r = Simulator(HELLO, core="rv32imc").run()
    assert r.memory["traffic"] == "static" and "unattributed" in r.memory["regions"]
    mem = region_pj(load_board("generic-rv32"), r.memory["regions"])
    assert r.energy["components"]["sram"] == pytest.approx(mem["sram"] / 1e6)


def test_sleep_and_accelerator_energy_from_a_wfi_firmware(elf):
    """conv_accel.c waits for one job's interrupt in WFI: sleep cycles at the sleep figure, the jobs'
    MACs, buffer bytes, DMA bytes at the regions they came from, and leakage for the run's length."""
    core_name = "cortex-m4"
    unit = make_accelerator("conv:buffer_kib=32,pe_rows=4,pe_cols=4")
    r = Simulator(elf("conv_accel.c", core_name), core=core_name, accelerators=[unit]).run()
    assert r.ok and r.sleep_cycles > 0
    core, board, c = get_core(core_name), load_board("generic-cortex-m"), r.energy["components"]
    assert c["cpu_sleep"] == pytest.approx(r.sleep_cycles * 33.54 * 3.0 / 1e6)  # STM32L412 x MSPM0's ratio
    assert c["cpu_active"] == pytest.approx((r.cycles - r.sleep_cycles) * core.active_pj_per_cycle / 1e6)
    acc, p = r.accelerators[0], unit.params
    assert c["accelerator_compute"] == pytest.approx(acc["macs"] * 0.3 / 1e6)
    per_byte = 10 / 8 * math.sqrt(32 / 8)  # the 8 KiB figure scaled to the 32 KiB buffer
    assert c["accelerator_buffer"] == pytest.approx(2 * acc["dma_read_bytes"] * per_byte / 1e6)
    seconds = r.cycles / board.clock_hz
    assert c["accelerator_static"] == pytest.approx(32 * 3.13e-3 * seconds)  # nW/KiB -> uW, x s = uJ
    moved = acc["dma_regions"]
    assert moved and sum(m["read_bytes"] for m in moved.values()) > 0

    def average(key: str, i: int) -> float:
        total = sum(m[key] for m in moved.values())
        if not total:
            return board.data.access_energy()[i]
        return sum(m[key] * board.region(n).access_energy()[i] for n, m in moved.items()) / total

    dma = acc["dma_read_bytes"] * average("read_bytes", 0) + acc["dma_write_bytes"] * average("write_bytes", 1)
    assert c["dma"] == pytest.approx((dma + (acc["dma_read_bytes"] + acc["dma_write_bytes"]) * p["dma_energy"]) / 1e6)
    assert sum(run["energy_uj"] for run in acc["runs"]) == pytest.approx(
        c["accelerator_compute"] + c["accelerator_buffer"] + c["dma"])
    assert acc["energy_uj"]["static"] == pytest.approx(c["accelerator_static"])


def test_area_scales_with_pes_and_buffer():
    def area(spec: str) -> dict:
        return make_accelerator(spec).area()

    small, wide, big = area("conv:pe_rows=4,pe_cols=4"), area("conv:pe_rows=8,pe_cols=8"), area("conv:buffer_kib=64")
    assert small["pes"] == 16 * (282 + 137) and wide["pes"] == 4 * small["pes"]
    assert big["buffer"] == 2 * area("conv:buffer_kib=32")["buffer"] == pytest.approx(64 * 8192 * 0.346, rel=1e-4)
    assert make_accelerator("conv:buffer_kib=64").static_power() == 2 * make_accelerator("conv").static_power()
    assert sum(area("cfu").values()) == 4 * (282 + 137) + 3495 + 137


def test_model_layers_carry_energy(tmp_path):
    path = tmp_path / "classifier.tflite"
    path.write_bytes(MODELS["classifier"]())
    r = run_model(path, "cortex-m4", accelerators=["conv:buffer_kib=8"])
    active = get_core("cortex-m4").active_pj_per_cycle / 1e6
    offloaded = [layer for layer in r.layers if layer["offload"] == "conv"]
    runs = r.accelerators[0]["runs"]
    assert len(offloaded) == len(runs) > 0
    c = r.energy["components"]
    shared = c["cpu_sleep"] + c["sram"] + c["flash"] + c["accelerator_static"]
    for layer, job in zip(offloaded, runs):  # its cycles, its job, its share of the rest
        assert layer["energy_uj"] == pytest.approx(layer["cycles"] * active + job["energy_uj"]
                                                   + shared * layer["cycles"] / r.cycles)
    assert r.model["energy_uj"] == pytest.approx(sum(layer["energy_uj"] for layer in r.layers))
    assert r.model["energy_uj"] < r.energy["total_uj"]
    assert "uJ" in r.summary() and "energy " in r.summary() and "area " in r.summary()


def test_json_keys(capsys):
    rc, out, _ = cli("run", str(HELLO), "--core", "rv32imc", "--accel", "cfu", "--json", "-", "--quiet",
                     capsys=capsys)
    d = json.loads(out)
    assert rc == 0 and set(d["energy"]) == {"total_uj", "components"} and set(d["energy"]["components"]) == \
        set(COMPONENTS)
    assert d["area"]["components"] == {"cfu.lanes": 4 * 419 / 1e6, "cfu.requant": 3632 / 1e6}
    assert set(d["accelerators"][0]["energy_uj"]) == {"compute", "buffer", "dma", "static"}


@pytest.mark.parametrize("spec, message", [
    ("conv:mac_energy=-1", "mac_energy: -1.0 pJ/MAC is out of range"),
    ("conv:mac_energy=0.3nJ", "unit 'nJ' is not 'pJ/MAC'"),
    ("conv:buffer_area=big", "'big' is not a number of um2/KiB"),
    ("cfu:requant_energy=1e999", "inf pJ/op is out of range"),
])
def test_bad_energy_params_are_one_line_errors(spec, message, capsys):
    rc, _, err = cli("run", str(HELLO), "--core", "rv32imc", "--accel", spec, capsys=capsys)
    assert rc == 120 and message in err and len(err.strip().splitlines()) == 1


def test_figures_with_their_unit_are_accepted_and_bad_board_figures_refused(tmp_path, capsys):
    assert make_accelerator("conv:mac_energy=0.5 pJ/MAC").params["mac_energy"] == 0.5
    text = (Path(simmcu.__file__).parent / "boards" / "generic-rv32.toml").read_text()
    board = tmp_path / "board.toml"
    board.write_text(text.replace("read_energy = 7.07", 'read_energy = "7 mW"'))
    rc, _, err = cli("run", str(HELLO), "--core", "rv32imc", "--board", str(board), capsys=capsys)
    assert rc == 120 and "regions[1]: read_energy: unit 'mW' is not 'pJ/byte'" in err
    board.write_text(text.replace("read_energy = 7.07", "read_energy = 1.0"))
    lower = Simulator(HELLO, core="rv32imc", board=board, exact_memory=True).run()
    bundled = Simulator(HELLO, core="rv32imc", exact_memory=True).run()
    assert lower.cycles == bundled.cycles and lower.energy["components"]["sram"] < bundled.energy["components"]["sram"]


def test_a_third_party_unit_declares_its_model_through_the_public_api():
    class Adder(Accelerator):
        NAME, DESCRIPTION = "adder", "sums"
        PARAMS = {"lanes": simmcu.accelerators.Param(4, "PEs", "adders", int), "mac_energy": MAC_ENERGY}

        def area(self):
            return {"lanes": self.params["lanes"] * simmcu.accelerators.HOROWITZ_45NM["add8_um2"]}

    from simmcu._energy import accelerator_area

    mm2 = 8 * 36 / 1e6
    assert accelerator_area([Adder(lanes=8)]) == {"total_mm2": mm2, "components": {"adder.lanes": mm2}}


def test_an_area_constraint_skips_points_before_they_run(tmp_path):
    model = tmp_path / "classifier.tflite"
    model.write_bytes(MODELS["classifier"]())
    spec = {"base": {"model": str(model), "accel": {"conv": {}}},
            "axes": {"accel": {"conv": {"pe_rows": [4, 8, 16], "buffer_kib": [8, 32]}}},
            "sweep": {"constraints": ["area.total_mm2 < 0.08"]}}
    s = load_sweep(spec)
    kept = [(p.axes["accel.conv.pe_rows"], p.axes["accel.conv.buffer_kib"]) for p in s.points]
    area = {(r, k): (r * 8 * 419 + k * 2834.4) / 1e6 for r in (4, 8, 16) for k in (8, 32)}
    assert kept == [key for key, a in area.items() if a < 0.08] and s.skipped == 6 - len(kept) > 0


def test_progress_bar_only_on_a_terminal(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    for stream, quiet, shown in ((io.StringIO(), False, False), (Tty(), True, False), (Tty(), False, True)):
        monkeypatch.setattr(sys, "stderr", stream)
        bar = _Progress(3, 1, quiet)
        bar.count({"exit_code": 0})  # the resumed point
        bar.count({"exit_code": 3}, new=True)
        bar.close()
        text = stream.getvalue()
        assert bool(text) == shown
        if shown:
            assert "2/3" in text and "1 failed" in text
