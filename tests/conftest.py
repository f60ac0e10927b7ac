"""Shared fixtures: firmware built once per test session with the pinned toolchain."""

from __future__ import annotations

from pathlib import Path

import pytest

from simmcu import Simulator
from simmcu.firmware import build

pytest_plugins = ["pytester"]  # tests/test_golden.py runs pytest sessions with simmcu's plugin

FIRMWARE = Path(__file__).parent / "firmware"
ARM_CORES = ["cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33"]
ALL_CORES = ["rv32imc", *ARM_CORES]


@pytest.fixture(scope="session")
def elf(tmp_path_factory):
    """``elf(what, core, **defines)`` builds an example name or a tests/firmware/*.c file once."""
    cache: dict = {}
    root = tmp_path_factory.mktemp("elf")

    def get(what: str, core: str, **defines) -> Path:
        key = (what, core, tuple(sorted(defines.items())))
        if key not in cache:
            source = FIRMWARE / what if what.endswith(".c") else what
            out = root / f"{Path(what).stem}-{core}-{len(cache)}.elf"
            cache[key] = build(source, core, out, defines=defines or None)
        return cache[key]

    return get


@pytest.fixture
def run(elf):
    """``run(what, core, *args, **sim_options)``: build then run, returning the RunResult."""

    def go(what: str, core: str, *args: str, defines: dict | None = None, **options):
        return Simulator(elf(what, core, **(defines or {})), core=core, args=args, **options).run()

    return go


@pytest.fixture(scope="session")
def _session_model_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def model_cache(_session_model_cache, monkeypatch):
    """Compiled models (and the compiler's own cache) go to this session's cache, not the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(_session_model_cache))
    return _session_model_cache
