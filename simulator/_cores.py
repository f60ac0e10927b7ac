"""Cores: which Unicorn model runs a core, what ELFs it accepts, how to compile for it.

The table is data (``cores.toml``); a core's name is the stable key that
timing profiles and accelerators attach to.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ._errors import ConfigError
from ._params import PACKAGE_DIR, REQUIRED, Param, apply_params, load_toml
from .isa.rv32 import COUNTER_CSRS

ARM_ARCH_NAMES = {
    10: "v7", 11: "v6-M", 12: "v6S-M", 13: "v7E-M", 16: "v8-M.baseline", 17: "v8-M.mainline",
    21: "v8.1-M.mainline",
}

CORE_PARAMS = {
    "description": Param("", "", "one line shown by `simmcu cores`", str),
    "arch": Param(REQUIRED, "", "instruction-set family", ("arm", "riscv")),
    "isa": Param(REQUIRED, "", "architecture profile, e.g. armv7e-m or rv32imc", str),
    "unicorn_cpu": Param(REQUIRED, "", "Unicorn CPU model suffix, e.g. CORTEX_M4 or RISCV32_BASE32", str),
    "board": Param(REQUIRED, "", "board used when --board is not given", str),
    "timing": Param(REQUIRED, "", "timing profile (simulator/timing/NAME.toml) that prices its instructions", str),
    "firmware_as": Param("", "", "core whose firmware builds this one runs (same ISA and ABI); empty: its own", str),
    "elf_archs": Param([], "", "Arm: Tag_CPU_arch values of ELFs this core runs", list),
    "extensions": Param("", "", "RISC-V: single-letter extensions an ELF may require", str),
    "fpu": Param("none", "", "Arm: floating-point unit: none, sp (single) or dp (double)", ("none", "sp", "dp")),
    "nvic_priority_bits": Param(3, "bits", "Arm: implemented NVIC priority bits (ARMv6-M: 2)", int, lambda v: 2 <= v <= 8),
    "cpuid": Param(0, "", "Arm: value of SCB CPUID", int),
    "zig_target": Param(REQUIRED, "", "target triple for the bundled zig/clang toolchain", str),
    "zig_cpu": Param(REQUIRED, "", "-mcpu value for the bundled toolchain", str),
    "gnu_cc": Param("", "", "GNU cross compiler driver for --toolchain gnu", str),
    "gnu_flags": Param([], "", "architecture flags for the GNU compiler", list),
    "counter_csrs": Param(list(COUNTER_CSRS), "", "RISC-V: the counter CSRs the core implements; "
                          "accessing another of them is an illegal instruction", list,
                          lambda v: set(v) <= set(COUNTER_CSRS)),
    "counter_access": Param("zicsr", "", "RISC-V: zicsr (any CSR instruction) or rdcounter (only "
                            "csrrs rd, CSR, x0: PicoRV32 decodes nothing else)", ("zicsr", "rdcounter")),
    "time_source": Param("mtime", "", "RISC-V: what time/timeh read: mtime (the CLINT timer) or cycle "
                         "(PicoRV32's RDTIME reads its cycle counter)", ("mtime", "cycle")),
    "mcountinhibit_reset": Param(0, "", "RISC-V: mcountinhibit after reset (bit 0 stops mcycle, bit 2 "
                                 "minstret; CV32E40P: 0xD, its counters start stopped)", int,
                                 lambda v: 0 <= v <= 0xFFFFFFFF),
    "energy": Param(REQUIRED, "", "[NAME.energy]: the chip's supply current per MHz (CORE_ENERGY_PARAMS)", dict),
}

#: A core's energy model: a vendor's whole-chip RUN and SLEEP current per MHz at a supply voltage, so
#: current x voltage is the energy of a cycle (1 uA/MHz x 1 V = 1 pJ/cycle). docs/energy.md.
CORE_ENERGY_PARAMS = {
    "active_current": Param(REQUIRED, "uA/MHz", "supply current per MHz running (datasheet RUN mode, code in flash)",
                            "quantity"),
    "sleep_current": Param(REQUIRED, "uA/MHz", "supply current per MHz in WFI sleep, clock running", "quantity"),
    "supply": Param(REQUIRED, "V", "supply voltage the currents are drawn at", "quantity"),
    "source": Param(REQUIRED, "", "the published figures and how the values follow from them", str),
}


@dataclass(frozen=True)
class Core:
    name: str
    description: str
    arch: str
    isa: str
    unicorn_cpu: str
    board: str
    timing: str
    firmware_as: str
    elf_archs: tuple[str, ...]
    extensions: str
    fpu: str
    nvic_priority_bits: int
    cpuid: int
    zig_target: str
    zig_cpu: str
    gnu_cc: str
    gnu_flags: tuple[str, ...]
    counter_csrs: frozenset[str]
    counter_access: str
    time_source: str
    mcountinhibit_reset: int
    energy: dict

    @property
    def active_pj_per_cycle(self) -> float:
        return self.energy["active_current"] * self.energy["supply"]

    @property
    def sleep_pj_per_cycle(self) -> float:
        return self.energy["sleep_current"] * self.energy["supply"]

    # Unicorn is imported by the properties a run uses, not by listing or checking cores.
    @property
    def uc_arch(self) -> int:
        import unicorn

        return unicorn.UC_ARCH_ARM if self.arch == "arm" else unicorn.UC_ARCH_RISCV

    @property
    def uc_mode(self) -> int:
        import unicorn

        # Never UC_MODE_MCLASS: it silently forces the Cortex-M33 model.
        return unicorn.UC_MODE_THUMB if self.arch == "arm" else unicorn.UC_MODE_RISCV32

    @property
    def uc_cpu_model(self) -> int:
        from unicorn import arm_const, riscv_const

        module, prefix = (arm_const, "UC_CPU_ARM_") if self.arch == "arm" else (riscv_const, "UC_CPU_")
        try:
            return getattr(module, prefix + self.unicorn_cpu)
        except AttributeError:
            raise ConfigError(f"core {self.name}: Unicorn has no CPU model {self.unicorn_cpu!r}") from None


@lru_cache(maxsize=None)
def _table() -> dict[str, Core]:
    raw = load_toml(PACKAGE_DIR / "cores.toml", "core table")
    cores = {}
    for name, entry in raw.items():
        v = apply_params(CORE_PARAMS, entry, f"core {name}")
        v["elf_archs"] = tuple(v["elf_archs"])
        v["gnu_flags"] = tuple(v["gnu_flags"])
        v["counter_csrs"] = frozenset(v["counter_csrs"])
        v["firmware_as"] = v["firmware_as"] or name
        v["energy"] = apply_params(CORE_ENERGY_PARAMS, v["energy"], f"core {name} [energy]")
        cores[name] = Core(name=name, **v)
    return cores


def core_names() -> list[str]:
    return list(_table())


def parse_core_spec(spec: str) -> tuple[str, dict[str, bool]]:
    """``picorv32:barrel_shifter=false`` -> ("picorv32", {"barrel_shifter": False})."""
    name, _, rest = spec.partition(":")
    options: dict[str, bool] = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq or value.lower() not in ("true", "false", "1", "0", "on", "off", "yes", "no"):
            raise ConfigError(f"core option {item!r} is not NAME=true or NAME=false")
        options[key.strip()] = value.lower() in ("true", "1", "on", "yes")
    return name, options


def get_core(name: str) -> Core:
    try:
        return _table()[name]
    except KeyError:
        raise ConfigError(f"unknown core {name!r} (valid: {', '.join(core_names())})") from None
