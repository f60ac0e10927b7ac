"""`simmcu sweep`: spec checking, sampling, constraints, local and Dask runs with identical rows,
restarts that rerun only missing points, failing points as rows, the Pareto front and the plots.

The sweeps run the small models of tests/tflite_models.py with a few points each, so the file
takes a few minutes; compiled firmware is cached by content across the runs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import simmcu
from simmcu import ConfigError
from simmcu._pareto import mark_front, pareto_mask
from simmcu._sweep import TIMING_FIELDS, Expression, load_sweep
from simmcu._sweep_report import layer_figure, pareto_figure, speedup_figure
from simmcu.cli import main
from simmcu.firmware import firmware_dir

from tflite_models import MODELS, unsupported_op


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    out = {}
    for name, make in [*MODELS.items(), ("unsupported", unsupported_op)]:
        out[name] = root / f"{name}.tflite"
        out[name].write_bytes(make())
    return out


def grid_spec(models) -> dict:
    """2 models x square 4x4 / 8x8 arrays: 4 points, 2 CPU-only baselines. `convolutions` has a
    dilation-2 layer the unit refuses, so one layer of it runs on the CPU."""
    return {"base": {"core": "cortex-m4", "accel": {"conv": {"buffer_kib": 8}}},
            "axes": {"model": [str(models["depthwise"]), str(models["convolutions"])],
                     "accel": {"conv": {"pe_rows": {"pow2": [4, 8]}, "pe_cols": [4, 8]}}},
            "sweep": {"constraints": ["conv.pe_rows == conv.pe_cols"]}}


def comparable(rows) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING_FIELDS} for r in rows]


@pytest.fixture(scope="module")
def local(models, tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    return simmcu.sweep(grid_spec(models), out, jobs=2), out


def test_grid_constraints_rows_and_files(local, models):
    rows, out = local
    assert [(Path(r["model"]).stem, r["accel.conv.pe_rows"], r["accel.conv.pe_cols"]) for r in rows] == [
        ("depthwise", 4, 4), ("depthwise", 8, 8), ("convolutions", 4, 4), ("convolutions", 8, 8)]
    assert all(r["exit_code"] == 0 and r["error"] == "" for r in rows)
    for r in rows:
        assert r["speedup"] == round(r["baseline_cycles"] / r["inference_cycles"], 4) and r["speedup"] > 1
        assert r["accel.conv.busy_cycles"] > 0 and 0 < r["accel.conv.utilisation"] < 1
        assert {"cycles", "instructions", "flash_bytes", "ram_static_bytes", "stack_peak_bytes"} <= set(r)
        layers = [k for k in r if k.startswith("layer.") and k.endswith(".cycles")]
        assert sum(r[k] for k in layers) == r["inference_cycles"]
    dilated = rows[2]["layer.layer_1_conv_2d.offload"]
    assert dilated.startswith("cpu: conv: dilation 2x2"), dilated
    # the bigger array is faster on the same model; the baseline is shared by both designs
    assert rows[1]["inference_cycles"] < rows[0]["inference_cycles"]
    assert rows[0]["baseline_cycles"] == rows[1]["baseline_cycles"]
    assert (out / "rows.csv").read_text().count("\n") == 5
    assert len((out / "runs.jsonl").read_text().splitlines()) == 6  # 4 points, 2 baselines
    assert len(rows.to_dataframe()) == 4
    assert any(r["pareto"] for r in rows)


def test_random_sampling_is_seeded_and_distinct(models):
    spec = {"base": {"model": str(models["depthwise"]), "accel": {"conv": {}}},
            "axes": {"accel.conv.pe_rows": {"start": 2, "stop": 16, "step": 2},
                     "accel.conv.buffer_kib": {"pow2": [4, 64]}},
            "sweep": {"mode": "random", "samples": 6, "seed": 3,
                      "constraints": ["conv.pe_rows * conv.pe_cols <= 64 and model.macs > 0"]}}
    s = load_sweep(spec)
    assert s.axes["accel.conv.pe_rows"] == [2, 4, 6, 8, 10, 12, 14, 16]
    assert s.axes["accel.conv.buffer_kib"] == [4, 8, 16, 32, 64]
    chosen = [tuple(p.axes.values()) for p in s.points]
    assert len(chosen) == len(set(chosen)) == 6
    assert all(rows * 8 <= 64 for rows, _ in chosen)
    assert chosen == [tuple(p.axes.values()) for p in load_sweep(spec).points]
    spec["sweep"]["seed"] = 4
    assert chosen != [tuple(p.axes.values()) for p in load_sweep(spec).points]
    assert s.skipped > 0  # drawn points the constraint ruled out


def test_core_options_and_board_keys_resolve_per_point(models):
    spec = {"base": {"model": str(models["classifier"])},
            "axes": {"core": ["ibex", "rv32imc"], "ibex:single_cycle_multiplier": [True, False],
                     "board.flash.read_wait_states": [0, 2], "board.clock_hz": [50_000_000]}}
    s = load_sweep(spec)
    # the ibex option does not apply to rv32imc: its two values are one run there
    assert len(s.points) == 6 and s.duplicates == 2
    cores = sorted({p.config["core"] for p in s.points})
    assert cores == ["ibex:single_cycle_multiplier=false", "ibex:single_cycle_multiplier=true", "rv32imc"]
    assert all(p.axes["ibex:single_cycle_multiplier"] is None for p in s.points if p.config["core"] == "rv32imc")
    flash = [next(r for r in p.config["board"]["regions"] if r["name"] == "flash") for p in s.points]
    assert sorted({f["read_wait_states"] for f in flash}) == [0, 2]


def _spec_file(tmp_path, text: str) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return path


BAD_SPECS = [
    ('[axes]\n"accel.conv.pe_rows" = [4]', "needs model ="),
    ('[base]\nmodel = "{depthwise}"\n[axes]\nfrequency = [1, 2]', "unknown axis 'frequency'"),
    ('[base]\nmodel = "{depthwise}"\n[axes]\n"accel.conv.pe_rowz" = [4]', "no parameter 'pe_rowz'"),
    ('[base]\nmodel = "{depthwise}"\n[axes]\n"accel.conv.pe_rows" = ["four"]', "expected int, got 'four'"),
    ('[base]\nmodel = "{depthwise}"\n[axes]\n"accel.conv.pe_rows" = [0]', "out of range"),
    ('[base]\nmodel = "{depthwise}"\n[axes]\n"accel.conv.pe_rows" = []', "no values"),
    ('[base]\nmodel = "{depthwise}"\n[axes]\n"accel.conv.pe_rows" = {{pow2 = [3, 16]}}', "two powers of two"),
    ('[base]\nmodel = "{depthwise}"\n[axes]\n"accel.nosuch.x" = [1]', "unknown accelerator 'nosuch'"),
    ('[base]\nmodel = "{depthwise}"\n[axes]\ncore = ["cortex-m99"]', "unknown core 'cortex-m99'"),
    ('[base]\nmodel = "{depthwise}"\n[axes]\n"ibex:turbo" = [true]', "no timing option 'turbo'"),
    ('[base]\nmodel = "{depthwise}"\n[axes]\n"board.nosuch.read_wait_states" = [1]', "no region 'nosuch'"),
    ('[base]\nmodel = "{depthwise}"\n[axes]\n"board.flash.read_wait_states" = [-1]', "out of range"),
    ('[base]\nmodel = "{depthwise}"\n[axes]\nseed = [1]\n[sweep]\nconstraints = ["seed > 5"]',
     "no points to run (the constraints rule out all 1)"),
    ('[base]\nmodel = "{depthwise}"\n[axes]\nseed = [1]\n[sweep]\nconstraints = ["conv.pe_rows > 5"]',
     "names unknown 'conv.pe_rows'"),
    ('[base]\nmodel = "{depthwise}"\n[axes]\nseed = [1]\n[sweep]\nconstraints = ["__import__(\'os\').system(\'x\')"]',
     "is not allowed"),
    ('[base]\nmodel = "{depthwise}"\n[axes]\nseed = [1]\n[sweep]\nobjectives = {{cycles = "fast"}}', "is not \"min\""),
    ('[base]\nmodel = "{depthwise}"\n[axes]\nseed = [1]\n[sweep]\nobjectives = {{"watts" = "min"}}',
     "names unknown 'watts'"),
    ('[base]\nmodel = "{depthwise}"\n[axes]\nseed = [1]\n[sweep]\nmode = "random"', "needs samples = N"),
    ('[base]\nmodel = "/nonexistent/kws.tflite"\n[axes]\nseed = [1]', "cannot read model /nonexistent/kws.tflite"),
    ('[base]\nmodel = "{depthwise}"\ncolour = "red"\n[axes]\nseed = [1]', "unknown key 'colour'"),
    ('[base]\nmodel = "{depthwise}"\n[axes]\nseed = [1]\n[extra]', "unknown key 'extra'"),
    ('[base]\nmodel = "{depthwise}"\ncore = "cortex-m0plus"\n[axes]\n"accel.cfu.mac_latency" = [1]', "cfu"),
    ('[base\nmodel = 1', "is not valid TOML"),
]


@pytest.mark.parametrize("text, message", BAD_SPECS, ids=[m for _, m in BAD_SPECS])
def test_bad_specs_are_one_line_errors(text, message, models, tmp_path, capsys):
    spec = _spec_file(tmp_path, text.format(**{k: v.as_posix() for k, v in models.items()}))
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "-o", str(out), "--quiet"]) == 120
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("simmcu: error: ") and message in err, err
    assert not out.exists()  # nothing half-written


def test_unreachable_scheduler_is_a_one_line_error(models, tmp_path, capsys):
    spec = _spec_file(tmp_path, f'[base]\nmodel = "{models["depthwise"].as_posix()}"\n[axes]\nseed = [1]')
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "-o", str(out), "--scheduler", f"tcp://127.0.0.1:{port}"]) == 120
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot reach the Dask scheduler" in err, err
    assert not out.exists()


def test_expressions_are_evaluated_without_eval():
    e = Expression("conv.pe_rows * conv.pe_cols <= 256 and core in ('ibex', 'rv32imc')", "test")
    assert e.names == ["conv.pe_rows", "conv.pe_cols", "core"]
    values = {"accel.conv.pe_rows": 16, "accel.conv.pe_cols": 16, "core": "ibex"}
    assert e(values) is True
    assert e({**values, "accel.conv.pe_cols": 17}) is False
    assert Expression("max(a, b) ** 2 - 1", "t")({"a": 2, "b": 3}) == 8
    assert Expression("area.total_mm2", "t")({}) is None  # a metric the run lacks
    for bad in ("a.__class__()", "(lambda: 1)()", "open('x')", "[x for x in a]", "a if b else c"):
        with pytest.raises(ConfigError):
            Expression(bad, "t")


def test_pareto_front_on_a_hand_checked_set():
    points = [(1, 5), (2, 3), (3, 4), (4, 1), (2, 3), (5, 5)]
    assert pareto_mask(points, ["min", "min"]) == [True, True, False, True, True, False]
    assert pareto_mask(points, ["max", "max"]) == [False, False, False, False, False, True]
    assert pareto_mask(points, ["min", "max"]) == [True, False, False, False, False, False]
    rows = [dict(point=i, exit_code=0, cycles=c, **{"area.total_mm2": a}) for i, (c, a) in enumerate(points)]
    rows.append(dict(point=6, exit_code=121, cycles=0, **{"area.total_mm2": 0}))  # a fault is never the best
    rows.append(dict(point=7, exit_code=0, cycles=0))  # no area: not comparable
    used = mark_front(rows, [], {})
    assert [e.text for e, _ in used] == ["cycles", "area.total_mm2"]
    assert [r["pareto"] for r in rows] == [True, True, False, True, True, False, False, False]
    # without area or energy: cycles against the product of the accelerator's numeric axes
    rows = [dict(point=i, exit_code=0, cycles=c, **{"accel.conv.pe_rows": r, "accel.conv.pe_cols": r})
            for i, (c, r) in enumerate([(100, 4), (60, 8), (70, 16)])]
    used = mark_front(rows, [], {"accel.conv.pe_rows": [4, 8, 16], "accel.conv.pe_cols": [4, 8, 16]})
    assert used[1][0].text == "accel.conv.pe_rows * accel.conv.pe_cols"
    assert [r["pareto"] for r in rows] == [True, True, False]


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """A scheduler and two workers on 127.0.0.1, as separate `dask` processes."""
    pytest.importorskip("dask.distributed")
    from dask.distributed import Client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    dask = str(Path(sys.executable).with_name("dask"))
    work = tmp_path_factory.mktemp("dask")
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              **quiet)]
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or procs[0].poll() is not None:
                    pytest.fail("dask scheduler did not start")
                time.sleep(0.2)
        procs += [subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--no-dashboard",
                                    "--local-directory", str(work / f"w{i}")], **quiet) for i in range(2)]
        with Client(address, timeout=30) as c:
            c.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def test_dask_cluster_rows_equal_local_rows(dask_cluster, local, models, tmp_path):
    rows = simmcu.sweep(grid_spec(models), tmp_path / "dask", scheduler=dask_cluster)
    assert comparable(rows) == comparable(local[0])


def test_dask_local_cluster_from_the_api(local, models):
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        rows = simmcu.sweep(grid_spec(models), scheduler=cluster)
    assert comparable(rows) == comparable(local[0])


def test_interrupted_sweep_reruns_only_missing_points(models, tmp_path, local):
    out = tmp_path / "resume"
    spec = grid_spec(models)
    seen = []

    def stop_after_two(row):
        seen.append(row["key"])
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        simmcu.sweep(spec, out, jobs=1, on_row=stop_after_two)
    assert (out / "rows.csv").read_text().count("\n") == 3  # the two finished points
    again = []
    rows = simmcu.sweep(spec, out, jobs=2, on_row=lambda r: again.append(r["key"]))
    assert len(again) == 2 and not set(again) & set(seen)
    assert comparable(rows) == comparable(local[0])
    keys = [line for line in (out / "runs.jsonl").read_text().splitlines()]
    assert len(keys) == 6
    # once more through the CLI: nothing left to run, the same rows
    assert main(["sweep", _write_toml(tmp_path, spec), "-o", str(out), "--quiet"]) == 0
    assert len((out / "runs.jsonl").read_text().splitlines()) == 6


def _write_toml(tmp_path, spec) -> str:
    """The grid spec as TOML, for the CLI."""
    base, axes = spec["base"], spec["axes"]
    models = ", ".join(f'"{Path(m).as_posix()}"' for m in axes["model"])
    text = (f'[base]\ncore = "{base["core"]}"\n[base.accel.conv]\nbuffer_kib = {base["accel"]["conv"]["buffer_kib"]}\n'
            f'[axes]\nmodel = [{models}]\n"accel.conv.pe_rows" = {{pow2 = [4, 8]}}\n"accel.conv.pe_cols" = [4, 8]\n'
            '[sweep]\nconstraints = ["conv.pe_rows == conv.pe_cols"]\n')
    return str(_spec_file(tmp_path, text))


def test_failing_points_are_rows(models, tmp_path):
    prebuilt = firmware_dir() / "prebuilt"
    spec = {"base": {"elf": str(prebuilt / "conv2d_conv-cortex-m4.elf"), "core": "cortex-m4",
                     "baseline_elf": str(prebuilt / "conv2d-cortex-m4.elf")},
            "axes": {"accel.conv.buffer_kib": [1, 32], "max_instructions": [100, 50_000_000]}}
    rows = simmcu.sweep(spec, jobs=2)
    by = {(r["accel.conv.buffer_kib"], r["max_instructions"]): r for r in rows}
    assert by[(32, 50_000_000)]["exit_code"] == 0 and by[(32, 50_000_000)]["speedup"] > 1
    assert by[(32, 100)]["exit_code"] == 122 and "instruction limit of 100" in by[(32, 100)]["error"]
    bad = by[(1, 50_000_000)]
    assert bad["exit_code"] == 1 and "accelerator conv: no tiling fits" in bad["error"], bad["error"]
    assert "speedup" not in bad and not bad["pareto"]
    compile_error = simmcu.sweep({"base": {"core": "cortex-m4"},
                                  "axes": {"model": [str(models["unsupported"]), str(models["classifier"])]}})
    assert compile_error[0]["exit_code"] == 120 and "EXP" in compile_error[0]["error"]
    assert "\n" not in compile_error[0]["error"] and compile_error[1]["exit_code"] == 0


@pytest.fixture(scope="module")
def one_axis(models, tmp_path_factory):
    out = tmp_path_factory.mktemp("one-axis")
    spec = {"base": {"model": str(models["depthwise"]), "core": "cortex-m4", "accel": {"conv": {}}},
            "axes": {"accel.conv.pe_rows": [2, 4, 8]}}
    return simmcu.sweep(spec, out, jobs=2), out


def test_plots_are_drawn_from_the_results(local, one_axis):
    rows = local[0]
    fig = pareto_figure(rows, rows.objectives, rows.names, rows.sweep.axes)
    assert len(fig.axes) == 2  # one panel per model
    assert sum(len(ax.collections[0].get_offsets()) for ax in fig.axes) == sum(r["exit_code"] == 0 for r in rows)
    assert sum(len(ax.collections[1].get_offsets()) for ax in fig.axes) == sum(r["pareto"] for r in rows)
    fig = layer_figure(rows)
    for ax in fig.axes:
        designs = len(ax.get_xticks())
        layers = len(ax.get_legend().get_texts())
        assert len(ax.patches) == designs * layers
    assert sum(len(ax.get_xticks()) for ax in fig.axes) == sum(bool(r["pareto"]) for r in rows)
    assert speedup_figure(rows, rows.sweep.axes) is None  # three axes: no single parameter to plot against
    rows, out = one_axis
    fig = speedup_figure(rows, rows.sweep.axes)
    (line,) = fig.axes[0].get_lines()
    assert list(line.get_xdata()) == [2, 4, 8] and list(line.get_ydata()) == [r["speedup"] for r in rows]
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and page.count("<tr") == 1 + sum(r["pareto"] for r in rows) + 1 + 3
    assert {p.name for p in out.iterdir()} >= {"rows.csv", "rows.jsonl", "runs.jsonl", "report.html", "pareto.png",
                                               "layers.png", "speedup.png"}


@pytest.mark.skipif(not Path("../shared/models/kws_ref_model.tflite").exists() and
                    not (Path(__file__).parents[2] / "shared/models/kws_ref_model.tflite").exists(),
                    reason="MLPerf Tiny models not in ../shared/models")
def test_bundled_spec_resolves_against_the_mlperf_models():
    models = Path(__file__).parents[2] / "shared" / "models"
    s = load_sweep("conv-mlperf", models_dir=models)
    assert len(s.points) == 54 and len(s.runs) == 60  # 3 models x 2 cores x 3 arrays x 3 buffers, 6 baselines
    assert {(p.axes["accel.conv.pe_rows"], p.axes["accel.conv.pe_cols"]) for p in s.points} == {(4, 4), (8, 8),
                                                                                               (16, 16)}
    with pytest.raises(ConfigError, match="cannot read model"):
        load_sweep("conv-mlperf", models_dir=os.devnull)


def test_energy_and_area_are_columns_and_default_objectives(local):
    """Every run reports RunResult.energy and .area (docs/energy.md): the rows carry them, per layer
    too, and the default front weighs cycles against both."""
    rows, _ = local
    for r in rows:
        assert r["energy.total_uj"] > 0 and r["area.total_mm2"] > 0
        assert r["energy.total_uj"] == pytest.approx(sum(v for k, v in r.items() if k.startswith("energy.components.")))
        assert [k for k in r if k.startswith("layer.") and k.endswith(".energy_uj")]
    assert [e.text for e, _ in rows.objectives] == ["inference_cycles", "area.total_mm2", "energy.total_uj"]


def test_a_killed_cli_sweep_resumes(models, tmp_path):
    """Ctrl-C (SIGINT to the process group) in the middle of `simmcu sweep`; the rerun runs the rest."""
    import json
    import signal

    text = (f'[base]\ncore = "cortex-m4"\nmodel = "{models["depthwise"].as_posix()}"\n[base.accel.conv]\n'
            '[axes]\n"accel.conv.pe_rows" = [1, 2, 3, 4, 5, 6]\n')
    path = _spec_file(tmp_path, text)
    out = tmp_path / "out"
    p = subprocess.Popen([str(Path(sys.executable).with_name("simmcu")), "sweep", str(path), "-o", str(out),
                          "--jobs", "1", "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         start_new_session=True)
    runs = out / "runs.jsonl"
    deadline = time.monotonic() + 120
    while not (runs.exists() and len(runs.read_text().splitlines()) >= 2):
        assert p.poll() is None and time.monotonic() < deadline, "the sweep ended before it could be interrupted"
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGINT)
    assert p.wait(timeout=60) == 130
    assert p.stderr.read().decode() == "simmcu: interrupted\n"  # no worker tracebacks
    finished = {json.loads(line)["key"] for line in runs.read_text().splitlines()}
    assert 2 <= len(finished) < 7  # 6 points and the CPU-only baseline
    again = []
    rows = simmcu.sweep(path, out, jobs=2, on_row=lambda r: again.append(r["key"]))
    assert len(rows) == 6 and all(r["exit_code"] == 0 for r in rows)
    assert sorted(again) == sorted({r["key"] for r in rows} - finished)
    assert len(runs.read_text().splitlines()) == 7


def test_docs_list_every_row_field_and_axis_kind():
    text = (Path(__file__).parent.parent / "docs" / "sweep.md").read_text()
    from simmcu._sweep import METRICS, SWEEP_PARAMS, _SCALAR_AXES

    assert [f for f in (*METRICS, *SWEEP_PARAMS, *_SCALAR_AXES, "point", "key") if f"`{f}`" not in text] == []


def test_swept_board_keys_reach_the_run_and_match_a_bare_run(tmp_path):
    """A board key axis is applied through a board file the worker writes; the point's cycles are
    those of `Simulator` on the same board."""
    from simmcu import Simulator

    elf = firmware_dir() / "prebuilt" / "hello-rv32imc.elf"
    rows = simmcu.sweep({"base": {"elf": str(elf), "core": "rv32imc"},
                         "axes": {"board.flash.fetch_wait_states": [0, 3], "board.clock_hz": [50_000_000]}}, jobs=1)
    assert [r["board.flash.fetch_wait_states"] for r in rows] == [0, 3]
    assert rows[1]["cycles"] > rows[0]["cycles"] and rows[0]["speedup"] == 1.0
    board = tmp_path / "slow.toml"
    text = (Path(simmcu.__file__).parent / "boards" / "generic-rv32.toml").read_text()
    board.write_text(text.replace('kind = "flash"', 'kind = "flash"\nfetch_wait_states = 3'))
    assert Simulator(elf, core="rv32imc", board=board).run().cycles == rows[1]["cycles"]
