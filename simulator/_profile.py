"""Turn the native state after a run into the report: stalls, functions, caches, memory.

Per-function numbers come from the call tree the block hook grows (one node
per distinct call path): exclusive cycles are a node's own, inclusive ones add
its subtree, counted once per function even under recursion.
"""

from __future__ import annotations

from . import _codemap
from ._lines import line_profile
from ._timing import NEVER_CYCLE, STALL_CAUSES

_STACK_TOP_SYMBOLS = ("_stack_top", "__stack_top", "__StackTop", "_estack", "__stack")
_TRAFFIC_FIELDS = ("reads", "writes", "read_bytes", "write_bytes")


class Profiler:
    def __init__(self, machine):
        self.m = machine
        self.st = machine.state
        self.code = machine.code

    def report(self) -> dict:
        st = self.st
        instructions, cycles = st.instructions, st.cycles
        functions, stacks = self.functions()
        lines = line_profile(self.code, st, self.m.image) if st.lines else None
        return dict(warnings=self._warnings(lines), caches=self.caches(), lines=lines,
                    cpi=round(cycles / instructions, 4) if instructions else 0.0,
                    stalls={c: int(v) for c, v in zip(STALL_CAUSES, st.stalls)}, sleep_cycles=self.m.sleep_cycles,
                    dual_issued=st.dual_issued,
                    functions=functions, stacks=stacks, memory=self.memory())

    def _warnings(self, lines: list[dict] | None) -> list[str]:
        """Where the per-function (or per-line) profile is incomplete (its totals stay exact)."""
        st, out = self.st, []
        if lines is not None and all(e["line"] is None for e in lines):
            out.append(f"{self.m.image.path} has no DWARF line table (built with --strip?): lines have no source")
        if st.lost_frames:
            out.append(f"{st.lost_frames:,} calls deeper than {_codemap.MAX_DEPTH} frames were charged "
                       "to their caller in the function profile")
        if st.n_nodes >= _codemap.MAX_NODES:
            out.append(f"more than {_codemap.MAX_NODES:,} distinct call paths: further paths were charged "
                       "to their caller in the function profile")
        return out

    def caches(self) -> dict:
        """Hits and misses of the caches the timing profile has (empty without caches)."""
        st, c = self.st, self.m.timing.cache
        out = {}
        if st.icache_sets:
            out["icache"] = dict(bytes=c["icache_bytes"], ways=c["icache_ways"], line_bytes=c["line_bytes"],
                                 misses=st.icache_misses)  # lookups are per block, so no hit count
        if st.dcache_sets:
            out["dcache"] = dict(bytes=c["dcache_bytes"], ways=c["dcache_ways"], line_bytes=c["line_bytes"],
                                 hits=st.dcache_hits, misses=st.dcache_misses, writebacks=st.dcache_writebacks)
        return out

    def region_traffic(self) -> dict[str, dict[str, int]]:
        """Data accesses by board region, as the memory hook counted them."""
        out = {}
        for k, r in enumerate(self.m.board.regions):
            region = self.st.region(k)
            out[r.name] = {f: getattr(region, f) for f in _TRAFFIC_FIELDS}
        return out

    # -- call tree -----------------------------------------------------------------------
    def functions(self) -> tuple[list[dict], list[tuple[str, int]]]:
        """Per-function rows (most exclusive cycles first) and the folded call paths with their cycles."""
        nodes, count = self.st.nodes, self.st.n_nodes
        func, parent, cyc, ins, calls = ([int(v) for v in nodes[row][:count]]
                                         for row in ("function", "parent", "cycles", "instructions", "calls"))
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
        board = self.m.board
        names = {"stack": board.data.name, "code": board.code.name}
        regions: dict[str, dict[str, int]] = {}
        for place, counts in self.st.static_traffic().items():
            entry = regions.setdefault(names.get(place, place), dict.fromkeys(_TRAFFIC_FIELDS, 0))
            for field in _TRAFFIC_FIELDS:
                entry[field] += counts[field]
        return regions


    def memory(self) -> dict:
        """Sizes, peaks and traffic; a functional run (``--timing none``) counts neither traffic nor the stack."""
        board, image = self.m.board, self.m.image
        flash = sum(len(s.data) for s in image.segments if board.code.contains(s.load_addr))
        ram = sum(s.mem_size for s in image.segments if board.data.contains(s.addr))
        sections = []
        for name, addr, size, writable in image.sections:
            region = board.region_at(addr)
            sections.append(dict(name=name, address=addr, bytes=size,
                                 region=region.name if region is not None else None, writable=writable))
        if self.m.functional:
            return dict(traffic="none", flash_bytes=flash, ram_static_bytes=ram, sections=sections,
                        stack_peak_bytes=None, heap_peak_bytes=self.m.heap_peak, regions={})
        low = self.st.min_sp
        top = stack_top(self.m.image, self.m.board)
        exact = self.code.exact_accesses
        regions = self.region_traffic() if exact else self._static_traffic()
        return dict(traffic="exact" if exact else "static",
                    flash_bytes=flash, ram_static_bytes=ram, sections=sections,
                    stack_peak_bytes=max(0, top - low) if low != NEVER_CYCLE else 0,
                    heap_peak_bytes=self.m.heap_peak, regions=regions)


def stack_top(image, board) -> int:
    """The initial SP: the linker script's stack-top symbol, else the end of the data region."""
    for name in _STACK_TOP_SYMBOLS:
        if name in image.symbols:
            return image.symbols[name].addr
    return board.data.end
