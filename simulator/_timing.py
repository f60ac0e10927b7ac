"""Timing profiles (TOML data) and the static half of the timing model.

A profile prices instruction classes (``isa.insn.CLASSES``); the model adds
what depends on execution: taken control transfers, interlocks between
neighbouring instructions, data-dependent latencies and memory wait states.
Everything that can be known before running is folded here into per-instruction
costs and prefix sums (``CodeMap``), so the native block hook does one lookup per
basic block. ``instruction_cost`` and ``entry_cost`` are the plain-Python
statement of the model; the native hook and the reference model
(``_reference``) both follow them. docs/timing.md describes the format.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ._errors import ConfigError
from ._params import MAX_CYCLES, PACKAGE_DIR, REQUIRED, Param, apply_params, cycles_in_range, load_toml
from ._latency import LATENCY_MODELS, LatencyModel
from .isa.insn import CLASSES, Insn
from .isa.thumb import FLAGS

HAZARDS = {
    "load_use": "cycles an instruction waits for a register loaded by the previous instruction",
    "address_dependency": "cycles a load/store waits for an address register the previous (non-load) instruction wrote",
    "back_to_back_load": "cycles added (negative: saved) when a load follows a load it does not depend on",
    "jump_reg_use": "cycles an indirect jump waits for a target register the previous instruction wrote",
    "second_source": "cycles added to instructions with two register source fields (single-ported register file)",
    "misaligned_target": "cycles added to a taken transfer whose target is a 32-bit instruction at a 2-mod-4 address",
    "misaligned_fetch": "cycles added to every 32-bit instruction at a 2-mod-4 address (a second fetch transfer)",
    "jump_reg_self": "cycles added to an indirect jump whose link register is its base register (jalr ra, 0(ra))",
    "misaligned_fallthrough": "cycles added to a taken conditional branch whose fall-through is a 32-bit instruction "
                              "at a 2-mod-4 address (its prefetch, begun from a buffered halfword, finishes first)",
}

STALL_CAUSES = ("branch", "load_use", "muldiv", "memory", "accelerator", "other")
#: The cycle that never comes: an event that is not scheduled (the largest int64).
NEVER_CYCLE = (1 << 63) - 1
_CAUSE_OF = {
    **{k: "memory" for k in ("load", "store", "load_multi", "store_multi", "fp_load", "fp_store", "table_branch")},
    **{k: "muldiv" for k in ("mul", "mul_long", "div", "fp_div", "fp_sqrt")},
    **{k: "branch" for k in ("branch", "jump", "jump_reg", "call", "call_reg")},
}
_MULTI = ("load_multi", "store_multi", "fp_load", "fp_store")
_TIMING_DIR = "timing"


def cause_of(klass: str) -> str:
    """The stall cause charged with cycles of ``klass`` beyond one."""
    return _CAUSE_OF.get(klass, "other")


@dataclass
class Option:
    name: str
    description: str
    default: bool
    when_true: dict
    when_false: dict


@dataclass
class Profile:
    name: str
    isa: str
    description: str
    sources: list[str]
    not_modeled: list[str]
    accuracy: str
    cycles: dict[str, int]
    per_register: dict[str, int]
    taken: dict[str, int]
    hazards: dict[str, int]
    latency: dict[str, str]
    exception_entry: int
    exception_return: int
    cache: dict = field(default_factory=dict)  #: CACHE_PARAMS values
    fetch: dict = field(default_factory=dict)  #: FETCH_PARAMS values
    csr: dict[int, int] = field(default_factory=dict)  #: CSR number -> cycles of an instruction accessing it
    #: superscalar pairing: {"units": unit -> how many, "uses": class -> units it occupies} (``pairs``)
    dual_issue: dict = field(default_factory=dict)
    prediction: dict = field(default_factory=dict)  #: PREDICTION_PARAMS values
    options: dict[str, Option] = field(default_factory=dict)
    chosen: dict[str, bool] = field(default_factory=dict)

    def latency_model(self, klass: str) -> LatencyModel | None:
        name = self.latency.get(klass)
        return LATENCY_MODELS[name] if name else None


def _int_table(raw: dict, key: str, valid, where: str, default: int) -> dict[str, int]:
    """A table of cycle counts, each in [0, MAX_CYCLES); hazards may be negative (``_check_hazards``)."""
    table = raw.get(key, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [{key}] must be a table")
    low = -MAX_CYCLES if key == "hazards" else 0
    for k, v in table.items():
        if k not in valid:
            raise ConfigError(f"{where}: [{key}] has unknown key {k!r} (valid: {', '.join(valid)})")
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v < MAX_CYCLES:
            raise ConfigError(f"{where}: [{key}] {k} must be a whole number of cycles in [{low}, {MAX_CYCLES}), "
                              f"got {v!r}")
    return {k: table.get(k, default) for k in valid}


def _check_hazards(p: Profile, where: str) -> None:
    """No instruction may cost fewer than zero cycles: a hazard only adds, except that a load after
    an independent load may save what the load costs beyond its issue cycle."""
    for name, v in p.hazards.items():
        low = min(0, 1 - p.cycles["load"]) if name == "back_to_back_load" else 0
        if v < low:
            raise ConfigError(f"{where}: [hazards] {name} = {v} would make instructions cost less than nothing "
                              f"(at least {low}{' (1 - cycles.load)' if low else ''})")


def _apply_overrides(profile: Profile, changes: dict, where: str) -> None:
    for key in changes:
        if key not in ("cycles", "per_register", "taken", "hazards", "latency", "cache"):
            raise ConfigError(f"{where}: option tables may change cycles, per_register, taken, hazards, latency "
                              f"or cache, not {key!r}")
    if "cache" in changes:
        if not isinstance(changes["cache"], dict):
            raise ConfigError(f"{where}: cache must be a table")
        profile.cache = apply_params(CACHE_PARAMS, {**profile.cache, **changes["cache"]}, f"{where} [cache]")
    for key in ("cycles", "per_register", "taken", "hazards"):
        if key in changes:
            table = _int_table(changes, key, HAZARDS if key == "hazards" else CLASSES, where, 0)
            getattr(profile, key).update({k: table[k] for k in changes[key]})
    if "latency" in changes:
        profile.latency.update(_latency_table(changes, where))


def _csr_table(raw: dict, where: str) -> dict[int, int]:
    """[csr]: CSR name (or a name pattern with ``*``, e.g. ``mhpmcounter*``) = cycles of an
    instruction that accesses it, instead of its class's."""
    from fnmatch import fnmatchcase

    from .isa.rv32 import CSR_NUMBERS

    table = raw.get("csr", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [csr] must be a table")
    out = {}
    for pattern, v in table.items():
        names = [n for n in CSR_NUMBERS if fnmatchcase(n, pattern)]
        if not names:
            raise ConfigError(f"{where}: [csr] {pattern!r} names no CSR (e.g. mcycle, mstatus, mhpmcounter*)")
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < MAX_CYCLES:
            raise ConfigError(f"{where}: [csr] {pattern} must be a whole number of cycles in [0, {MAX_CYCLES}), "
                              f"got {v!r}")
        out.update({CSR_NUMBERS[n]: v for n in names})
    return out


def _latency_table(raw: dict, where: str) -> dict[str, str]:
    table = raw.get("latency", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [latency] must be a table")
    for k, v in table.items():
        if k not in CLASSES:
            raise ConfigError(f"{where}: [latency] has unknown class {k!r}")
        if not isinstance(v, str) or v != "" and v not in LATENCY_MODELS:
            raise ConfigError(f"{where}: [latency] {k} = {v!r} is not a model (valid: {', '.join(LATENCY_MODELS)})")
    return dict(table)


#: Keys of a profile's [cache] table: instruction and data caches in front of the board's flash and
#: SRAM regions (not TCM or MMIO). A size of 0 means no cache. docs/timing.md gives the model.
#: Sizes are bounded as MCU caches are (the native state holds every set and way).
MAX_CACHE_BYTES = 1 << 20
CACHE_PARAMS = {
    "icache_bytes": Param(0, "bytes", "instruction cache size (0: none; at most 1 MiB)", "size",
                          lambda v: 0 <= v <= MAX_CACHE_BYTES),
    "icache_ways": Param(2, "ways", "instruction cache associativity (LRU replacement; at most 64)", int,
                         lambda v: 1 <= v <= 64),
    "dcache_bytes": Param(0, "bytes", "data cache size (0: none; at most 1 MiB); write-back, write-allocate", "size",
                          lambda v: 0 <= v <= MAX_CACHE_BYTES),
    "dcache_ways": Param(4, "ways", "data cache associativity (LRU replacement; at most 64)", int,
                         lambda v: 1 <= v <= 64),
    "line_bytes": Param(32, "bytes", "cache line size (a power of two, 4 to 1024)", int,
                        lambda v: 4 <= v <= 1024 and v & (v - 1) == 0),
    "bus_bytes": Param(8, "bytes", "width of the bus that fills lines: a fill is line_bytes / bus_bytes beats", int,
                       lambda v: v >= 1 and v & (v - 1) == 0),
    "miss_cycles": Param(REQUIRED, "cycles", "a line fill from zero-wait-state memory; each beat adds the region's "
                         "wait states", int, cycles_in_range),
}

#: Keys of a profile's [fetch] table: what the core's fetch unit does with the code region's fetch
#: wait states (a memory that answers 1 + wait states cycles after each request, one at a time).
FETCH_PARAMS = {
    "model": Param("lines", "", "lines: an instruction waits for each new fetch line it needs (no prefetch); "
                   "stream: a prefetcher fetches sequential lines ahead, and each refill cycle of a taken "
                   "transfer waits for a fetch", ("lines", "stream")),
    "buffer_lines": Param(2, "lines", "stream: lines the prefetcher may hold ahead of the instruction that "
                          "issues next", int, lambda v: 1 <= v <= 64),
    "taken_refetch": Param(False, "", "lines: a taken conditional branch first finishes fetching the "
                           "fall-through instruction it started to prefetch (the new lines it needs)", bool),
    "refill": Param("scaled", "", "stream: what a taken transfer's refill costs; scaled: each of its cycles "
                    "(own + [taken]) waits for a fetch; port: the target's fetch is requested when the transfer "
                    "resolves and waits for the port, behind the fetch in flight and one already requested "
                    "(priced per transfer from the stream's state when it is reached in sequence)",
                    ("scaled", "port")),
    "release": Param("ends", "", "stream: when a buffered line makes room for the next; ends: the cycle before the "
                     "last instruction ending in it issues; starts: the cycle the last instruction starting in it "
                     "issues (a FIFO that pops a line as its last instruction is taken)", ("ends", "starts")),
}

#: Keys of a profile's [prediction] table: a branch target address cache (BTAC) remembers whether
#: each direct transfer was taken the last time it ran and then predicts the same. Predicted and
#: taken, a transfer costs ``predicted_taken`` instead of its [taken] refill; predicted taken but
#: falling through, it pays its class's [taken] refill (the same flush and refetch).
PREDICTION_PARAMS = {
    "model": Param("none", "", "none: every taken transfer pays [taken]; btac: direct branches, jumps and "
                   "calls are predicted as they went the last time (not taken before they first ran)",
                   ("none", "btac")),
    "predicted_taken": Param(0, "cycles", "refill of a correctly predicted taken transfer", int, cycles_in_range),
}


def _dual_issue_table(raw, where: str) -> dict:
    """[dual_issue]: ``units`` (name = how many the core has) and ``uses`` (class = units it occupies);
    classes not in ``uses`` never share an issue cycle."""
    if not raw:
        return {}
    if not isinstance(raw, dict) or set(raw) - {"units", "uses"}:
        raise ConfigError(f"{where}: [dual_issue] takes a units and a uses table")
    units, uses = raw.get("units", {}), raw.get("uses", {})
    if not isinstance(units, dict) or not isinstance(uses, dict):
        raise ConfigError(f"{where}: [dual_issue] units and uses must be tables")
    for name, n in units.items():
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"{where}: [dual_issue.units] {name} must be a whole number of units, at least 1")
    for k, v in uses.items():
        if k not in CLASSES:
            raise ConfigError(f"{where}: [dual_issue.uses] has unknown class {k!r}")
        if not isinstance(v, list) or not all(u in units for u in v):
            raise ConfigError(f"{where}: [dual_issue.uses] {k} must list units of [dual_issue.units] "
                              f"({', '.join(units)})")
    return {"units": dict(units), "uses": {k: list(v) for k, v in uses.items()}}


#: Keys of a timing profile TOML file (the tables are checked by class or hazard name).
PROFILE_PARAMS = {
    "name": Param(REQUIRED, "", "profile name, as cores.toml and --timing refer to it", str),
    "isa": Param(REQUIRED, "", "instruction set it prices", ("rv32", "thumb")),
    "description": Param("", "", "one line shown by `simmcu cores`", str),
    "sources": Param(REQUIRED, "", "published documents its numbers come from", list, lambda v: len(v) > 0),
    "not_modeled": Param([], "", "what the profile leaves out", list),
    "accuracy": Param("", "", "expected error against the hardware and where it comes from", str),
    "exception_entry": Param(0, "cycles", "from the interrupted instruction to the handler's first", int,
                             cycles_in_range),
    "exception_return": Param(0, "cycles", "from the returning instruction to the resumed one", int,
                              cycles_in_range),
    "cycles": Param({}, "cycles", "per instruction class (default 1)", dict),
    "per_register": Param({}, "cycles", "added per register moved, for multiple loads and stores", dict),
    "taken": Param({}, "cycles", "added when a control transfer goes elsewhere than its fall-through", dict),
    "hazards": Param({}, "cycles", "interlocks between neighbouring instructions (see HAZARDS)", dict),
    "latency": Param({}, "", "class = data-dependent latency model (see LATENCY_MODELS)", dict),
    "options": Param({}, "", "named switches, each with description, default, when_true, when_false", dict),
    "cache": Param({}, "", "instruction and data caches (see CACHE_PARAMS)", dict),
    "fetch": Param({}, "", "the fetch unit under fetch wait states (see FETCH_PARAMS)", dict),
    "csr": Param({}, "cycles", "CSR name or pattern = cycles of an instruction accessing it (RISC-V)", dict),
    "dual_issue": Param({}, "", "which instruction classes may share an issue cycle (units, uses)", dict),
    "prediction": Param({}, "", "branch prediction (see PREDICTION_PARAMS)", dict),
}


def parse_profile(raw: dict, where: str) -> Profile:
    v = apply_params(PROFILE_PARAMS, raw, where)
    p = Profile(
        name=v["name"], isa=v["isa"], description=v["description"], sources=list(v["sources"]),
        not_modeled=list(v["not_modeled"]), accuracy=v["accuracy"],
        cycles=_int_table(v, "cycles", CLASSES, where, 1),
        per_register=_int_table(v, "per_register", CLASSES, where, 0),
        taken=_int_table(v, "taken", CLASSES, where, 0),
        hazards=_int_table(v, "hazards", HAZARDS, where, 0),
        latency={k: m for k, m in _latency_table(v, where).items() if m},
        exception_entry=v["exception_entry"], exception_return=v["exception_return"],
        cache=apply_params(CACHE_PARAMS, v["cache"], f"{where} [cache]") if v["cache"] else {},
        fetch=apply_params(FETCH_PARAMS, v["fetch"], f"{where} [fetch]"),
        csr=_csr_table(v, where),
        dual_issue=_dual_issue_table(v["dual_issue"], where),
        prediction=apply_params(PREDICTION_PARAMS, v["prediction"], f"{where} [prediction]"))
    for name, opt in v["options"].items():
        if not isinstance(opt, dict) or not isinstance(opt.get("default"), bool):
            raise ConfigError(f"{where}: option {name} needs a table with a boolean default")
        if not all(isinstance(opt.get(k, {}), dict) for k in ("when_true", "when_false")):
            raise ConfigError(f"{where}: option {name}: when_true and when_false must be tables")
        p.options[name] = Option(name, opt.get("description", ""), opt["default"],
                                 opt.get("when_true", {}), opt.get("when_false", {}))
    return p


def _check_cache(c: dict, where: str) -> None:
    for kind in ("icache", "dcache"):
        size, ways = c[f"{kind}_bytes"], c[f"{kind}_ways"]
        sets = size // (ways * c["line_bytes"]) if size else 1
        if size and (size % (ways * c["line_bytes"]) or sets & (sets - 1)):
            raise ConfigError(f"{where}: {kind}_bytes {size} is not a power-of-two number of sets of "
                              f"{ways} ways x {c['line_bytes']}-byte lines")
    if c["bus_bytes"] > c["line_bytes"]:
        raise ConfigError(f"{where}: bus_bytes is wider than line_bytes")


def with_options(profile: Profile, chosen: dict[str, bool]) -> Profile:
    """A copy of ``profile`` with its options set (unnamed ones take their defaults)."""
    bad = sorted(set(chosen) - set(profile.options))
    if bad:
        valid = ", ".join(profile.options) or "none"
        raise ConfigError(f"timing profile {profile.name} has no option {bad[0]!r} (valid: {valid})")
    p = copy.deepcopy(profile)
    for name, opt in profile.options.items():
        value = chosen.get(name, opt.default)
        p.chosen[name] = value
        _apply_overrides(p, opt.when_true if value else opt.when_false, f"timing profile {p.name} option {name}")
    if p.cache:
        _check_cache(p.cache, f"timing profile {p.name}")
    _check_hazards(p, f"timing profile {p.name}")
    return p


@lru_cache(maxsize=None)
def _bundled(name: str) -> Profile:
    path = PACKAGE_DIR / _TIMING_DIR / f"{name}.toml"
    if not path.is_file():
        raise ConfigError(f"unknown timing profile {name!r} (bundled: {', '.join(bundled_profiles())})")
    return parse_profile(load_toml(path, "timing profile"), f"timing profile {path.name}")


def bundled_profiles() -> list[str]:
    folder = PACKAGE_DIR / _TIMING_DIR
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_profile(spec: str | Path, options: dict[str, bool] | None = None) -> Profile:
    """A bundled profile by name, or a TOML file by path, with ``options`` applied."""
    if str(spec).endswith(".toml"):
        base = parse_profile(load_toml(spec, "timing profile"), f"timing profile {spec}")
    else:
        base = _bundled(str(spec))
    return with_options(base, options or {})


# -- the model, in plain Python --------------------------------------------------------

#: Board region kinds the caches sit in front of (TCM and MMIO are never cached).
CACHEABLE_KINDS = ("flash", "sram")


@dataclass(frozen=True)
class MemoryCosts:
    """Wait states the static model adds, per access of a statically placed memory instruction.

    With the memory hook installed (``exact``: exact traffic, or a data cache) data accesses are
    priced at run time by their real region instead, so the static read/write costs are zero;
    with an instruction cache, so are the fetch wait states of a cacheable code region.
    """

    read: tuple[int, int, int]    #: per read, indexed by MEM_STACK, MEM_CODE, MEM_OTHER
    write: tuple[int, int, int]
    fetch_wait: int               #: per fetch line of the code region
    fetch_shift: int              #: log2 of the fetch line width
    prefetch: bool
    #: cycles per refill cycle of a taken transfer: 1, or 1 + fetch_wait for a streaming fetch unit
    refill_scale: int = 1
    #: streaming fetch: address -> cycles the instruction waits for its lines when reached in
    #: sequence (``stream_stalls``); None for the per-line model
    stream: dict[int, int] | None = None
    #: streaming fetch with ``refill = "port"``: control transfer address -> the extra cycles of its
    #: taken refill (``stream_stalls``), instead of the scaled [taken] refill
    refill: dict[int, int] | None = None
    #: per-line model with ``taken_refetch``: conditional branch address -> the lines its
    #: fall-through needs, fetched and discarded when it is taken (``refetch_lines``)
    refetch: dict[int, int] | None = None
    #: conditional branches whose fall-through is a 32-bit instruction at a 2-mod-4 address
    #: (``misaligned_fallthrough``)
    split_fallthrough: frozenset[int] = frozenset()
    #: dual issue: addresses of the instructions that issue in their linear predecessor's cycle
    #: when reached from it (``pairs``)
    paired: frozenset[int] = frozenset()

    @classmethod
    def of(cls, board, profile: Profile | None = None, exact: bool = False,
           insns: list[Insn] | None = None) -> MemoryCosts:
        """The costs of ``board`` under ``profile``; with the decoded ``insns``, also the tables that
        depend on the code (streaming fetch stalls, discarded fetches, dual-issue pairs)."""
        data, code = board.data, board.code
        places = (data, code, data)
        read = (0, 0, 0) if exact else tuple(r.read_wait_states for r in places)
        write = (0, 0, 0) if exact else tuple(r.write_wait_states for r in places)
        cached = profile is not None and profile.cache.get("icache_bytes", 0) and code.kind in CACHEABLE_KINDS
        wait = 0 if cached else code.fetch_wait_states
        fetch = profile.fetch if profile is not None else apply_params(FETCH_PARAMS, {}, "fetch")
        streaming = fetch["model"] == "stream" and wait > 0 and not code.prefetch
        mem = cls(read, write, wait, code.fetch_bytes.bit_length() - 1, code.prefetch,
                  refill_scale=1 + wait if streaming else 1)
        if insns is None or profile is None:
            return mem
        if streaming:
            stalls, refill = stream_stalls(profile, mem, insns)
            mem = dataclasses.replace(mem, stream=stalls, refill=refill if fetch["refill"] == "port" else None)
        if fetch["taken_refetch"] and wait and not streaming:
            mem = dataclasses.replace(mem, refetch=refetch_lines(mem, insns))
        split = frozenset(b.addr for b, f in zip(insns, insns[1:]) if b.klass == "branch" and
                          b.fallthrough == f.addr and f.size == 4 and f.addr & 2) \
            if profile.hazards["misaligned_fallthrough"] else frozenset()
        return dataclasses.replace(mem, paired=pairs(profile, insns), split_fallthrough=split)


def memory_hooked(profile: Profile, exact_memory: bool) -> bool:
    """Whether a run needs the per-access memory hook: asked for, or a data cache to feed."""
    return exact_memory or bool(profile.cache.get("dcache_bytes", 0))


def instruction_cost(p: Profile, mem: MemoryCosts, insn: Insn) -> dict[str, int]:
    """Cycles of ``insn`` alone, split into 1 (issue) + stall causes; control transfers not taken."""
    k = insn.klass
    total = p.csr.get(insn.csr, p.cycles[k]) + p.per_register[k] * insn.nregs
    model = p.latency_model(k)
    if model is not None and k == "shift" and insn.shamt is not None:
        total = model.reference(0, insn.shamt)  # the amount is in the encoding: priced statically
    if insn.sources >= 2:
        total += p.hazards["second_source"]
    if k in ("jump_reg", "call_reg") and insn.reads & insn.writes:
        total += p.hazards["jump_reg_self"]
    cost = dict.fromkeys(STALL_CAUSES, 0)
    cost["issue"] = 1
    cost[cause_of(k)] += max(0, total - 1)
    cost["memory"] += insn.mem_reads * mem.read[insn.mem_where] + insn.mem_writes * mem.write[insn.mem_where]
    if insn.size == 4 and insn.addr & 2:
        cost["memory"] += p.hazards["misaligned_fetch"]
    return cost


def latency_model_of(p: Profile, insn: Insn) -> LatencyModel | None:
    """The data-dependent latency model ``insn`` runs under (None: its cost is static)."""
    model = p.latency_model(insn.klass)
    if model is None or len(insn.operands) != 2 or (insn.klass == "shift" and insn.shamt is not None):
        return None  # an immediate shift's cost is known from its encoding
    return model


def _lines(mem: MemoryCosts, insn: Insn) -> tuple[int, int]:
    return insn.addr >> mem.fetch_shift, (insn.addr + insn.size - 1) >> mem.fetch_shift


def _new_lines(mem: MemoryCosts, prev: Insn, insn: Insn) -> int:
    """Fetch lines ``insn`` needs beyond the last one ``prev``, just before it, ended in."""
    first, last = _lines(mem, insn)
    return max(0, last - max(first - 1, (prev.fallthrough - 1) >> mem.fetch_shift))


def entry_cost(p: Profile, mem: MemoryCosts, prev: Insn | None, insn: Insn) -> tuple[int, int, int]:
    """(load_use, memory, dual) cycles ``insn`` pays for following ``prev``; ``None`` after a jump or
    trap. ``dual`` is -1 when it issues in ``prev``'s cycle (``pairs``), else 0.

    ``prev`` is the instruction executed just before; whether flow was
    sequential decides fetch wait states and pairing.
    """
    lu = mem_c = 0
    seq = prev is not None and prev.fallthrough == insn.addr
    dual = -1 if seq and insn.addr in mem.paired else 0
    if prev is not None:
        h = p.hazards
        if prev.load_dests & insn.reads:
            lu += h["load_use"]
        if insn.klass in ("jump_reg", "call_reg") and prev.writes & insn.reads:
            lu += h["jump_reg_use"]
        single = insn.klass in ("load", "store")
        prev_load = prev.klass == "load"
        if single and not prev_load and prev.writes & insn.addr_regs:
            lu += h["address_dependency"]
        if prev_load and insn.klass == "load" and not prev.load_dests & insn.addr_regs:
            mem_c += h["back_to_back_load"]
    if mem.stream is not None:
        mem_c += mem.stream.get(insn.addr, 0) if seq else 0  # after a transfer: in its refill
    elif mem.fetch_wait:
        if seq:
            mem_c += 0 if mem.prefetch else _new_lines(mem, prev, insn) * mem.fetch_wait
        else:
            first, last = _lines(mem, insn)
            mem_c += (last - first + 1) * mem.fetch_wait
    return lu, mem_c, dual


def _pairable(p: Profile, first: Insn, second: Insn) -> bool:
    """May ``second`` issue in ``first``'s cycle? Both classes are in [dual_issue] uses and the units
    they occupy together exist; ``second`` reads nothing ``first`` writes (a conditional branch may
    read the flags ``first`` sets: they resolve early); neither moves more than a word (LDRD,
    VLDR.64, VLDM occupy every unit); neither is in an IT block."""
    uses = p.dual_issue["uses"]
    if first.klass not in uses or second.klass not in uses or first.in_it or second.in_it:
        return False
    if max(first.read_bytes, first.write_bytes, second.read_bytes, second.write_bytes) > 4:
        return False
    busy = [*uses[first.klass], *uses[second.klass]]
    if any(busy.count(u) > n for u, n in p.dual_issue["units"].items()):
        return False
    depends = first.writes & second.reads
    if second.klass == "branch":
        depends &= ~FLAGS
    return not depends


def pairs(p: Profile, insns: list[Insn]) -> frozenset[int]:
    """Addresses of instructions that issue together with their linear predecessor: pairs form greedily
    in address order (an instruction that issued second starts no pair) and restart wherever a
    transfer may land (after a control transfer, at static branch targets), so that the pairing is
    static: reached from elsewhere, an instruction issues alone (``entry_cost``)."""
    if not p.dual_issue:
        return frozenset()
    targets = {i.target for i in insns if i.ctrl and i.target is not None}
    out = set()
    for prev, insn in zip(insns, insns[1:]):
        linear = prev.fallthrough == insn.addr and not prev.ctrl and insn.addr not in targets
        if linear and prev.addr not in out and _pairable(p, prev, insn):
            out.add(insn.addr)
    return frozenset(out)


def predictable(p: Profile, insn: Insn) -> bool:
    """Does the BTAC predict ``insn`` (a direct branch, jump or call, under [prediction] model btac)?"""
    return p.prediction.get("model", "none") == "btac" and insn.klass in ("branch", "jump", "call") \
        and insn.target is not None


def not_taken_cost(p: Profile, branch: Insn, predicted: bool) -> int:
    """Extra cycles of a transfer that fell through: its refill when the BTAC predicted it taken."""
    return p.taken[branch.klass] if predicted else 0


def flow_cost(p: Profile, mem: MemoryCosts, prev: Insn, insn: Insn | None, address: int, predicted: bool) -> int:
    """Cycles the control transfer ``prev`` adds on the way to ``address`` (``insn`` there, if decoded);
    ``predicted``: the BTAC predicted it taken."""
    if prev.fallthrough == address:
        return not_taken_cost(p, prev, predicted)
    return taken_cost(p, mem, prev, insn, predicted)


def taken_cost(p: Profile, mem: MemoryCosts, branch: Insn, target: Insn | None, predicted: bool = False) -> int:
    """Extra cycles of a control transfer that went somewhere else than its fall-through."""
    extra = p.prediction["predicted_taken"] if predicted else p.taken[branch.klass]
    misaligned = p.hazards["misaligned_target"] if target is not None and target.size == 4 and target.addr & 2 else 0
    if mem.refill is not None and not predicted and branch.addr in mem.refill:
        return mem.refill[branch.addr] + misaligned * mem.refill_scale
    extra += misaligned
    if branch.addr in mem.split_fallthrough:
        extra += p.hazards["misaligned_fallthrough"]
    if mem.refetch is not None:
        extra += mem.refetch.get(branch.addr, 0) * mem.fetch_wait
    # A streaming fetch unit: each cycle of the transfer and of its refill waits for a fetch
    # (measured on the Ibex and CV32E40P RTL: a taken branch takes 3 fetches, a jump 2).
    own = p.cycles[branch.klass]
    return (own + extra) * mem.refill_scale - own


def refetch_lines(mem: MemoryCosts, insns: list[Insn]) -> dict[int, int]:
    """Per conditional branch, the fetch lines its fall-through instruction needs beyond the
    branch's own last line: what a core that prefetches the fall-through while it decides
    fetches in vain when the branch is taken (none when it is a compressed instruction in the
    half word already fetched)."""
    out = {}
    for prev, insn in zip(insns, insns[1:]):
        if prev.klass == "branch" and prev.fallthrough == insn.addr and _new_lines(mem, prev, insn):
            out[prev.addr] = _new_lines(mem, prev, insn)
    return out


def stream_stalls(p: Profile, mem: MemoryCosts, insns: list[Insn]) -> tuple[dict[int, int], dict[int, int]]:
    """Cycles each instruction waits for its fetch lines under a streaming fetch unit, reached in
    sequence, and (``refill = "port"``; else none) the extra cycles of each control transfer's taken
    refill from the stream's state there. The prefetcher requests the next line the cycle after its last grant
    once there is room (at most ``buffer_lines`` lines past those the issued instructions have
    finished with); the port grants one request at a time, in the cycle the previous answer comes,
    each answered 1 + fetch_wait cycles after its grant, and an instruction issues the cycle after
    its last line came. A taken transfer requests its target when it resolves (in its last refill
    cycle of comb memory), behind the line in flight and one already requested, which are fetched
    and discarded (ibex_prefetch_buffer.sv: an OBI request is held until granted). The stream
    restarts, with the instruction's own lines in (the refill of ``taken_cost``), wherever a transfer
    may land: after a jump, call or return, after gaps in the code, and at static branch targets,
    where the target's own wait is the stream's (it is reached in sequence when the wait is charged)
    and what follows is priced as after the transfer, the usual way into a loop."""
    latency, depth = 1 + mem.fetch_wait, p.fetch["buffer_lines"]
    by_start, port = p.fetch["release"] == "starts", p.fetch["refill"] == "port"
    plain = dataclasses.replace(mem, stream=None, fetch_wait=0)
    targets = {i.target for i in insns if i.ctrl and i.target is not None}
    stalls: dict[int, int] = {}
    refill: dict[int, int] = {}
    prev = None
    start = prev_cycles = fetched = 0           # issue time, previous instruction's cycles, last line asked for
    arrived: dict[int, int] = {}                 # line -> first cycle an instruction in it may issue
    freed: dict[int, int] = {}                   # line -> the cycle it makes room (``release``)

    def ask_time(line: int) -> int:
        """The cycle the prefetcher requests ``line``: after the previous grant, once there is room."""
        return max(arrived[line - 1] - latency, freed.get(line - depth, -latency))  # lines before a restart: gone

    def ask(line: int, when: int) -> None:  # granted with the previous line's answer, answered latency later
        arrived[line] = max(arrived[line - 1], when + 1) + latency

    for insn in insns:
        first, last = _lines(mem, insn)
        in_sequence = prev is not None and prev.fallthrough == insn.addr and not (prev.ctrl and prev.klass != "branch")
        if in_sequence:
            lu, mc, _ = entry_cost(p, plain, prev, insn)
            ready = start + prev_cycles + lu + mc
            while fetched < last:  # the prefetcher's next line: after the last one, once there is room
                fetched += 1
                ask(fetched, ask_time(fetched))
            start = max(ready, arrived[last])
            if start > ready:
                stalls[insn.addr] = start - ready
        if not in_sequence or insn.addr in targets:  # what follows is priced as after a transfer here
            start, fetched, arrived, freed = 0, last, {line: 0 for line in range(first, last + 1)}, {}
        prev_cycles = sum(instruction_cost(p, plain, insn).values())
        freed[first if by_start else last] = start if by_start else start - 1  # room for a line from then
        if insn.ctrl and port:
            resolves = start + prev_cycles + p.taken.get(insn.klass, 0) - 2
            settled = insn.fallthrough >> mem.fetch_shift  # the lines before it make room no later than now
            while fetched + 1 - depth < settled and ask_time(fetched + 1) < resolves:  # asked before it resolves
                fetched += 1
                ask(fetched, ask_time(fetched))
            granted = max(resolves, arrived[fetched] - 1)  # the port is free with the last line's answer
            refill[insn.addr] = granted + latency + 1 - start - prev_cycles
        prev = insn
    return stalls, refill
