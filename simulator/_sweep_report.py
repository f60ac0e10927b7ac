"""A sweep's plots and its self-contained HTML report (``simmcu[plot]``: matplotlib).

Each plotting function draws from the rows and returns the matplotlib ``Figure`` (or None when
the rows hold nothing to draw), so what a plot shows can be checked against the results. Figures
are made without pyplot (``matplotlib.figure.Figure``, Agg): no display, no global state.
"""

from __future__ import annotations

import base64
import html
import io
import sys
import textwrap
from pathlib import Path

from ._pareto import GROUP_AXES, _cell

_NON_NUMERIC_AXES = ("core", "model", "elf", "board")


def _values(row: dict, names: dict) -> dict:
    return {**names.get(row["point"], {}), **row}


def pareto_figure(rows: list[dict], objectives, names: dict | None = None, axes: dict | None = None):
    """Every successful design as a point (the first two objectives; one objective: against the point
    index), the front highlighted and joined in order of the first objective; one panel per model."""
    from matplotlib.figure import Figure

    names, axes = names or {}, axes or {}
    groups: dict[tuple, list[tuple]] = {}
    for r in rows:
        if r.get("exit_code") != 0:
            continue
        v = _values(r, names)
        x = objectives[0][0](v)
        y = objectives[1][0](v) if len(objectives) > 1 else r["point"]
        if isinstance(x, (int, float)) and isinstance(y, (int, float)):
            group = tuple(Path(str(r.get(a))).name for a in GROUP_AXES if a in axes)
            groups.setdefault(group, []).append((x, y, r.get("pareto", False)))
    if not groups:
        return None
    fig = Figure(figsize=(7, 4 * len(groups)))
    for i, (group, drawn) in enumerate(groups.items()):
        ax = fig.add_subplot(len(groups), 1, i + 1)
        ax.scatter([d[0] for d in drawn], [d[1] for d in drawn], s=18, color="#9aa7b8", label="designs")
        front = sorted((d for d in drawn if d[2]), key=lambda d: (d[0], d[1]))
        ax.scatter([d[0] for d in front], [d[1] for d in front], s=40, color="#d1495b", label="Pareto front",
                   zorder=3)
        ax.plot([d[0] for d in front], [d[1] for d in front], color="#d1495b", linewidth=1)
        ax.set_xlabel(_label(*objectives[0]), fontsize=8)
        ax.set_ylabel(_label(*objectives[1]) if len(objectives) > 1 else "point", fontsize=8)
        for values, set_scale in (([d[0] for d in drawn], ax.set_xscale), ([d[1] for d in drawn], ax.set_yscale)):
            if min(values) > 0 and max(values) > 20 * min(values):  # designs spread over decades
                set_scale("log")
        if group:
            ax.set_title(" ".join(group), fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _label(expression, direction: str) -> str:
    return textwrap.fill(f"{expression.text} ({direction})", 45)


def layer_figure(rows: list[dict]):
    """Per front design with a per-layer profile, one bar stacked from its layers' cycles (one
    segment per layer, hatched where the layer ran on the CPU); one panel per set of layers (model)."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        layers = tuple(k[len("layer."):-len(".cycles")] for k in r if k.startswith("layer.") and k.endswith(".cycles"))
        if r.get("pareto") and layers:
            groups.setdefault(layers, []).append(r)
    if not groups:
        return None
    fig = Figure(figsize=(8, 3.5 * len(groups)))
    for g, (layers, designs) in enumerate(groups.items()):
        ax = fig.add_subplot(len(groups), 1, g + 1)
        bottom = [0] * len(designs)
        colors = [f"C{i % 10}" for i in range(len(layers))]
        for layer, color in zip(layers, colors):
            heights = [d[f"layer.{layer}.cycles"] for d in designs]
            hatches = ["//" if str(d.get(f"layer.{layer}.offload", "")).startswith("cpu") else "" for d in designs]
            bars = ax.bar(range(len(designs)), heights, bottom=bottom, color=color)
            for bar, hatch in zip(bars, hatches):
                bar.set_hatch(hatch)
            bottom = [b + h for b, h in zip(bottom, heights)]
        ax.set_xticks(range(len(designs)), [f"#{d['point']}" for d in designs])
        ax.set_ylabel("cycles per inference")
        ax.set_title(f"front designs, {len(layers)} layers (hatched: on the CPU)", fontsize=9)
        ax.legend([Patch(color=c) for c in colors], layers, fontsize=6, ncol=2, loc="upper left",
                  bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def speedup_axis(axes: dict[str, list]) -> str | None:
    """The one numeric parameter a sweep varies (others may be cores, models, boards), if there is one."""
    numeric = [a for a, values in axes.items() if a not in _NON_NUMERIC_AXES
               and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)]
    others = [a for a in axes if a not in numeric]
    return numeric[0] if len(numeric) == 1 and all(a in _NON_NUMERIC_AXES for a in others) else None


def speedup_figure(rows: list[dict], axes: dict[str, list]):
    """For a one-parameter sweep: speedup over the CPU-only baseline against that parameter, one
    line per core/model."""
    from matplotlib.figure import Figure

    axis = speedup_axis(axes)
    if axis is None:
        return None
    lines: dict[tuple, list[tuple]] = {}
    for r in rows:
        if r.get("speedup") is not None:
            group = tuple(str(r.get(a)) for a in axes if a != axis)
            lines.setdefault(group, []).append((r[axis], r["speedup"]))
    if not lines:
        return None
    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    for group, points in lines.items():
        points.sort()
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=" ".join(group) or "speedup")
    ax.set_xlabel(axis)
    ax.set_ylabel("speedup over CPU only")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def figures(rows) -> dict:
    """The report's figures by file stem (only those the rows can fill)."""
    made = {"pareto": pareto_figure(rows, rows.objectives, rows.names, rows.sweep.axes), "layers": layer_figure(rows),
            "speedup": speedup_figure(rows, rows.sweep.axes)}
    return {k: f for k, f in made.items() if f is not None}


def write_report(rows, out: Path) -> None:
    """PNG plots and report.html (tables and the plots inlined as base64 PNG) into ``out``."""
    try:
        made = figures(rows)
    except ImportError:
        made = {}
        print("simmcu: no plots: pip install 'simmcu[plot]' (matplotlib)", file=sys.stderr)
    images = {}
    for stem, fig in made.items():
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        (out / f"{stem}.png").write_bytes(buf.getvalue())
        images[stem] = base64.b64encode(buf.getvalue()).decode()
    (out / "report.html").write_text(report_html(rows, images))


def report_html(rows, images: dict[str, str]) -> str:
    s = rows.sweep
    axes = list(s.axes)
    objective_names = [f"{e.text} ({d})" for e, d in rows.objectives]
    front = [r for r in rows if r.get("pareto")]
    summary = ["point", *axes, "exit_code", "cycles", "inference_cycles", "speedup", "area.total_mm2",
               "energy.total_uj", "flash_bytes", "ram_static_bytes", "stack_peak_bytes", "pareto", "error"]
    summary = [c for c in summary if any(c in r for r in rows)]
    failed = sum(r.get("exit_code") != 0 for r in rows)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>simmcu sweep</title><style>"
        "body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;font-size:12px}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#eee}"
        "tr.front td{background:#fde8ea}img{max-width:100%}</style></head><body>",
        f"<h1>simmcu sweep</h1><p>{html.escape(s.source)}: {len(rows)} points ({failed} failed), "
        f"{s.skipped} ruled out by constraints; objectives {html.escape(', '.join(objective_names))}.</p>",
        f"<h2>Pareto front ({len(front)} designs)</h2>", _table(front, summary)]
    for stem, title in (("pareto", "Designs and the front"), ("layers", "Per-layer cycles of the front designs"),
                        ("speedup", "Speedup")):
        if stem in images:
            parts.append(f"<h2>{title}</h2><img alt='{stem}' src='data:image/png;base64,{images[stem]}'>")
    parts += ["<h2>All points</h2>", _table(rows, summary), "</body></html>"]
    return "\n".join(parts)


def _table(rows: list[dict], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(f"<tr{' class=front' if r.get('pareto') else ''}>"
                   + "".join(f"<td>{html.escape(_cell(r.get(c)))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"
