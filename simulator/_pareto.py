"""The Pareto front of a sweep: the designs no other design beats on every objective at once.

Objectives are expressions over a row (``cycles``, ``area.total_mm2``, ``conv.pe_rows * conv.pe_cols``)
with a direction. By default: cycles per inference (or run cycles for ELFs) against accelerator area
and energy where the runs report them, else against the size of the swept accelerator (the product
of its numeric parameter axes), so a sweep without an area model still has a meaningful front.
"""

from __future__ import annotations

from typing import Any

from ._sweep import Expression

#: Axes that name the workload, not the design: each of their values has its own front (the
#: cycles of different models do not compete).
GROUP_AXES = ("model", "elf")


def pareto_mask(values: list[tuple[float, ...]], directions: list[str]) -> list[bool]:
    """For each vector, whether no other vector is at least as good everywhere and better somewhere."""
    signed = [tuple(v if d == "min" else -v for v, d in zip(vec, directions)) for vec in values]

    def dominates(a, b) -> bool:
        return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))

    return [not any(dominates(other, mine) for other in signed) for mine in signed]


def default_objectives(rows: list[dict], axes: dict[str, list]) -> list[tuple[Expression, str]]:
    ok = [r for r in rows if r.get("exit_code") == 0]
    cycles = "inference_cycles" if any("inference_cycles" in r for r in ok) else "cycles"
    costs = [k for k in ("area.total_mm2", "energy.total_uj") if any(k in r for r in ok)]
    if not costs:
        size = [a for a, values in axes.items() if a.startswith("accel.")
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)]
        costs = [" * ".join(size)] if size else []
    return [(Expression(text, "objective"), "min") for text in [cycles, *costs]]


def mark_front(rows: list[dict], objectives: list[tuple[Expression, str]], axes: dict[str, list],
               names: dict[int, dict[str, Any]] | None = None) -> list[tuple[Expression, str]]:
    """Set ``pareto`` on every row (failed runs and rows missing an objective are never on it; one
    front per model or ELF) and return the objectives used. ``names``: per point index, the values constraints see, for
    objectives over parameters that are not axes."""
    objectives = objectives or default_objectives(rows, axes)
    groups: dict[tuple, list[tuple[dict, tuple]]] = {}
    for r in rows:
        values = {**(names or {}).get(r["point"], {}), **r}
        vec = tuple(e(values) for e, _ in objectives)
        r["pareto"] = False
        if r.get("exit_code") == 0 and all(isinstance(v, (int, float)) for v in vec):
            groups.setdefault(tuple(r.get(a) for a in GROUP_AXES if a in axes), []).append((r, vec))
    for members in groups.values():
        for (r, _), on in zip(members, pareto_mask([vec for _, vec in members], [d for _, d in objectives])):
            r["pareto"] = on
    return objectives


def front_table(rows: list[dict], objectives: list[tuple[Expression, str]], axes: dict[str, list],
                names: dict[int, dict[str, Any]] | None = None) -> str:
    """The front as a text table: point, axis values, objectives and speedup; per model, best first
    objective first."""
    front = sorted((r for r in rows if r.get("pareto")), key=lambda r: (
        [str(r.get(a)) for a in GROUP_AXES], objectives[0][0]({**(names or {}).get(r["point"], {}), **r})))
    columns = ["point", *axes, *(f"{e.text} ({d})" for e, d in objectives), "speedup"]
    table = [columns]
    for r in front:
        values = {**(names or {}).get(r["point"], {}), **r}
        table.append([str(r["point"]), *(_cell(r.get(a)) for a in axes), *(_cell(e(values)) for e, _ in objectives),
                      _cell(r.get("speedup"))])
    widths = [max(len(row[i]) for row in table) for i in range(len(columns))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in table]
    return "\n".join([f"Pareto front: {len(front)} of {len(rows)} points", *lines])


def _cell(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)
