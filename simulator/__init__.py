"""simmcu: a cycle-approximate microcontroller simulator for RV32IMC and Cortex-M firmware.

The public API is what ``__all__`` lists; modules starting with ``_`` are private. ``Simulator``
is imported on first use: it brings in Unicorn and the compiled native hooks, which listings and
configuration checks do not need; ``evaluate`` (a .tflite model on a data set) likewise.
"""

from ._board import Board, Region, bundled_boards, load_board
from ._cores import Core, core_names, get_core
from ._errors import ConfigError, ElfError, ExitCode, SimmcuError, TimeLimitError, ToolchainError
from ._observe import Observer
from ._result import Fault, RunResult
from ._sweep import sweep
from ._timing import Profile, bundled_profiles, load_profile
from ._trace import Trace, Waveform

__version__ = "0.1.0"

__all__ = [
    "Board", "Region", "bundled_boards", "load_board",
    "Core", "core_names", "get_core",
    "ConfigError", "ElfError", "ExitCode", "SimmcuError", "TimeLimitError", "ToolchainError",
    "Simulator", "Observer", "GdbServer", "Fault", "RunResult",
    "Profile", "bundled_profiles", "load_profile",
    "sweep", "evaluate", "Trace", "Waveform",
]


def __getattr__(name: str):
    if name == "Simulator":
        from ._machine import Simulator

        globals()["Simulator"] = Simulator
        return Simulator
    if name == "GdbServer":
        from ._gdb import GdbServer

        globals()["GdbServer"] = GdbServer
        return GdbServer
    if name == "evaluate":  # the model compiler: numpy, tflite and the build driver
        from simmcu.firmware import evaluate

        globals()["evaluate"] = evaluate
        return evaluate
    raise AttributeError(f"module 'simmcu' has no attribute {name!r}")
