"""Debug information in builds and cycles per source line: deterministic -g builds, --strip, the
per-line profile adding up to the per-function one exactly (checked against the reference model,
which prices instruction by instruction), ``simmcu annotate`` and folded stacks with lines."""

import json
import re

import pytest
from elftools.elf.elffile import ELFFile

from simmcu import Simulator
from simmcu._lines import load_line_table
from simmcu.firmware import build, firmware_dir

from test_cli import cli

KERNEL = """#include "kern.h"
int dot(const int *a, const int *b, int n)
{
    int s = 0;
    for (int i = 0; i < n; i++)
        s += a[i] * b[i] / (i + 1);
    return s;
}
"""
MAIN = """#include "simmcu.h"
#include "kern.h"
static int a[64], b[64];
int main(void)
{
    for (int i = 0; i < 64; i++) {
        a[i] = i * 3 - 50;
        b[i] = 7 - i;
    }
    printf("%d\\n", dot(a, b, 64));
    return 0;
}
"""


def _project(root):
    root.mkdir(parents=True)
    (root / "main.c").write_text(MAIN)
    (root / "kern.c").write_text(KERNEL)
    (root / "kern.h").write_text("int dot(const int *a, const int *b, int n);\n")
    return [root / "main.c", root / "kern.c"]


def _sections(path):
    with open(path, "rb") as f:
        return {s.name for s in ELFFile(f).iter_sections()}


def _loaded(path):
    """What a run sees of an ELF: loaded bytes and the symbols in allocated sections."""
    with open(path, "rb") as f:
        elf = ELFFile(f)
        alloc = {i for i, s in enumerate(elf.iter_sections()) if s["sh_flags"] & 2}
        segments = [(s["p_vaddr"], s["p_paddr"], s.data()) for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
        table = elf.get_section_by_name(".symtab")
        symbols = sorted((s.name, s["st_value"], s["st_size"]) for s in table.iter_symbols() if s["st_shndx"] in alloc)
    return segments, symbols


@pytest.mark.parametrize("core", ["rv32imc", "cortex-m4"])
def test_debug_builds_are_the_same_bytes_from_any_directory(tmp_path, core):
    first = build(_project(tmp_path / "one"), core, tmp_path / "one.elf")
    second = build(_project(tmp_path / "elsewhere" / "two"), core, tmp_path / "two.elf")
    data = first.read_bytes()
    assert data == second.read_bytes()
    assert {".debug_info", ".debug_line"} <= _sections(first)
    for host in (str(tmp_path), "simmcu-build", "site-packages", ".cache"):  # no scratch, venv or cache path
        assert host.encode() not in data
    table = load_line_table(str(first))
    files = {f for f, _ in table.places}
    assert {"main.c", "kern.c"} <= files and not any(f.startswith("/") for f in files)
    # The runtime library's DWARF is discarded: a debug build stays small.
    assert len(data) < 4 * len(build(_project(tmp_path / "three"), core, tmp_path / "s.elf", strip=True).read_bytes())


@pytest.mark.parametrize("core", ["rv32imc", "cortex-m0plus"])
def test_strip_drops_debug_information_and_keeps_the_code(tmp_path, core):
    sources = _project(tmp_path / "p")
    debug = build(sources, core, tmp_path / "g.elf")
    stripped = build(sources, core, tmp_path / "s.elf", strip=True)
    assert not any(s.startswith(".debug") for s in _sections(stripped))
    assert _loaded(debug) == _loaded(stripped)
    rc, _, err = cli("build", *map(str, sources), "--core", core, "--strip", "-o", str(tmp_path / "cli.elf"))
    assert rc == 0, err
    assert (tmp_path / "cli.elf").read_bytes() == stripped.read_bytes()
    a, b = Simulator(debug, core=core).run(), Simulator(stripped, core=core).run()
    assert (a.cycles, a.instructions, a.stalls, a.functions) == (b.cycles, b.instructions, b.stalls, b.functions)


def test_prebuilt_examples_carry_line_tables():
    elf = firmware_dir() / "prebuilt" / "conv2d-cortex-m4.elf"
    r = Simulator(elf, core="cortex-m4", profile_lines=True).run()
    assert {(e["file"], e["function"]) for e in r.lines if e["line"]} >= {("main.c", "conv2d_3x3"), ("main.c", "main")}
    assert not r.warnings


def _check_lines_add_up(r):
    """Every function's lines add up to its exclusive cycles and instructions; all lines to the run's
    instructions, stalls by cause and dual issues."""
    by_function = {}
    for e in r.lines:
        cyc, ins = by_function.get(e["function"], (0, 0))
        by_function[e["function"]] = (cyc + e["cycles"], ins + e["instructions"])
        assert e["cycles"] == e["instructions"] + sum(e["stalls"].values()) - e["dual_issued"]
    assert by_function == {f["name"]: (f["cycles_exclusive"], f["instructions_exclusive"]) for f in r.functions}
    assert sum(e["instructions"] for e in r.lines) == r.instructions
    assert {c: sum(e["stalls"][c] for e in r.lines) for c in r.stalls} == r.stalls
    assert sum(e["dual_issued"] for e in r.lines) == r.dual_issued
    assert len({(e["function"], e["file"], e["line"]) for e in r.lines}) == len(r.lines)


#: (program, core, options): divides and serial shifts (latency), interrupts and exception entry, wait
#: states, caches (instruction and data misses), the conv unit and WFI, a run ended by a fault.
CASES = [
    ("microbench.c", "rv32imc", {}),
    ("microbench.c", "cortex-m4", {}),
    ("systick.c", "cortex-m0plus", {}),
    ("exceptions.c", "cortex-m4", {}),
    ("rv_timer.c", "rv32imc", {}),
    ("memory_bench.c", "cortex-m7:icache=true,dcache=true", {}),
    ("conv2d_conv_irq", "cortex-m4", dict(accelerators=["conv"])),
    ("fault", "rv32imc", {}),
]


@pytest.mark.parametrize("program, core, options", CASES, ids=[f"{p}-{c}" for p, c, _ in CASES])
def test_lines_add_up_to_the_profile_and_match_the_reference(elf, program, core, options):
    base = core.split(":")[0]
    path = elf(program, "cortex-m4" if program == "memory_bench.c" else base)
    r = Simulator(path, core=core, profile_lines=True, check_timing=True, **options).run()
    assert r.exit_reason == ("fault" if program == "fault" else "exit"), r.message
    # The reference model charges each cycle to the instruction that caused it: per instruction agreement.
    assert r.timing_check["agree"], r.timing_check["differences"][:5]
    _check_lines_add_up(r)
    stalled = {c for c, n in r.stalls.items() if n}
    assert stalled == {c for e in r.lines for c, n in e["stalls"].items() if n}
    plain = Simulator(path, core=core, **options).run()
    assert (plain.cycles, plain.stalls, plain.functions) == (r.cycles, r.stalls, r.functions)
    assert plain.lines is None and "lines" not in plain.to_dict()


@pytest.mark.parametrize("example, core, options", [
    ("conv2d", "rv32imc", {}), ("conv2d", "cortex-m0plus", {}),
    ("conv2d", "cortex-m7:icache=true,dcache=true", {}), ("conv2d_cfu", "rv32imc", dict(accelerators=["cfu"]))])
def test_kernel_lines_add_up_exactly(example, core, options):
    r = Simulator(example, core=core, profile_lines=True, **options).run()
    assert r.ok, r.message
    _check_lines_add_up(r)
    hottest = r.functions[0]
    assert hottest["name"].startswith("conv2d_3x3")
    kernel = [e for e in r.lines if e["function"] == hottest["name"]]
    assert sum(e["cycles"] for e in kernel) == hottest["cycles_exclusive"]
    assert any(e["file"] == "main.c" for e in kernel)
    if options:  # the cfu's latency is charged to the line of its custom instruction
        assert sum(e["stalls"]["accelerator"] for e in kernel if e["line"]) == r.stalls["accelerator"] > 0


def test_stripped_elf_lines_have_no_source_and_say_so(tmp_path):
    path = build(_project(tmp_path / "p"), "rv32imc", tmp_path / "s.elf", strip=True)
    r = Simulator(path, core="rv32imc", profile_lines=True).run()
    assert all(e["line"] is None and e["file"] is None for e in r.lines)
    assert any("no DWARF line table" in w for w in r.warnings)
    dot = next(e for e in r.lines if e["function"] == "dot")
    assert sum(row["cycles"] for row in dot["by_address"]) == dot["cycles"]
    assert all(row["text"] and not re.fullmatch(r"[0-9a-f]{8}", row["text"]) for row in dot["by_address"])


_ROW = re.compile(r"^(>>|  ) +([\d,]+) +([\d.]+) +([\d,]+) +(\d+)  (.*)$")


def test_annotate_prints_source_cycles_and_marks_the_hottest_lines(tmp_path):
    out = tmp_path / "r.json"
    rc, _, err = cli("run", "conv2d", "--core", "cortex-m4", "--profile-lines", "--json", str(out), "--quiet")
    assert rc == 0, err
    doc = json.loads(out.read_text())
    kernel = {e["line"]: e for e in doc["lines"] if e["function"] == "conv2d_3x3" and e["file"] == "main.c"}
    rc, text, err = cli("annotate", str(out), "conv2d_3x3")
    assert rc == 0, err
    source = (firmware_dir() / "examples" / "conv2d" / "main.c").read_text().splitlines()
    rows = {}
    section = None
    for line in text.splitlines():
        if line.startswith("-- "):
            section = line[3:]
        m = _ROW.match(line)
        if m and section == "main.c":
            rows[int(m[5])] = (m[1] == ">>", int(m[2].replace(",", "")), int(m[4].replace(",", "")), m[6])
    assert set(rows) == set(kernel)
    for n, (marked, cycles, instructions, rest) in rows.items():
        assert (cycles, instructions) == (kernel[n]["cycles"], kernel[n]["instructions"])
        assert rest.startswith(source[n - 1])  # the source line itself, then its stalls
    hottest = sorted((e for e in doc["lines"] if e["function"] == "conv2d_3x3" and e["line"]),
                     key=lambda e: -e["cycles"])[:3]
    assert {n for n, row in rows.items() if row[0]} == {e["line"] for e in hottest if e["file"] == "main.c"}
    top = max(kernel.values(), key=lambda e: e["cycles"])
    assert "acc +=" in source[top["line"] - 1] and "memory" in rows[top["line"]][3]
    if any(e["line"] is None for e in doc["lines"] if e["function"] == "conv2d_3x3"):
        assert "-- no source line" in text and re.search(r"0x[0-9a-f]{8}  \w+", text)
    rc, text, _ = cli("annotate", str(out))
    assert rc == 0 and text.splitlines()[1].split()[2] == "conv2d_3x3"
    rc, _, err = cli("annotate", str(out), "nonesuch")
    assert rc == 120 and err.startswith("simmcu: error: no function 'nonesuch'") and "conv2d_3x3" in err
    plain = tmp_path / "plain.json"
    assert cli("run", "hello", "--json", str(plain), "--quiet")[0] == 0
    rc, _, err = cli("annotate", str(plain))
    assert rc == 120 and err == f"simmcu: error: {plain} has no per-line profile: run with --profile-lines --json\n"
    broken = tmp_path / "broken.json"
    broken.write_text('{"lines": [{"function": "f"}]}')
    rc, _, err = cli("annotate", str(broken), "f")
    assert rc == 120 and err == f"simmcu: error: {broken}: malformed lines entry (KeyError: 'cycles')\n"


def test_annotate_finds_user_sources_through_source_dir(tmp_path):
    sources = _project(tmp_path / "src")
    elf = build(sources, "rv32imc", tmp_path / "app.elf")
    (tmp_path / "run").mkdir()
    out = tmp_path / "run" / "r.json"
    assert cli("run", str(elf), "--profile-lines", "--json", str(out), "--quiet")[0] == 0
    rc, text, _ = cli("annotate", str(out), "dot", cwd=tmp_path / "run")
    assert rc == 0 and "kern.c (source not found: --source-dir DIR)" in text
    rc, text, _ = cli("annotate", str(out), "dot", "--source-dir", str(tmp_path / "src"), cwd=tmp_path / "run")
    assert rc == 0 and "s += a[i] * b[i] / (i + 1);" in text and "not found" not in text


def test_folded_lines_put_source_lines_under_each_call_path(tmp_path):
    folded, plain = tmp_path / "lines.txt", tmp_path / "plain.txt"
    rc, _, err = cli("run", "conv2d", "--core", "rv32imc", "--folded", str(folded), "--folded-lines", "--quiet")
    assert rc == 0, err
    assert cli("run", "conv2d", "--core", "rv32imc", "--folded", str(plain), "--quiet")[0] == 0
    paths = dict(line.rsplit(" ", 1) for line in plain.read_text().splitlines())
    sums: dict[str, int] = {}
    for line in folded.read_text().splitlines():
        stack, cycles = line.rsplit(" ", 1)
        path, leaf = stack.rsplit(";", 1)
        assert re.fullmatch(r"[\w./]+:\d+|\(no line\)", leaf)
        sums[path] = sums.get(path, 0) + int(cycles)
    assert {p: str(c) for p, c in sums.items()} == paths
    assert re.search(r"^\w+;.*;main;conv2d_3x3;main\.c:\d+ \d+$", folded.read_text(), re.M)
