"""Errors the user can act on, each with its own process exit code.

The CLI prints ``str(error)`` as one line and exits with ``error.exit_code``;
it never shows a traceback for these. Run outcomes that end the firmware
(faults, limits) are not exceptions: they are recorded in the run result
with the exit codes in ``ExitCode`` so that a partial report is still printed.
"""

import enum


class ExitCode(enum.IntEnum):
    """Process exit codes of ``simmcu``; firmware exit codes pass through (mod 256)."""

    USAGE = 2            #: bad command-line arguments
    BAD_INPUT = 120      #: the ELF, board, core or option values cannot be used
    FAULT = 121          #: the firmware faulted (bad access, illegal instruction, HardFault)
    INSTRUCTION_LIMIT = 122  #: ``--max-instructions`` reached
    TIMEOUT = 123        #: ``--timeout`` (wall-clock seconds) reached
    UNSUPPORTED = 124    #: the firmware asked for something the simulator refuses
    DEADLOCK = 125       #: the firmware waits for an interrupt that can never come
    TOOLCHAIN = 126      #: building firmware failed
    ENDED = 127          #: an observer ended the run (a debugger's kill)


class SimmcuError(Exception):
    """Base of all errors reported to the user as one line: control characters a message quotes from
    the input (a section name, a file name) are escaped, so the line stays one line."""

    exit_code = ExitCode.BAD_INPUT

    def __init__(self, message: str = ""):
        super().__init__("".join(c if c.isprintable() else repr(c)[1:-1] for c in str(message)))


class ElfError(SimmcuError):
    """The firmware file is not a usable ELF for the chosen core and board."""


class ConfigError(SimmcuError):
    """A board, core or option value is invalid."""


class TimeLimitError(SimmcuError):
    """The wall-clock limit (``--timeout``) ran out before the firmware started (loading, decoding)."""

    exit_code = ExitCode.TIMEOUT


class ToolchainError(SimmcuError):
    """No usable compiler, or the compiler rejected the firmware."""

    exit_code = ExitCode.TOOLCHAIN
