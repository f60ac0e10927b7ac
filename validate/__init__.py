"""Validation of simmcu's timing against references: the RISC-V cores' RTL (``_rtl``), seeded
random programs (``_generator``) and the differential runner that compares the two (``_diff``)."""

from ._diff import (BOARD, Divergence, ProgramResult, Report, Step, board_for, build_program, compare_program,
                    divergences, extra_wait_states, validate)
from ._generator import CLASSES, TARGETS, Program, generate
from ._rtl import RTL_CORES, RtlCore, RtlRun, available, build, cache_dir, run

__all__ = ["BOARD", "CLASSES", "RTL_CORES", "TARGETS", "Divergence", "Program", "ProgramResult", "Report", "RtlCore",
           "RtlRun", "Step", "available", "board_for", "build", "build_program", "cache_dir", "compare_program",
           "divergences", "extra_wait_states", "generate", "run", "validate"]
