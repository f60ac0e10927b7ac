"""Build firmware ELFs for a core and board with a pinned compiler.

The default toolchain is the ``ziglang`` package from PyPI (clang + lld for
riscv32 and thumb, compiler-rt included), so a fresh machine builds firmware
with no system packages. ``toolchain="gnu"`` uses the GNU cross compiler named
in the core table when it is on PATH.

Builds keep DWARF debug information (line tables for ``--profile-lines``, ``annotate`` and
debuggers) and are deterministic: sources are compiled by relative path inside a scratch
directory, and prefix maps rewrite the host directories the DWARF would name (the scratch
directory becomes ``.``, the compiler's own headers ``zig/`` or ``gnu/``), so the same sources
give the same bytes anywhere. The runtime library's (compiler-rt, libgcc) debug sections are
discarded by the linker script. ``strip=True`` removes all debug sections, leaving code, data
and the symbol table; the code is the same either way.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Callable

from simmcu._board import Board, load_board
from simmcu._cores import Core, get_core
from simmcu._errors import ConfigError, ToolchainError

from . import _examples

TOOLCHAINS = ("zig", "gnu")
OPT_LEVELS = ("0", "1", "2", "3", "s", "z")
COMMON_FLAGS = ("-g", "-std=gnu11", "-ffreestanding", "-fno-common", "-ffunction-sections",
                "-fdata-sections", "-fno-unwind-tables", "-fno-asynchronous-unwind-tables", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror=implicit-function-declaration")
RUNTIME = ("string.c", "runtime.c", "printf.c")  # memcpy and friends, which kernels call, first


def firmware_dir() -> Path:
    return Path(str(resources.files("simmcu.firmware")))


def build(what: str | Path | list, core: str, out: str | Path, *, board: str | Path | None = None,
          toolchain: str = "zig", defines: dict[str, str] | None = None, include_dirs=(), optimize: str = "2",
          cflags: str | list[str] = (), strip: bool = False) -> Path:
    """Build an example (by name) or C/assembly sources into ``out``; return its path.

    ``include_dirs`` are searched after the sources' own directories; ``optimize`` is the
    -O level (0, 1, 2, 3, s, z); ``cflags`` are extra compiler and linker flags (a string
    is split like a shell would); ``strip`` drops the debug information.
    """
    c = get_core(core)
    b = load_board(board if board is not None else c.board)
    if b.arch != c.arch:
        raise ConfigError(f"board {b.name} is for {b.arch} cores; {c.name} is {c.arch}")
    if toolchain not in TOOLCHAINS:
        raise ConfigError(f"unknown toolchain {toolchain!r} (valid: {', '.join(TOOLCHAINS)})")
    if str(optimize) not in OPT_LEVELS:
        raise ConfigError(f"unknown optimisation level {optimize!r} (valid: {', '.join(OPT_LEVELS)})")
    dirs: dict[str, str] = {}
    flags = [f"-O{optimize}", *_include_flags(include_dirs, dirs),
             *(shlex.split(cflags) if isinstance(cflags, str) else cflags)]
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="simmcu-build-") as tmp:
        work = Path(tmp)
        sources, origins = _stage(what, c, b, work, defines or {})
        (work / "link.ld").write_text(_linker_script(c, b))
        cmd = _command(toolchain, c, sources, [*_prefix_maps(toolchain, c, work), *flags])
        _run(cmd, work, _user_paths(work, origins, dirs))
        data = (work / "firmware.elf").read_bytes()
    if strip:
        data = strip_debug(data)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return out


def _prefix_maps(toolchain: str, core: Core, work: Path) -> list[str]:
    """Prefix maps for the directories a build names that differ between hosts: the scratch
    directory (the compilation directory in the DWARF) and the compiler's installation (its
    headers). The user's include directories are mapped by ``_include_flags``."""
    if toolchain == "zig":
        spec = importlib.util.find_spec("ziglang")
        install = Path(spec.submodule_search_locations[0]) if spec and spec.submodule_search_locations else None
        name = "zig"
    else:
        found = shutil.which(core.gnu_cc) if core.gnu_cc else None
        install = Path(found).resolve().parent.parent if found else None
        name = "gnu"
    maps = [f"-ffile-prefix-map={d}=." for d in dict.fromkeys((str(work), str(work.resolve())))]
    if install is not None:
        maps.insert(0, f"-ffile-prefix-map={install}={name}")
    return maps


def _include_flags(dirs, resolved: dict[str, str]) -> list[str]:
    """-I with absolute paths, as builds run in a scratch directory, each mapped back to the
    spelling the user gave so that ``__FILE__`` in a header does not carry the host's
    directories into the ELF; ``resolved`` collects absolute path -> spelling."""
    flags = []
    for d in dict.fromkeys(str(d) for d in dirs):
        path = Path(d).resolve()
        if not path.is_dir():
            raise ConfigError(f"include directory {d} does not exist")
        resolved.setdefault(str(path), d)
        flags += ["-I", str(path), f"-ffile-prefix-map={path}={d}"]
    return flags


def _stage(what, core: Core, board: Board, work: Path, defines: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """Copy runtime, start-up and user sources (and the headers beside them) into ``work``; return
    their relative names and, for each user file copied, the path it came from (for messages)."""
    fw = firmware_dir()
    for header in (fw / "include").iterdir():
        shutil.copy(header, work / header.name)
    names = list(RUNTIME)
    startup = "startup_rv32.S" if core.arch == "riscv" else "startup_cortexm.c"
    for name in (*RUNTIME, startup):
        shutil.copy(fw / "runtime" / name, work / name)
    names.append(startup)
    origins: dict[str, str] = {}
    if isinstance(what, (str, Path)) and str(what) in _examples.EXAMPLES:
        user = _examples.stage(str(what), core, board, work)
    else:
        files = [Path(p) for p in ([what] if isinstance(what, (str, Path)) else what)]
        user = []
        for f in files:
            if not f.is_file():
                raise ConfigError(f"no source file or example named {str(f)!r} "
                                  f"(examples: {', '.join(_examples.EXAMPLES)})")
            if f.suffix not in (".c", ".S", ".s", ".h"):
                raise ConfigError(f"{f} is not a C or assembly source")
            if f.name in origins:
                raise ConfigError(f"{f} and {origins[f.name]} have the same name; builds need distinct names")
            shutil.copy(f, work / f.name)
            origins[f.name] = str(f)
            if f.suffix != ".h":
                user.append(f.name)
        for header in sorted({h for f in files for h in f.parent.glob("*.h")}):
            if not (work / header.name).exists():  # headers beside the sources (a driver), unless staged already
                shutil.copy(header, work / header.name)
                origins[header.name] = str(header)
    defs = {"SIMMCU_CORE": f'"{core.name}"', **defines}
    if core.arch == "riscv":
        defs.setdefault("SIMMCU_CLINT_BASE", f"{board.clint_base:#x}u")
    (work / "simmcu_build.h").write_text("".join(f"#define {k} {v}\n" for k, v in sorted(defs.items())))
    return user + names, origins


def _linker_script(core: Core, board: Board) -> str:
    text = (firmware_dir() / "link" / "mcu.ld").read_text()
    code, data = board.code, board.data
    values = {"ENTRY": "_start" if core.arch == "riscv" else "Reset_Handler",
              "CODE_BASE": f"{code.base:#x}", "CODE_SIZE": f"{code.size:#x}",
              "DATA_BASE": f"{data.base:#x}", "DATA_SIZE": f"{data.size:#x}",
              "STACK_BYTES": f"{board.stack_bytes:#x}"}
    for k, v in values.items():
        text = text.replace(f"@{k}@", v)
    return text


def _command(toolchain: str, core: Core, sources: list[str], extra: list[str]) -> list[str]:
    flags = [*COMMON_FLAGS, "-include", "simmcu_build.h", "-I.", *extra, "-T", "link.ld", "-Wl,--gc-sections",
             "-Wl,-z,max-page-size=16", "-o", "firmware.elf", *sources]
    if toolchain == "zig":
        if importlib.util.find_spec("ziglang") is None:
            raise ToolchainError("the bundled compiler is not installed: pip install 'simmcu[build]' "
                                 "(or use --toolchain gnu with a cross compiler on PATH)")
        return [sys.executable, "-m", "ziglang", "cc", "-target", core.zig_target, f"-mcpu={core.zig_cpu}", *flags]
    if not core.gnu_cc or shutil.which(core.gnu_cc) is None:
        raise ToolchainError(f"GNU toolchain {core.gnu_cc or '(none)'} for {core.name} is not on PATH")
    return [core.gnu_cc, *core.gnu_flags, "-nostdlib", "-nostartfiles", *flags, "-lgcc"]


#: A compiler diagnostic: file:line[:column]: [fatal ]error: message (clang and gcc).
_DIAGNOSTIC = re.compile(r"^(?P<file>[^\s:][^:]*)(?=:\d+:(?:\d+:)? (?:fatal )?error: )")
#: lld's "ld.lld: error: undefined symbol: f", then ">>> referenced by main.c:3".
_LLD = re.compile(r"^(?:error: )?ld\.lld: (?:error: )?(?P<message>.+)")
_REFERENCED = re.compile(r"^>>> referenced by (?P<file>.+):(?P<line>\d+)$")


def _run(cmd: list[str], cwd: Path, user_path: Callable[[str], str]) -> None:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "simmcu" / "zig"
    env = {**os.environ, "ZIG_GLOBAL_CACHE_DIR": str(cache), "ZIG_LOCAL_CACHE_DIR": str(cache)}
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    except OSError as e:
        raise ToolchainError(f"cannot run {cmd[0]}: {e.strerror}") from None
    if proc.returncode != 0:
        raise ToolchainError(_diagnostic(proc.stderr + proc.stdout, user_path))


def _diagnostic(output: str, user_path: Callable[[str], str]) -> str:
    """The first error as one line, naming the user's files rather than their scratch copies."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    for i, ln in enumerate(lines):
        m = _DIAGNOSTIC.match(ln)
        if m:
            return f"compiler failed: {user_path(m['file'])}{ln[m.end():]}"
        m = _LLD.match(ln)
        if m:
            ref = _REFERENCED.match(lines[i + 1]) if i + 1 < len(lines) else None
            where = f" (referenced by {user_path(ref['file'])}:{ref['line']})" if ref else ""
            return f"linker failed: {m['message']}{where}"
        if "undefined reference" in ln:  # GNU ld: "main.c:(.text+0x4): undefined reference to `f'"
            return f"linker failed: {ln}"
    first = next((ln for ln in lines if "error" in ln.lower()), lines[0] if lines else "no output")
    return f"compiler failed: {first}"


def _user_paths(work: Path, origins: dict[str, str], dirs: dict[str, str]) -> Callable[[str], str]:
    """Map a path in a diagnostic back to the user's spelling: a scratch copy to the file it
    was copied from, a resolved include or source directory to the directory as given."""

    def user_path(name: str) -> str:
        name = name.removeprefix(f"{work}/").removeprefix("./")
        if name in origins:
            return origins[name]
        for resolved, given in dirs.items():
            if name.startswith(resolved + "/"):
                return str(Path(given) / name[len(resolved) + 1:])
        return name

    return user_path


def strip_debug(elf: bytes) -> bytes:
    """Drop the non-allocated ``.debug*`` sections of an ELF32 little-endian file.

    zig/lld keep the symbol table only when linking with -g, and debug info
    embeds host paths; this keeps symbols and makes the bytes host-independent.
    """
    (shoff,) = struct.unpack_from("<I", elf, 0x20)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x2E)
    headers = [list(struct.unpack_from("<10I", elf, shoff + i * shentsize)) for i in range(shnum)]
    strtab_off = headers[shstrndx][4]

    def name(h):
        end = elf.index(b"\0", strtab_off + h[0])
        return elf[strtab_off + h[0]:end].decode()

    keep = [i for i, h in enumerate(headers) if not name(h).startswith(".debug")]
    remap = {old: new for new, old in enumerate(keep)}
    (phoff,) = struct.unpack_from("<I", elf, 0x1C)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x2A)
    phdrs = [list(struct.unpack_from("<8I", elf, phoff + i * phentsize)) for i in range(phnum)]
    # Loadable contents stay where they are; non-allocated sections are re-packed after them.
    prefix = max([0x34, phoff + phentsize * phnum]
                 + [ph[1] + ph[4] for ph in phdrs if ph[0] == 1]  # PT_LOAD: offset + filesz
                 + [h[4] + (h[5] if h[1] != 8 else 0) for h in headers if h[2] & 2])  # SHF_ALLOC
    out = bytearray(elf[:prefix])
    new_headers = []
    for i in keep:
        h = list(headers[i])
        if not h[2] & 2 and h[1] not in (0, 8):  # a non-allocated section with file contents
            align = max(h[8], 1)
            out += bytes(-len(out) % align)
            data = elf[h[4]:h[4] + h[5]]
            if h[1] == 2:  # SHT_SYMTAB: section indices move
                data = _remap_symbols(data, remap)
            for ph in phdrs:  # e.g. PT_RISCV_ATTRIBUTES points at .riscv.attributes
                if ph[0] != 1 and (ph[1], ph[4]) == (h[4], h[5]):
                    ph[1] = len(out)
            h[4] = len(out)
            out += data
        if h[1] in (2, 11) or h[6]:  # sh_link names a section
            h[6] = remap.get(h[6], 0)
        new_headers.append(h)
    for i, ph in enumerate(phdrs):
        struct.pack_into("<8I", out, phoff + i * phentsize, *ph)
    out += bytes(-len(out) % 4)
    new_shoff = len(out)
    for h in new_headers:
        out += struct.pack("<10I", *h)
    struct.pack_into("<I", out, 0x20, new_shoff)
    struct.pack_into("<HHH", out, 0x2E, 40, len(new_headers), remap[shstrndx])
    return bytes(out)


def _remap_symbols(data: bytes, remap: dict[int, int]) -> bytes:
    """Point symbols at the renumbered sections; those in removed sections become ABS 0."""
    out = bytearray(data)
    for off in range(0, len(data), 16):
        (shndx,) = struct.unpack_from("<H", data, off + 14)
        if 0 < shndx < 0xFF00:
            if shndx in remap:
                struct.pack_into("<H", out, off + 14, remap[shndx])
            else:
                struct.pack_into("<I", out, off + 4, 0)
                struct.pack_into("<H", out, off + 14, 0xFFF1)
    return bytes(out)
