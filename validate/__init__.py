"""Validation of simmcu's timing against references: the RISC-V cores' RTL (``_rtl``)."""

from ._rtl import RTL_CORES, RtlCore, RtlRun, available, build, cache_dir, run

__all__ = ["RTL_CORES", "RtlCore", "RtlRun", "available", "build", "cache_dir", "run"]
