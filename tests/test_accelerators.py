"""Accelerator plug-ins and the conv coprocessor: bit-exact results, cycles from the documented
formula, concurrency with the CPU, bad programming, and a third-party model via entry points."""

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

from simmcu import ConfigError, Simulator
from simmcu.accelerators import make_accelerator
from simmcu.accelerators.conv import conv_int8

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _reference_conv(x, w, bias, mult, shift, k, s, pad, depthwise, in_zp, out_zp, lo, hi):
    """TFLite's reference int8 convolution, one output value at a time, in plain Python integers."""
    def requantize(acc, m, sh):  # gemmlowp: the doubling high multiply rounds half up, the shift half away from 0
        high = ((acc << max(sh, 0)) * m + (1 << 30)) >> 31
        right = max(-sh, 0)
        q = (abs(high) + (1 << right >> 1)) >> right
        return q if high >= 0 else -q

    h, wd, c = x.shape
    oc = len(bias)
    (kh, kw), (sh, sw), (pt, pl, pb, pr) = k, s, pad
    oh, ow = (h + pt + pb - kh) // sh + 1, (wd + pl + pr - kw) // sw + 1
    out = np.zeros((oh, ow, oc), np.int8)
    for y in range(oh):
        for xx in range(ow):
            for o in range(oc):
                acc = int(bias[o])
                for i in range(kh):
                    for j in range(kw):
                        iy, ix = y * sh + i - pt, xx * sw + j - pl
                        if not (0 <= iy < h and 0 <= ix < wd):
                            continue
                        if depthwise:
                            acc += (int(x[iy, ix, o // (oc // c)]) - in_zp) * int(w[(i * kw + j) * oc + o])
                        else:
                            for ci in range(c):
                                acc += (int(x[iy, ix, ci]) - in_zp) * int(w[((o * kh + i) * kw + j) * c + ci])
                v = requantize(acc, int(mult[o]), int(shift[o])) + out_zp
                out[y, xx, o] = max(lo, min(hi, v))
    return out


@pytest.mark.parametrize("case", range(6))
def test_conv_model_is_bit_exact_with_tflite_reference(case):
    rng = np.random.default_rng(case)
    depthwise = case % 2 == 1
    h, w, c = rng.integers(3, 9), rng.integers(3, 9), rng.integers(1, 6)
    oc = c * rng.integers(1, 3) if depthwise else rng.integers(1, 7)
    kh, kw = rng.integers(1, 4), rng.integers(1, 4)
    sh, sw = rng.integers(1, 3), rng.integers(1, 3)
    pad = tuple(int(v) for v in rng.integers(0, 2, 4))
    x = rng.integers(-128, 128, (h, w, c)).astype(np.int8)
    taps = kh * kw * (1 if depthwise else c)
    wts = rng.integers(-128, 128, oc * taps).astype(np.int8)
    bias = rng.integers(-5000, 5000, oc).astype(np.int32)
    mult = rng.integers(1 << 30, (1 << 31) - 1, oc).astype(np.int32)
    shift = rng.integers(-12, 3, oc).astype(np.int32)
    in_zp, out_zp = int(rng.integers(-20, 20)), int(rng.integers(-20, 20))
    lo, hi = (-128, 127) if case % 3 else (-60, 90)
    oh, ow = (h + pad[0] + pad[2] - kh) // sh + 1, (w + pad[1] + pad[3] - kw) // sw + 1
    got = conv_int8(x, wts, bias, mult, shift, (kh, kw), (sh, sw), pad[:2], (oh, ow), depthwise, in_zp, out_zp, lo, hi)
    want = _reference_conv(x, wts, bias, mult, shift, (kh, kw), (sh, sw), pad, depthwise, in_zp, out_zp, lo, hi)
    assert np.array_equal(got, want)


@pytest.mark.parametrize("core", ["rv32imc", "cortex-m4", "cortex-m0plus"])
def test_conv_coprocessor_matches_the_c_kernel_on_the_cpu(elf, core):
    """conv_accel.c computes every job in C too: equal outputs, interrupt and errors as programmed."""
    r = Simulator(elf("conv_accel.c", core), core=core, accelerators=["conv"]).run()
    assert r.exit_code == 0, r.message
    lines = dict(line.split(" ", 1) for line in r.console.splitlines())
    assert lines["conv"].split()[0] == "363e7949" and lines["conv"].endswith("overlapped 1")
    assert lines["depthwise"] == "3d5dc627 err 0" and lines["irq"] == "44bb32a6 seen 1"
    assert (lines["misaligned"], lines["busy"]) == ("err 1", "err 5")
    (acc,) = r.accelerators
    assert acc["invocations"] == 4 and len(acc["errors"]) == 2
    assert "not 4-byte aligned" in acc["errors"][0] and "while busy" in acc["errors"][1]
    assert sum(1 for n in r.interrupts if n in ("IRQ0", "machine-external")) == 1


def _formula(shape, p):
    """docs/accelerators.md, written out again: tiles of rows x cols, max(compute, DMA) or their sum."""
    oh, ow, oc, taps = shape
    pixels, copies = oh * ow, 2 if p["double_buffer"] else 1
    cols = min(p["pe_cols"], oc)
    rows = p["pe_rows"]
    while copies * (rows + cols) * taps > p["buffer_kib"] * 1024:
        rows -= 1
    total = p["setup_cycles"]
    for r0 in range(0, pixels, rows):
        for c0 in range(0, oc, cols):
            tr, tc = min(rows, pixels - r0), min(cols, oc - c0)
            compute = 2 * tr + tc + taps - 2
            dma = p["dma_latency"] + -(-(tr * taps + tc * (taps + 12) + tr * tc) // p["dma_bytes_per_cycle"])
            total += max(compute, dma) if p["double_buffer"] else compute + dma
    return total


@pytest.mark.parametrize("spec", ["conv", "conv:pe_rows=16,pe_cols=4", "conv:double_buffer=false,dma_bytes_per_cycle=8",
                                  "conv:pe_rows=32,pe_cols=32,buffer_kib=4", "conv:setup_cycles=0,dma_latency=0,ram_arbitration=none"])
def test_conv_cycles_follow_the_documented_formula(elf, spec):
    r = Simulator(elf("conv_accel.c", "cortex-m4"), core="cortex-m4", accelerators=[spec]).run()
    (acc,) = r.accelerators
    p = acc["params"]
    assert len(acc["runs"]) == 4
    for run in acc["runs"]:
        h, w, c, oc, kh, kw = run["shape"]
        (sh, sw), (pt, pl, pb, pr) = run["stride"], run["pad"]
        oh, ow = (h + pt + pb - kh) // sh + 1, (w + pl + pr - kw) // sw + 1
        assert run["output"] == [oh, ow]
        taps = kh * kw * (1 if run["depthwise"] else c)
        # cpu-first arbitration: one more cycle per CPU RAM access during the job
        assert run["end"] - run["start"] == _formula((oh, ow, oc, taps), p) + run["ram_conflicts"], run
        assert run["macs"] == oh * ow * oc * taps


def test_a_shape_no_tiling_fits_is_an_error_status(elf):
    r = Simulator(elf("conv_accel.c", "cortex-m4"), core="cortex-m4", accelerators=["conv:buffer_kib=1"]).run()
    lines = dict(line.split(" ", 1) for line in r.console.splitlines())
    assert lines["depthwise"].endswith("err 0")  # 9 taps fit
    assert any("no tiling fits" in e for e in r.accelerators[0]["errors"])


def test_bad_accelerator_specs_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown accelerator 'cnn' .available: cfu, conv"):
        make_accelerator("cnn")
    with pytest.raises(ConfigError, match="no parameter 'rows' .valid: base, irq, pe_rows"):
        make_accelerator("conv:rows=4")
    with pytest.raises(ConfigError, match="pe_rows: 'many' is not a whole number"):
        make_accelerator("conv:pe_rows=many")
    f = tmp_path / "big.toml"
    f.write_text('name = "conv"\npe_rows = 16\npe_cols = 16\nbuffer_kib = 64\n')
    assert make_accelerator(str(f)).params["pe_rows"] == 16
    with pytest.raises(ConfigError, match="not inside an mmio region"):
        Simulator(_hello(), core="cortex-m4", accelerators=["conv:base=0x20000000"]).run()


def _hello():
    from simmcu.firmware import firmware_dir

    return firmware_dir() / "prebuilt" / "hello-cortex-m4.elf"


def test_third_party_accelerator_through_entry_points(tmp_path):
    """A package that declares an entry point in simmcu.accelerators is found, listed and attached."""
    pkg = tmp_path / "site"
    pkg.mkdir()
    (pkg / "scratchpad_accel.py").write_text(textwrap.dedent('''
        from simmcu.accelerators import Accelerator, Invocation, Param

        class Scratchpad(Accelerator):
            NAME = "scratchpad"
            DESCRIPTION = "a register that counts the writes to it"
            PARAMS = {"step": Param(1, "", "added per write", int)}

            def reset(self):
                super().reset()
                self.count = 0

            def read(self, offset, size):
                return self.count

            def write(self, offset, size, value):
                now = self.bus.now()
                self.count += self.params["step"]
                self.invocations.append(Invocation(now, now + 1))
    '''))
    dist = pkg / "scratchpad_accel-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: scratchpad-accel\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[simmcu.accelerators]\nscratchpad = scratchpad_accel:Scratchpad\n")
    env = {**os.environ, "PYTHONPATH": str(pkg)}
    listing = subprocess.run([sys.executable, "-m", "simmcu", "accels"], capture_output=True, text=True, env=env)
    assert "scratchpad: a register that counts the writes to it (scratchpad_accel:Scratchpad)" in listing.stdout
    assert "step" in listing.stdout
    run = subprocess.run([sys.executable, "-m", "simmcu", "run", str(_hello()), "--core", "cortex-m4", "--accel",
                          "scratchpad:step=3,base=0x40001000", "--accel", "conv", "--json", "-", "--quiet"],
                         capture_output=True, text=True, env=env)
    d = json.loads(run.stdout)
    assert [a["name"] for a in d["accelerators"]] == ["scratchpad", "conv"]
    assert d["accelerators"][0]["params"]["step"] == 3


DOCS = Path(__file__).resolve().parents[1] / "docs" / "accelerators.md"


def _documented_files() -> dict[str, str]:
    """The files of docs/accelerators.md's third-party unit: each code block marked <!-- file: NAME -->."""
    return dict(re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", DOCS.read_text(), re.S))


def _wheel(src: Path, out: Path) -> Path:
    """A wheel of the documented package, made by hand: offline, pip has no build backend that
    makes wheels (setuptools needs the wheel package), but installing a wheel needs none."""
    meta = tomllib.loads((src / "pyproject.toml").read_text())["project"]
    dist = f"{meta['name'].replace('-', '_')}-{meta['version']}.dist-info"
    eps = "".join(f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in entries.items())
                  for group, entries in meta["entry-points"].items())
    files = {str(f.relative_to(src)): f.read_bytes() for f in sorted(src.rglob("*")) if f.is_file()
             and f.name != "pyproject.toml"}
    files |= {f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n".encode(),
              f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: simmcu-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
              f"{dist}/entry_points.txt": eps.encode()}
    record = "".join(f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},"
                     f"{len(data)}\n" for name, data in files.items()) + f"{dist}/RECORD,,\n"
    wheel = out / f"{meta['name'].replace('-', '_')}-{meta['version']}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for name, data in [*files.items(), (f"{dist}/RECORD", record.encode())]:
            z.writestr(name, data)
    return wheel


@pytest.fixture(scope="module")
def eltwise(tmp_path_factory):
    """docs/accelerators.md's eltwise package, pip-installed into a target directory: (env, source dir)."""
    root = tmp_path_factory.mktemp("eltwise")
    src = root / "eltwise-accel"
    for name, text in _documented_files().items():
        if name != "main.c":
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_text(text)
    site = root / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target", str(site),
                          str(_wheel(src, root))], capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr
    return {**os.environ, "PYTHONPATH": str(site), "XDG_CACHE_HOME": str(root / "cache")}, root


def test_a_third_party_unit_builds_into_firmware_from_its_documented_driver(eltwise):
    env, root = eltwise
    work = root / "app"
    work.mkdir()
    (work / "main.c").write_text(_documented_files()["main.c"])
    shutil.copy(root / "site" / "eltwise_accel" / "eltwise.h", work)  # the driver header beside the source
    listing = subprocess.run([sys.executable, "-m", "simmcu", "accels"], capture_output=True, text=True, env=env)
    assert "eltwise: int8 elementwise ADD" in listing.stdout and "lanes" in listing.stdout
    build = subprocess.run([sys.executable, "-m", "simmcu", "build", "main.c", "--core", "rv32imc", "-o", "app.elf"],
                           capture_output=True, text=True, env=env, cwd=work)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([sys.executable, "-m", "simmcu", "run", "app.elf", "--core", "rv32imc", "--accel", "eltwise",
                          "--json", "-", "--quiet"], capture_output=True, text=True, env=env, cwd=work)
    d = json.loads(run.stdout)
    assert d["console"] == "eltwise 11 22 33 44 45 54 127 -48\n" and d["exit_code"] == 0
    (acc,) = d["accelerators"]
    assert acc["invocations"] == 1 and acc["dma_read_bytes"] == 16 and acc["busy_cycles"] == 10 + 2


@pytest.mark.parametrize("core", ["rv32imc", "cortex-m4"])
def test_a_third_party_unit_takes_a_model_layer(eltwise, tmp_path, core):
    """The documented unit takes the ADD of a test model: the layer says so, the output is bit-exact
    with TFLite's reference interpreter, and its jobs are in the run's accelerator report."""
    import tflite_models
    from test_tflite import _litert

    from simmcu.firmware._compile import random_input
    from simmcu.firmware._model import load_model

    env, _ = eltwise
    model = tmp_path / "pooling_and_add.tflite"
    model.write_bytes(tflite_models.pooling_and_add())
    run = subprocess.run([sys.executable, "-m", "simmcu", "run", str(model), "--core", core, "--accel",
                          "eltwise:base=0x40001000", "--accel", "conv:base=0x40002000",  # drivers follow their base
                          "--json", "-", "--quiet"], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    d = json.loads(run.stdout)
    assert [(layer["op"], layer["offload"]) for layer in d["layers"]] == [
        ("AVERAGE_POOL_2D", "cpu"), ("MAX_POOL_2D", "cpu"), ("CONV_2D", "conv"), ("ADD", "eltwise")]
    eltwise_report, conv_report = d["accelerators"]
    assert eltwise_report["name"] == "eltwise" and eltwise_report["invocations"] == 1
    assert eltwise_report["dma_write_bytes"] == 4 * 3 * 5 and not eltwise_report["errors"]
    assert conv_report["invocations"] == 1
    got = np.array([int(v) for v in d["console"].split()[1:]], np.int8)
    assert np.array_equal(got, _litert(model, random_input(load_model(model), 0)))


def test_everything_a_unit_needs_is_public_and_the_docs_import_nothing_private():
    import simmcu.accelerators as api

    for name in ("Accelerator", "Param", "Bus", "Invocation", "ConfigError", "CustomInstructionUnit", "HOOK_SIGNATURE",
                 "make_hook", "STATE0", "Layer", "LayerTensor", "LayerCode", "FirmwareSupport", "c_array", "c_struct"):
        assert name in api.__all__ and hasattr(api, name), name
    assert all(hasattr(api, name) for name in api.__all__)  # names are imported on first use (PEP 562)
    imports = re.findall(r"^\s*(?:from|import) (simmcu[\w.]*)", DOCS.read_text(), re.M)
    assert imports and not [m for m in imports if any(part.startswith("_") for part in m.split("."))]


def test_the_bundled_units_register_through_the_entry_point_group():
    from importlib.metadata import entry_points

    from simmcu.accelerators import GROUP, available

    eps = {ep.name: ep for ep in entry_points(group=GROUP)}
    assert eps["conv"].value == "simmcu.accelerators.conv:ConvAccelerator" and eps["conv"].dist.name == "simmcu"
    assert eps["cfu"].value == "simmcu.accelerators.cfu:CfuAccelerator" and eps["cfu"].dist.name == "simmcu"
    assert list(available()) == sorted(available()) and {"cfu", "conv"} <= set(available())


def test_param_units_are_checked_and_values_print_as_users_write_them():
    from simmcu.accelerators import Param

    with pytest.raises(ConfigError, match="parameter unit 'kib' is not one of"):
        Param(32, "kib", "a unit with a typo")
    listing = subprocess.run([sys.executable, "-m", "simmcu", "accels"], capture_output=True, text=True).stdout
    rows = {line.split()[0]: line.split()[2] for line in listing.splitlines() if line.startswith("  ")}
    assert (rows["base"], rows["double_buffer"], rows["ram_arbitration"], rows["opcode"]) == \
        ("0x40000000", "true", "cpu-first", "custom-0")


VARIANTS = {"conv2d": [], "conv2d_cfu": ["cfu"], "conv2d_conv": ["conv"], "conv2d_conv_irq": ["conv"]}


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("core", ["rv32imc", "cortex-m4"])
def test_conv2d_variants_equal_the_c_kernel_and_the_numpy_reference(elf, core, variant):
    r = Simulator(elf(variant, core, CONV2D_CHECK_C="1"), core=core, accelerators=VARIANTS[variant],
                  check_timing=True).run()
    assert r.exit_code == 0 and "checksum 76d197bb (expected 76d197bb)," in r.console, r.console
    assert r.timing_check["agree"], r.timing_check["differences"]


@pytest.mark.parametrize("core", ["rv32imc", "cortex-m4"])
def test_cfu_latency_is_charged_per_instruction(elf, core):
    program = elf("conv2d_cfu", core)
    fast = Simulator(program, core=core, accelerators=["cfu:mac_latency=0"]).run()
    slow = Simulator(program, core=core, accelerators=["cfu:mac_latency=3"]).run()
    counts = fast.accelerators[0]["runs"][0]["instructions"]
    # 3x3 taps inside a 16x16 image with padding 1: (3 * 16 - 2) rows x (3 * 16 - 2) columns of
    # (pixel, tap) pairs; 8 output channels; 8 input channels = 2 mac4 each.
    assert counts["mac4"] == (3 * 16 - 2) ** 2 * 8 * 2
    assert slow.cycles - fast.cycles == 3 * counts["mac4"]
    assert slow.stalls["accelerator"] - fast.stalls["accelerator"] == 3 * counts["mac4"]


def test_a_custom_instruction_without_its_unit_is_an_illegal_instruction(elf):
    r = Simulator(elf("conv2d_cfu", "rv32imc"), core="rv32imc").run()
    assert r.exit_code == 121 and "illegal instruction" in r.message and "conv2d_3x3_cfu" in r.message


def test_baseline_prints_the_speedup(elf):
    accel, base = elf("conv2d_conv", "cortex-m4"), elf("conv2d", "cortex-m4")
    p = subprocess.run([sys.executable, "-m", "simmcu", "run", str(accel), "--core", "cortex-m4", "--accel", "conv",
                        "--baseline", str(base), "--json", "-", "--quiet"], capture_output=True, text=True)
    d = json.loads(p.stdout)
    assert d["baseline"]["cycles"] > d["cycles"] and d["baseline"]["speedup"] == round(d["baseline"]["cycles"] / d["cycles"], 4)
    assert "speedup" in p.stderr


def test_a_user_defined_custom_instruction_runs_natively(elf):
    """docs/accelerators.md: a unit of one's own is an operation function and three class attributes."""
    import numba

    from simmcu.accelerators import HOOK_SIGNATURE, CustomInstructionUnit, make_hook

    @numba.njit
    def hamming(state, op, sel, a, b):
        x, n = a ^ b, 0
        while x:
            n += x & 1
            x >>= 1
        return n

    class Hamming(CustomInstructionUnit):
        NAME = "hamming"
        OPS = ("distance",)
        HOOK = numba.cfunc(HOOK_SIGNATURE)(make_hook(hamming))

        def latencies(self):
            return [1] * 8

    unit = Hamming()
    r = Simulator(elf("cfu_user.c", "rv32imc"), core="rv32imc", accelerators=[unit], check_timing=True).run()
    assert (r.exit_code, r.console) == (0, "wrong 0\n"), r.message
    assert r.accelerators[0]["instructions"] == 1000 and r.stalls["accelerator"] == 1000
    assert r.timing_check["agree"], r.timing_check["differences"]


class _FakeBus:
    """The Bus protocol over a bytearray: enough to drive a model without a CPU."""

    def __init__(self, size=1 << 16):
        self.mem, self.cycle, self.irq, self.wakes, self.accesses = bytearray(size), 0, False, [], 0

    def ram_accesses(self):
        return self.accesses

    def now(self):
        return self.cycle

    def check(self, addr, size, writable):
        return 0 <= addr and addr + size <= len(self.mem)

    def read(self, addr, size):
        return bytes(self.mem[addr:addr + size])

    def write(self, addr, data):
        self.mem[addr:addr + len(data)] = data

    def set_irq(self, level):
        self.irq = level

    def wake_at(self, cycle):
        self.wakes.append(cycle)


@pytest.mark.parametrize("change, code, message", [
    ({0x0C: 0x20000}, 2, "input buffer [0x00020000, +800) is outside memory"),
    ({0x18: 0xFFFC}, 2, "output buffer"),
    ({0x20: 0}, 3, "invalid shape"),
    ({0x30: 0x0B0B}, 3, "invalid shape"),                 # an 11x11 kernel on a 10x10 image, no padding
    ({0x3C: 1, 0x2C: 12}, 3, "multiple of in channels"),  # depthwise 8 -> 12 channels
    ({0x10: 0x102}, 1, "weights address 0x00000102 is not 4-byte aligned"),
])
def test_bad_programming_sets_the_error_status_and_reports_it(change, code, message):
    from simmcu.accelerators import conv as c

    unit, bus = make_accelerator("conv:irq=3"), _FakeBus()
    unit.attach(bus)
    regs = {c.INPUT: 0x100, c.WEIGHTS: 0x1000, c.BIAS: 0x2000, c.QUANT: 0x3000, c.OUTPUT: 0x4000, c.IN_H: 10,
            c.IN_W: 10, c.IN_C: 8, c.OUT_C: 16, c.KERNEL: 0x0303, c.STRIDE: 0x0101, **change}
    for off, value in regs.items():
        unit.write(off, 4, value)
    unit.write(c.CTRL, 4, c.CTRL_START | c.CTRL_IRQ_EN)
    assert unit.read(c.ERROR, 4) == code
    assert unit.read(c.STATUS, 4) == c.STATUS_DONE | c.STATUS_ERROR and bus.irq
    assert message in unit.errors[0] and not unit.invocations
    unit.write(c.STATUS, 4, c.STATUS_DONE)  # acknowledge
    assert (unit.read(c.STATUS, 4), unit.read(c.ERROR, 4), bus.irq) == (0, 0, False)


def test_status_follows_the_modeled_cycle_and_polling_counts_as_waiting():
    from simmcu.accelerators import conv as c

    unit, bus = make_accelerator("conv"), _FakeBus()
    unit.attach(bus)
    for off, value in {c.INPUT: 0x100, c.WEIGHTS: 0x1000, c.BIAS: 0x2000, c.QUANT: 0x3000, c.OUTPUT: 0x4000,
                       c.IN_H: 4, c.IN_W: 4, c.IN_C: 4, c.OUT_C: 4}.items():
        unit.write(off, 4, value)
    bus.cycle = 100
    unit.write(c.CTRL, 4, c.CTRL_START)
    end = bus.wakes[-1]
    assert end == 100 + unit.read(c.LAST_CYCLES, 4)
    bus.accesses = 5  # the CPU touched RAM five times meanwhile: the job yields five cycles
    for bus.cycle, busy in ((120, True), (end, True), (end + 4, True), (end + 5, False)):
        assert bool(unit.read(c.STATUS, 4) & c.STATUS_BUSY) == busy
    assert unit.report(1000, [])["cpu_wait_cycles"] == end + 5 - 120
    assert unit.invocations[0].info["ram_conflicts"] == 5


@pytest.mark.parametrize("exact", [False, True])
def test_the_cpu_working_during_a_job_delays_its_dma(elf, exact):
    """conv_accel.c's first job runs while the CPU computes the C reference (RAM-heavy); the later
    ones only poll or sleep. cpu-first arbitration delays the first by the CPU's RAM accesses."""
    program = elf("conv_accel.c", "rv32imc")
    shared = Simulator(program, core="rv32imc", accelerators=["conv"], exact_memory=exact).run()
    alone = Simulator(program, core="rv32imc", accelerators=["conv:ram_arbitration=none"], exact_memory=exact).run()
    busy, quiet = shared.accelerators[0]["runs"][0], shared.accelerators[0]["runs"][1]
    assert busy["ram_conflicts"] > 1000 and quiet["ram_conflicts"] == 0
    first = alone.accelerators[0]["runs"][0]
    assert busy["end"] - busy["start"] == first["end"] - first["start"] + busy["ram_conflicts"]
    assert shared.console == alone.console  # the same results, later


# acc, multiplier, shift where TFLite's two requantisations differ by one (single rounding, gemmlowp)
ROUNDING_EDGES = [(735312, 1330993740, -1, 227870, 227871), (-221986, 1703080316, -5, -5501, -5502),
                  (1042724, 1329098341, -4, 40334, 40335)]


@pytest.mark.parametrize("acc,mult,shift,single,gemmlowp", ROUNDING_EDGES)
def test_units_round_as_the_layer_asks(acc, mult, shift, single, gemmlowp):
    """conv MODE bit 1 and cfu parameter 5 select FULLY_CONNECTED's single rounding; by default
    both units round as TFLite's convolutions (gemmlowp), which differs on these values. The
    output zero point brings the result into int8 range: single rounding gives 0, gemmlowp 1."""
    from simmcu.accelerators import cfu

    x, w, out_zp = np.zeros((1, 1, 1), np.int8), np.ones(1, np.int8), -single  # the bias carries the accumulator
    for single_rounding, want in ((True, single), (False, gemmlowp)):
        out = conv_int8(x, w, np.array([acc]), np.array([mult]), np.array([shift]), (1, 1), (1, 1), (0, 0), (1, 1),
                        False, 0, out_zp, -128, 127, single_rounding)
        assert int(out.ravel()[0]) == want + out_zp
        st = np.zeros(cfu.HEADER + 16, np.int64)
        for sel, value in enumerate((mult, shift, out_zp, -128, 127, int(single_rounding))):
            cfu.builtin_op(st, cfu.OP_SET, sel, value, 0)
        assert cfu.builtin_op(st, cfu.OP_REQUANT, 0, acc, 0) == want + out_zp


def test_cached_custom_instruction_code_matches_the_native_layout():
    """accelerators/_cfu_native.py inlines simmcu._native's helpers and caches the result on disk, where
    Numba only notices edits to _cfu_native.py itself: after editing _native.py, set its BUILT_AGAINST
    to the new fingerprint (that edit is what makes Numba recompile)."""
    from simmcu import _native
    from simmcu.accelerators import _cfu_native

    assert _cfu_native.BUILT_AGAINST == _native.SOURCE_FINGERPRINT, \
        f"set BUILT_AGAINST = {_native.SOURCE_FINGERPRINT!r} in accelerators/_cfu_native.py"


def _run_both_ways(monkeypatch, program, core, accels, **options):
    """The run as it goes and the run the slow way, as kept for what the fast paths do not take: custom
    instructions each on a code hook that runs it and moves the PC past it (not replaced by a branch that
    the block hook completes), and every register read through Python (no steady status read natively)."""
    from simmcu import _devices
    from simmcu.accelerators import Accelerator

    fast = Simulator(program, core=core, accelerators=accels, **options).run()
    with monkeypatch.context() as m:
        m.setattr(_devices.Devices, "_stand_in", lambda self, site: site)
        for cls in {type(make_accelerator(spec)) for spec in accels}:
            m.setattr(cls, "steady_read", Accelerator.steady_read)
        slow = Simulator(program, core=core, accelerators=accels, **options).run()
    return fast, slow

def _same_run(a, b):
    """Everything a run reports but host time: counts, stalls, call tree, memory, the unit's report, console."""
    da, db = a.to_dict(), b.to_dict()
    da.pop("wall_seconds"), db.pop("wall_seconds")
    assert da == db


@pytest.mark.parametrize("core", ["rv32imc", "cortex-m4"])
def test_custom_instructions_run_from_the_block_hook_as_from_a_hook_on_each(elf, core, monkeypatch):
    fast, hooked = _run_both_ways(monkeypatch, elf("conv2d_cfu", core), core, ["cfu:mac_latency=1"])
    assert fast.exit_code == 0 and fast.accelerators[0]["instructions"] > 10_000
    _same_run(fast, hooked)


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("core", ["rv32imc", "cortex-m4"])
@pytest.mark.parametrize("program", ["conv2d_conv", "conv_accel.c"])
def test_a_polled_status_answered_natively_reads_as_through_the_unit(elf, core, program, exact, monkeypatch):
    """The conv unit's STATUS polled during a job (conv_accel.c: while the CPU also works, with cpu-first
    arbitration counting its RAM accesses; exact memory: cycles added inside blocks)."""
    fast, slow = _run_both_ways(monkeypatch, elf(program, core), core, ["conv"], exact_memory=exact)
    assert fast.exit_code == 0 and fast.accelerators[0]["cpu_wait_cycles"] > 1000
    _same_run(fast, slow)


@pytest.mark.parametrize("core", ["rv32imc", "cortex-m4"])
def test_a_run_stopped_right_after_a_custom_instruction_has_its_result(elf, core, monkeypatch):
    """Emulation that stops right after a custom instruction, before the next block's hook (here: Unicorn's
    until-address, as a split block or a timeout can), has its result when the loop takes over; and an
    instruction limit anywhere in the kernel leaves the same counts and unit state either way."""
    from simmcu import _devices, _machine, _native
    from simmcu.accelerators import cfu

    program = elf("conv2d_cfu", core)
    total = Simulator(program, core=core, accelerators=["cfu"]).run().instructions
    for limit in range(total // 2, total // 2 + 24):
        fast, slow = _run_both_ways(monkeypatch, program, core, ["cfu:mac_latency=1"], max_instructions=limit)
        assert fast.exit_reason == "instruction-limit" and abs(fast.instructions - limit) < 8
        _same_run(fast, slow)

    seen = []
    emulate, settle = _machine.Machine._emulate, _devices.Devices.settle

    def until_after_a_custom_instruction(self, pc, deadline):
        if not seen:
            self._until = max(insn.fallthrough for insn in self.code.insns if insn.klass == "custom")
        return emulate(self, pc, deadline)

    def settled(self):
        m, unit = self.m, self.accels[0]
        before = (int(m.state.array[_native.CUSTOM_PENDING]), int(unit.state[cfu.COUNT]))
        settle(self)
        if not seen and m.platform.read_pc() == m._until:
            seen.append((before, (int(m.state.array[_native.CUSTOM_PENDING]), int(unit.state[cfu.COUNT]))))

    monkeypatch.setattr(_machine.Machine, "_emulate", until_after_a_custom_instruction)
    monkeypatch.setattr(_devices.Devices, "settle", settled)
    fast, slow = _run_both_ways(monkeypatch, program, core, ["cfu:mac_latency=1"])
    (((pending, count), (pending_after, count_after)),) = seen[:1]
    assert pending > 0 and pending_after == 0 and count_after == count + 1
    _same_run(fast, slow)


def test_the_simulator_reads_the_custom_instructions_where_unicorn_runs_branches(elf):
    """Tools reading code through the machine (observers, the GDB stub) see the ELF's instructions."""
    from simmcu import Observer
    from simmcu._codemap import _word_at

    seen = {}

    class ReadsCode(Observer):
        def attach(self, run):
            self.run = run

        def ended(self, reason, exit_code):
            for at in self.run.devices.stand_ins:
                seen[at] = (self.run.read(at - 2, 8)[2:6], _word_at(self.run.image, at).to_bytes(4, "little"))

    r = Simulator(elf("conv2d_cfu", "rv32imc"), core="rv32imc", accelerators=["cfu"], observers=[ReadsCode()]).run()
    assert r.ok and len(seen) > 10
    assert all(got == want and want[0] & 0x7F == 0x0B for got, want in seen.values())  # custom-0
