"""``simmcu`` command line: a thin layer over the Python API.

Every user error becomes one line on stderr and a distinct exit code
(``ExitCode``); a run's own ending (firmware exit, fault, limit) sets the
exit code of the process.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from ._board import BOARD_PARAMS, REGION_PARAMS, bundled_boards, load_board
from ._cores import core_names, get_core, parse_core_spec
from ._errors import ExitCode, SimmcuError
from ._machine import Simulator
from ._params import check_run_limits, describe
from ._timing import bundled_profiles, load_profile


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line and the usage exit code, as argparse does, without usage spam
        self.exit(ExitCode.USAGE, f"simmcu: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="simmcu", description="Cycle-approximate MCU simulator for RV32IMC and Cortex-M firmware.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run a firmware ELF (or a bundled example by name)")
    run.add_argument("elf", help="firmware ELF file, a bundled example (hello, conv2d, ...), or a .tflite model")
    run.add_argument("--input", metavar="FILE", default=None,
                     help="model input (.npy or raw int8 bytes); default: seeded random (--seed)")
    run.add_argument("--seed", type=int, default=0, help="seed of the random model input (default 0)")
    run.add_argument("--portable-kernels", action="store_true",
                     help="compile a model with portable C kernels even where the core has the DSP extension")
    run.add_argument("--core", default=None, help="core to run on (see `simmcu cores`; default rv32imc)")
    run.add_argument("--board", default=None, help="bundled board name or board TOML file (default: the core's)")
    run.add_argument("--json", metavar="FILE", default=None, help="write the result as JSON ('-' for stdout)")
    run.add_argument("--max-instructions", type=int, default=None, metavar="N",
                     help="stop with exit code 122 after N instructions")
    run.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                     help="stop with exit code 123 after this much wall-clock time")
    run.add_argument("--semihost-dir", default=None, metavar="DIR",
                     help="let the firmware open host files inside DIR (off by default)")
    run.add_argument("--timing", default=None, metavar="PROFILE",
                     help="timing profile name or TOML file, instead of the core's (see `simmcu cores --timing`)")
    run.add_argument("--top", type=int, default=10, metavar="N", help="functions in the summary table (default 10)")
    run.add_argument("--profile-csv", metavar="FILE", default=None,
                     help="write the per-function profile as CSV ('-' for stdout)")
    run.add_argument("--folded", metavar="FILE", default=None,
                     help="write folded call stacks weighted in cycles, for flame-graph tools ('-' for stdout)")
    run.add_argument("--accel", action="append", default=[], metavar="NAME[:PARAM=VALUE,...]|FILE.toml",
                     help="attach an accelerator model (repeatable; see `simmcu accels`)")
    run.add_argument("--baseline", metavar="ELF", default=None,
                     help="also run this ELF on the same core and board without accelerators; print the speedup")
    run.add_argument("--exact-memory", action="store_true",
                     help="hook every data access: traffic by board region and wait states of the region really "
                          "accessed (slower)")
    run.add_argument("--check-timing", action="store_true",
                     help="also run the plain-Python reference timing model and compare (slow)")
    run.add_argument("--quiet", action="store_true", help="do not echo the firmware's console output")
    run.add_argument("args", nargs="*", help="command line passed to the firmware (SYS_GET_CMDLINE)")

    build = sub.add_parser("build", help="build an example or C sources into an ELF")
    build.add_argument("what", nargs="+", help="example name, or C/assembly source files")
    build.add_argument("--core", required=True, help="core to build for")
    build.add_argument("--board", default=None, help="board whose memory map the linker script uses")
    build.add_argument("-o", "--output", required=True, help="ELF file to write")
    build.add_argument("--toolchain", default="zig", choices=("zig", "gnu"),
                       help="zig: the pinned clang from PyPI (default); gnu: a GNU cross compiler on PATH")
    build.add_argument("-D", dest="defines", action="append", default=[], metavar="NAME[=VALUE]",
                       help="preprocessor definition")

    comp = sub.add_parser("compile", help="compile a .tflite model into C sources and a firmware ELF")
    comp.add_argument("model", help="quantised int8 .tflite model")
    comp.add_argument("--core", required=True, help="core to build for")
    comp.add_argument("-o", "--output", required=True, help="directory for the sources and model.elf")
    comp.add_argument("--accel", action="append", default=[], metavar="NAME",
                      help="kernels for this accelerator: conv (convolutions and fully connected layers on the "
                           "coprocessor) or cfu (its custom instructions in the CPU kernels); repeatable")
    comp.add_argument("--portable-kernels", action="store_true",
                      help="portable C kernels even where the core has the DSP extension")
    comp.add_argument("--input", metavar="FILE", default=None, help="model input (.npy or raw int8 bytes)")
    comp.add_argument("--seed", type=int, default=0, help="seed of the random model input (default 0)")
    comp.add_argument("--toolchain", default="zig", choices=("zig", "gnu"), help="compiler (default zig)")

    cores = sub.add_parser("cores", help="list the cores and their timing profiles")
    cores.add_argument("--timing", action="store_true",
                       help="also list each timing profile's options, sources and what it leaves out")
    sub.add_parser("accels", help="list the accelerator models and their parameters")
    boards = sub.add_parser("boards", help="list the bundled boards")
    boards.add_argument("--params", action="store_true", help="list every board and region parameter")
    return p


def _write(text: str, stream=None) -> None:
    """Write and flush; once the reader has gone (``| head``), drop output but keep running."""
    stream = stream or sys.stdout
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())  # no error again at exit


def _prebuilt(name: str, core: str) -> Path | None:
    from simmcu.firmware import EXAMPLES, firmware_dir

    if name not in EXAMPLES:
        return None
    path = firmware_dir() / "prebuilt" / f"{name}-{get_core(parse_core_spec(core)[0]).firmware_as}.elf"
    if not path.is_file():
        raise SimmcuError(f"example {name} is not built for {core}: {EXAMPLES[name]}")
    return path


def _run(a) -> int:
    core = a.core or "rv32imc"
    get_core(parse_core_spec(core)[0])
    check_run_limits(a.max_instructions, a.timeout)
    elf = Path(a.elf)
    outputs = [a.json, a.profile_csv, a.folded]
    human = sys.stderr if "-" in outputs else sys.stdout  # stdout is reserved for the machine-readable output
    options = dict(board=a.board, timing=a.timing, max_instructions=a.max_instructions, timeout=a.timeout,
                   semihost_dir=a.semihost_dir, args=tuple(a.args), check_timing=a.check_timing,
                   console=None if a.quiet else lambda text: _write(text, human), exact_memory=a.exact_memory,
                   accelerators=a.accel)
    if elf.suffix == ".tflite":
        from simmcu.firmware import read_input, run_model

        data = read_input(a.input) if a.input else None
        result = run_model(elf, core, input_data=data, seed=a.seed, portable=a.portable_kernels, **options)
    else:
        if not elf.exists():
            elf = _prebuilt(a.elf, core) or elf
        result = Simulator(elf, core=core, **options).run()
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
    for path, text in ((a.json, lambda: result.to_json() + "\n"), (a.profile_csv, result.functions_csv),
                       (a.folded, result.folded)):
        if path == "-":
            _write(text())
        elif path:
            try:
                Path(path).write_text(text())
            except OSError as e:
                raise SimmcuError(f"cannot write {path}: {e.strerror}") from None
    return result.exit_code


def _build(a) -> int:
    from simmcu.firmware import build

    defines = dict((d.split("=", 1) + ["1"])[:2] for d in a.defines)
    what = a.what[0] if len(a.what) == 1 else a.what
    out = build(what, a.core, a.output, board=a.board, toolchain=a.toolchain, defines=defines)
    print(f"simmcu: built {out} for {a.core}")
    return 0


def _compile(a) -> int:
    from simmcu.firmware import compile_model, read_input

    data = read_input(a.input) if a.input else None
    elf = compile_model(a.model, a.core, a.output, data, a.seed, a.toolchain, a.accel, a.portable_kernels)
    print(f"simmcu: compiled {a.model} into {Path(a.output)}/ and built {elf}")
    return 0


def _cores(a) -> int:
    for name in core_names():
        c = get_core(name)
        print(f"{name:15s} {c.isa:13s} timing {c.timing:14s} {c.description}")
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

    for name, origin in sorted(available().items()):
        cls = accelerator_class(name)
        print(f"{name}: {cls.DESCRIPTION} ({origin})")
        for row in describe(cls.all_params()):
            print("  {:20s} default {:12s} {:12s} {}".format(*row))
    return 0


def _boards(a) -> int:
    for name in bundled_boards():
        b = load_board(name)
        print(f"{name:18s} {b.arch:6s} {b.description}")
    if a.params:
        for title, params in (("board keys", BOARD_PARAMS), ("[[regions]] keys", REGION_PARAMS)):
            print(f"\n{title}:")
            for row in describe(params):
                print("  {:20s} default {:12s} {:8s} {}".format(*row))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    a = parser.parse_args(argv)
    if a.command == "run" and [a.json, a.profile_csv, a.folded].count("-") > 1:
        parser.error("only one of --json, --profile-csv and --folded can write to stdout")
    try:
        return {"run": _run, "build": _build, "compile": _compile, "cores": _cores, "accels": _accels,
                "boards": _boards}[a.command](a)
    except SimmcuError as e:
        print(f"simmcu: error: {e}", file=sys.stderr)
        return int(e.exit_code)
    except BrokenPipeError:  # a listing piped into `head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("simmcu: interrupted", file=sys.stderr)
        return 130
