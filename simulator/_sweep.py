"""Design-space sweeps: one spec (TOML or a dict) names a base run and axes over cores, timing
options, board keys, accelerator parameters, models or ELFs and compile options; every point
runs in its own process (or on a Dask cluster), one tidy row each (docs/sweep.md).

Everything a spec names is checked against the declared ``Param``s (``apply_params``, each unit's,
board's and core's) before anything runs, so a typo costs a second, not a night of runs. Points
are keyed by a hash of their resolved configuration: a sweep restarted into the same directory
reruns only what is missing, and two axis values that resolve to the same run are run once.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import json
import math
import operator
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ._board import BOARD_PARAMS, REGION_PARAMS, _from_dict
from ._cores import get_core, parse_core_spec
from ._energy import accelerator_area
from ._errors import ConfigError, SimmcuError
from ._params import Param, apply_params, load_toml
from ._timing import load_profile

BASE_PARAMS = {
    "model": Param("", "", ".tflite model to compile and run (a path, relative to the working directory)", str),
    "elf": Param("", "", "firmware ELF to run (instead of a model)", str),
    "core": Param("rv32imc", "", "core name with optional timing options (ibex:single_cycle_multiplier=true)", str),
    "board": Param("", "", "bundled board name or board TOML file (default: the core's)", str),
    "accel": Param({}, "", "accelerators to attach: one table of parameters per unit ([base.accel.conv])", dict),
    "max_instructions": Param(None, "", "stop a point with exit code 122 after this many instructions", int,
                              lambda v: v > 0),
    "exact_memory": Param(False, "", "hook every data access (exact traffic and wait states)", bool),
    "portable_kernels": Param(False, "", "compile models with the portable C kernels", bool),
    "seed": Param(0, "", "seed of the random model input", int),
    "baseline_elf": Param("", "", "ELF sweeps: the CPU-only firmware whose cycles give the speedup", str),
}
#: Base keys an axis may sweep under their own name (the rest are axes of their own kind).
_SCALAR_AXES = ("model", "elf", "core", "board", "max_instructions", "exact_memory", "portable_kernels", "seed")
SWEEP_PARAMS = {
    "mode": Param("grid", "", "grid: every combination; random: `samples` of them, seeded", ("grid", "random")),
    "samples": Param(None, "", "points drawn in random mode", int, lambda v: v > 0),
    "seed": Param(0, "", "seed of random mode", int),
    "constraints": Param([], "", "expressions over point parameters; points where one is false are skipped "
                         "(one naming a value unknown before the run does not skip)", list),
    "objectives": Param({}, "", "Pareto objectives: expression = \"min\" or \"max\" (default: cycles, area, energy)",
                        dict),
    "baseline": Param(True, "", "run each core/model once without accelerators for the speedup", bool),
}
SPEC_KEYS = {"base": Param({}, "", "the run every point starts from", dict),
             "axes": Param({}, "", "what varies: name = list or range", dict),
             "sweep": Param({}, "", "sampling, constraints, objectives", dict)}
#: Row fields every successful run has; energy., area., accel. and layer. fields come with the run.
METRICS = ("exit_code", "exit_reason", "error", "cycles", "instructions", "cpi", "inference_cycles", "macs",
           "cycles_per_mac", "flash_bytes", "ram_static_bytes", "stack_peak_bytes", "speedup", "baseline_cycles",
           "wall_seconds", "pareto")
_PREFIXES = ("energy.", "area.", "accel.", "layer.")
#: Row fields that depend on the host, not the model: left out when comparing sweeps.
TIMING_FIELDS = ("wall_seconds",)
RUNS_FILE, ROWS_CSV, ROWS_JSONL = "runs.jsonl", "rows.csv", "rows.jsonl"


# -- expressions --------------------------------------------------------------------------------
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
            ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b,
            ast.NotIn: lambda a, b: a not in b}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
_FUNCTIONS = {"min": min, "max": max, "abs": abs, "log2": math.log2}


class Expression:
    """An arithmetic/comparison expression over dotted names (``conv.pe_rows * conv.pe_cols <= 256``),
    parsed with ``ast`` and evaluated by walking only the node types listed here: a spec never runs code."""

    def __init__(self, text: str, where: str):
        if not isinstance(text, str):
            raise ConfigError(f"{where}: {text!r} is not an expression string")
        self.text, self.where = text, where
        try:
            self.tree = ast.parse(text, mode="eval").body
        except SyntaxError as e:
            raise ConfigError(f"{where}: {text!r} is not a valid expression ({e.msg})") from None
        self.names: list[str] = []
        self._check(self.tree)

    def _check(self, node) -> None:
        name = _dotted(node)
        if name is not None:
            self.names.append(name)
            return
        allowed = (ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Constant, ast.Tuple, ast.List, ast.Call)
        if not isinstance(node, allowed) or isinstance(node, ast.BinOp) and type(node.op) not in _BINARY or \
                isinstance(node, ast.UnaryOp) and type(node.op) not in _UNARY or \
                isinstance(node, ast.Compare) and any(type(o) not in _COMPARE for o in node.ops) or \
                isinstance(node, ast.Call) and (not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS
                                                or node.keywords) or \
                isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, str)):
            raise ConfigError(f"{self.where}: {self.text!r}: {ast.unparse(node)!r} is not allowed (arithmetic, "
                              f"comparisons, and/or/not, names and {', '.join(_FUNCTIONS)} only)")
        children = node.args if isinstance(node, ast.Call) else list(ast.iter_child_nodes(node))
        for child in children:
            if not isinstance(child, (ast.operator, ast.unaryop, ast.boolop, ast.cmpop, ast.expr_context)):
                self._check(child)

    def check_names(self, known: Iterable[str], prefixes: tuple[str, ...] = ()) -> None:
        known = set(known)
        for n in self.names:
            if _lookup_name(n, known) is None and not n.startswith(prefixes):
                raise ConfigError(f"{self.where}: {self.text!r} names unknown {n!r} "
                                  f"(known: {', '.join(sorted(known))})")

    def __call__(self, values: dict[str, Any]) -> Any:
        """The value over ``values``; None when a name has no value there (a metric the run lacks)."""
        try:
            return self._eval(self.tree, values)
        except _Missing:
            return None
        except (TypeError, ValueError, ZeroDivisionError, OverflowError) as e:
            raise ConfigError(f"{self.where}: {self.text!r} cannot be evaluated: {e}") from None

    def _eval(self, node, values):
        name = _dotted(node)
        if name is not None:
            key = _lookup_name(name, values)
            if key is None or values[key] is None or values[key] == "":
                raise _Missing
            return values[key]
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.Tuple, ast.List)):
            return tuple(self._eval(e, values) for e in node.elts)
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](self._eval(node.operand, values))
        if isinstance(node, ast.BinOp):
            left, right = self._eval(node.left, values), self._eval(node.right, values)
            if isinstance(node.op, ast.Pow) and abs(right) > 64:
                raise ValueError("exponent beyond 64")
            return _BINARY[type(node.op)](left, right)
        if isinstance(node, ast.BoolOp):
            results = (self._eval(v, values) for v in node.values)
            return all(results) if isinstance(node.op, ast.And) else any(results)
        if isinstance(node, ast.Compare):
            left = self._eval(node.left, values)
            for op, comp in zip(node.ops, node.comparators):
                right = self._eval(comp, values)
                if not _COMPARE[type(op)](left, right):
                    return False
                left = right
            return True
        return _FUNCTIONS[node.func.id](*(self._eval(a, values) for a in node.args))  # ast.Call


class _Missing(Exception):
    pass


def _dotted(node) -> str | None:
    """``conv.pe_rows`` for Attribute(Name('conv'), 'pe_rows'); None for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id not in _FUNCTIONS:
        return ".".join([node.id, *reversed(parts)])
    return None


def _lookup_name(name: str, known) -> str | None:
    """The key ``name`` means: itself, or an accelerator parameter without its ``accel.`` prefix."""
    for key in (name, f"accel.{name}"):
        if key in known:
            return key
    return None


# -- the spec -----------------------------------------------------------------------------------
@dataclass
class Point:
    """One run of the sweep: its axis values, the resolved configuration it runs, and the names
    constraints and objectives see."""

    index: int
    axes: dict[str, Any]
    config: dict
    names: dict[str, Any]
    key: str
    baseline: str | None = None  #: key of the CPU-only run it is compared with


@dataclass
class Sweep:
    """A checked spec and its points; ``runs`` holds every configuration to run (points and baselines)."""

    source: str
    axes: dict[str, list]
    points: list[Point]
    runs: dict[str, dict]
    files: dict[str, bytes]                      #: sha256 -> bytes of every model/ELF
    objectives: list[tuple[Expression, str]]
    skipped: int = 0                             #: points a constraint ruled out
    duplicates: int = 0                          #: points that resolve to a run already in the sweep


def bundled_specs() -> list[str]:
    folder = resources.files("simmcu").joinpath("sweeps")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def read_spec(spec: str | Path | dict) -> tuple[dict, str]:
    """The spec as a dict and a name for messages: a dict, a TOML path or a bundled spec's name."""
    if isinstance(spec, dict):
        return spec, "sweep spec"
    path = Path(spec)
    if not path.exists() and str(spec) in bundled_specs():
        with resources.as_file(resources.files("simmcu").joinpath("sweeps", f"{spec}.toml")) as p:
            return load_toml(p, "sweep spec"), f"sweep spec {spec}"
    return load_toml(path, "sweep spec"), f"sweep spec {path}"


def load_sweep(spec: str | Path | dict, models_dir: str | Path | None = None) -> Sweep:
    """Check ``spec`` and resolve its points; every error is a ConfigError naming the key."""
    raw, where = read_spec(spec)
    top = apply_params(SPEC_KEYS, raw, where)
    base = apply_params(BASE_PARAMS, top["base"], f"{where}: [base]")
    settings = apply_params(SWEEP_PARAMS, top["sweep"], f"{where}: [sweep]")
    axes = _axes(top["axes"], base, f"{where}: [axes]")
    kind = "model" if base["model"] or "model" in axes else "elf"
    if (base["model"] or "model" in axes) and (base["elf"] or "elf" in axes):
        raise ConfigError(f"{where}: [base] names both a model and an ELF; a sweep runs one kind")
    if not base[kind] and kind not in axes:
        raise ConfigError(f"{where}: [base] needs model = \"...tflite\" or elf = \"...\" (or an axis of them)")
    constraints = [Expression(c, f"{where}: constraint") for c in settings["constraints"]]
    resolver = _Resolver(base, kind, models_dir, where)
    names = list(axes)
    sizes = [len(v) for v in axes.values()]
    total = math.prod(sizes)
    if settings["mode"] == "random" and settings["samples"] is None:
        raise ConfigError(f"{where}: [sweep] mode = \"random\" needs samples = N")
    if settings["mode"] == "random":
        order = _sampled(total, settings["samples"], settings["seed"])
    else:
        order = iter(range(total))
    points: list[Point] = []
    runs: dict[str, dict] = {}
    skipped = duplicates = 0
    for index in order:
        choice = _decode(index, sizes)
        values = {n: axes[n][i] for n, i in zip(names, choice)}
        config, names_at, applied = resolver.resolve(values)
        for c in constraints:
            c.check_names(names_at)
        if any(result is not None and not result for result in (c(names_at) for c in constraints)):
            skipped += 1
            continue
        key = config_key(config)
        if key in runs and any(p.key == key for p in points):
            duplicates += 1
            continue
        runs[key] = config
        point = Point(len(points), {n: (v if applied[n] else None) for n, v in values.items()}, config, names_at, key)
        if settings["baseline"]:
            base_config = resolver.baseline(config)
            if base_config is not None:
                point.baseline = config_key(base_config)
                runs.setdefault(point.baseline, base_config)
        points.append(point)
        if settings["mode"] == "random" and len(points) >= settings["samples"]:
            break
    if not points:
        raise ConfigError(f"{where}: no points to run" + (f" (the constraints rule out all {skipped})" if skipped
                                                         else ""))
    known = set(points[0].names) | set(METRICS)
    objectives = []
    for text, direction in settings["objectives"].items():
        e = Expression(text, f"{where}: objective")
        e.check_names(known, _PREFIXES)
        if direction not in ("min", "max"):
            raise ConfigError(f"{where}: objective {text!r}: direction {direction!r} is not \"min\" or \"max\"")
        objectives.append((e, direction))
    return Sweep(where, axes, points, runs, resolver.files, objectives, skipped, duplicates)


def _sampled(total: int, samples: int, seed: int) -> Iterator[int]:
    """Distinct grid indices in a seeded random order (drawn lazily: a huge grid is never listed)."""
    rng, seen = random.Random(seed), set()
    while len(seen) < total:
        i = rng.randrange(total)
        if i not in seen:
            seen.add(i)
            yield i


def _decode(index: int, sizes: list[int]) -> list[int]:
    """The grid index as one index per axis, the last axis varying fastest."""
    out = []
    for n in reversed(sizes):
        index, i = divmod(index, n)
        out.append(i)
    return out[::-1]


def _axes(raw: dict, base: dict, where: str) -> dict[str, list]:
    """Axis name -> its values, each converted and checked by the Param it sets."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, table: dict) -> None:
        for k, v in table.items():
            name = f"{prefix}{k}"
            if isinstance(v, dict) and not _is_range(v):
                walk(f"{name}.", v)
            else:
                flat[name] = v

    walk("", raw)
    if not flat:
        raise ConfigError(f"{where}: no axes (add e.g. \"accel.conv.pe_rows\" = [4, 8, 16])")
    out = {}
    for name, spec in flat.items():
        values = _values(spec, f"{where}: {name}")
        param = _axis_param(name, base, where)
        out[name] = [param.convert(v, f"{where}: {name}") for v in values]
        if len(set(map(repr, out[name]))) != len(out[name]):
            raise ConfigError(f"{where}: {name}: a value is listed twice")
    return out


def _is_range(v: dict) -> bool:
    return set(v) == {"pow2"} or set(v) in ({"start", "stop"}, {"start", "stop", "step"})


def _values(spec, where: str) -> list:
    """A list as it is, ``{start, stop, step}`` (stop included) or ``{pow2 = [lo, hi]}`` as a list."""
    if isinstance(spec, list):
        values = spec
    elif isinstance(spec, dict) and "pow2" in spec:
        bounds = spec["pow2"]
        if not (isinstance(bounds, list) and len(bounds) == 2 and all(isinstance(b, int) and not isinstance(b, bool)
                                                                      and b > 0 and b & (b - 1) == 0 for b in bounds)):
            raise ConfigError(f"{where}: pow2 takes [low, high], two powers of two, not {bounds!r}")
        values = [1 << e for e in range(bounds[0].bit_length() - 1, bounds[1].bit_length())]
    elif isinstance(spec, dict):
        start, stop, step = spec["start"], spec["stop"], spec.get("step", 1)
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in (start, stop, step)) or step <= 0:
            raise ConfigError(f"{where}: start, stop and step must be whole numbers, step positive")
        values = list(range(start, stop + 1, step))
    else:
        raise ConfigError(f"{where}: {spec!r} is not a list, {{start, stop, step}} or {{pow2 = [low, high]}}")
    if not values:
        raise ConfigError(f"{where}: no values")
    return values


def _axis_param(name: str, base: dict, where: str) -> Param:
    """The Param an axis sets: a base key, ``CORE:OPTION``, ``board.KEY``, ``board.REGION.KEY`` or
    ``accel.UNIT.PARAM``."""
    from simmcu.accelerators import accelerator_class

    if name in _SCALAR_AXES:
        return BASE_PARAMS[name]
    if ":" in name:
        core, option = name.split(":", 1)
        options = _profile_options(core)
        if option not in options:
            raise ConfigError(f"{where}: core {core} has no timing option {option!r} "
                              f"(valid: {', '.join(options) or 'none'})")
        return Param(options[option].default, "", options[option].description, bool)
    parts = name.split(".")
    if parts[0] == "accel" and len(parts) == 3:
        params = accelerator_class(parts[1]).all_params()
        if parts[2] not in params:
            raise ConfigError(f"{where}: accelerator {parts[1]} has no parameter {parts[2]!r} "
                              f"(valid: {', '.join(params)})")
        return params[parts[2]]
    if parts[0] == "board" and len(parts) == 2 and parts[1] in BOARD_PARAMS and parts[1] not in ("name", "arch"):
        return BOARD_PARAMS[parts[1]]
    if parts[0] == "board" and len(parts) == 3:
        if parts[2] not in REGION_PARAMS or parts[2] == "name":
            raise ConfigError(f"{where}: {name}: regions have no key {parts[2]!r} "
                              f"(valid: {', '.join(k for k in REGION_PARAMS if k != 'name')})")
        return REGION_PARAMS[parts[2]]
    raise ConfigError(f"{where}: unknown axis {name!r} (axes: {', '.join(_SCALAR_AXES)}, CORE:OPTION, board.KEY, "
                      "board.REGION.KEY, accel.UNIT.PARAM)")


def _profile_options(core: str) -> dict:
    return load_profile(get_core(core).timing).options


class _Resolver:
    """Turns axis values into a run configuration (JSON data with the file's hash, not its path),
    checking each against the core, board and unit it configures."""

    def __init__(self, base: dict, kind: str, models_dir, where: str):
        self.base, self.kind, self.models_dir, self.where = base, kind, models_dir, where
        self.files: dict[str, bytes] = {}
        self._file_info: dict[str, tuple[str, dict]] = {}
        self._boards: dict[str, Any] = {}

    def resolve(self, values: dict) -> tuple[dict, dict, dict[str, bool]]:
        """(config, names for expressions, whether each axis value applies at this point)."""
        from simmcu.accelerators import accelerator_class

        b = {**self.base, **{k: v for k, v in values.items() if k in _SCALAR_AXES}}
        applied = dict.fromkeys(values, True)
        what = ", ".join(f"{k}={v}" for k, v in values.items())
        where = f"{self.where}: point {what}"
        name, options = parse_core_spec(b["core"])
        core = get_core(name)
        for axis, v in values.items():
            if ":" in axis:
                target, option = axis.split(":", 1)
                applied[axis] = target == name
                if target == name:
                    options[option] = v
        load_profile(core.timing, options)  # unknown options of a core given in [base]
        chosen = ",".join(f"{k}={'true' if v else 'false'}" for k, v in sorted(options.items()))
        core_spec = f"{name}:{chosen}" if chosen else name
        board, board_names = self._board(b["board"] or core.board, values, core, where)
        units, built, names = [], [], {"core": name, self.kind: b[self.kind]}
        accel = {u: dict(p) for u, p in b["accel"].items()}
        for axis, v in values.items():
            parts = axis.split(".")
            if parts[0] == "accel":
                accel.setdefault(parts[1], {})[parts[2]] = v
        for unit_name, params in accel.items():
            if not isinstance(params, dict):
                raise ConfigError(f"{self.where}: [base.accel.{unit_name}] is not a table of parameters")
            unit = accelerator_class(unit_name)(**params)
            unit.check_core(core)
            built.append(unit)
            units.append({"name": unit_name, "params": unit.params})
            names.update({f"accel.{unit_name}.{k}": p for k, p in unit.params.items()})
        names["area.total_mm2"] = accelerator_area(built)["total_mm2"]  # known before the run: constraints see it
        sha, file_names = self._file(b[self.kind], where)
        names.update(file_names, **board_names, exact_memory=b["exact_memory"],
                     max_instructions=b["max_instructions"])
        config = {"kind": self.kind, "file": {"name": Path(b[self.kind]).name, "sha256": sha}, "core": core_spec,
                  "board": board, "accelerators": units,
                  "run": {"max_instructions": b["max_instructions"], "exact_memory": b["exact_memory"]}}
        if self.kind == "model":
            config["compile"] = {"seed": b["seed"], "portable_kernels": b["portable_kernels"]}
            names.update(seed=b["seed"], portable_kernels=b["portable_kernels"])
        return config, names, applied

    def baseline(self, config: dict) -> dict | None:
        """The same run without accelerators (for ELFs: ``baseline_elf``); None when there is none."""
        if not config["accelerators"]:
            return None
        if self.kind == "elf":
            if not self.base["baseline_elf"]:
                return None
            sha, _ = self._file(self.base["baseline_elf"], f"{self.where}: baseline_elf")
            return {**config, "accelerators": [], "file": {"name": Path(self.base["baseline_elf"]).name,
                                                           "sha256": sha}}
        return {**config, "accelerators": []}

    def _file(self, given: str, where: str) -> tuple[str, dict]:
        """The file's hash (its bytes kept for the tasks) and, for a model, what is known before a run."""
        if given not in self._file_info:
            path = Path(given)
            if self.models_dir is not None and not path.is_absolute():
                path = Path(self.models_dir) / path.name
            try:
                data = path.read_bytes()
            except OSError as e:
                raise ConfigError(f"{where}: cannot read {self.kind} {path}: {e.strerror}") from None
            sha = hashlib.sha256(data).hexdigest()
            self.files[sha] = data
            names = {}
            if self.kind == "model":
                names = {f"model.{k}": v for k, v in _model_facts(path).items()}
            self._file_info[given] = (sha, names)
        return self._file_info[given]

    def _board(self, given: str, values: dict, core, where: str) -> tuple[Any, dict]:
        """The board as its bundled name, or (swept keys, a board file) as its checked TOML data."""
        swept = {k: v for k, v in values.items() if k.startswith("board.")}
        if not swept and not Path(given).suffix == ".toml" and not Path(given).exists():
            board = self._load_board(given, None, where)
            if board.arch != core.arch:
                raise ConfigError(f"{where}: board {board.name} is for {board.arch} cores; {core.name} is {core.arch}")
            return given, {}
        raw = _board_data(given)
        raw["regions"] = [dict(r) for r in raw.get("regions", [])]
        for key, v in swept.items():
            parts = key.split(".")
            if len(parts) == 2:
                raw[parts[1]] = v
                continue
            match = [r for r in raw["regions"] if r.get("name") == parts[1]]
            if not match:
                raise ConfigError(f"{where}: board {raw.get('name')} has no region {parts[1]!r} (regions: "
                                  f"{', '.join(str(r.get('name')) for r in raw['regions'])})")
            match[0][parts[2]] = v
        board = self._load_board(json.dumps(raw, sort_keys=True), raw, where)
        if board.arch != core.arch:
            raise ConfigError(f"{where}: board {board.name} is for {board.arch} cores; {core.name} is {core.arch}")
        return raw, {k: v for k, v in swept.items()}

    def _load_board(self, key: str, raw: dict | None, where: str):
        from ._board import load_board

        if key not in self._boards:
            self._boards[key] = load_board(key) if raw is None else _from_dict(raw, f"{where}: board")
        return self._boards[key]


def _board_data(given: str) -> dict:
    """A board's TOML data, bundled or from a file."""
    path = Path(given)
    if path.suffix == ".toml" or path.exists():
        return load_toml(path, "board file")
    from ._board import bundled_boards

    if given not in bundled_boards():
        raise ConfigError(f"unknown board {given!r} (bundled: {', '.join(bundled_boards())}; or give a .toml file)")
    with resources.as_file(resources.files("simmcu").joinpath("boards", f"{given}.toml")) as p:
        return load_toml(p, "board file")


def _model_facts(path: Path) -> dict:
    """What a model costs before it runs: MACs, operators, arena and weight bytes (``model_report``)."""
    from simmcu.firmware._compile import macs, model_report
    from simmcu.firmware._model import ModelError, load_model

    names = ("macs", "operators", "arena_bytes", "weights_bytes")
    try:
        model = load_model(path)
    except ModelError:  # unknown until it runs: its compile error is that point's row
        return dict.fromkeys(names)
    facts = model_report(model, [dict(macs=macs(model, op), cycles=0) for op in model.operators])
    return {k: facts[k] for k in names}


def config_key(config: dict) -> str:
    """A stable hash of a resolved configuration (and the simulator version that prices it)."""
    from simmcu import __version__

    text = json.dumps({"simmcu": __version__, **config}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# -- one point, in a worker process -------------------------------------------------------------
def run_point(config: dict, data: bytes) -> dict:
    """Run one configuration on this machine and return its metrics. The firmware travels as
    ``data``: it is written once per content hash into the temp directory, so a model compiles
    once per worker (``model_elf`` caches by content). Never raises: a failure is a metrics row."""
    started = time.monotonic()
    try:
        metrics = _metrics(_run(config, data))
    except SimmcuError as e:
        metrics = {"exit_code": int(e.exit_code), "exit_reason": "error", "error": _one_line(str(e))}
    except Exception as e:  # a model or simulator bug must not end a night's sweep
        metrics = {"exit_code": 1, "exit_reason": "error", "error": _one_line(f"internal error: "
                                                                              f"{type(e).__name__}: {e}")}
    metrics["wall_seconds"] = round(time.monotonic() - started, 3)
    return metrics


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _scratch(name: str, data: bytes) -> Path:
    """``data`` as a file under a directory named by its hash (written atomically, once)."""
    digest = hashlib.sha256(data).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / "simmcu-sweep" / digest / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(f".{name}.{os.getpid()}")
        part.write_bytes(data)
        os.replace(part, path)
    return path


def _run(config: dict, data: bytes):
    from simmcu import Simulator
    from simmcu.accelerators import accelerator_class

    path = _scratch(config["file"]["name"], data)
    board = config["board"]
    if isinstance(board, dict):
        board = _scratch("board.toml", _toml(board).encode())
    units = [accelerator_class(u["name"])(**u["params"]) for u in config["accelerators"]]
    options = dict(board=board, accelerators=units, **config["run"])
    if config["kind"] == "elf":
        return Simulator(path, core=config["core"], **options).run()
    from simmcu.firmware import run_model

    c = config["compile"]
    with _compile_lock(config, units):
        return run_model(path, config["core"], seed=c["seed"], portable=c["portable_kernels"], **options)


class _compile_lock:
    """Two workers must not compile the same firmware into the same cache directory at once: a lock
    file per model, core, compile options and the units' compile parameters (``COMPILE_PARAMS``)."""

    def __init__(self, config: dict, units):
        compiled = [(u.NAME, {k: u.params[k] for k in (u.params if u.COMPILE_PARAMS is None else u.COMPILE_PARAMS)})
                    for u in units]
        what = json.dumps([config["file"]["sha256"], config["core"].split(":")[0], config["compile"], compiled],
                          sort_keys=True)
        self.path = Path(tempfile.gettempdir()) / "simmcu-sweep" / "locks" / hashlib.sha256(what.encode()).hexdigest()

    def __enter__(self):
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.path, "w")
        fcntl.flock(self.file, fcntl.LOCK_EX)

    def __exit__(self, *exc):
        self.file.close()  # releases the lock


def _toml(data: dict) -> str:
    """Board data as TOML: top-level scalars, then each ``[[regions]]`` table."""
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        return json.dumps(v)  # strings, numbers and lists of them read back alike in TOML

    lines = [f"{k} = {value(v)}" for k, v in data.items() if k != "regions"]
    for r in data.get("regions", []):
        lines += ["", "[[regions]]", *(f"{k} = {value(v)}" for k, v in r.items())]
    return "\n".join(lines) + "\n"


def _metrics(result) -> dict:
    """The tidy metrics of one run: status, totals, memory, model, accelerators, energy/area, layers."""
    mem = result.memory
    m = {"exit_code": result.exit_code, "exit_reason": result.exit_reason, "error": "", "cycles": result.cycles,
         "instructions": result.instructions, "cpi": result.cpi, "flash_bytes": mem.get("flash_bytes"),
         "ram_static_bytes": mem.get("ram_static_bytes"), "stack_peak_bytes": mem.get("stack_peak_bytes")}
    if not result.ok:
        errors = [f"accelerator {a['name']}: {e}" for a in result.accelerators for e in a["errors"]]
        m["error"] = _one_line("; ".join([result.message, *errors[:1]]))
    if result.model:
        m.update(inference_cycles=result.model["cycles"], macs=result.model["macs"],
                 cycles_per_mac=result.model["cycles_per_mac"])
    for attr in ("energy", "area"):  # the estimates (docs/energy.md): energy.total_uj, area.total_mm2, components
        _flatten(m, attr, getattr(result, attr, None))
    for a in result.accelerators:
        for k in ("invocations", "busy_cycles", "utilisation", "macs", "cpu_wait_cycles"):
            m[f"accel.{a['name']}.{k}"] = a[k]
    for layer in result.layers or []:
        m[f"layer.{layer['name']}.cycles"] = layer["cycles"]
        m[f"layer.{layer['name']}.offload"] = layer["offload"]
        m[f"layer.{layer['name']}.energy_uj"] = layer["energy_uj"]
    return m


def _flatten(out: dict, prefix: str, value) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(out, f"{prefix}.{k}", v)
    elif isinstance(value, (int, float, str)):
        out[prefix] = value


# -- running a sweep ----------------------------------------------------------------------------
class Rows(list):
    """The sweep's rows (dicts, in point order); ``to_dataframe()`` with pandas installed, and
    ``front_table()``, the Pareto front as text."""

    sweep: Sweep
    names: dict[int, dict]
    objectives: list

    def front_table(self) -> str:
        from ._pareto import front_table

        return front_table(self, self.objectives, self.sweep.axes, self.names)

    def to_dataframe(self):
        try:
            import pandas
        except ImportError:
            raise ConfigError("to_dataframe needs pandas (pip install pandas)") from None
        return pandas.DataFrame(list(self))


def sweep(spec: str | Path | dict, out_dir: str | Path | None = None, *, jobs: int | None = None,
          scheduler=None, models_dir: str | Path | None = None, quiet: bool = True, dataframe: bool = False,
          on_row: Callable[[dict], None] | None = None, plots: bool = True):
    """Run the sweep ``spec`` (a TOML path, a bundled spec's name or a dict) and return its rows.

    ``jobs`` local worker processes (default: the machine's cores), or ``scheduler``: a Dask
    scheduler address (``tcp://host:8786``), a ``dask.distributed.Client`` or a cluster. With
    ``out_dir`` the rows are written there as points finish (rows.csv, rows.jsonl; runs.jsonl
    caches finished runs, so a restart reruns only missing points), then the plots and report.html.
    ``on_row`` is called with each newly finished point's row (an exception it raises stops the
    sweep, keeping what finished). ``dataframe=True`` returns a pandas DataFrame."""
    from ._pareto import mark_front

    s = load_sweep(spec, models_dir)
    if jobs is not None and jobs < 1:
        raise ConfigError("jobs must be at least 1")
    executor = _DaskExecutor(scheduler) if scheduler is not None else _LocalExecutor(jobs or os.cpu_count() or 1)
    try:
        out = None if out_dir is None else Path(out_dir)
        if out is not None:
            try:
                out.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise ConfigError(f"cannot create {out}: {e.strerror}") from None
        done = _read_runs(out)
        todo = {k: c for k, c in s.runs.items() if k not in done}
        progress = _Progress(len(s.points), sum(p.key in done for p in s.points), quiet)
        point_keys = {p.key for p in s.points}
        for p in s.points:
            if p.key in done:
                progress.count(done[p.key])
        _write_rows(out, s, done)
        try:
            for key, metrics in executor.run(todo, s.files):
                retry = metrics.pop("_retry", False)  # the worker died: not cached, rerun next time
                done[key] = metrics
                if not retry:
                    _append_run(out, key, metrics)
                _write_rows(out, s, done)
                if key in point_keys:
                    progress.count(metrics, new=True)
                    if on_row is not None:
                        on_row(next(r for r in rows_of(s, done) if r["key"] == key))
        finally:
            progress.close()
    finally:
        executor.close()
    rows = Rows(rows_of(s, done))
    rows.sweep = s
    rows.names = {p.index: p.names for p in s.points}
    rows.objectives = mark_front(rows, s.objectives, s.axes, rows.names)
    _write_rows(out, s, done, rows)
    if out is not None and plots:
        from ._sweep_report import write_report

        write_report(rows, out)
    if dataframe:
        return rows.to_dataframe()
    return rows


def rows_of(s: Sweep, done: dict[str, dict]) -> list[dict]:
    """One row per finished point: its index and key, axis values, metrics, speedup over its baseline."""
    rows = []
    for p in s.points:
        if p.key not in done:
            continue
        m = done[p.key]
        row = {"point": p.index, "key": p.key, **p.axes, **m}
        base = done.get(p.baseline) if p.baseline else (m if not p.config["accelerators"] else None)
        cycles_key = "inference_cycles" if "inference_cycles" in m else "cycles"
        if base is not None and base.get("exit_code") == 0 and m.get("exit_code") == 0 and m.get(cycles_key):
            row["baseline_cycles"] = base[cycles_key]
            row["speedup"] = round(base[cycles_key] / m[cycles_key], 4)
        rows.append(row)
    return rows


def _read_runs(out: Path | None) -> dict[str, dict]:
    """Finished runs from an earlier (possibly interrupted) sweep into ``out``; a torn last line is skipped."""
    done: dict[str, dict] = {}
    if out is None or not (out / RUNS_FILE).exists():
        return done
    for line in (out / RUNS_FILE).read_text().splitlines():
        try:
            entry = json.loads(line)
            done[entry["key"]] = entry["metrics"]
        except (ValueError, KeyError, TypeError):
            continue
    return done


def _append_run(out: Path | None, key: str, metrics: dict) -> None:
    if out is not None:
        with open(out / RUNS_FILE, "a") as f:
            f.write(json.dumps({"key": key, "metrics": metrics}) + "\n")  # in run order: rows keep their columns


def _write_rows(out: Path | None, s: Sweep, done: dict, rows: list[dict] | None = None) -> None:
    """rows.csv and rows.jsonl with the points finished so far (replaced whole, atomically)."""
    if out is None:
        return
    rows = rows_of(s, done) if rows is None else rows
    columns = list(dict.fromkeys(k for r in rows for k in r))
    text = io.StringIO()
    w = csv.DictWriter(text, columns, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    for name, content in ((ROWS_CSV, text.getvalue()), (ROWS_JSONL, "".join(json.dumps(r) + "\n" for r in rows))):
        part = out / f".{name}.part"
        part.write_text(content)
        os.replace(part, out / name)


class _Progress:
    """A tqdm bar on stderr: points done of the total (resumed ones included), failures, rate and ETA
    from this session's points; silent when quiet or when stderr is not a terminal."""

    def __init__(self, total: int, resumed: int, quiet: bool):
        from tqdm import tqdm

        self.failed = 0
        self.bar = tqdm(total=total, initial=resumed, desc="sweep", unit="point", file=sys.stderr,
                        disable=quiet or not sys.stderr.isatty(), dynamic_ncols=True)
        self.bar.set_postfix_str("0 failed")

    def count(self, metrics: dict, new: bool = False) -> None:
        """One more point finished; ``new``: run in this session (resumed ones were counted as initial)."""
        self.failed += metrics.get("exit_code") != 0
        self.bar.set_postfix_str(f"{self.failed} failed", refresh=False)
        if new:
            self.bar.update(1)
        else:
            self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


class _LocalExecutor:
    """Points in spawned worker processes on this machine (a crashing run takes only its process)."""

    def __init__(self, jobs: int):
        self.jobs = jobs
        self.pool = None

    def run(self, todo: dict[str, dict], files: dict[str, bytes]) -> Iterator[tuple[str, dict]]:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        if not todo:
            return
        self.pool = ProcessPoolExecutor(min(self.jobs, len(todo)), mp_context=multiprocessing.get_context("spawn"))
        futures = {self.pool.submit(run_point, c, files[c["file"]["sha256"]]): k for k, c in todo.items()}
        for f in as_completed(futures):
            yield futures[f], _collect(f)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


class _DaskExecutor:
    """Points as tasks on a Dask cluster; the firmware bytes travel with each task."""

    def __init__(self, scheduler):
        try:
            from dask.distributed import Client
        except ImportError:
            raise ConfigError("--scheduler needs Dask: pip install 'simmcu[cluster]'") from None
        self.own = not isinstance(scheduler, Client)
        if self.own:
            address = getattr(scheduler, "scheduler_address", scheduler)  # a cluster object or an address
            try:
                self.client = Client(address, timeout=10, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as e:
                raise ConfigError(f"cannot reach the Dask scheduler {address}: {_one_line(str(e))}") from None
        else:
            self.client = scheduler
        self.futures = []

    def run(self, todo: dict[str, dict], files: dict[str, bytes]) -> Iterator[tuple[str, dict]]:
        from dask.distributed import as_completed

        keys = {}
        for k, c in todo.items():
            f = self.client.submit(run_point, c, files[c["file"]["sha256"]], key=f"simmcu-point-{k}", pure=False)
            keys[f.key] = k
            self.futures.append(f)
        for f in as_completed(self.futures, loop=self.client.loop):
            yield keys[f.key], _collect(f)

    def close(self) -> None:
        for f in self.futures:
            f.cancel()
        if self.own:
            self.client.close()


def _collect(future) -> dict:
    """A finished task's metrics; a worker that died leaves a failed row that is not cached."""
    try:
        return future.result()
    except Exception as e:
        return {"exit_code": 1, "exit_reason": "error", "_retry": True,
                "error": _one_line(f"worker failed: {type(e).__name__}: {e}")}
