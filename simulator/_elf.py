"""Firmware ELF loading with pyelftools: segments, entry, symbols, ISA/ABI checks.

Checks happen before anything runs so that a wrong file gets one clear line
("built for ARMv7E-M, core cortex-m0plus runs v6-M") instead of a fault deep
inside the run. An image that loaded is kept in the cache directory (``_cachedir``), named by a
hash of the file's bytes, the core, the board and this loader's sources, so that running the same
firmware again reads it back without importing pyelftools (about 40 ms) or parsing the file.
"""

from __future__ import annotations

import bisect
import os
import pickle
import re
import stat
import struct
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from typing import TYPE_CHECKING

from ._board import Board
from ._cachedir import cache_dir, canonical, sha256, write_atomically
from ._cores import ARM_ARCH_NAMES, Core
from ._errors import ElfError

_EF_ARM_EABI_MASK = 0xFF000000
_EF_ARM_ABI_FLOAT_HARD = 0x400
_EF_RISCV_FLOAT_ABI = 0x6
_EF_RISCV_RVE = 0x8
# Extensions any RV32 core here executes, beyond its single-letter ones.
_RISCV_ALWAYS = {"zicsr", "zifencei", "zmmul"}
_MAPPING_SYMBOL = re.compile(r"^\$[atdx](\..*)?$")
#: Larger files (builds with much debug information) are parsed every time rather than read whole
#: to be hashed.
_CACHED_UP_TO = 16 << 20
#: What a loaded image depends on besides the file, the core and the board: this code.
_SOURCES = ("_elf.py", "_board.py", "_cores.py")

if TYPE_CHECKING:
    from elftools.elf.elffile import ELFFile


@dataclass(frozen=True)
class Segment:
    load_addr: int   #: where the bytes live at reset (LMA, p_paddr)
    addr: int        #: where the program uses them (VMA, p_vaddr)
    data: bytes
    mem_size: int
    executable: bool


@dataclass(frozen=True)
class Symbol:
    name: str
    addr: int
    size: int
    is_function: bool


@dataclass(frozen=True)
class CodeSection:
    name: str
    addr: int
    data: bytes


@dataclass
class ElfImage:
    path: str
    arch: str
    entry: int
    segments: list[Segment]
    symbols: dict[str, Symbol]
    code: list[CodeSection] = field(default_factory=list)  #: allocated executable sections
    data_in_code: list[tuple[int, int]] = field(default_factory=list)  #: [start, end) marked $d
    sections: list[tuple[str, int, int, bool]] = field(default_factory=list)  #: (name, addr, size, writable)
    _starts: list[int] = field(default_factory=list, repr=False)
    _ordered: list[Symbol] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        # At equal addresses functions sort last, so a backward walk sees them first.
        self._ordered = sorted(self.symbols.values(), key=lambda s: (s.addr, s.is_function))
        self._starts = [s.addr for s in self._ordered]

    def symbol_at(self, addr: int) -> Symbol | None:
        """The symbol whose [addr, addr+size) holds ``addr``; in code, else the size-0 label below it."""
        i = bisect.bisect_right(self._starts, addr) - 1
        for s in reversed(self._ordered[max(0, i - 8):i + 1]):
            if s.addr <= addr < s.addr + s.size:
                return s
        if i >= 0 and self._ordered[i].size == 0 and self.in_code(addr):
            return self._ordered[i]
        return None

    def in_code(self, addr: int) -> bool:
        return any(seg.executable and seg.addr <= addr < seg.addr + seg.mem_size for seg in self.segments)

    def describe(self, addr: int) -> str:
        """``name+0xoff`` for an address, or ``?`` when no symbol holds it."""
        s = self.symbol_at(addr)
        if s is None:
            return "?"
        return s.name if addr == s.addr else f"{s.name}+{addr - s.addr:#x}"


def load_elf(path: str | Path, core: Core, board: Board) -> ElfImage:
    """Every size an ELF field gives is checked against the file (what is read from it) or the board
    (what is loaded or decoded) before anything is read or allocated, so a hostile header costs
    nothing larger than the memory it must fit in."""
    path = str(path)
    try:
        # A FIFO or device would block in open() or read forever: only regular files are firmware.
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise ElfError(f"cannot open firmware {path}: not a regular file")
        f = open(path, "rb")
    except OSError as e:
        raise ElfError(f"cannot open firmware {path}: {e.strerror}") from None
    with f:
        if f.read(4) != b"\x7fELF":
            raise ElfError(f"{path} is not an ELF file")
        size = os.fstat(f.fileno()).st_size
        key = None
        if size <= _CACHED_UP_TO:
            f.seek(0)
            key = _image_key(f.read(), core, board)
            image = _cached(key, path)
            if image is not None:
                return image
        from elftools.common.exceptions import ELFError as PyElfError
        from elftools.elf.elffile import ELFFile

        f.seek(0)
        try:
            image = _read(ELFFile(f), path, core, board, size)
        except (PyElfError, ValueError, KeyError, IndexError, TypeError, UnicodeDecodeError, struct.error) as e:
            raise ElfError(f"{path} is a broken ELF file: {e}") from None
    if key is not None:
        _keep(key, image)
    return image


#: Images kept at most; the least recently written go first (a sweep or a fuzzer loads many ELFs once).
_KEPT = 64


def _keep(key: str, image: ElfImage) -> None:
    folder = cache_dir()
    if folder is None:
        return
    write_atomically(folder / f"simmcu-elf-{key}.pickle", pickle.dumps(image, pickle.HIGHEST_PROTOCOL))
    kept = list(folder.glob("simmcu-elf-*.pickle"))
    if len(kept) > _KEPT:
        def written(p: Path) -> float:
            try:
                return p.stat().st_mtime
            except OSError:  # removed meanwhile by another run
                return 0.0
        for old in sorted(kept, key=written)[:len(kept) - _KEPT]:
            old.unlink(missing_ok=True)


def _image_key(data: bytes, core: Core, board: Board) -> str:
    h = sha256(data)
    for name in _SOURCES:
        h.update(Path(__file__).with_name(name).read_bytes())
    h.update(repr((sys.version, canonical(core), canonical(board))).encode())
    return h.hexdigest()[:24]


def _cached(key: str, path: str) -> ElfImage | None:
    """The image loaded before from a file of the same bytes, for the same core and board (checked
    then), now at ``path``; None if there is none, or it is unreadable."""
    folder = cache_dir()
    if folder is None:
        return None
    try:
        image = pickle.loads((folder / f"simmcu-elf-{key}.pickle").read_bytes())
    except Exception:  # none yet, or damaged: the file is loaded again and the copy replaced
        return None
    if not isinstance(image, ElfImage):
        return None
    image.path = path
    return image


def _read(elf: ELFFile, path: str, core: Core, board: Board, file_size: int) -> ElfImage:
    if elf.elfclass != 32 or not elf.little_endian:
        raise ElfError(f"{path} is a {elf.elfclass}-bit {'little' if elf.little_endian else 'big'}-endian ELF; "
                       f"{core.name} needs 32-bit little-endian")
    machine = elf["e_machine"]
    want = {"arm": "EM_ARM", "riscv": "EM_RISCV"}[core.arch]
    if machine != want:
        name = machine.removeprefix("EM_") if isinstance(machine, str) else f"#{machine}"  # unknown: a number
        raise ElfError(f"{path} is for machine {name}, core {core.name} is {core.arch.upper()}")
    if elf["e_type"] != "ET_EXEC":
        raise ElfError(f"{path} is not an executable (type {elf['e_type']}); link it first")
    sections = list(elf.iter_sections())
    for i, sec in enumerate(sections):
        if sec["sh_type"] != "SHT_NOBITS" and sec["sh_offset"] + sec["sh_size"] > file_size:
            raise ElfError(f"{path}: section {sec.name or f'#{i}'} [{sec['sh_offset']:#x}, "
                           f"{sec['sh_offset'] + sec['sh_size']:#x}) runs past the end of the file ({file_size:#x} bytes)")
    if core.arch == "arm":
        _check_arm(elf, path, core)
    else:
        _check_riscv(elf, path, core)
    segments = _segments(elf, path, board, file_size)
    if not segments:
        raise ElfError(f"{path} has no loadable segments")
    code, allocated = [], []
    for sec in sections:
        flags = sec["sh_flags"]
        if not flags & 2 or sec["sh_size"] == 0:  # SHF_ALLOC
            continue
        allocated.append((sec.name, sec["sh_addr"], sec["sh_size"], bool(flags & 1)))
        if flags & 4 and sec["sh_type"] == "SHT_PROGBITS":  # SHF_EXECINSTR
            code.append(CodeSection(sec.name, sec["sh_addr"], _code_data(sec, path, board)))
    for c in code:
        _check_loaded(c, segments, path)
    symbols = _symbol_table(elf, path)
    return ElfImage(path=path, arch=core.arch, entry=elf["e_entry"], segments=segments, symbols=_symbols(elf, symbols),
                    code=code, data_in_code=_data_ranges(elf, symbols, code), sections=allocated)


def _code_data(sec, path: str, board: Board) -> bytes:
    """An executable section's bytes, decoded and indexed by address: it must lie in the board's code
    region (so the decoder's tables are bounded by that region), compressed ones checked by their
    stated size before they are inflated."""
    region, addr, size = board.code, sec["sh_addr"], sec.data_size
    if not region.contains(addr, size):
        raise ElfError(f"{path}: executable section {sec.name} [{addr:#010x}, {addr + size:#010x}) lies outside the "
                       f"code region {region.name!r} [{region.base:#010x}, {region.end:#010x}) of board {board.name}")
    try:
        return sec.data()  # pyelftools inflates at most data_size bytes and refuses a stream that ends short
    except zlib.error as e:
        raise ElfError(f"{path}: compressed section {sec.name} is corrupt ({e})") from None


def _check_loaded(code: CodeSection, segments: list[Segment], path: str) -> None:
    """The timing tables are built from the executable sections and Unicorn runs what the segments
    load: the two must be the same bytes, or the model would price other instructions than run."""
    end = code.addr + len(code.data)
    for i, seg in enumerate(segments):
        if seg.addr <= code.addr and end <= seg.addr + len(seg.data):
            if seg.data[code.addr - seg.addr:end - seg.addr] != code.data:
                raise ElfError(f"{path}: executable section {code.name} [{code.addr:#010x}, {end:#010x}) differs "
                               f"from the bytes segment {i} loads there")
            return
    raise ElfError(f"{path}: executable section {code.name} [{code.addr:#010x}, {end:#010x}) is not loaded by any "
                   f"segment")


@dataclass(frozen=True)
class _RawSymbol:
    name: str
    value: int
    size: int
    kind: int     #: STT_*: 0 NOTYPE, 1 OBJECT, 2 FUNC
    defined: bool  #: neither SHN_UNDEF nor SHN_ABS


_SYM = struct.Struct("<IIIBBH")  # Elf32_Sym: name, value, size, info, other, shndx
_SHN_ABS = 0xFFF1


def _symbol_table(elf: ELFFile, path: str) -> list[_RawSymbol]:
    """``.symtab`` unpacked in one pass (pyelftools parses one symbol at a time, 0.1 ms each); a
    section of that name that is not a 32-bit symbol table linked to a string table is an error."""
    table = elf.get_section_by_name(".symtab")
    if table is None:
        return []
    if table["sh_type"] != "SHT_SYMTAB" or table["sh_entsize"] != _SYM.size:
        raise ElfError(f"{path}: .symtab is not a symbol table (type {table['sh_type']}, "
                       f"entry size {table['sh_entsize']})")
    link = table["sh_link"]
    strings = elf.get_section(link) if 0 < link < elf.num_sections() else None
    if strings is None or strings["sh_type"] != "SHT_STRTAB":
        raise ElfError(f"{path}: .symtab links to section {link}, which is not a string table")
    names, data = strings.data(), table.data()
    # Labels in debug sections (.Lline_table_start0) are offsets there, not addresses.
    unallocated = {i for i, sec in enumerate(elf.iter_sections()) if not sec["sh_flags"] & 2}
    out = []
    for name, value, size, info, _, shndx in _SYM.iter_unpack(data[:len(data) - len(data) % _SYM.size]):
        end = names.find(b"\0", name)
        text = names[name:end if end >= 0 else len(names)].decode("utf-8", errors="replace")
        defined = shndx not in (0, _SHN_ABS) and shndx not in unallocated
        out.append(_RawSymbol(text, value, size, info & 0xF, defined))
    return out


def _data_ranges(elf: ELFFile, symbols: list[_RawSymbol], code: list[CodeSection]) -> list[tuple[int, int]]:
    """Ranges of executable sections that Arm mapping symbols mark as data ($d until the next $t)."""
    if elf["e_machine"] != "EM_ARM":
        return []
    marks = sorted((sym.value, sym.name[1]) for sym in symbols if _MAPPING_SYMBOL.match(sym.name) and sym.defined)
    if not marks:
        return []
    out = []
    for sec in code:
        end = sec.addr + len(sec.data)
        inside = [(a, k) for a, k in marks if sec.addr <= a < end]
        if not inside:
            continue
        state, pos = "d", sec.addr  # before the first mark: data (vector tables carry none)
        for a, k in inside + [(end, "t")]:
            if state == "d" and a > pos:
                out.append((pos, a))
            state, pos = k, a
    return out


def _attributes(elf: ELFFile, name: str, path: str) -> dict:
    sec = elf.get_section_by_name(name)
    out = {}
    if sec is None:
        return out
    from elftools.elf.sections import ARMAttributesSection, RISCVAttributesSection

    if not isinstance(sec, (ARMAttributesSection, RISCVAttributesSection)):
        raise ElfError(f"{path}: {name} is not an attributes section (type {sec['sh_type']})")
    for sub in sec.iter_subsections():
        for subsub in sub.iter_subsubsections():
            for a in subsub.iter_attributes():
                out[a.tag] = a.value
    return out


def _check_arm(elf: ELFFile, path: str, core: Core) -> None:
    flags = elf["e_flags"]
    if flags & _EF_ARM_EABI_MASK != 0x05000000:
        raise ElfError(f"{path} is not an ARM EABI v5 ELF (e_flags {flags:#x}); only bare-metal EABI firmware runs")
    if flags & _EF_ARM_ABI_FLOAT_HARD and core.fpu == "none":
        raise ElfError(f"{path} uses the hard-float ABI but {core.name} has no FPU")
    attrs = _attributes(elf, ".ARM.attributes", path)
    arch = attrs.get("TAG_CPU_ARCH")
    if arch is None:
        return
    profile = attrs.get("TAG_CPU_ARCH_PROFILE")
    name = ARM_ARCH_NAMES.get(arch, f"arch #{arch}")
    if arch == 10 and profile not in (None, 0, ord("M")):
        name = f"v7-{chr(profile)}"
    if name not in core.elf_archs:
        raise ElfError(f"{path} is built for ARM {name}, core {core.name} runs {', '.join(core.elf_archs)}")


def _check_riscv(elf: ELFFile, path: str, core: Core) -> None:
    flags = elf["e_flags"]
    if flags & _EF_RISCV_RVE:
        raise ElfError(f"{path} uses the RV32E ABI; core {core.name} is {core.isa}")
    if flags & _EF_RISCV_FLOAT_ABI and "f" not in core.extensions:
        raise ElfError(f"{path} uses a hardware floating-point ABI; core {core.name} has no F extension")
    arch = _attributes(elf, ".riscv.attributes", path).get("TAG_ARCH")
    if not arch:
        return
    parts = arch.lower().split("_")
    base = re.match(r"rv(32|64)([ie])(\d+p\d+)?(.*)$", parts[0])
    if not base or base.group(1) != "32" or base.group(2) != "i":
        raise ElfError(f"{path} is built for {arch}; core {core.name} is {core.isa}")
    names = [re.sub(r"\d+p\d+$", "", p) for p in parts[1:]]
    # Single-letter extensions may be run together after the base ("rv32imc") or stand alone ("m2p0").
    letters = re.sub(r"\d+p\d+", "", base.group(4)) + "".join(n for n in names if len(n) == 1)
    allowed_z = _RISCV_ALWAYS | ({"zca"} if "c" in core.extensions else set())
    extra = [c for c in letters if c not in set(core.extensions) | {"i"}]
    extra += [n for n in names if len(n) > 1 and n not in allowed_z]
    if extra:
        raise ElfError(f"{path} needs extension {extra[0]!r} ({arch}); core {core.name} is {core.isa}")


def _segments(elf: ELFFile, path: str, board: Board, file_size: int) -> list[Segment]:
    out = []
    loaded: list[tuple[int, int, int, str]] = []  # (start, end, segment, what) of every range a segment fills
    for i, seg in enumerate(elf.iter_segments()):
        if seg["p_type"] != "PT_LOAD" or seg["p_memsz"] == 0:
            continue
        offset, filesz = seg["p_offset"], seg["p_filesz"]
        lma, vma, memsz = seg["p_paddr"], seg["p_vaddr"], seg["p_memsz"]
        if offset + filesz > file_size:
            raise ElfError(f"{path}: segment {i} file image [{offset:#x}, {offset + filesz:#x}) runs past the end "
                           f"of the file ({file_size:#x} bytes)")
        if filesz > memsz:
            raise ElfError(f"{path}: segment {i} has more bytes in the file ({filesz:#x}) than in memory ({memsz:#x})")
        data = seg.data()
        for addr, size, what in ((lma, max(len(data), 1), "load image"), (vma, memsz, "run-time range")):
            region = board.region_at(addr, size)
            span = f"[{addr:#010x}, {addr + size:#010x})"
            if region is None:
                raise ElfError(f"{path}: segment {i} {what} {span} lies outside every memory region of board "
                               f"{board.name} ({', '.join(f'{r.name} {r.base:#x}+{r.size:#x}' for r in board.regions)})")
            if region.kind == "mmio":
                raise ElfError(f"{path}: segment {i} {what} {span} lies in MMIO region {region.name!r}")
        ranges = [(vma, vma + memsz, i, "run-time range")]
        if lma != vma and data:
            ranges.append((lma, lma + len(data), i, "load image"))
        for start, end, j, what in loaded:
            for s2, e2, _, what2 in ranges:
                if s2 < end and start < e2:
                    raise ElfError(f"{path}: segment {i} {what2} [{s2:#010x}, {e2:#010x}) overlaps segment {j} "
                                   f"{what} [{start:#010x}, {end:#010x})")
        loaded += ranges
        out.append(Segment(load_addr=lma, addr=vma, data=data, mem_size=memsz,
                           executable=bool(seg["p_flags"] & 1)))
    return out


def _symbols(elf: ELFFile, symbols: list[_RawSymbol]) -> dict[str, Symbol]:
    out: dict[str, Symbol] = {}
    thumb = elf["e_machine"] == "EM_ARM"
    for sym in symbols:
        if sym.kind > 2 or not sym.name or _MAPPING_SYMBOL.match(sym.name) or not sym.defined:
            continue
        is_func = sym.kind == 2
        addr = sym.value & ~1 if thumb and is_func else sym.value
        prev = out.get(sym.name)
        if prev is None or (is_func and not prev.is_function):
            out[sym.name] = Symbol(sym.name, addr, sym.size, is_func)
    return out
