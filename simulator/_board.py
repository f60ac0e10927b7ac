"""Boards: the memory map and clock a firmware runs against, read from TOML.

A board is data so that a designer describes a new chip without code. The
bundled boards live in ``simmcu/boards/``; ``--board FILE`` loads a user's.
See docs/boards.md for the format.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ._energy import region_energy
from ._errors import ConfigError
from ._params import MAX_CYCLES, PACKAGE_DIR, REQUIRED, Param, apply_params, cycles_in_range, load_toml

#: The platforms' system register windows, which no board region may overlap: the Cortex-M private
#: peripheral bus (``_cortexm``) and the size of the RISC-V CLINT at ``clint_base`` (``_riscv``).
PPB_BASE, PPB_SIZE = 0xE000_0000, 0x10_0000
CLINT_SIZE = 0x10000

REGION_KINDS = ("flash", "sram", "tcm", "mmio")

REGION_PARAMS = {
    "name": Param(REQUIRED, "", "region name, unique on the board", str),
    "base": Param(REQUIRED, "address", "first byte address", int, lambda v: 0 <= v < 1 << 32),
    "size": Param(REQUIRED, "bytes", "length; a number or a string like '256 KiB'", "size", lambda v: v > 0),
    "kind": Param(REQUIRED, "", "flash (read-only at run time), sram, tcm or mmio", REGION_KINDS),
    "perms": Param("rwx", "", "allowed accesses: any of r, w, x", str, lambda v: set(v) <= set("rwx") and v != ""),
    "read_wait_states": Param(0, "cycles", "extra cycles per data read (used by timing models)", int, cycles_in_range),
    "write_wait_states": Param(0, "cycles", "extra cycles per data write (used by timing models)", int, cycles_in_range),
    "fetch_wait_states": Param(0, "cycles", "extra cycles per instruction fetch line (used by timing models)", int, cycles_in_range),
    "fetch_bytes": Param(4, "bytes", "width of one instruction fetch line (a power of two, at most 1 KiB)", int, lambda v: 2 <= v <= 1024 and v & (v - 1) == 0),
    "prefetch": Param(False, "", "a prefetch buffer hides fetch wait states on sequential code", bool),
    "read_energy": Param(None, "pJ/byte", "energy per byte of data read (default: by kind and size, docs/energy.md)",
                         "quantity"),
    "write_energy": Param(None, "pJ/byte", "energy per byte of data written (default: by kind and size, "
                          "docs/energy.md)", "quantity"),
}

BOARD_PARAMS = {
    "name": Param(REQUIRED, "", "board name", str),
    "description": Param("", "", "one line shown by `simmcu boards`", str),
    "arch": Param(REQUIRED, "", "instruction-set family of the cores it takes", ("arm", "riscv")),
    "clock_hz": Param(100_000_000, "Hz", "core clock; converts cycles to seconds", int, lambda v: 0 < v < 1 << 40),
    "code_region": Param("flash", "", "region that holds code, read-only data and the .data image", str),
    "data_region": Param("sram", "", "region that holds .data, .bss, heap and stack", str),
    "stack_bytes": Param(8192, "bytes", "stack reserved at the top of data_region by the linker script", "size", lambda v: v >= 256 and v % 8 == 0),
    "irq_lines": Param(16, "lines", "device interrupt lines (Cortex-M NVIC IRQs; RISC-V platform sources, at most 16)", int, lambda v: 1 <= v <= 240),
    "systick_ref_divider": Param(8, "cycles", "Cortex-M: core cycles per SysTick reference-clock tick (CLKSOURCE=0)", int, lambda v: 1 <= v < MAX_CYCLES),
    "clint_base": Param(0x0200_0000, "address", "RISC-V: base of the CLINT (msip, mtimecmp at +0x4000, mtime at +0xBFF8; 64 KiB)", int,
                        lambda v: v % 4096 == 0 and 0 <= v <= (1 << 32) - CLINT_SIZE),
    "mtime_divider": Param(1, "cycles", "RISC-V: core cycles per mtime tick", int, lambda v: 1 <= v < MAX_CYCLES),
}

BUNDLED = {"arm": "generic-cortex-m", "riscv": "generic-rv32"}


@dataclass(frozen=True)
class Region:
    name: str
    base: int
    size: int
    kind: str
    perms: str
    read_wait_states: int
    write_wait_states: int
    fetch_wait_states: int
    fetch_bytes: int
    prefetch: bool
    read_energy: float | None = None
    write_energy: float | None = None

    def access_energy(self) -> tuple[float, float]:
        """(read, write) pJ per byte of data: the region's own figures, else the rule for its kind."""
        read, write = region_energy(self.kind, self.size)
        return (read if self.read_energy is None else self.read_energy,
                write if self.write_energy is None else self.write_energy)

    @property
    def end(self) -> int:
        return self.base + self.size

    def contains(self, addr: int, size: int = 1) -> bool:
        return self.base <= addr and addr + size <= self.end


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    arch: str
    clock_hz: int
    code_region: str
    data_region: str
    stack_bytes: int
    irq_lines: int
    systick_ref_divider: int
    clint_base: int
    mtime_divider: int
    regions: tuple[Region, ...]
    source: str

    def region(self, name: str) -> Region:
        for r in self.regions:
            if r.name == name:
                return r
        raise KeyError(name)

    def region_at(self, addr: int, size: int = 1) -> Region | None:
        for r in self.regions:
            if r.contains(addr, size):
                return r
        return None

    @property
    def code(self) -> Region:
        return self.region(self.code_region)

    @property
    def data(self) -> Region:
        return self.region(self.data_region)


def _from_dict(raw: dict, source: str) -> Board:
    raw = dict(raw)
    regions_raw = raw.pop("regions", None)
    if not isinstance(regions_raw, list) or not regions_raw:
        raise ConfigError(f"board {source}: needs at least one [[regions]] table")
    values = apply_params(BOARD_PARAMS, raw, f"board {source}")
    regions = []
    for i, r in enumerate(regions_raw):
        if not isinstance(r, dict):
            raise ConfigError(f"board {source}: regions[{i}] is not a table")
        regions.append(Region(**apply_params(REGION_PARAMS, r, f"board {source}: regions[{i}]")))
    _check_layout(regions, values, source)
    return Board(regions=tuple(regions), source=source, **values)


def _check_layout(regions: list[Region], values: dict, source: str) -> None:
    names = [r.name for r in regions]
    for r in regions:
        if names.count(r.name) > 1:
            raise ConfigError(f"board {source}: region name {r.name!r} is used twice")
        if r.end > 1 << 32:
            raise ConfigError(f"board {source}: region {r.name!r} ends past the 32-bit address space")
    ordered = sorted(regions, key=lambda r: r.base)
    for a, b in zip(ordered, ordered[1:]):
        if b.base < a.end:
            raise ConfigError(f"board {source}: regions {a.name!r} and {b.name!r} overlap")
    # The platform maps its own system registers there: a region would collide with them.
    window, (base, size) = (("Cortex-M private peripheral bus", (PPB_BASE, PPB_SIZE)) if values["arch"] == "arm"
                            else ("CLINT (clint_base)", (values["clint_base"], CLINT_SIZE)))
    for r in regions:
        if r.base < base + size and base < r.end:
            raise ConfigError(f"board {source}: region {r.name!r} [{r.base:#010x}, {r.end:#010x}) overlaps the "
                              f"{window} [{base:#010x}, {base + size:#010x})")
    for key, kinds in (("code_region", ("flash", "sram", "tcm")), ("data_region", ("sram", "tcm"))):
        name = values[key]
        match = [r for r in regions if r.name == name]
        if not match:
            raise ConfigError(f"board {source}: {key} {name!r} is not a region (have {', '.join(names)})")
        if match[0].kind not in kinds:
            raise ConfigError(f"board {source}: {key} {name!r} has kind {match[0].kind}, needs one of {', '.join(kinds)}")
    if values["arch"] == "riscv" and values["irq_lines"] > 16:
        raise ConfigError(f"board {source}: RISC-V boards take at most 16 device interrupt lines "
                          f"(local causes 16..31), not {values['irq_lines']}")
    if values["stack_bytes"] >= next(r for r in regions if r.name == values["data_region"]).size:
        raise ConfigError(f"board {source}: stack_bytes does not fit in {values['data_region']!r}")


def load_board(spec: str | Path) -> Board:
    """A bundled board by name (``generic-rv32``) or a TOML file path."""
    path = Path(spec)
    if path.suffix == ".toml" or path.exists():
        return _from_dict(load_toml(path, "board file"), str(path))
    names = bundled_boards()
    if str(spec) not in names:
        raise ConfigError(f"unknown board {spec!r} (bundled: {', '.join(names)}; or give a .toml file)")
    return _from_dict(load_toml(PACKAGE_DIR / "boards" / f"{spec}.toml", "board file"), str(spec))


def bundled_boards() -> list[str]:
    folder = PACKAGE_DIR / "boards"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))
