"""The hooks' object file (``_hooks``): read, and on x86-64 mapped into this process without LLVM.

Numba emits its code for the large code model, so on x86-64 every reference the object makes,
to its own sections or to the symbols ``_hooks`` resolves, is an absolute 64-bit word (its
unwind table adds PC-relative ones, in a section nothing runs). Laying the sections out and
patching those words takes a millisecond; importing llvmlite's bindings to let MCJIT do the same
takes tens of them. An object this module cannot map exactly (another architecture or
relocation type, a symbol out of reach) raises ``Unsupported`` and is loaded through MCJIT.
"""

from __future__ import annotations

import ctypes
import mmap
import struct
from dataclasses import dataclass
from typing import Callable, Iterable

_HEADER = struct.Struct("<16sHHIQQQIHHHHHH")  # Elf64_Ehdr
_SECTION = struct.Struct("<IIQQQQIIQQ")        # Elf64_Shdr
_SYMBOL = struct.Struct("<IBBHQQ")             # Elf64_Sym
_RELA = struct.Struct("<QQq")                  # Elf64_Rela
_IDENT = b"\x7fELF\x02\x01"                    # 64-bit, little-endian
_EM_X86_64 = 62
_SHT_SYMTAB, _SHT_RELA, _SHT_NOBITS, _SHT_REL, _SHT_X86_64_UNWIND = 2, 4, 8, 9, 0x70000001
_SHF_WRITE, _SHF_ALLOC, _SHF_EXECINSTR = 1, 2, 4
_SHN_UNDEF, _SHN_ABS = 0, 0xFFF1
#: x86-64 relocation types this loader applies: (struct format, PC-relative)
_RELOCATIONS = {1: ("<Q", False), 2: ("<i", True), 4: ("<i", True), 10: ("<I", False), 11: ("<i", False),
                24: ("<q", True)}


class Unsupported(ValueError):
    """Not an object this module maps exactly (MCJIT loads it instead), or not an ELF object at all."""


@dataclass(frozen=True)
class Section:
    name: str
    kind: int
    flags: int
    offset: int
    size: int
    link: int
    info: int
    align: int


@dataclass(frozen=True)
class Symbol:
    name: str
    section: int  #: index of the section it is defined in; 0 undefined, 0xFFF1 absolute
    value: int


class ObjectFile:
    """A 64-bit little-endian relocatable ELF object: its sections and symbols."""

    def __init__(self, code: bytes):
        if len(code) < _HEADER.size or not code.startswith(_IDENT):
            raise Unsupported("not a 64-bit little-endian ELF object")
        header = _HEADER.unpack_from(code)
        self.code, self.machine = code, header[2]
        shoff, shnum, shstrndx = header[6], header[12], header[13]
        if shoff + shnum * _SECTION.size > len(code) or not shstrndx < shnum:
            raise Unsupported("section headers beyond the end of the object")
        raw = [_SECTION.unpack_from(code, shoff + i * _SECTION.size) for i in range(shnum)]
        names = self._bytes(raw[shstrndx][4], raw[shstrndx][5])
        self.sections = [Section(_string(names, r[0]), r[1], r[2], r[4], r[5], r[6], r[7], max(r[8], 1)) for r in raw]
        table = next((s for s in self.sections if s.kind == _SHT_SYMTAB), None)
        self.symbols: list[Symbol] = []
        if table is not None:
            strings = self.data(self.sections[table.link])
            for name, _, _, shndx, value, _ in _SYMBOL.iter_unpack(self.data(table)[:table.size // _SYMBOL.size
                                                                                    * _SYMBOL.size]):
                self.symbols.append(Symbol(_string(strings, name), shndx, value))

    def _bytes(self, offset: int, size: int) -> bytes:
        if offset + size > len(self.code):
            raise Unsupported("a section beyond the end of the object")
        return self.code[offset:offset + size]

    def data(self, section: Section) -> bytes:
        return bytes(section.size) if section.kind == _SHT_NOBITS else self._bytes(section.offset, section.size)

    def undefined(self) -> list[str]:
        """The names of the symbols the object needs from outside, sorted."""
        return sorted({s.name for s in self.symbols if s.name and s.section == _SHN_UNDEF})


def _string(table: bytes, at: int) -> str:
    end = table.find(b"\0", at)
    return table[at:end if end >= 0 else len(table)].decode("utf-8", errors="replace")


def map_object(code: bytes, wanted: Iterable[str], resolve: Callable[[str], int | None],
               keep_alive: list[object]) -> dict[str, int]:
    """Map an x86-64 object's allocated sections (code and constants read-only and executable, data
    writable; not its unwind table), apply its relocations, and return the addresses of the
    ``wanted`` symbols. ``resolve`` gives each undefined symbol's address; the mapping is appended
    to ``keep_alive``, which must outlive every call into the code."""
    obj = ObjectFile(code)
    if obj.machine != _EM_X86_64:
        raise Unsupported(f"machine {obj.machine}, not x86-64")
    loaded = [i for i, s in enumerate(obj.sections)
              if s.flags & _SHF_ALLOC and s.kind != _SHT_X86_64_UNWIND and s.size]
    offsets, size = {}, 0
    for writable in (False, True):  # read-only pages first, so that one mprotect covers them
        size = -(-size // mmap.PAGESIZE) * mmap.PAGESIZE
        if writable:
            executable_end = size
        for i in loaded:
            s = obj.sections[i]
            if bool(s.flags & _SHF_WRITE) == writable:
                size = -(-size // s.align) * s.align
                offsets[i], size = size, size + s.size
    memory = mmap.mmap(-1, max(size, 1), prot=mmap.PROT_READ | mmap.PROT_WRITE)
    base = ctypes.addressof(ctypes.c_char.from_buffer(memory))
    for i in loaded:
        memory[offsets[i]:offsets[i] + obj.sections[i].size] = obj.data(obj.sections[i])

    def address(symbol: Symbol) -> int:
        if symbol.section == _SHN_UNDEF:
            found = resolve(symbol.name)
            if found is None:
                raise Unsupported(f"no address for {symbol.name}")
            return found
        if symbol.section == _SHN_ABS:
            return symbol.value
        if symbol.section not in offsets:
            raise Unsupported(f"{symbol.name or 'a symbol'} lies in a section that is not loaded")
        return base + offsets[symbol.section] + symbol.value

    for rel in obj.sections:
        if rel.kind == _SHT_REL and rel.info in offsets:
            raise Unsupported("REL relocations")
        if rel.kind != _SHT_RELA or rel.info not in offsets:
            continue
        target = obj.sections[rel.info]
        for offset, info, addend in _RELA.iter_unpack(obj.data(rel)[:rel.size // _RELA.size * _RELA.size]):
            kind, index = info & 0xFFFFFFFF, info >> 32
            if kind not in _RELOCATIONS or index >= len(obj.symbols):
                raise Unsupported(f"relocation type {kind}")
            fmt, relative = _RELOCATIONS[kind]
            width = struct.calcsize(fmt)
            if offset + width > target.size:
                raise Unsupported("a relocation beyond its section")
            place = offsets[rel.info] + offset
            value = address(obj.symbols[index]) + addend - (base + place if relative else 0)
            try:
                struct.pack_into(fmt, memory, place, value)
            except struct.error:
                raise Unsupported(f"relocation type {kind} out of range") from None
    by_name = {s.name: s for s in obj.symbols if s.name and s.section != _SHN_UNDEF}
    try:
        found = {name: address(by_name[name]) for name in wanted}
    except KeyError as e:
        raise Unsupported(f"the object defines no {e.args[0]}") from None
    if executable_end:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        if libc.mprotect(base, executable_end, mmap.PROT_READ | mmap.PROT_EXEC) != 0:
            raise Unsupported(f"mprotect failed (errno {ctypes.get_errno()})")
    keep_alive.append(memory)
    return found
