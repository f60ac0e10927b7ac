"""Per-class cycle counts on the RTL, from the retire trace of micro.S's blocks.

    python tests/rtl/micro.py [--core ibex ...] [--memory comb|registered] [--wait-states N]

prints, per RTL configuration, each block's cycles per pattern in steady state, from the
retire trace: from its first repetition to its last, over REP - 1.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from simmcu import validate

HERE = Path(__file__).resolve().parent
REP = 16


def measure(core: str, work: Path, memory: str = "comb", wait_states: int = 0, rdcycle: bool = False):
    """(block -> cycles per pattern, the mcountinhibit value after reset) on the RTL of ``core``."""
    from simmcu import get_core, load_board
    from simmcu._elf import load_elf
    from simmcu.firmware import build

    board = validate.BOARD
    base = core.split(":")[0]
    elf = work / f"micro-{base}{'-rdcycle' * rdcycle}.elf"
    # SIMMCU_NO_CMDLINE: the testbench stops at the first EBREAK
    defines = {"SIMMCU_NO_CMDLINE": "1", **({"RDCYCLE": "1"} if rdcycle else {})}
    if base != "picorv32":  # mcycle/minstret: PicoRV32 has only the unprivileged counters
        defines["COUNTERS"] = "1"
    if base == "cv32e40p":
        defines["MCOUNTINHIBIT"] = "1"
    if not elf.exists():
        build([HERE / "micro.S"], base, elf, board=board, defines=defines)
    symbols = load_elf(elf, get_core("rv32imc"), load_board(board)).symbols
    run = validate.run(validate.build(core), elf, board, memory, wait_states, trace=True, max_cycles=100_000)
    first: dict[int, int] = {}
    for k, (pc, _) in enumerate(run.trace):
        first.setdefault(pc, k)
    # Steady state: from the first repetition's first instruction to the last repetition's, over
    # REP - 1 (the same point of the pattern on either side, whatever the trace stamps).
    blocks = {}
    for name, sym in symbols.items():
        if name.startswith("m_") and not name.endswith("_end") and f"{name}_end" in symbols:
            start, end = first.get(sym.addr), first.get(symbols[f"{name}_end"].addr)
            if start is None or end is None:
                blocks[name[2:]] = None
                continue
            last = start + (end - start) // REP * (REP - 1)
            blocks[name[2:]] = (run.trace[last][1] - run.trace[start][1]) / (REP - 1)
    return dict(sorted(blocks.items(), key=lambda kv: symbols["m_" + kv[0]].addr)), run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--core", nargs="+", default=["picorv32", "ibex", "ibex:single_cycle_multiplier=true",
                                                  "ibex:branch_target_alu=true", "cv32e40p"])
    ap.add_argument("--memory", default="comb", choices=("comb", "registered"))
    ap.add_argument("--wait-states", type=int, default=0)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        table = {c: measure(c, Path(tmp), a.memory, a.wait_states) for c in a.core}
    names = list(dict.fromkeys(n for blocks, _ in table.values() for n in blocks))
    heads = [c.split(':')[0][:4] + (':' + c.split(':')[1][:6] if ':' in c else '') for c in a.core]
    print(f"{'pattern':24s}" + "".join(f"{h:>13s}" for h in heads))
    for n in names:
        cells = [table[c][0].get(n) for c in a.core]
        print(f"{n:24s}" + "".join(f"{v:13.2f}" if v is not None else f"{'-':>13s}" for v in cells))
    inhibit = [table[c][1].result if c == 'cv32e40p' else '-' for c in a.core]
    print(f"{'mcountinhibit at reset':24s}" + "".join(f"{v:>13}" for v in inhibit))


if __name__ == "__main__":
    main()
