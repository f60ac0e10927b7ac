"""Energy and area estimates of a run, from what it counted (docs/energy.md).

A run's energy is a sum of counted events times documented figures: the core's cycles awake and
asleep times its energy per cycle (cores.toml ``[NAME.energy]``), CPU data bytes per board region
times the region's energy per byte, and each accelerator's jobs priced by its own model
(``Accelerator.job_energy``, ``static_power``) plus the memory side of its DMA at the regions it
touched. Counts are integers and figures are constants, so an estimate is as deterministic as the
cycles. The figures come from datasheets and published measurements and are uncertain by tens of
percent to several times: they rank designs, they do not predict a chip's battery life.
"""

from __future__ import annotations

import math

#: Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014, 45 nm at 0.9 V:
#: energy per operation (pJ) and area (um2) of the arithmetic the bundled units' defaults are built from.
HOROWITZ_45NM = {
    "add8_pj": 0.03, "mult8_pj": 0.2, "add32_pj": 0.1, "mult32_pj": 3.1,
    "add8_um2": 36.0, "mult8_um2": 282.0, "add32_um2": 137.0, "mult32_um2": 3495.0,
    "sram_8kb_read64_pj": 10.0, "sram_32kb_read64_pj": 20.0, "sram_1mb_read64_pj": 100.0,
}
#: Per byte of an 8 KiB SRAM: Horowitz's 10 pJ per 64-bit read.
SRAM_8KIB_PJ_PER_BYTE = HOROWITZ_45NM["sram_8kb_read64_pj"] / 8
#: Flash data reads: TI MSPM0G3507 (SLASEX6B, 7.5.1) running CoreMark at 80 MHz draws 7.6 mA from
#: flash and 6.0 mA from SRAM (25 C typ): 1.6 mA x 3.3 V / 80 MHz = 66 pJ a cycle for about two
#: instruction bytes fetched a cycle (16-bit Thumb code) = 33 pJ per byte.
FLASH_PJ_PER_BYTE = 1.6e-3 * 3.3 / 80e6 / 2 * 1e12

#: Energy components of every run, in this order; units may add ``accelerator_<part>`` ones.
COMPONENTS = ("cpu_active", "cpu_sleep", "sram", "flash", "dma", "accelerator_compute", "accelerator_buffer",
              "accelerator_static")
_REGION_COMPONENT = {"sram": "sram", "tcm": "sram", "flash": "flash"}  # mmio registers: not modeled


def sram_energy(size_bytes: int, at_8kib: float = SRAM_8KIB_PJ_PER_BYTE) -> float:
    """pJ per byte of an SRAM of ``size_bytes``: ``at_8kib`` scaled by sqrt(size / 8 KiB), the rule
    Horowitz's three points follow (8 KB 10 pJ, 32 KB 20 pJ exactly; 1 MB 113 pJ against 100 pJ)."""
    return at_8kib * math.sqrt(size_bytes / 8192)


def region_energy(kind: str, size: int) -> tuple[float, float]:
    """Default (read, write) pJ per byte of a board region: SRAM and TCM by ``sram_energy`` (writes
    as reads), flash reads at FLASH_PJ_PER_BYTE (not written at run time), MMIO not modeled."""
    if kind in ("sram", "tcm"):
        e = sram_energy(size)
        return e, e
    return (FLASH_PJ_PER_BYTE, 0.0) if kind == "flash" else (0.0, 0.0)


def accelerator_area(units) -> dict:
    """``{"total_mm2", "components": {"UNIT.PART": mm2}}`` of the attached units (their ``area()``)."""
    parts = {f"{u.NAME}.{part}": um2 / 1e6 for u in units for part, um2 in u.area().items()}
    return {"total_mm2": _round(sum(parts.values())), "components": {k: _round(v) for k, v in parts.items()}}


def run_energy(core, board, cycles: int, sleep_cycles: int, traffic: dict, units, reports: list[dict]) -> dict:
    """``{"total_uj", "components"}`` of a run, adding ``energy_uj`` (by part) to each unit's report
    and to each of its ``runs``. ``traffic`` is ``memory.regions`` (static traffic's ``unattributed``
    bytes are priced at the data region); a report's ``dma_regions`` (the bytes its bus transfers
    moved, by region) say where its modeled DMA bytes went."""
    pj = dict.fromkeys(COMPONENTS, 0.0)
    pj["cpu_active"] = (cycles - sleep_cycles) * core.active_pj_per_cycle
    pj["cpu_sleep"] = sleep_cycles * core.sleep_pj_per_cycle
    for name, t in traffic.items():
        region = board.data if name == "unattributed" else board.region(name)
        if region.kind in _REGION_COMPONENT:
            read, write = region.access_energy()
            pj[_REGION_COMPONENT[region.kind]] += t["read_bytes"] * read + t["write_bytes"] * write
    seconds = cycles / board.clock_hz
    for unit, report in zip(units, reports):
        read_pj, write_pj = _dma_memory_energy(board, report["dma_regions"])
        own = dict.fromkeys(("compute", "buffer", "dma"), 0.0)
        for job, run in zip(unit.invocations, report["runs"]):
            parts = dict(unit.job_energy(job))
            parts["dma"] = parts.get("dma", 0.0) + job.dma_read_bytes * read_pj + job.dma_write_bytes * write_pj
            run["energy_uj"] = _round(sum(parts.values()) / 1e6)
            for part, e in parts.items():
                own[part] = own.get(part, 0.0) + e
        own["static"] = unit.static_power() * seconds * 1e6  # uW x s = uJ
        report["energy_uj"] = {part: _round(e / 1e6) for part, e in own.items()}
        for part, e in own.items():
            key = "dma" if part == "dma" else f"accelerator_{part}"
            pj[key] = pj.get(key, 0.0) + e
    return {"total_uj": _round(sum(pj.values()) / 1e6), "components": {k: _round(v / 1e6) for k, v in pj.items()}}


def _dma_memory_energy(board, regions: dict) -> tuple[float, float]:
    """(read, write) pJ per DMA byte at the memory: the regions' figures weighted by where the unit's
    transfers went (the data region's when it moved nothing through the bus)."""
    out = []
    for i, key in enumerate(("read_bytes", "write_bytes")):
        moved = {name: counts[key] for name, counts in regions.items() if counts[key]}
        total = sum(moved.values())
        if not total:
            out.append(board.data.access_energy()[i])
            continue
        out.append(sum(n * board.region(name).access_energy()[i] for name, n in moved.items()) / total)
    return out[0], out[1]


def layer_energy(result, layers: list[dict]) -> None:
    """Add ``energy_uj`` to each layer row: its cycles at the core's active energy, the jobs of the unit
    it was offloaded to (matched in order when each such layer ran one job), and a share of what the
    run does not split by layer (memory traffic, sleep, leakage, other units' jobs) by its cycles."""
    from ._cores import get_core

    active = get_core(result.core).active_pj_per_cycle / 1e6
    parts = result.energy["components"]
    shared = sum(parts[k] for k in ("cpu_sleep", "sram", "flash", "accelerator_static"))
    jobs: dict[str, float] = {}
    for acc in result.accelerators:
        mine = [layer["name"] for layer in layers if layer["offload"] == acc["name"]]
        if acc["runs"] and len(acc["runs"]) == len(mine):
            for name, run in zip(mine, acc["runs"]):
                jobs[name] = run["energy_uj"]
        else:
            shared += sum(run["energy_uj"] for run in acc["runs"])
    for layer in layers:
        share = layer["cycles"] / result.cycles if result.cycles else 0.0
        layer["energy_uj"] = _round(layer["cycles"] * active + jobs.get(layer["name"], 0.0) + shared * share)


def _round(uj: float) -> float:
    """To the femtojoule (1e-9 uJ): far below any figure's uncertainty, and stable in JSON."""
    return round(uj, 9)
