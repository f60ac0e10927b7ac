"""``simmcu`` command line: a thin layer over the Python API.

Every user error becomes one line on stderr and a distinct exit code
(``ExitCode``); a run's own ending (firmware exit, fault, limit) sets the
exit code of the process.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from . import __version__
from ._board import BOARD_PARAMS, REGION_PARAMS, bundled_boards, load_board
from ._cores import core_names, get_core, parse_core_spec
from ._errors import ConfigError, ExitCode, SimmcuError
from ._params import REQUIRED, check_run_limits, describe
from ._timing import bundled_profiles, load_profile
from ._trace import MAX_EVENTS, Trace, Waveform


DEFAULT_CORE = "rv32imc"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line and the usage exit code, as argparse does, without usage spam
        self.exit(ExitCode.USAGE, f"simmcu: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="simmcu", description="Cycle-approximate MCU simulator for RV32IMC and Cortex-M firmware.")
    p.add_argument("--version", action="version", version=f"simmcu {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run a firmware ELF (or a bundled example by name)")
    run.add_argument("elf", help="firmware ELF file, a bundled example (hello, conv2d, ...), or a .tflite model")
    run.add_argument("--input", metavar="FILE", action="append", default=[],
                     help="model input: .npy or raw bytes of the input's type, one per input (repeatable), or "
                          "one .npz with an array per input; default: seeded random (--seed)")
    run.add_argument("--output", metavar="FILE", default=None,
                     help="write the model's output tensor (.npy), or all of them (.npz, by tensor name)")
    run.add_argument("--seed", type=int, default=0, help="seed of the random model input (default 0)")
    run.add_argument("--portable-kernels", action="store_true",
                     help="compile a model with portable C kernels even where the core has the DSP extension")
    _core_option(run)
    run.add_argument("--board", default=None, help="bundled board name or board TOML file (default: the core's)")
    run.add_argument("--json", metavar="FILE", default=None, help="write the result as JSON ('-' for stdout)")
    run.add_argument("--max-instructions", type=int, default=None, metavar="N",
                     help="stop with exit code 122 after N instructions")
    run.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                     help="stop with exit code 123 after this much wall-clock time")
    run.add_argument("--semihost-dir", default=None, metavar="DIR",
                     help="let the firmware open host files inside DIR (off by default)")
    run.add_argument("--timing", default=None, metavar="PROFILE",
                     help="timing profile name or TOML file, instead of the core's (see `simmcu cores --timing`); "
                          "none: functional, instruction counts only")
    run.add_argument("--fast-forward-to", default=None, metavar="SYMBOL",
                     help="run functionally (as --timing none) until SYMBOL is first reached, then time from there")
    run.add_argument("--top", type=int, default=10, metavar="N", help="functions in the summary table (default 10)")
    run.add_argument("--profile-csv", metavar="FILE", default=None,
                     help="write the per-function profile as CSV ('-' for stdout)")
    run.add_argument("--folded", metavar="FILE", default=None,
                     help="write folded call stacks weighted in cycles, for flame-graph tools ('-' for stdout)")
    run.add_argument("--profile-lines", action="store_true",
                     help="cycles, instructions and stalls per source line (JSON 'lines', `simmcu annotate`), "
                          "from the ELF's DWARF line table")
    run.add_argument("--folded-lines", action="store_true",
                     help="with --folded: source lines as leaf frames (implies --profile-lines)")
    run.add_argument("--accel", action="append", default=[], metavar="NAME[:PARAM=VALUE,...]|FILE.toml",
                     help="attach an accelerator model (repeatable; see `simmcu accels`)")
    run.add_argument("--baseline", metavar="ELF", default=None,
                     help="also run this ELF on the same core and board without accelerators; print the speedup")
    run.add_argument("--exact-memory", action="store_true",
                     help="hook every data access: traffic by board region and wait states of the region really "
                          "accessed (slower)")
    run.add_argument("--check-timing", action="store_true",
                     help="also run the plain-Python reference timing model and compare (slow)")
    run.add_argument("--gdb", metavar="[HOST:]PORT", default=None,
                     help="wait for GDB on this TCP port (host default 127.0.0.1; port 0: any free one, printed) "
                          "before the first instruction (docs/debugging.md)")
    run.add_argument("--trace", metavar="FILE", default=None,
                     help="write a timeline of the CPU and accelerators in modeled time (Chrome trace-event JSON: "
                          "ui.perfetto.dev, chrome://tracing; slower)")
    run.add_argument("--trace-max-events", type=int, default=MAX_EVENTS, metavar="N",
                     help=f"keep the events that start before the cycle where the trace reaches N events "
                          f"(default {MAX_EVENTS:,}); also caps --vcd's value changes")
    run.add_argument("--vcd", metavar="FILE", default=None,
                     help="write a waveform of each accelerator's registers, busy, interrupt and DMA lines (VCD, "
                          "for GTKWave; needs simmcu[trace])")
    run.add_argument("--vcd-cpu", action="store_true", help="add the CPU's current function and call depth to --vcd")
    run.add_argument("--quiet", action="store_true", help="do not echo the firmware's console output")
    run.add_argument("args", nargs="*", help="command line passed to the firmware (SYS_GET_CMDLINE)")

    build = sub.add_parser("build", help="build an example or C sources into an ELF")
    build.add_argument("what", nargs="+", help="example name, or C/assembly source files")
    _core_option(build)
    build.add_argument("--board", default=None, help="board whose memory map the linker script uses")
    build.add_argument("-o", "--output", required=True, help="ELF file to write")
    build.add_argument("--toolchain", default="zig", choices=("zig", "gnu"),
                       help="zig: the pinned clang from PyPI (default); gnu: a GNU cross compiler on PATH")
    build.add_argument("-D", dest="defines", action="append", default=[], metavar="NAME[=VALUE]",
                       help="preprocessor definition (repeatable)")
    build.add_argument("-I", dest="include_dirs", action="append", default=[], metavar="DIR",
                       help="include directory (repeatable); the sources' own directories are searched too")
    build.add_argument("-O", dest="optimize", default="2", metavar="LEVEL",
                       help="optimisation level: 0, 1, 2, 3, s or z (default 2)")
    build.add_argument("--cflags", default="", metavar='"FLAGS"',
                       help="extra compiler and linker flags, split like a shell would")
    build.add_argument("--strip", action="store_true",
                       help="drop the debug information (line tables); the code is the same")

    comp = sub.add_parser("compile", help="compile a .tflite model into C sources and a firmware ELF")
    comp.add_argument("model", help="quantised int8 .tflite model")
    _core_option(comp)
    comp.add_argument("-o", "--output", required=True, help="directory for the sources and model.elf")
    comp.add_argument("--accel", action="append", default=[], metavar="NAME[:PARAM=VALUE,...]|FILE.toml",
                      help="compile for this accelerator, as `simmcu run --accel` attaches it: the layers it takes "
                           "run on it (see `simmcu accels`); repeatable")
    comp.add_argument("--portable-kernels", action="store_true",
                      help="portable C kernels even where the core has the DSP extension")
    comp.add_argument("--input", metavar="FILE", action="append", default=[],
                      help="the input model.elf runs on by itself (as `simmcu run --input`; the simulator "
                           "writes another at run time)")
    comp.add_argument("--seed", type=int, default=0, help="seed of the random model input (default 0)")
    comp.add_argument("--toolchain", default="zig", choices=("zig", "gnu"), help="compiler (default zig)")
    comp.add_argument("--strip", action="store_true", help="build model.elf without debug information")

    ev = sub.add_parser("eval", help="run a .tflite model on a data set: accuracy, agreement with the reference "
                        "interpreter, cycles per inference")
    ev.add_argument("model", help="quantised .tflite model")
    ev.add_argument("--data", metavar="FILE", required=True,
                    help=".npy with samples along the first axis, or .npz with such an array per input")
    ev.add_argument("--labels", metavar="FILE", default=None, help=".npy of integer classes, one per sample: "
                    "top-1 accuracy of the first output")
    ev.add_argument("--reference", action="store_true",
                    help="also run the TFLite reference interpreter (ai-edge-litert) and compare the outputs")
    _core_option(ev)
    ev.add_argument("--accel", action="append", default=[], metavar="NAME[:PARAM=VALUE,...]|FILE.toml",
                    help="attach an accelerator and compile for it, as `simmcu run --accel` (repeatable)")
    ev.add_argument("--portable-kernels", action="store_true",
                    help="portable C kernels even where the core has the DSP extension")
    ev.add_argument("--board", default=None, help="bundled board name or board TOML file (default: the core's)")
    ev.add_argument("--timing", default=None, metavar="PROFILE", help="timing profile name or TOML file")
    ev.add_argument("--json", metavar="FILE", default=None, help="write the evaluation as JSON ('-' for stdout)")

    sw = sub.add_parser("sweep", help="run a design-space sweep from a spec (docs/sweep.md)")
    sw.add_argument("spec", help="sweep spec TOML file, or a bundled spec's name (conv-mlperf)")
    sw.add_argument("-o", "--output", default=None, metavar="DIR",
                    help="directory for rows.csv, rows.jsonl, plots and report.html (default: SPEC-NAME.sweep/); "
                         "rerun into the same one to finish an interrupted sweep")
    sw.add_argument("--jobs", type=int, default=None, metavar="N", help="worker processes (default: the CPU count)")
    sw.add_argument("--scheduler", default=None, metavar="ADDRESS",
                    help="run the points on a Dask cluster (tcp://host:8786; needs simmcu[cluster])")
    sw.add_argument("--models-dir", default=None, metavar="DIR", help="look the spec's models and ELFs up by file "
                    "name in DIR")
    sw.add_argument("--quiet", action="store_true", help="no progress line")

    val = sub.add_parser("validate", help="compare a RISC-V profile with its core's RTL on generated programs "
                         "(docs/validation.md)")
    val.add_argument("--core", required=True, metavar="CORE",
                     help="RTL configuration: picorv32, ibex, ibex:single_cycle_multiplier=true, cv32e40p, ...")
    val.add_argument("--seeds", type=int, default=10, metavar="N", help="programs to generate (default 10)")
    val.add_argument("--first-seed", type=int, default=0, metavar="S", help="seed of the first program (default 0)")
    val.add_argument("--size", type=int, default=120, metavar="N",
                     help="instructions in each program's main body (default 120)")
    val.add_argument("--memory", default="comb", choices=("comb", "registered"),
                     help="comb: memory answers in the request's cycle (default); registered: with --wait-states")
    val.add_argument("--wait-states", type=int, default=0, choices=range(4), metavar="K",
                     help="registered memory's extra cycles per transfer, 0..3 (default 0)")
    val.add_argument("--max-error", type=float, default=None, metavar="PERCENT",
                     help="exit 1 if a program's cycles differ from the RTL's by more than this")
    val.add_argument("--json", action="store_true", help="print the report as JSON instead")

    ann = sub.add_parser("annotate", help="print a function's source with the cycles of each line, from a result "
                         "JSON of `simmcu run --profile-lines --json`")
    ann.add_argument("result", help="result JSON with 'lines'")
    ann.add_argument("function", nargs="?", default=None, help="function to annotate (default: list the hottest)")
    ann.add_argument("--source-dir", action="append", default=[], metavar="DIR",
                     help="look source files up here first (repeatable)")
    ann.add_argument("--top", type=int, default=10, metavar="N", help="functions listed without FUNCTION (default 10)")

    cores = sub.add_parser("cores", help="list the cores and their timing profiles")
    cores.add_argument("--timing", action="store_true",
                       help="also list each timing profile's options, sources and what it leaves out")
    accels = sub.add_parser("accels", help="list the accelerator models and their parameters")
    boards = sub.add_parser("boards", help="list the bundled boards")
    boards.add_argument("--params", action="store_true", help="list every board and region parameter")
    for listing in (cores, accels, boards):
        listing.add_argument("--json", action="store_true", help="print the listing as JSON instead")
    return p


def _core_option(command: argparse.ArgumentParser) -> None:
    """One --core for run, build and compile, so the three agree on the default."""
    command.add_argument("--core", default=DEFAULT_CORE, help=f"core (see `simmcu cores`; default {DEFAULT_CORE})")


def _write(text: str, stream=None) -> None:
    """Write and flush; once the reader has gone (``| head``), drop output but keep running."""
    stream = stream or sys.stdout
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())  # no error again at exit


def _run(a) -> int:
    from ._machine import Simulator  # Unicorn and the native hooks: only runs need them

    core = a.core
    get_core(parse_core_spec(core)[0])  # a bad --core fails before a model is compiled
    check_run_limits(a.max_instructions, a.timeout)
    if a.gdb is not None:
        from ._gdb import parse_address

        gdb_address = parse_address(a.gdb)  # a bad address fails before anything is loaded
    elf = Path(a.elf)
    outputs = [a.json, a.profile_csv, a.folded]
    human = sys.stderr if "-" in outputs else sys.stdout  # stdout is reserved for the machine-readable output
    options = dict(board=a.board, timing=a.timing, max_instructions=a.max_instructions, timeout=a.timeout,
                   semihost_dir=a.semihost_dir, args=tuple(a.args), check_timing=a.check_timing,
                   console=None if a.quiet else lambda text: _write(text, human), exact_memory=a.exact_memory,
                   accelerators=a.accel, profile_lines=a.profile_lines or a.folded_lines, observers=_observers(a),
                   fast_forward_to=a.fast_forward_to)
    if a.gdb is not None:
        from ._gdb import GdbServer

        options["observers"].append(GdbServer(gdb_address))
    if elf.suffix == ".tflite":
        from simmcu.firmware import load_model, run_model
        from simmcu.firmware._io import OUTPUT_SYMBOL, check_output_path, inputs_of, load_inputs, outputs_of, unpack

        model = load_model(elf)
        if a.output:
            check_output_path(a.output, outputs_of(model))
        data = load_inputs(inputs_of(model), a.input) if a.input else None
        result = run_model(elf, core, input_data=data, seed=a.seed, portable=a.portable_kernels, **options)
    elif a.input or a.output:
        raise ConfigError("--input and --output are for .tflite models")
    else:
        result = Simulator(elf, core=core, **options).run()
    if a.baseline and result.cycles is None:
        raise ConfigError("--baseline compares cycles: it needs a timed run")
    if a.baseline:
        base = Simulator(a.baseline, core=core, board=a.board, timing=a.timing, max_instructions=a.max_instructions,
                         timeout=a.timeout, exact_memory=a.exact_memory).run()
        if base.exit_reason != "exit":
            raise SimmcuError(f"baseline {a.baseline}: {base.message}")
        result = dataclasses.replace(result, baseline=dict(elf=base.elf, cycles=base.cycles,
                                                           speedup=round(base.cycles / result.cycles, 4)))
    if result.console and not result.console.endswith("\n") and not a.quiet:
        _write("\n", human)
    _write(result.summary(a.top) + "\n", human)
    for kind, what in (("trace", "events"), ("vcd", "changes")):
        written = result.reports.get(kind)
        if written:
            cut = written["truncated_at_cycle"]
            _write(f"simmcu: {kind} {written['file']}: {written[what]:,} {what}"
                   + (f", truncated at cycle {cut:,} (--trace-max-events)" if cut is not None else "") + "\n", human)
    if a.output and result.outputs is not None:
        from simmcu.firmware._io import write_outputs

        write_outputs(a.output, outputs_of(model), unpack(outputs_of(model), result.symbol_data[OUTPUT_SYMBOL]))
    for path, text in ((a.json, lambda: result.to_json() + "\n"), (a.profile_csv, result.functions_csv),
                       (a.folded, lambda: result.folded(lines=a.folded_lines))):
        if path == "-":
            _write(text())
        elif path:
            try:
                Path(path).write_text(text())
            except OSError as e:
                raise SimmcuError(f"cannot write {path}: {e.strerror}") from None
    return result.exit_code


def _observers(a) -> list:
    """The trace and waveform writers the run's options ask for."""
    if a.vcd_cpu and not a.vcd:
        raise ConfigError("--vcd-cpu needs --vcd FILE")
    if a.timing == "none" and (a.trace or a.vcd):
        raise ConfigError(f"{'--trace' if a.trace else '--vcd'} draws modeled time: it needs timing, not --timing none")
    out = [Trace(a.trace, a.trace_max_events)] if a.trace else []
    if a.vcd:
        out.append(Waveform(a.vcd, a.vcd_cpu, a.trace_max_events))
    return out


def _build(a) -> int:
    from simmcu.firmware import build

    defines = dict((d.split("=", 1) + ["1"])[:2] for d in a.defines)
    what = a.what[0] if len(a.what) == 1 else a.what
    out = build(what, a.core, a.output, board=a.board, toolchain=a.toolchain, defines=defines,
                include_dirs=a.include_dirs, optimize=a.optimize, cflags=a.cflags, strip=a.strip)
    print(f"simmcu: built {out} for {a.core}")
    return 0


def _compile(a) -> int:
    from simmcu.firmware import compile_model, load_model
    from simmcu.firmware._io import inputs_of, load_inputs

    data = load_inputs(inputs_of(load_model(a.model)), a.input) if a.input else None
    elf = compile_model(a.model, a.core, a.output, data, a.seed, a.toolchain, a.accel, a.portable_kernels,
                        strip=a.strip)
    print(f"simmcu: compiled {a.model} into {Path(a.output)}/ and built {elf}")
    return 0


def _annotate(a) -> int:
    from ._annotate import annotate, hottest_functions, load_lines

    doc = load_lines(a.result)
    try:
        text = annotate(doc, a.function, a.source_dir) if a.function else hottest_functions(doc, a.top)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ConfigError(f"{a.result}: malformed lines entry ({type(e).__name__}: {e})") from None
    _write(text + "\n")
    return 0


def _eval(a) -> int:
    from simmcu.firmware import evaluate

    get_core(parse_core_spec(a.core)[0])
    if a.timing == "none":
        raise ConfigError("simmcu eval reports cycles per inference: it needs a timing profile, not none")
    result = evaluate(a.model, a.data, a.labels, core=a.core, accelerators=a.accel, reference=a.reference,
                      portable=a.portable_kernels, board=a.board, timing=a.timing)
    _write(result.summary() + "\n", sys.stderr if a.json == "-" else sys.stdout)
    if a.json == "-":
        _write(result.to_json() + "\n")
    elif a.json:
        try:
            Path(a.json).write_text(result.to_json() + "\n")
        except OSError as e:
            raise SimmcuError(f"cannot write {a.json}: {e.strerror}") from None
    return 0


def _print_json(doc) -> int:
    _write(json.dumps(doc, indent=2) + "\n")
    return 0


def _params_json(params) -> dict:
    """Parameters with their real default values (null when required), not the listing's text."""
    return {name: dict(default=None if p.default is REQUIRED else p.default, unit=p.unit, description=p.doc)
            for name, p in params.items()}


def _sweep(a) -> int:
    from ._sweep import sweep

    out = Path(a.output) if a.output else Path(f"{Path(a.spec).stem}.sweep")
    rows = sweep(a.spec, out, jobs=a.jobs, scheduler=a.scheduler, models_dir=a.models_dir, quiet=a.quiet)
    failed = sum(r["exit_code"] != 0 for r in rows)
    _write(rows.front_table() + "\n")
    _write(f"simmcu: {len(rows)} points ({failed} failed) in {out}/: rows.csv, rows.jsonl, report.html\n")
    return 0


def _validate(a) -> int:
    from simmcu import validate

    if a.core not in validate.RTL_CORES:
        raise ConfigError(f"no RTL for core {a.core!r} (valid: {', '.join(validate.RTL_CORES)})")
    if a.seeds < 1 or a.size < 1:
        raise ConfigError("--seeds and --size must be at least 1")
    if a.memory == "comb" and a.wait_states:
        raise ConfigError("--wait-states needs --memory registered")

    def progress(p) -> None:
        if not a.json:
            flag = "" if p.same_result and p.model_agrees else "  FUNCTIONAL DIFFERENCE" if not p.same_result \
                else "  NATIVE AND REFERENCE DISAGREE"
            _write(f"seed {p.seed:5d}: {p.instructions:6d} instructions, RTL {p.rtl:8d} cycles, simmcu {p.simmcu:8d}"
                   f" ({100 * p.error:+.2f}%){flag}\n")
            if p.divergence:
                _write("  " + p.divergence.describe().replace("\n", "\n  ") + "\n")

    seeds = range(a.first_seed, a.first_seed + a.seeds)
    report = validate.validate(a.core, seeds, a.memory, a.wait_states, a.size, progress=progress)
    if a.json:
        _print_json(report.to_dict())
    else:
        worst = report.worst
        condition = a.memory + (f" N={a.wait_states}" if a.memory == "registered" else "")
        _write(f"simmcu validate --core {a.core}, {condition}: {len(report.programs)} programs, total "
               f"{100 * report.total_error:+.2f}%, worst {100 * worst.error:+.2f}% (seed {worst.seed})\n")
        for name, cycles in sorted(report.classes().items(), key=lambda kv: -abs(kv[1]))[:8]:
            _write(f"  divergences at {name}: {cycles:+d} cycles net\n")
    bad = not all(p.same_result and p.model_agrees for p in report.programs)
    if a.max_error is not None and abs(report.worst.error) * 100 > a.max_error:
        bad = True
    return 1 if bad else 0


def _cores(a) -> int:
    cores = [get_core(name) for name in core_names()]
    if a.json:
        return _print_json([dict(name=c.name, isa=c.isa, arch=c.arch, timing=c.timing, description=c.description,
                                 timing_options={o.name: dict(default=o.default, description=o.description)
                                                 for o in load_profile(c.timing).options.values()}, energy=c.energy)
                            for c in cores])
    for c in cores:
        print(f"{c.name:15s} {c.isa:13s} timing {c.timing:14s} {c.description}")
    if a.timing:
        for name in bundled_profiles():
            p = load_profile(name)
            print(f"\ntiming profile {name}: {p.description}")
            for o in p.options.values():
                print(f"  option {o.name} (default {'true' if o.default else 'false'}): {o.description}")
            if p.accuracy:
                print(f"  accuracy: {p.accuracy}")
            for line in p.not_modeled:
                print(f"  not modeled: {line}")
            for line in p.sources:
                print(f"  source: {line}")
    return 0


def _accels(a) -> int:
    from simmcu.accelerators import accelerator_class, available

    found = sorted(available().items())
    if a.json:
        return _print_json([dict(name=name, description=accelerator_class(name).DESCRIPTION, origin=origin,
                                 params=_params_json(accelerator_class(name).all_params())) for name, origin in found])
    for name, origin in found:
        cls = accelerator_class(name)
        print(f"{name}: {cls.DESCRIPTION} ({origin})")
        for row in describe(cls.all_params()):
            print("  {:20s} default {:12s} {:12s} {}".format(*row))
    return 0


def _boards(a) -> int:
    boards = [load_board(name) for name in bundled_boards()]
    if a.json:
        return _print_json([dict(name=b.name, arch=b.arch, description=b.description, clock_hz=b.clock_hz,
                                 regions=[dataclasses.asdict(r) for r in b.regions]) for b in boards])
    for b in boards:
        print(f"{b.name:18s} {b.arch:6s} {b.description}")
    if a.params:
        for title, params in (("board keys", BOARD_PARAMS), ("[[regions]] keys", REGION_PARAMS)):
            print(f"\n{title}:")
            for row in describe(params):
                print("  {:20s} default {:12s} {:8s} {}".format(*row))
    return 0


def main(argv: list[str] | None = None) -> int:
    # numpy's OpenBLAS starts a thread per CPU on import, which spin for a while: about 0.1 s of CPU
    # that competes with the run on a busy machine. Nothing simmcu does calls BLAS; a user's own
    # setting wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    for i, arg in enumerate(argv[:-1]):  # argparse would take `--cflags "-O3 -g"`'s value for an option
        if arg == "--cflags":
            argv[i:i + 2] = [f"--cflags={argv[i + 1]}"]
            break
    a = parser.parse_args(argv)
    if a.command == "run" and [a.json, a.profile_csv, a.folded].count("-") > 1:
        parser.error("only one of --json, --profile-csv and --folded can write to stdout")
    try:
        return {"run": _run, "build": _build, "compile": _compile, "eval": _eval, "sweep": _sweep, "cores": _cores,
                "accels": _accels, "boards": _boards, "validate": _validate, "annotate": _annotate}[a.command](a)
    except SimmcuError as e:
        print(f"simmcu: error: {e}", file=sys.stderr)
        return int(e.exit_code)
    except BrokenPipeError:  # a listing piped into `head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("simmcu: interrupted", file=sys.stderr)
        return 130
