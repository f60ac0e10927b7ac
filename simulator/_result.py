"""What a run produced: the result object, its JSON form and its summary text.

The JSON keys are a contract users script against (docs/json.md); add keys,
never rename or drop them.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Fault:
    kind: str                  #: e.g. read-unmapped, write-protected, illegal-instruction, usage-fault
    pc: int                    #: address of the faulting instruction
    pc_symbol: str             #: ``function+offset`` holding pc, or ``?``
    address: int | None        #: data address for access faults
    address_symbol: str | None
    access: str | None         #: read, write or fetch
    size: int | None           #: access size in bytes
    message: str


@dataclass(frozen=True)
class RunResult:
    exit_code: int             #: process exit code: firmware's code (mod 256) or an ExitCode value
    exit_reason: str           #: exit, fault, instruction-limit, timeout, unsupported, deadlock
    message: str               #: one line saying how the run ended
    instructions: int
    cycles: int | None         #: None when cycles are not modelled (``timing="none"``)
    core: str
    board: str
    clock_hz: int
    elf: str
    console: str               #: everything the firmware wrote to the console
    fault: Fault | None = None
    interrupts: dict[str, int] = field(default_factory=dict)  #: exceptions/interrupts taken, by name
    wall_seconds: float = 0.0  #: host time; informative only, never part of a model
    timing: str = ""           #: timing profile that priced the run
    timing_options: dict[str, bool] = field(default_factory=dict)
    cpi: float | None = 0.0    #: cycles per instruction (None without cycles)
    stalls: dict[str, int] = field(default_factory=dict)  #: cycles beyond one per instruction, by cause
    sleep_cycles: int = 0      #: cycles spent in WFI waiting for an interrupt
    dual_issued: int = 0       #: instructions that issued in the previous one's cycle (dual-issue cores)
    functions: list[dict] = field(default_factory=list)   #: per-function profile, most exclusive cycles first
    memory: dict = field(default_factory=dict)            #: static sizes, stack/heap peaks, traffic per region
    warnings: list[str] = field(default_factory=list)     #: where a profile is incomplete
    caches: dict = field(default_factory=dict)            #: instruction/data cache geometry, hits, misses
    accelerators: list[dict] = field(default_factory=list)  #: per accelerator: totals and invocations
    baseline: dict | None = None  #: with --baseline: the baseline ELF's cycles and the speedup
    layers: list[dict] | None = None  #: for a .tflite model: the per-layer profile
    model: dict | None = None   #: for a .tflite model: MACs, cycles per inference and MAC, arena and weights
    lines: list[dict] | None = None  #: with profile_lines: cycles per source line, most first
    energy: dict = field(default_factory=dict)  #: estimate: total_uj and components (docs/energy.md)
    area: dict = field(default_factory=dict)    #: accelerators' estimated area: total_mm2 and components
    stacks: list[tuple[str, int]] = field(default_factory=list, repr=False)  #: folded call paths, cycles
    reports: dict[str, dict] = field(default_factory=dict)  #: observers' reports by name (JSON: top-level keys)
    outputs: list[dict] | None = None  #: for a .tflite model: each output tensor's values (docs/json.md)
    symbol_data: dict[str, bytes] = field(default_factory=dict, repr=False)  #: ``Simulator.run(read=...)``: bytes
    #: with fast_forward_to: ``symbol``, ``address``, ``reached``, ``instructions`` run functionally before it
    fast_forward: dict | None = None

    @property
    def timing_check(self) -> dict | None:
        """The reference-model comparison when check_timing was asked for."""
        return self.reports.get("timing_check")

    @property
    def ok(self) -> bool:
        return self.exit_reason == "exit" and self.exit_code == 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("stacks")
        d.pop("symbol_data")
        d.update(d.pop("reports"))
        for key in ("baseline", "layers", "model", "lines", "outputs", "fast_forward"):
            if d[key] is None:
                d.pop(key)
        d["seconds"] = None if self.cycles is None else self.cycles / self.clock_hz
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def summary(self, top: int = 10) -> str:
        """The run for people: totals, stalls, memory and the ``top`` functions; the JSON has everything."""
        mhz = self.clock_hz / 1e6
        lines = [
            f"simmcu: {self.message}",
            f"  core {self.core} (timing {self.timing}{_options(self.timing_options)}) "
            f"on board {self.board} @ {mhz:g} MHz",
            f"  instructions {self.instructions:,}  cycles {self.cycles:,}  CPI {self.cpi:.3f}  "
            f"({self.cycles / self.clock_hz * 1e3:.3f} ms modeled)" if self.cycles is not None else
            f"  instructions {self.instructions:,}  (cycles not modelled: timing none)",
        ]
        ff = self.fast_forward
        if ff is not None and ff["reached"]:
            lines.insert(1, f"  fast-forwarded {ff['instructions']:,} instructions to {ff['symbol']}; "
                            "the counts below are from there on")
        stalled = [(c, n) for c, n in self.stalls.items() if n]
        if stalled:
            lines.append("  stalls " + "  ".join(f"{c} {n:,}" for c, n in stalled)
                         + (f"  (sleep {self.sleep_cycles:,})" if self.sleep_cycles else ""))
        m = self.memory
        if m:
            stack = m["stack_peak_bytes"]
            lines.append(f"  memory flash {m['flash_bytes']:,} B  static RAM {m['ram_static_bytes']:,} B"
                         + (f"  stack peak {stack:,} B" if stack is not None else "")
                         + (f"  heap peak {m['heap_peak_bytes']:,} B" if m["heap_peak_bytes"] else ""))
        if self.interrupts:
            taken = ", ".join(f"{k} x{v}" for k, v in sorted(self.interrupts.items()))
            lines.append(f"  interrupts {taken}")
        if self.energy:
            parts = "  ".join(f"{k} {v:.4g}" for k, v in self.energy["components"].items() if v)
            lines.append(f"  energy {self.energy['total_uj']:.4g} uJ (estimate, docs/energy.md): {parts}")
        if self.area.get("components"):
            parts = "  ".join(f"{k} {v:.4g}" for k, v in self.area["components"].items())
            lines.append(f"  area {self.area['total_mm2']:.4g} mm2 of accelerators (estimate): {parts}")
        if self.model:
            mo = self.model
            lines.append(f"  model {mo['name']}: {mo['operators']} operators, {mo['macs']:,} MACs in "
                         f"{mo['cycles']:,} cycles ({mo['cycles_per_mac']:.2f} cycles/MAC), arena "
                         f"{mo['arena_bytes']:,} B, weights {mo['weights_bytes']:,} B, {mo['energy_uj']:.4g} uJ")
        if self.layers:
            lines.append(f"  {'layer':32s} {'output':>14s} {'MACs':>11s} {'cycles':>12s} {'MAC/cyc':>8s} {'%':>6s} "
                         f"{'uJ':>9s}")
            for r in self.layers:
                shape = "x".join(map(str, r["output_shape"]))
                lines.append(f"  {r['name'][:32]:32s} {shape:>14s} {r['macs']:11,d} {r['cycles']:12,d} "
                             f"{r['macs_per_cycle']:8.3f} {100 * r['share']:6.1f} {r['energy_uj']:9.3f}")
        if self.functions and top > 0:
            lines.append(f"  {'function':28s} {'calls':>8s} {'cycles excl':>13s} {'%':>6s} {'cycles incl':>13s}")
            for f in self.functions[:top]:
                share = 100 * f["cycles_exclusive"] / self.cycles if self.cycles else 0.0
                lines.append(f"  {f['name'][:28]:28s} {f['calls']:8,d} {f['cycles_exclusive']:13,d} "
                             f"{share:6.1f} {f['cycles_inclusive']:13,d}")
        for acc in self.accelerators:
            runs = f"{acc['instructions']:,} instructions" if "instructions" in acc else f"{acc['invocations']} runs"
            lines.append(f"  accelerator {acc['name']}: {runs}, busy {acc['busy_cycles']:,} cycles "
                         f"({100 * acc['utilisation']:.1f}%), {acc['macs']:,} MACs, DMA {acc['dma_read_bytes']:,} B "
                         f"in / {acc['dma_write_bytes']:,} B out, CPU waited {acc['cpu_wait_cycles']:,} cycles")
            lines += [f"  accelerator {acc['name']} error: {e}" for e in acc["errors"]]
        if self.baseline is not None:
            lines.append(f"  speedup {self.baseline['speedup']:.2f}x over the baseline {self.baseline['elf']} "
                         f"({self.baseline['cycles']:,} cycles)")
        if self.timing_check is not None:
            lines.append("  timing check: native model agrees with the reference model" if self.timing_check["agree"]
                         else "  timing check: DISAGREES with the reference model: "
                         + "; ".join(self.timing_check["differences"][:3]))
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def functions_csv(self) -> str:
        """The per-function profile as CSV, one row per function, most exclusive cycles first."""
        out = io.StringIO()
        fields = ["name", "calls", "cycles_exclusive", "cycles_inclusive",
                  "instructions_exclusive", "instructions_inclusive"]
        w = csv.DictWriter(out, fields, lineterminator="\n")
        w.writeheader()
        w.writerows(self.functions)
        return out.getvalue()

    def folded(self, lines: bool = False) -> str:
        """Folded call stacks weighted in cycles (``main;conv2d 1234``), for flame-graph tools; with
        ``lines`` (a run with profile_lines), source lines as leaf frames (``_annotate.folded_lines``)."""
        if lines and self.lines is not None:
            from ._annotate import folded_lines

            return folded_lines(self.stacks, self.lines)
        return "".join(f"{path} {cycles}\n" for path, cycles in self.stacks)


def _options(chosen: dict[str, bool]) -> str:
    return "".join(f", {k}={'true' if v else 'false'}" for k, v in sorted(chosen.items()))
