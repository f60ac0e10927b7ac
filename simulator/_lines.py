"""Cycles per source line: the DWARF line table of the ELF and the per-instruction rows of a run.

``simmcu build`` keeps DWARF (``firmware/_build.py``); a run with ``profile_lines`` keeps, per
instruction, how often it ran and the cycles it caused beyond its static price
(``_state.LINE``). Here the two meet: every instruction's cycles, instructions and stalls by
cause are summed per (function, file, line). The function is the one the per-function profile
charges, so a function's lines add up to its exclusive cycles exactly. Instructions without a
line (start-up assembly, runtime libraries built without DWARF, line 0) form one entry of
their function with no line, which lists them by address with their disassembly.
"""

from __future__ import annotations

import bisect
import posixpath
from dataclasses import dataclass

import numpy as np

from ._timing import STALL_CAUSES


@dataclass(frozen=True)
class LineTable:
    """Address ranges [start, end) with the source (file, line) that produced them, sorted by start."""

    starts: list[int]
    ends: list[int]
    places: list[tuple[str, int]]

    def lookup(self, addr: int) -> tuple[str, int] | None:
        k = bisect.bisect_right(self.starts, addr) - 1
        if k >= 0 and addr < self.ends[k]:
            return self.places[k]
        return None


def load_line_table(path: str, zero_is_code: bool = False) -> LineTable:
    """The line table of the ELF at ``path``; empty when it has no DWARF (built with --strip) or
    the DWARF cannot be read (the run goes on; its lines have no source). The linker relocates the
    sequences of functions it discarded (--gc-sections) to address 0: those are dropped unless
    ``zero_is_code`` (a function starts at 0)."""
    from elftools.common.exceptions import DWARFError, ELFError  # only runs that ask for lines need pyelftools
    from elftools.elf.elffile import ELFFile

    rows: list[tuple[int, int, str, int]] = []
    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            if not elf.has_dwarf_info():
                return LineTable([], [], [])
            dwarf = elf.get_dwarf_info()
            for cu in dwarf.iter_CUs():
                program = dwarf.line_program_for_CU(cu)
                if program is not None:
                    rows += _ranges(program, zero_is_code)
    except (OSError, ELFError, DWARFError, ValueError, KeyError, IndexError, AssertionError):
        return LineTable([], [], [])
    rows.sort()
    return LineTable([r[0] for r in rows], [r[1] for r in rows], [(r[2], r[3]) for r in rows])


def _ranges(program, zero_is_code: bool) -> list[tuple[int, int, str, int]]:
    """(start, end, file, line) for each row of a CU's line program up to the next row of its sequence."""
    header = program.header
    version = header["version"]
    dirs = [d.decode() if isinstance(d, bytes) else d for d in header["include_directory"]]
    files = header["file_entry"]

    def file_name(index: int) -> str:
        entry = files[index if version >= 5 else index - 1]
        name = entry.name.decode() if isinstance(entry.name, bytes) else entry.name
        d = entry.dir_index if version >= 5 else entry.dir_index - 1
        folder = dirs[d] if 0 <= d < len(dirs) else ""
        return posixpath.normpath(posixpath.join(folder, name))

    out: list[tuple[int, int, str, int]] = []
    sequence: list[tuple[int, int, str, int]] = []
    prev = None
    for entry in program.get_entries():
        state = entry.state
        if state is None:
            continue
        if prev is None:
            start = state.address
        elif state.address > prev.address and prev.line:
            sequence.append((prev.address, state.address, file_name(prev.file), prev.line))
        prev = state
        if state.end_sequence:
            if start != 0 or zero_is_code:
                out += sequence
            sequence, prev = [], None
    return out


def per_instruction(code, state) -> dict[str, np.ndarray]:
    """Cycles, instructions, dual issues and stalls (one row per cause) of every instruction of a run
    with the LINE rows: the static price times the times it ran, plus what the hooks charged it."""
    n = len(code.insns)
    rows = state.line_rows
    runs = np.cumsum(state.runs)[:n]
    prefix = state.prefix
    return dict(instructions=runs,
                cycles=runs * np.diff(prefix.cycles) + rows.cycles[:n],
                dual=runs * np.diff(prefix.dual) + rows.dual[:n],
                stalls=runs * np.diff(prefix.stalls, axis=1) + rows.stalls[:, :n])


def line_profile(code, state, image) -> list[dict]:
    """One entry per (function, file, line) that ran, most cycles first (see the module docstring)."""
    per = per_instruction(code, state)
    zero = any(sym.is_function and sym.addr == 0 for sym in image.symbols.values())
    table = load_line_table(image.path, zero_is_code=zero)
    entries: dict[tuple, dict] = {}
    for i in np.flatnonzero(per["instructions"] | per["cycles"]):
        insn = code.insns[i]
        place = table.lookup(insn.addr)
        function = code.functions[code.func_of[i]]
        key = (function, *(place or (None, None)))
        e = entries.get(key)
        if e is None:
            e = entries[key] = dict(function=function, file=key[1], line=key[2], address=insn.addr, cycles=0,
                                    instructions=0, dual_issued=0, stalls=dict.fromkeys(STALL_CAUSES, 0))
            if place is None:
                e["by_address"] = []
        cycles, ran = int(per["cycles"][i]), int(per["instructions"][i])
        e["cycles"] += cycles
        e["instructions"] += ran
        e["dual_issued"] += int(per["dual"][i])
        for k, cause in enumerate(STALL_CAUSES):
            e["stalls"][cause] += int(per["stalls"][k, i])
        e["address"] = min(e["address"], insn.addr)
        if place is None:
            e["by_address"].append(dict(address=insn.addr, text=_disassemble(image, code, i), cycles=cycles,
                                        instructions=ran))
    return sorted(entries.values(), key=lambda e: (-e["cycles"], e["function"], e["file"] or "", e["line"] or 0,
                                                   e["address"]))


def _disassemble(image, code, i: int) -> str:
    """The instruction's text: the Thumb decoder's own (capstone), capstone for RV32."""
    insn = code.insns[i]
    if image.arch == "arm":
        return insn.text
    import capstone

    md = capstone.Cs(capstone.CS_ARCH_RISCV, capstone.CS_MODE_RISCV32 | capstone.CS_MODE_RISCVC)
    for sec in image.code:
        if sec.addr <= insn.addr < sec.addr + len(sec.data):
            off = insn.addr - sec.addr
            for d in md.disasm(sec.data[off:off + insn.size], insn.addr, 1):
                return f"{d.mnemonic} {d.op_str}".strip()
    return insn.text
