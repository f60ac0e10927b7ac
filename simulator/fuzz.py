"""``python -m simmcu.fuzz``: hostile inputs through the public API, checked against the error contract.

Each case is made from (seed, index) alone, so any case can be made again (``--case``). Targets:
structure-aware mutations of the prebuilt ELFs (header, program and section headers, symbols,
attribute sections, vector tables, code, compression), of the bundled boards and timing profiles
(as TOML), of small .tflite models, firmware that makes random semihosting calls, and command-line
option values. Every case must end in a ``RunResult`` with a documented exit code or a one-line
``SimmcuError``; nothing else may escape, no case may outlast its timeout, and none may grow the
worker's peak memory by more than ``--memory-mib``. Cases run in forked worker processes, so a hang
or a crash costs one case, not the campaign; each failing input is saved under ``--out`` with what
happened and the command that repeats it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import multiprocessing
import os
import random
import resource
import shutil
import struct
import sys
import tempfile
import time
import traceback
import zlib
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

from ._errors import ExitCode, SimmcuError

#: name: weight. Loading an Arm ELF that passes the checks costs 0.4 s (decoding), a board or profile
#: case 0.02 s: the weights keep a 2,000-case batch near 2 minutes on two cores.
TARGETS = {"elf": 30, "board": 18, "profile": 18, "model": 12, "semihost": 12, "options": 10}
_REASONS = {"exit", "fault", "instruction-limit", "timeout", "unsupported", "deadlock"}
_ERROR_CODES = {int(c) for c in ExitCode} - {ExitCode.FAULT, ExitCode.INSTRUCTION_LIMIT, ExitCode.TIMEOUT,
                                             ExitCode.DEADLOCK}
_U32 = (0, 1, 2, 3, 4, 0x7F, 0x80, 0xFF, 0x100, 0xFFF, 0x1000, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x100000,
        0x02000000, 0x20000000, 0x40000000, 0x7FFFFFFF, 0x80000000, 0xE0000000, 0xE000ED00, 0xFFFFF000,
        0xFFFFFFF0, 0xFFFFFFFF)
_U16 = (0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF)
_INTS = (0, 1, -1, 2, 3, 7, 8, 255, 4096, 0x2000_0000, 0x8000_0000, 0xE000_0000, 0xE00F_F000, 0x0200_0000,
         0xFFFF_F000, 1 << 20, (1 << 20) - 1, 1 << 31, 1 << 32, (1 << 32) - 4096, 1 << 62, 1 << 63, (1 << 63) - 1,
         -(1 << 63), -10 ** 12, 10 ** 12)
_STRINGS = ("", "x", "4 KiB", "16 GiB", "4096 GiB", "0 B", "1 MiB", "-1 KiB", "lots", "flash", "sram", "mmio",
            "tcm", "rwx", "r", "w", "x", "arm", "riscv", "rv32", "thumb", "\0", "é", "../../etc")
_FLOATS = (math.nan, math.inf, -math.inf, 0.5, -1.0, 1e300)

# -- the firmware of the semihosting target --------------------------------------------------
#: Reads "SEED N" from its command line and makes N semihosting calls with random operations,
#: parameter blocks, pointers (RAM, flash, the end of RAM, MMIO, unmapped, wrapping), lengths and
#: handles; some valid, most not.
SEMIHOST_FIRMWARE = r"""
#include "simmcu.h"
static uint32_t s = 1;
static uint32_t rnd(void) { s ^= s << 13; s ^= s >> 17; s ^= s << 5; return s; }
static uint32_t buf[128];
static const uint32_t rom[32] = {1, 2, 3, 4};
static const char *const names[] = {"a.txt", "b.bin", "fifo", "dir", ":tt", ":semihosting-features",
                                    "../escape", "x\0y", "new.txt", "dir/../a.txt", "/a.txt", ""};
static uint32_t info[4];
static uint32_t last;
static uint32_t pick_ptr(void)
{
    switch (rnd() % 20) {                                /* mostly valid, so a run makes many calls */
    case 0: return (uint32_t)rom + rnd() % 64;
    case 1: return info[2] - 1 - rnd() % 80;             /* the last bytes of RAM */
    case 2: return info[2] + rnd() % 16;                 /* just past it */
    case 3: return 0;
    case 4: return 0xFFFFFFFFu - rnd() % 16;
    case 5: return rnd() % 2 ? 0x40000000u + rnd() % 256 : 0xE000E000u + rnd() % 256;   /* MMIO, PPB */
    case 6: return rnd();
    case 7: case 8: case 9: return (uint32_t)names[rnd() % (sizeof names / sizeof names[0])];
    default: return (uint32_t)buf + (rnd() % 64) * 4;
    }
}
static uint32_t pick_len(void)
{
    switch (rnd() % 12) {
    case 0: return 0;
    case 1: case 2: case 3: return rnd() % 16;
    case 4: case 5: return rnd() % 256;
    case 6: return 0xFFFFFFFFu;
    case 7: return 0x80000000u;
    case 8: return rnd();
    case 9: return 5;
    default: return 64;
    }
}
static uint32_t pick_word(void)
{
    switch (rnd() % 5) {
    case 0: return pick_ptr();
    case 1: return pick_len();
    case 2: return rnd() % 12;                           /* a handle or an open mode */
    case 3: return last;                                 /* what the previous call returned */
    default: return rnd() % 80;
    }
}
static const uint8_t ops[] = {0x01, 0x01, 0x01, 0x02, 0x03, 0x04, 0x04, 0x05, 0x05, 0x06, 0x06, 0x07, 0x08,
                              0x09, 0x0A, 0x0C, 0x0E, 0x0F, 0x10, 0x11, 0x13, 0x15, 0x16, 0x30, 0x31};
static uint32_t number(const char **p)
{
    uint32_t v = 0;
    while (**p == ' ') (*p)++;
    while (**p >= '0' && **p <= '9') v = v * 10 + (uint32_t)(*(*p)++ - '0');
    return v;
}
int main(void)
{
    static char cmd[96];
    uint32_t block[4] = {(uint32_t)cmd, sizeof cmd - 1, 0, 0};
    simmcu_semihost(0x15, block);
    const char *p = cmd;
    while (*p && *p != ' ') p++;
    s = number(&p) | 1;
    uint32_t n = number(&p);
    block[0] = (uint32_t)info;
    simmcu_semihost(0x16, block);                        /* where RAM ends */
    for (uint32_t i = 0; i < n; i++) {
        uint32_t r = rnd() % 64;
        uint32_t op = r < 56 ? ops[r % sizeof ops] : r < 62 ? rnd() % 0x40 : r == 62 ? 0x18 : 0x20;
        uint32_t args[4] = {pick_word(), pick_word(), pick_word(), pick_word()};
        if (op == 0x01 && rnd() % 2) {                   /* a plausible open */
            const char *name = names[rnd() % (sizeof names / sizeof names[0])];
            args[0] = (uint32_t)name; args[1] = rnd() % 13; args[2] = strlen(name);
        }
        uint32_t arg = rnd() % 16 == 0 ? pick_ptr() : (uint32_t)args;
        if (op == 0x03 || op == 0x04 || op == 0x18) arg = op == 0x18 ? pick_word() : pick_ptr();
        last = (uint32_t)simmcu_semihost((long)op, (const void *)arg);
    }
    return 0;
}
"""


# -- small helpers ---------------------------------------------------------------------------
def _u32(rng: random.Random, old: int | None = None) -> int:
    r = rng.random()
    if old is not None and r < 0.3:
        return (old + rng.choice((-4, -2, -1, 1, 2, 4, 0x1000, -0x1000))) & 0xFFFFFFFF
    return rng.choice(_U32) if r < 0.8 else rng.getrandbits(32)


def _value(rng: random.Random):
    """A TOML value of any type, biased to the edges."""
    r = rng.random()
    if r < 0.55:
        return rng.choice(_INTS) if rng.random() < 0.8 else rng.randint(-5, 1 << 34)
    if r < 0.75:
        return rng.choice(_STRINGS)
    if r < 0.82:
        return rng.choice(_FLOATS)
    if r < 0.9:
        return rng.random() < 0.5
    if r < 0.95:
        return [rng.choice(_INTS)]
    return {"k": rng.choice(_INTS)}


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"


def to_toml(d: dict) -> str:
    """A minimal TOML writer for what boards and profiles hold: scalars, tables, arrays of tables."""
    def is_tables(v):
        return isinstance(v, list) and v and all(isinstance(x, dict) for x in v)

    lines = [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in d.items()
             if not isinstance(v, dict) and not is_tables(v)]
    for k, v in d.items():
        if isinstance(v, dict):
            lines.append(f"[{json.dumps(k)}]")
            lines += [f"{json.dumps(kk)} = {_toml_value(vv)}" for kk, vv in v.items()]
        elif is_tables(v):
            for t in v:
                lines.append(f"[[{json.dumps(k)}]]")
                lines += [f"{json.dumps(kk)} = {_toml_value(vv)}" for kk, vv in t.items()]
    return "\n".join(lines) + "\n"


def _text_mutation(rng: random.Random, text: bytes) -> bytes:
    """A byte-level change of a text file: invalid UTF-8, a cut, a stray character."""
    data = bytearray(text)
    kind = rng.randrange(3)
    pos = rng.randrange(len(data) + 1)
    if kind == 0:
        data[pos:pos] = rng.choice((b"\xff", b"\xc3", b"\x00", b"\xed\xa0\x80"))
    elif kind == 1:
        del data[pos:]
    else:
        data[pos:pos] = bytes([rng.choice(b"=[]\"'\n#{},.")])
    return bytes(data)


# -- ELF mutation ----------------------------------------------------------------------------
_EHDR = {"e_type": (16, "H"), "e_machine": (18, "H"), "e_version": (20, "I"), "e_entry": (24, "I"),
         "e_phoff": (28, "I"), "e_shoff": (32, "I"), "e_flags": (36, "I"), "e_ehsize": (40, "H"),
         "e_phentsize": (42, "H"), "e_phnum": (44, "H"), "e_shentsize": (46, "H"), "e_shnum": (48, "H"),
         "e_shstrndx": (50, "H")}
_PHDR = ("p_type", "p_offset", "p_vaddr", "p_paddr", "p_filesz", "p_memsz", "p_flags", "p_align")
_SHDR = ("sh_name", "sh_type", "sh_flags", "sh_addr", "sh_offset", "sh_size", "sh_link", "sh_info",
         "sh_addralign", "sh_entsize")
_SH_TYPES = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 14, 0x6FFFFFF6, 0x70000001, 0x70000003, 0xFFFFFFFF)


class _Elf:
    """The headers of a (valid) 32-bit little-endian ELF, read with struct: where its fields are."""

    def __init__(self, data: bytearray):
        self.data = data
        self.phoff, self.shoff = struct.unpack_from("<II", data, 28)
        self.phnum = struct.unpack_from("<H", data, 44)[0]
        self.shnum, shstrndx = struct.unpack_from("<HH", data, 48)
        names_off = self.sh(shstrndx, "sh_offset")
        self.names = {}
        for i in range(self.shnum):
            start = names_off + self.sh(i, "sh_name")
            self.names[data[start:data.index(0, start)].decode()] = i

    def sh_at(self, i: int, name: str) -> int:
        return self.shoff + 40 * i + 4 * _SHDR.index(name)

    def sh(self, i: int, name: str) -> int:
        return struct.unpack_from("<I", self.data, self.sh_at(i, name))[0]

    def ph_at(self, i: int, name: str) -> int:
        return self.phoff + 32 * i + 4 * _PHDR.index(name)

    def sections_with(self, flag: int) -> list[int]:
        return [i for i in range(1, self.shnum) if self.sh(i, "sh_flags") & flag]

    def put(self, at: int, value: int, fmt: str = "I") -> None:
        if 0 <= at <= len(self.data) - struct.calcsize(fmt):
            struct.pack_into("<" + fmt, self.data, at, value & (0xFFFF if fmt == "H" else 0xFFFFFFFF))


def mutate_elf(rng: random.Random, original: bytes) -> bytes:
    """One to three structure-aware mutations of a valid ELF (each on the result of the last)."""
    data = bytearray(original)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        try:
            elf = _Elf(data)
        except (struct.error, ValueError, IndexError, UnicodeDecodeError):
            elf = None  # an earlier mutation broke the headers: fall back to bytes
        kind = rng.choice(("ehdr", "phdr", "phdr", "shdr", "shdr", "symbol", "attributes", "vectors", "code",
                           "bytes", "second-exec", "compress", "retype", "cut")) if elf else "bytes"
        if kind == "ehdr":
            name = rng.choice(list(_EHDR))
            at, fmt = _EHDR[name]
            elf.put(at, rng.choice(_U16) if fmt == "H" else _u32(rng), fmt)
        elif kind == "phdr" and elf.phnum:
            i, name = rng.randrange(elf.phnum), rng.choice(_PHDR)
            at = elf.ph_at(i, name)
            elf.put(at, _u32(rng, struct.unpack_from("<I", data, at)[0] if at + 4 <= len(data) else None))
        elif kind == "shdr" and elf.shnum:
            i, name = rng.randrange(elf.shnum), rng.choice(_SHDR)
            elf.put(elf.sh_at(i, name), rng.choice(_SH_TYPES) if name == "sh_type" else _u32(rng, elf.sh(i, name)))
        elif kind == "symbol" and ".symtab" in elf.names:
            i = elf.names[".symtab"]
            count = elf.sh(i, "sh_size") // 16
            at = elf.sh(i, "sh_offset") + 16 * rng.randrange(max(1, count))
            field_at, fmt = rng.choice(((0, "I"), (4, "I"), (8, "I"), (12, "B"), (14, "H")))
            elf.put(at + field_at, rng.getrandbits(8) if fmt == "B" else rng.choice(_U16) if fmt == "H"
                    else _u32(rng), fmt)
        elif kind == "attributes":
            found = [i for i in range(elf.shnum) if elf.sh(i, "sh_type") == 0x70000003]
            if found:
                off, size = elf.sh(found[0], "sh_offset"), elf.sh(found[0], "sh_size")
                for _ in range(rng.randint(1, 6)):
                    pos = off + rng.randrange(max(1, size))
                    if pos < len(data):
                        data[pos] = rng.getrandbits(8)
        elif kind in ("vectors", "code"):
            code = elf.sections_with(4)
            if code:
                i = rng.choice(code)
                off, size = elf.sh(i, "sh_offset"), elf.sh(i, "sh_size")
                if kind == "vectors":  # the first words: Arm vector table, RISC-V start-up code
                    elf.put(off + 4 * rng.randrange(min(48, max(1, size // 4))), _u32(rng))
                else:
                    for _ in range(rng.randint(1, 20)):
                        pos = off + rng.randrange(max(1, size))
                        if pos < len(data):
                            data[pos] = rng.getrandbits(8)
        elif kind == "second-exec" and elf.shnum > 1:
            i = rng.randrange(1, elf.shnum)
            elf.put(elf.sh_at(i, "sh_type"), 1)
            elf.put(elf.sh_at(i, "sh_flags"), 6 | elf.sh(i, "sh_flags"))
            elf.put(elf.sh_at(i, "sh_addr"), rng.choice((0xFFFFF000, 0x80000000, 0x40000000, _u32(rng))))
        elif kind == "compress":
            code = elf.sections_with(4)
            if code:
                i = rng.choice(code)
                off, size = elf.sh(i, "sh_offset"), elf.sh(i, "sh_size")
                bomb = zlib.compress(bytes(min(size * 1000, 64 << 20)), 9)[:max(0, size - 12)]
                if off + 12 + len(bomb) <= len(data):
                    elf.put(elf.sh_at(i, "sh_flags"), elf.sh(i, "sh_flags") | 0x800)
                    struct.pack_into("<III", data, off, 1, rng.choice((0xFFFFFFFF, 0x40000000, size, size * 1000)), 4)
                    data[off + 12:off + 12 + len(bomb)] = bomb
        elif kind == "retype":
            names = [n for n in (".symtab", ".strtab", ".ARM.attributes", ".riscv.attributes", ".shstrtab")
                     if n in elf.names]
            if names:
                elf.put(elf.sh_at(elf.names[rng.choice(names)], "sh_type"), rng.choice(_SH_TYPES))
        elif kind == "cut":
            del data[rng.randrange(len(data)):]
        else:
            for _ in range(rng.randint(1, 20)):
                if data:
                    data[rng.randrange(len(data))] = rng.getrandbits(8)
    return bytes(data)


# -- the context every worker shares ---------------------------------------------------------
@dataclass
class Context:
    seed: int
    timeout: float
    max_instructions: int
    memory_mib: int
    elfs: list[tuple[str, str, bytes]]                    #: (name, core, bytes) of the prebuilt ELFs
    boards: list[dict]
    profiles: list[tuple[str, dict]]                      #: (isa, parsed TOML)
    models: list[bytes]
    semihost_elfs: dict[str, str] = field(default_factory=dict)  #: core -> path
    notes: list[str] = field(default_factory=list)


def make_context(seed: int, timeout: float, max_instructions: int, memory_mib: int, work: Path,
                 models_dir: Path | None = None, semihost: bool = True) -> Context:
    """Everything the cases start from: prebuilt ELFs, bundled boards and profiles, small models,
    and the semihosting firmware built with the pinned toolchain (skipped, with a note, without it)."""
    from importlib import resources

    from ._params import load_toml
    from .firmware import build, firmware_dir

    elfs = []
    for p in sorted((firmware_dir() / "prebuilt").glob("*.elf")):
        core = p.stem.split("-", 1)[1]
        elfs.append((p.name, core, p.read_bytes()))
    root = resources.files("simmcu")
    boards = []
    for name in ("generic-cortex-m", "generic-rv32"):
        with resources.as_file(root.joinpath("boards", f"{name}.toml")) as path:
            boards.append(load_toml(path, "board file"))
    profiles = []
    for entry in sorted(root.joinpath("timing").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            with resources.as_file(entry) as path:
                raw = load_toml(path, "timing profile")
                profiles.append((raw["isa"], raw))
    ctx = Context(seed, timeout, max_instructions, memory_mib, elfs, boards, profiles, _seed_models(models_dir))
    if not ctx.models:
        ctx.notes.append("no .tflite models to start from: model cases skipped")
    if semihost:
        source = work / "semihost_fuzz.c"
        source.write_text(SEMIHOST_FIRMWARE)
        try:
            for core in ("rv32imc", "cortex-m4", "cortex-m0plus"):
                ctx.semihost_elfs[core] = str(build(source, core, work / f"semihost-{core}.elf"))
        except SimmcuError as e:
            ctx.notes.append(f"semihosting firmware not built ({e}): semihost cases skipped")
            ctx.semihost_elfs.clear()
    return ctx


def _seed_models(models_dir: Path | None) -> list[bytes]:
    """Every .tflite under 1 MB in ``models_dir``; without one, from a source checkout, the test
    suite's generated models and ../shared/models (an installed simmcu has neither)."""
    if models_dir is not None:
        return [p.read_bytes() for p in sorted(models_dir.glob("*.tflite")) if p.stat().st_size < 1 << 20]
    out = []
    tests = Path(__file__).resolve().parents[1] / "tests" / "tflite_models.py"
    if tests.is_file():
        import importlib.util

        spec = importlib.util.spec_from_file_location("_simmcu_fuzz_tflite_models", tests)
        mod = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(mod)
            out += [mod.convolutions(), mod.depthwise(), mod.pooling_and_add(), mod.classifier()]
        except Exception:  # noqa: BLE001 - a checkout without the test dependencies: no generated models
            pass
    shared = Path(__file__).resolve().parents[2] / "shared" / "models"
    if shared.is_dir():
        out += [p.read_bytes() for p in sorted(shared.glob("*.tflite")) if p.stat().st_size < 1 << 20]
    return out


# -- the cases -------------------------------------------------------------------------------
@dataclass
class Case:
    index: int
    target: str
    files: dict[str, bytes]          #: file name -> contents, written into the case's directory
    call: tuple                      #: what to run: (kind, arguments...)


def pick_target(ctx: Context, rng: random.Random) -> str:
    available = {t: w for t, w in TARGETS.items()
                 if (t != "model" or ctx.models) and (t != "semihost" or ctx.semihost_elfs)}
    return rng.choices(list(available), weights=list(available.values()))[0]


def make_case(ctx: Context, index: int) -> Case:
    """Case ``index`` of the campaign seeded ``ctx.seed``; the same on every machine and run."""
    rng = random.Random(f"{ctx.seed}/{index}")
    target = pick_target(ctx, rng)
    return Case(index, target, *globals()[f"_make_{target}"](ctx, rng))


def _same_arch_core(rng: random.Random, arch: str) -> str:
    return rng.choice(("rv32imc", "picorv32", "ibex")) if arch == "riscv" else \
        rng.choice(("cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33"))


def _make_elf(ctx: Context, rng: random.Random):
    name, core, data = rng.choice(ctx.elfs)
    if rng.random() < 0.05:  # another core of the family, or the other family
        core = rng.choice(("rv32imc", "cortex-m0plus", "cortex-m4", "cortex-m7"))
    return {"fw.elf": mutate_elf(rng, data)}, ("sim", "fw.elf", core, None, None, name)


def _mutate_table(rng: random.Random, raw: dict, tables: list[str]) -> dict:
    """Change, drop or add a key of ``raw`` or of one of its ``tables`` (a dict or a list of dicts)."""
    target = raw
    choice = rng.random()
    if choice < 0.6 and tables:
        key = rng.choice(tables)
        sub = raw.get(key)
        if isinstance(sub, list) and sub and isinstance(sub[0], dict):
            if rng.random() < 0.15:
                action = rng.randrange(4)
                if action == 0:
                    sub.append(dict(rng.choice(sub)))
                elif action == 1 and len(sub) > 1:
                    sub.pop(rng.randrange(len(sub)))
                elif action == 2:
                    sub.append({"name": "extra", "base": rng.choice(_INTS), "size": rng.choice(("4 KiB", 4096, 1 << 20)),
                                "kind": rng.choice(("sram", "flash", "mmio", "tcm"))})
                else:
                    raw[key] = rng.choice(([], {}, 3, [1, 2], "regions"))
                return raw
            target = rng.choice(sub)
        elif isinstance(sub, dict):
            target = sub
        else:
            raw[key] = sub = {}
            target = sub
    keys = list(target)
    r = rng.random()
    if r < 0.75 and keys:
        key = rng.choice(keys)
        old = target[key]
        if isinstance(old, dict) and old and rng.random() < 0.6:
            inner = rng.choice(list(old))
            old[inner] = _value(rng) if not isinstance(old[inner], dict) else rng.choice((_value(rng), {}))
        else:
            target[key] = _value(rng)
    elif r < 0.88 and keys:
        del target[rng.choice(keys)]
    else:
        target[rng.choice(("speed", "clint_base", "icache_bytes", "perms", "when_true", "x"))] = _value(rng)
    return raw


def _make_board(ctx: Context, rng: random.Random):
    raw = json.loads(json.dumps(rng.choice(ctx.boards)))  # a deep copy
    for _ in range(rng.randint(1, 3)):
        raw = _mutate_table(rng, raw, ["regions"])
    text = to_toml(raw).encode()
    if rng.random() < 0.1:
        text = _text_mutation(rng, text)
    arch = raw.get("arch") if raw.get("arch") in ("arm", "riscv") else rng.choice(("arm", "riscv"))
    core = _same_arch_core(rng, arch)
    hello = next(d for n, c, d in ctx.elfs if n == f"hello-{'rv32imc' if arch == 'riscv' else 'cortex-m4'}.elf")
    return {"board.toml": text, "fw.elf": hello}, ("sim", "fw.elf", core, "board.toml", None, "hello")


def _make_profile(ctx: Context, rng: random.Random):
    isa, base = rng.choice(ctx.profiles)
    raw = json.loads(json.dumps(base))
    for _ in range(rng.randint(1, 3)):
        raw = _mutate_table(rng, raw, ["cycles", "hazards", "cache", "taken", "per_register", "latency", "options"])
    text = to_toml(raw).encode()
    if rng.random() < 0.1:
        text = _text_mutation(rng, text)
    arch = "riscv" if isa == "rv32" else "arm"
    core = _same_arch_core(rng, arch)
    options = raw.get("options") if isinstance(raw.get("options"), dict) else {}
    if options and rng.random() < 0.5:
        core += ":" + ",".join(f"{name}={rng.choice(('true', 'false'))}" for name in list(options)[:2])
    name = rng.choice(("hello", "conv2d"))
    elf = next(d for n, c, d in ctx.elfs if n == f"{name}-{'rv32imc' if arch == 'riscv' else 'cortex-m7'}.elf")
    return {"timing.toml": text, "fw.elf": elf}, ("sim", "fw.elf", core, None, "timing.toml", name)


def _make_model(ctx: Context, rng: random.Random):
    data = bytearray(rng.choice(ctx.models))
    for _ in range(rng.choice((1, 1, 2, 3))):
        kind = rng.randrange(4)
        if kind == 0:
            for _ in range(rng.randint(1, 20)):
                data[rng.randrange(len(data))] = rng.getrandbits(8)
        elif kind == 1:
            at = rng.randrange(0, max(1, len(data) - 4)) & ~3
            struct.pack_into("<I", data, at, _u32(rng))
        elif kind == 2:
            del data[rng.randrange(len(data)):]
        else:
            data += rng.randbytes(rng.randint(1, 64))
        if not data:
            break
    core = rng.choice(("rv32imc", "cortex-m4", "cortex-m0plus"))
    seed = rng.choice((0, 1, 7, -1, 1 << 70))
    accels = rng.choice(((), ("conv",), ("cfu",)))
    return {"model.tflite": bytes(data)}, ("model", "model.tflite", core, seed, accels)


def _make_semihost(ctx: Context, rng: random.Random):
    core = rng.choice(("rv32imc", "rv32imc", "rv32imc", "rv32imc", "cortex-m4", "cortex-m0plus"))  # Arm decodes 8x slower
    sandbox = rng.random() < 0.8
    stdin = rng.randbytes(rng.choice((0, 3, 100, 5000)))
    return {}, ("semihost", core, rng.getrandbits(31), rng.randint(1, 60), sandbox, stdin)


def _make_options(ctx: Context, rng: random.Random):
    args = ["run", rng.choice(("hello", "fault", "conv2d")), "--quiet", "--core",
            rng.choice(("rv32imc", "cortex-m4", "cortex-m0plus", "picorv32:barrel_shifter=false", "z80",
                        "cortex-m7:icache=true", "cortex-m4:nosuch=true"))]
    values = {"--max-instructions": ("1", "1000", "0", "-5", str(1 << 62), str(1 << 63), str(1 << 64), "abc", "1e3"),
              "--timeout": ("0.5", "nan", "inf", "-inf", "-1", "0", "1e300", "1e-9", "x"),
              "--seed": ("0", "-1", str(1 << 70)), "--top": ("0", "-3", "5", "100000")}
    for opt in rng.sample(list(values), rng.randint(1, 3)):
        args += [opt, rng.choice(values[opt])]
    if "--max-instructions" not in args:
        args += ["--max-instructions", str(ctx.max_instructions)]
    if "--timeout" not in args:
        args += ["--timeout", str(ctx.timeout)]
    return {}, ("cli", args)


# -- running a case --------------------------------------------------------------------------
@dataclass
class Outcome:
    index: int
    target: str
    ok: bool
    what: str                  #: the result, the error line, or what broke the contract
    wall: float = 0.0
    memory_mib: float = 0.0


def _sandbox(path: Path) -> None:
    path.mkdir()
    (path / "a.txt").write_bytes(b"hello semihosting\n")
    (path / "b.bin").write_bytes(bytes(range(256)) * 8)
    (path / "dir").mkdir()
    os.mkfifo(path / "fifo")


def _check_result(r) -> str | None:
    """What is wrong with a RunResult, or None."""
    if r.exit_reason not in _REASONS:
        return f"exit_reason {r.exit_reason!r} is not documented"
    if not (0 <= r.exit_code <= 255):
        return f"exit code {r.exit_code} is not documented"
    if r.exit_reason != "exit" and r.exit_code not in (120, 121, 122, 123, 124, 125):
        return f"{r.exit_reason} ended with exit code {r.exit_code}"
    if "\n" in r.message:
        return f"message is not one line: {r.message!r}"
    return None


def run_case(ctx: Context, case: Case, work: Path) -> tuple[bool, str]:
    """Run ``case`` in ``work`` (its files written there); (kept the contract, what happened)."""
    from . import Simulator

    for name, data in case.files.items():
        (work / name).write_bytes(data)
    kind, *a = case.call
    try:
        if kind == "sim":
            elf, core, board, timing, _ = a
            r = Simulator(work / elf, core=core, board=board and work / board, timing=timing and work / timing,
                          max_instructions=ctx.max_instructions, timeout=ctx.timeout).run()
        elif kind == "semihost":
            core, seed, n, sandbox, stdin = a
            box = None
            if sandbox:
                box = work / "sandbox"
                _sandbox(box)
            r = Simulator(ctx.semihost_elfs[core], core=core, args=(str(seed), str(n)), semihost_dir=box,
                          stdin=stdin, max_instructions=ctx.max_instructions, timeout=ctx.timeout).run()
        elif kind == "model":
            return _run_model(work / a[0], *a[1:])
        else:
            return _run_cli(a[0])
    except SimmcuError as e:
        return _check_error(e)
    problem = _check_result(r)
    return problem is None, problem or f"{r.exit_code} {r.exit_reason}: {r.message}"


def _check_error(e: SimmcuError) -> tuple[bool, str]:
    text = str(e)
    if int(e.exit_code) not in _ERROR_CODES:
        return False, f"{type(e).__name__} with undocumented exit code {int(e.exit_code)}: {text}"
    if "\n" in text or not text:
        return False, f"{type(e).__name__} message is not one line: {text!r}"
    return True, f"error {int(e.exit_code)}: {text}"


def _run_model(path: Path, core: str, seed: int, accels) -> tuple[bool, str]:
    """Load, check against the core's board, make the input and generate the C sources: everything
    compiling a model does before the compiler runs (building is too slow to fuzz)."""
    from ._cores import get_core
    from .firmware import load_model
    from .firmware._compile import _check_fits, generate, make_units
    from .firmware._io import random_inputs

    try:
        model = load_model(path)
        units = make_units(accels)
        for unit in units:
            unit.check_core(get_core(core))
        _check_fits(model, path, core)
        sources, _ = generate(model, random_inputs(model, seed), units)
    except SimmcuError as e:
        return _check_error(e)
    return True, f"generated {sum(map(len, sources.values()))} bytes of C"


def _run_cli(args: list[str]) -> tuple[bool, str]:
    from .cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(args)
        except SystemExit as e:  # argparse's usage errors
            rc = e.code
    text = err.getvalue()
    if "Traceback" in text:
        return False, f"traceback on stderr: {text[-2000:]}"
    if rc in (ExitCode.USAGE, ExitCode.BAD_INPUT) and len(text.strip().splitlines()) != 1:
        return False, f"exit code {rc} with {len(text.strip().splitlines())} lines on stderr: {text!r}"
    if not isinstance(rc, int) or not 0 <= rc <= 255:
        return False, f"exit code {rc!r}"
    return True, f"exit {rc}: {text.strip()[:200]}"


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker(ctx: Context, conn, scratch: str) -> None:
    """Run the cases the parent sends, one at a time, each in a fresh directory."""
    while True:
        index = conn.recv()
        if index is None:
            return
        work = Path(tempfile.mkdtemp(prefix=f"case{index}-", dir=scratch))
        before, started = _peak_mib(), time.monotonic()
        target = "?"
        try:
            case = make_case(ctx, index)
            target = case.target
            ok, what = run_case(ctx, case, work)
        except BaseException:  # noqa: BLE001 - anything else breaks the contract: report it whole
            ok, what = False, "exception: " + traceback.format_exc()
        wall, grew = time.monotonic() - started, _peak_mib() - before
        shutil.rmtree(work, ignore_errors=True)
        if ok and wall > ctx.timeout + _MARGIN:
            ok, what = False, f"took {wall:.1f} s (timeout {ctx.timeout} s): {what}"
        if ok and grew > ctx.memory_mib:
            ok, what = False, f"peak memory grew by {grew:.0f} MiB: {what}"
        conn.send(Outcome(index, target, ok, what, wall, grew))


_MARGIN = 5.0  #: seconds a case may take beyond its timeout (loading, the last block, the report)


@dataclass
class Report:
    cases: int
    seconds: float
    failures: list[Outcome]
    by_target: dict[str, list[float]]   #: target -> [cases, worker seconds]
    notes: list[str]
    retried: list[int]                  #: cases that outlasted the timeout once and ran again

    def summary(self) -> str:
        lines = [f"simmcu.fuzz: {self.cases} cases in {self.seconds:.1f} s, {len(self.failures)} failing "
                 f"({', '.join(f'{t} {n:.0f} in {s:.0f} s' for t, (n, s) in sorted(self.by_target.items()))})"]
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"  case {i} outlasted its timeout once and ran again" for i in self.retried]
        lines += [f"  case {f.index} ({f.target}): {f.what.strip().splitlines()[-1][:300]}" for f in self.failures]
        return "\n".join(lines)


def campaign(cases: int, seed: int, *, out: Path | None = None, jobs: int = 2, timeout: float = 10.0,
             max_instructions: int = 200_000, memory_mib: int = 1024, first: int = 0,
             models_dir: Path | None = None, semihost: bool = True) -> Report:
    """Run cases ``first`` .. ``first + cases - 1`` of the campaign ``seed`` on ``jobs`` workers."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="simmcu-fuzz-") as scratch:
        ctx = make_context(seed, timeout, max_instructions, memory_mib, Path(scratch), models_dir, semihost)
        _warm_up(ctx)
        mp = multiprocessing.get_context("fork")  # workers inherit the imported, compiled simulator
        todo = list(range(first, first + cases))[::-1]
        workers: dict = {}   # connection -> (process, index, started)
        failures, by_target, retried = [], {}, []

        def spawn():
            parent, child = mp.Pipe()
            p = mp.Process(target=_worker, args=(ctx, child, scratch), daemon=True)
            p.start()
            child.close()
            return parent, p

        idle = [spawn() for _ in range(max(1, jobs))]
        while todo or workers:
            while idle and todo:
                conn, p = idle.pop()
                index = todo.pop()
                conn.send(index)
                workers[conn] = (p, index, time.monotonic())
            ready = wait(list(workers), timeout=0.5)
            for conn in ready:
                p, index, _ = workers.pop(conn)
                try:
                    outcome = conn.recv()
                except EOFError:  # the worker died: a crash of the interpreter or the OOM killer
                    outcome = Outcome(index, make_case(ctx, index).target, False,
                                      f"worker died (exit code {p.join(1) or p.exitcode})")
                    conn = None
                _count(by_target, outcome)
                if not outcome.ok:
                    failures.append(outcome)
                    _save(ctx, out, outcome)
                idle.append((conn, p) if conn is not None else spawn())
            now = time.monotonic()
            for conn, (p, index, since) in list(workers.items()):
                if now - since > timeout + _MARGIN * 2:
                    p.kill()
                    p.join()
                    del workers[conn]
                    idle.append(spawn())
                    if index not in retried:  # once more in a fresh worker: a loaded host is not a hang
                        retried.append(index)
                        todo.append(index)
                        continue
                    outcome = Outcome(index, make_case(ctx, index).target, False,
                                      f"hung: killed after {now - since:.1f} s (timeout {timeout} s)", now - since)
                    _count(by_target, outcome)
                    failures.append(outcome)
                    _save(ctx, out, outcome)
        for conn, p in idle:
            conn.send(None)
            p.join(5)
    return Report(cases, time.monotonic() - started, sorted(failures, key=lambda f: f.index), by_target, ctx.notes,
                  retried)


def _count(by_target: dict, outcome: Outcome) -> None:
    n, s = by_target.get(outcome.target, (0, 0.0))
    by_target[outcome.target] = [n + 1, s + outcome.wall]


def _warm_up(ctx: Context) -> None:
    """One run before forking, so every worker inherits the compiled native hooks."""
    from . import Simulator
    from .firmware import firmware_dir

    for core in ("rv32imc", "cortex-m4"):
        Simulator(firmware_dir() / "prebuilt" / f"hello-{core}.elf", core=core, max_instructions=1000).run()


def _save(ctx: Context, out: Path | None, outcome: Outcome) -> None:
    """The failing case's input files, what happened, and how to run it again, under ``out``."""
    if out is None:
        return
    case = make_case(ctx, outcome.index)
    folder = out / f"{outcome.target}-seed{ctx.seed}-case{outcome.index}"
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in case.files.items():
        (folder / name).write_bytes(data)
    (folder / "outcome.txt").write_text(
        f"{outcome.what}\n\ncall: {case.call!r}\nrepeat: python -m simmcu.fuzz --seed {ctx.seed} --case {outcome.index}"
        f" --timeout {ctx.timeout} --max-instructions {ctx.max_instructions}\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m simmcu.fuzz", description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", type=int, default=1000, help="how many cases (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="campaign seed (default 0)")
    p.add_argument("--first", type=int, default=0, help="index of the first case (default 0)")
    p.add_argument("--case", type=int, default=None, help="run this one case in this process and print it")
    p.add_argument("--out", type=Path, default=None, help="save each failing input here")
    p.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--timeout", type=float, default=10.0, help="per-case wall-clock limit in seconds (default 10)")
    p.add_argument("--max-instructions", type=int, default=200_000, help="per-case instruction limit")
    p.add_argument("--memory-mib", type=int, default=1024, help="per-case peak memory growth allowed (MiB)")
    p.add_argument("--models", type=Path, default=None,
                   help="a directory of .tflite files (< 1 MB) to start from, instead of the checkout's")
    a = p.parse_args(argv)
    if a.case is not None:
        with tempfile.TemporaryDirectory(prefix="simmcu-fuzz-") as scratch:
            ctx = make_context(a.seed, a.timeout, a.max_instructions, a.memory_mib, Path(scratch), a.models)
            case = make_case(ctx, a.case)
            print(f"case {a.case}: {case.target} {case.call!r}"[:500])
            work = Path(scratch) / "case"
            work.mkdir()
            ok, what = run_case(ctx, case, work)
            print(("ok: " if ok else "FAIL: ") + what)
            return 0 if ok else 1
    report = campaign(a.cases, a.seed, out=a.out, jobs=a.jobs, timeout=a.timeout, max_instructions=a.max_instructions,
                      memory_mib=a.memory_mib, first=a.first, models_dir=a.models)
    print(report.summary())
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
