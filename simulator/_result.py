"""What a run produced: the result object, its JSON form and its summary text.

The JSON keys are a contract users script against (docs/json.md); add keys,
never rename or drop them.
"""

from __future__ import annotations

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
    cycles: int
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
    cpi: float = 0.0           #: cycles per instruction
    stalls: dict[str, int] = field(default_factory=dict)  #: cycles beyond one per instruction, by cause
    sleep_cycles: int = 0      #: cycles spent in WFI waiting for an interrupt
    functions: list[dict] = field(default_factory=list)   #: per-function profile, most exclusive cycles first
    memory: dict = field(default_factory=dict)            #: static sizes, stack/heap peaks, traffic per region
    timing_check: dict | None = None  #: reference-model comparison when check_timing was asked for
    stacks: list[tuple[str, int]] = field(default_factory=list, repr=False)  #: folded call paths, cycles

    @property
    def ok(self) -> bool:
        return self.exit_reason == "exit" and self.exit_code == 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("stacks")
        if d["timing_check"] is None:
            d.pop("timing_check")
        d["seconds"] = self.cycles / self.clock_hz
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def summary(self) -> str:
        """A few lines for people; the JSON has everything."""
        lines = [
            f"simmcu: {self.message}",
            f"  core {self.core} on board {self.board} @ {self.clock_hz / 1e6:g} MHz",
            f"  instructions {self.instructions:,}  cycles {self.cycles:,}  "
            f"({self.cycles / self.clock_hz * 1e3:.3f} ms modeled)",
        ]
        if self.interrupts:
            taken = ", ".join(f"{k} x{v}" for k, v in sorted(self.interrupts.items()))
            lines.append(f"  interrupts {taken}")
        return "\n".join(lines)
