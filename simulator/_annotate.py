"""``simmcu annotate``: a run's cycles per source line printed beside the source.

It reads the ``lines`` of a result JSON (``simmcu run --profile-lines --json``): for one function,
each source file it has lines in, from its first to its last line, with cycles, the share of the
function's cycles, instructions and stall causes beside each line and the hottest lines marked;
instructions without a line as disassembly. Without a function, the hottest functions. DWARF
paths are relative to the build (``firmware/_build.py`` maps the build directory to ``.``), so
sources are looked up in ``--source-dir`` directories, the ELF's directory, the current directory
and the firmware bundled with simmcu (runtime, examples, kernels), in that order.
"""

from __future__ import annotations

import json
from pathlib import Path

from ._errors import ConfigError

HOTTEST = 3  #: lines marked ``>>`` in a function
GAP = 4      #: source lines shown around lines with code; longer stretches without code are elided


def load_lines(path: str | Path) -> dict:
    """The result JSON at ``path``, which must hold ``lines``."""
    try:
        doc = json.loads(Path(path).read_text())
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path} is not a result JSON: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("lines"), list):
        raise ConfigError(f"{path} has no per-line profile: run with --profile-lines --json")
    return doc


def function_totals(lines: list[dict]) -> dict[str, int]:
    """Cycles of each function: the sum of its lines (its exclusive cycles), most first."""
    totals: dict[str, int] = {}
    for e in lines:
        totals[e["function"]] = totals.get(e["function"], 0) + e["cycles"]
    return dict(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])))


def hottest_functions(doc: dict, top: int = 10) -> str:
    cycles = doc.get("cycles") or 1
    out = [f"{'cycles':>12s} {'%':>6s}  function (hottest line)"]
    for name, total in list(function_totals(doc["lines"]).items())[:top]:
        hot = max((e for e in doc["lines"] if e["function"] == name), key=lambda e: e["cycles"])
        where = f"{hot['file']}:{hot['line']}" if hot["line"] is not None else "no line"
        out.append(f"{total:12,d} {100 * total / cycles:6.1f}  {name} ({where}: {hot['cycles']:,})")
    return "\n".join(out)


def _stalls(e: dict) -> str:
    return ", ".join(f"{cause} {n:,}" for cause, n in e["stalls"].items() if n)


def _source_dirs(doc: dict, source_dirs) -> list[Path]:
    from simmcu.firmware import firmware_dir

    from simmcu.firmware._examples import EXAMPLES, VARIANTS

    fw = firmware_dir()
    dirs = [Path(d) for d in source_dirs]
    elf = Path(doc.get("elf") or "")
    if elf.name:
        dirs.append(elf.parent)
    dirs += [Path.cwd(), fw / "runtime", fw / "include", fw / "kernels"]
    # A prebuilt example (prebuilt/conv2d_cfu-rv32imc.elf): its own folder only, as examples share file names.
    example = next((e for e in sorted(EXAMPLES, key=len, reverse=True) if elf.name.startswith(f"{e}-")), None)
    if example is not None and elf.parent == fw / "prebuilt":
        dirs.append(fw / "examples" / VARIANTS.get(example, (example,))[0])
    return dirs


def find_source(name: str, dirs: list[Path]) -> Path | None:
    """The file a DWARF path names: as given when absolute, else under the first directory holding it."""
    path = Path(name)
    if path.is_absolute():
        return path if path.is_file() else None
    for d in dirs:
        if (d / path).is_file():
            return d / path
    return None


def _gap(rows: dict, n: int) -> int:
    """Distance from line ``n`` to the nearest line with code."""
    return min(abs(n - k) for k in rows)


def annotate(doc: dict, function: str, source_dirs=()) -> str:
    """The function's source files, each line with its cycles, or its disassembly where it has no line."""
    entries = [e for e in doc["lines"] if e["function"] == function]
    if not entries:
        names = list(function_totals(doc["lines"]))
        raise ConfigError(f"no function {function!r} in the per-line profile (hottest: {', '.join(names[:5])})")
    total = sum(e["cycles"] for e in entries) or 1
    ranked = sorted((e for e in entries if e["line"] is not None and e["cycles"] > 0), key=lambda e: -e["cycles"])
    marked = {(e["file"], e["line"]) for e in ranked[:HOTTEST]}
    dirs = _source_dirs(doc, source_dirs)
    out = [f"{function}: {total:,} cycles, {sum(e['instructions'] for e in entries):,} instructions "
           f"({100 * total / (doc.get('cycles') or total):.1f}% of the run); >> marks the {HOTTEST} hottest lines",
           f"   {'cycles':>11s} {'%':>6s} {'instrs':>11s}  {'line':>5s}  source  [stalls]"]
    by_file: dict[str, dict[int, dict]] = {}
    for e in entries:
        if e["line"] is not None:
            by_file.setdefault(e["file"], {})[e["line"]] = e
    for name in sorted(by_file, key=lambda f: -sum(e["cycles"] for e in by_file[f].values())):
        rows = by_file[name]
        path = find_source(name, dirs)
        text = path.read_text(errors="replace").splitlines() if path else []
        out.append(f"-- {name}" + ("" if path else " (source not found: --source-dir DIR)"))
        numbers = range(min(rows), max(rows) + 1) if text else sorted(rows)
        for n in numbers:
            source = text[n - 1] if 0 < n <= len(text) else ""
            e = rows.get(n)
            if e is None:
                gap = _gap(rows, n)
                if gap > GAP:  # far from any line with code (code inlined from elsewhere in the file)
                    if not rows.get(n - 1) and _gap(rows, n - 1) > GAP:
                        continue
                    out.append(f"   {'':11s} {'':6s} {'':11s}  {'...':>5s}")
                    continue
                out.append(f"   {'':11s} {'':6s} {'':11s}  {n:5d}  {source}")
                continue
            mark = ">>" if (name, n) in marked else "  "
            stalls = _stalls(e)
            out.append(f"{mark} {e['cycles']:11,d} {100 * e['cycles'] / total:6.1f} {e['instructions']:11,d}  {n:5d}  "
                       f"{source}" + (f"  [{stalls}]" if stalls else ""))
    for e in entries:
        if e["line"] is None:
            out.append(f"-- no source line: {e['cycles']:,} cycles ({100 * e['cycles'] / total:.1f}%)"
                       + (f"  [{_stalls(e)}]" if _stalls(e) else ""))
            for row in e["by_address"]:
                out.append(f"   {row['cycles']:11,d} {100 * row['cycles'] / total:6.1f} {row['instructions']:11,d}  "
                           f"{row['address']:#010x}  {row['text']}")
    return "\n".join(out)


def folded_lines(stacks: list[tuple[str, int]], lines: list[dict]) -> str:
    """Folded stacks with each function's source lines as leaf frames (``main;conv2d;main.c:39 1234``).
    A call path's cycles are its function's exclusive cycles on that path: split over the function's
    lines exactly when it has one path, else in proportion to its lines over all paths (largest
    remainder, so each path still adds up)."""
    by_function: dict[str, list[tuple[str, int]]] = {}
    for e in lines:
        frame = f"{e['file']}:{e['line']}" if e["line"] is not None else "(no line)"
        by_function.setdefault(e["function"], []).append((frame, e["cycles"]))
    out = []
    for path, cycles in stacks:
        parts = by_function.get(path.rsplit(";", 1)[-1])
        total = sum(c for _, c in parts) if parts else 0
        if not parts or total <= 0:
            out.append(f"{path} {cycles}\n")
            continue
        shares = [(frame, cycles * c // total, cycles * c % total) for frame, c in parts]
        left = cycles - sum(s for _, s, _ in shares)
        order = sorted(range(len(shares)), key=lambda k: -shares[k][2])
        for rank, k in enumerate(order):
            frame, share, _ = shares[k]
            share += 1 if rank < left else 0
            if share:
                out.append(f"{path};{frame} {share}\n")
    return "".join(out)
