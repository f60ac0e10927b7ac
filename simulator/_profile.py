"""Turn the native state after a run into the report: stalls, functions, memory.

Per-function numbers come from the call tree the block hook grows (one node
per distinct call path): exclusive cycles are a node's own, inclusive ones add
its subtree, counted once per function even under recursion.
"""

from __future__ import annotations

from . import _codemap
from . import _native as nat
from ._timing import STALL_CAUSES

_STACK_TOP_SYMBOLS = ("_stack_top", "__stack_top", "__StackTop", "_estack", "__stack")
_WHERE = ("stack", "code", "unattributed")


class Profiler:
    def __init__(self, machine):
        self.m = machine
        self.st = machine.state
        self.code = machine.code

    def report(self) -> dict:
        st = self.st
        stalls = {c: int(st[nat.STALL0 + k]) for k, c in enumerate(STALL_CAUSES)}
        instructions = int(st[nat.INSTRET])
        cycles = int(st[nat.CYCLES])
        functions, stacks = self._functions()
        return dict(warnings=self._warnings(), caches=self.m.cache_report(),
            cpi=round(cycles / instructions, 4) if instructions else 0.0,
            stalls=stalls, sleep_cycles=self.m.sleep_cycles,
            functions=functions, stacks=stacks, memory=self._memory(),
            timing_check=self.m.reference.compare(functions) if self.m.reference is not None else None,
        )

    def _warnings(self) -> list[str]:
        """Where the per-function profile is incomplete (its totals stay exact)."""
        st, out = self.st, []
        if st[nat.LOST_FRAMES]:
            out.append(f"{int(st[nat.LOST_FRAMES]):,} calls deeper than {_codemap.MAX_DEPTH} frames were charged "
                       "to their caller in the function profile")
        if st[nat.N_NODES] >= _codemap.MAX_NODES:
            out.append(f"more than {_codemap.MAX_NODES:,} distinct call paths: further paths were charged "
                       "to their caller in the function profile")
        return out

    # -- call tree -----------------------------------------------------------------------
    def _nodes(self):
        st, m = self.st, _codemap.MAX_NODES
        base = int(st[nat.OFF_NODE])
        count = int(st[nat.N_NODES])

        def row(r):
            return [int(v) for v in st[base + r * m: base + r * m + count]]

        return row(nat.N_FUNC), row(nat.N_PARENT), row(nat.N_CYC), row(nat.N_INS), row(nat.N_CALLS)

    def _functions(self) -> tuple[list[dict], list[tuple[str, int]]]:
        func, parent, cyc, ins, calls = self._nodes()
        n = len(func)
        sub_c, sub_i = cyc[:], ins[:]
        for k in range(n - 1, 0, -1):  # children are created after their parents
            sub_c[parent[k]] += sub_c[k]
            sub_i[parent[k]] += sub_i[k]
        names = self.code.functions
        table: dict[int, dict] = {}
        paths = [""] * n
        stacks = []
        for k in range(1, n):
            f = func[k]
            name = names[f] if f >= 0 else "?"
            paths[k] = name if parent[k] == 0 else f"{paths[parent[k]]};{name}"
            if cyc[k]:
                stacks.append((paths[k], cyc[k]))
            row = table.setdefault(f, dict(name=name, calls=0, cycles_exclusive=0, cycles_inclusive=0,
                                           instructions_exclusive=0, instructions_inclusive=0))
            row["calls"] += calls[k]
            row["cycles_exclusive"] += cyc[k]
            row["instructions_exclusive"] += ins[k]
            a, recursive = parent[k], False
            while a > 0:
                if func[a] == f:
                    recursive = True
                    break
                a = parent[a]
            if not recursive:
                row["cycles_inclusive"] += sub_c[k]
                row["instructions_inclusive"] += sub_i[k]
        rows = sorted(table.values(), key=lambda r: (-r["cycles_exclusive"], r["name"]))
        return rows, stacks

    # -- memory ---------------------------------------------------------------------------
    def _static_traffic(self) -> dict[str, dict[str, int]]:
        """Traffic from the decoded loads and stores: SP-relative ones go to the data region, literal
        loads to the code region, the rest is unattributed (pointers unknown before running)."""
        st, board = self.st, self.m.board
        regions: dict[str, dict[str, int]] = {}
        for w, where in enumerate(_WHERE):
            key = board.data.name if where == "stack" else board.code.name if where == "code" else where
            entry = regions.setdefault(key, dict(reads=0, writes=0, read_bytes=0, write_bytes=0))
            for k, field in enumerate(("reads", "writes", "read_bytes", "write_bytes")):
                entry[field] += int(st[nat.MEM0 + 4 * w + k])
        return regions

    def _stack_top(self) -> int:
        sym = self.m.image.symbols
        for name in _STACK_TOP_SYMBOLS:
            if name in sym:
                return sym[name].addr
        return self.m.board.data.end

    def _memory(self) -> dict:
        st, board, image = self.st, self.m.board, self.m.image
        flash = sum(len(s.data) for s in image.segments if board.code.contains(s.load_addr))
        ram = sum(s.mem_size for s in image.segments if board.data.contains(s.addr))
        sections = []
        for name, addr, size, writable in image.sections:
            region = board.region_at(addr)
            sections.append(dict(name=name, address=addr, bytes=size,
                                 region=region.name if region is not None else None, writable=writable))
        low = int(st[nat.MIN_SP])
        top = self._stack_top()
        exact = self.code.memory_hook
        regions = self.m.region_traffic() if exact else self._static_traffic()
        return dict(traffic="exact" if exact else "static",
            flash_bytes=flash, ram_static_bytes=ram, sections=sections,
            stack_peak_bytes=max(0, top - low) if low != int(nat.NEVER) else 0,
            heap_peak_bytes=self.m.heap_peak, regions=regions,
        )
