"""simmcu: a cycle-approximate microcontroller simulator for RV32IMC and Cortex-M firmware.

The public API is what ``__all__`` lists; modules starting with ``_`` are private. Each name is
imported on first use (PEP 562), so that a listing or a configuration check loads only what it
touches: ``Simulator`` brings in Unicorn and the native hooks, ``evaluate`` the model compiler,
``sweep`` the sweep driver.
"""

from ._lazy import lazy_namespace

__version__ = "0.1.0"

__all__ = [
    "Board", "Region", "bundled_boards", "load_board",
    "Core", "core_names", "get_core",
    "ConfigError", "ElfError", "ExitCode", "SimmcuError", "TimeLimitError", "ToolchainError",
    "Simulator", "Observer", "GdbServer", "Fault", "RunResult",
    "Profile", "bundled_profiles", "load_profile",
    "sweep", "evaluate", "Trace", "Waveform",
]

#: The module that defines each public name.
_HOME = {
    **dict.fromkeys(("Board", "Region", "bundled_boards", "load_board"), "._board"),
    **dict.fromkeys(("Core", "core_names", "get_core"), "._cores"),
    **dict.fromkeys(("ConfigError", "ElfError", "ExitCode", "SimmcuError", "TimeLimitError", "ToolchainError"),
                    "._errors"),
    "Simulator": "._machine", "Observer": "._observe", "GdbServer": "._gdb",
    "Fault": "._result", "RunResult": "._result",
    **dict.fromkeys(("Profile", "bundled_profiles", "load_profile"), "._timing"),
    "sweep": "._sweep", "evaluate": "simmcu.firmware", "Trace": "._trace", "Waveform": "._trace",
}


__getattr__, __dir__ = lazy_namespace(__name__, _HOME)
