"""``python -m simmcu.firmware``: rebuild the prebuilt example ELFs shipped in the package.

Run it from a source checkout after changing the runtime, an example or the
pinned toolchain; tests/test_examples.py checks the shipped files are current.
"""

from pathlib import Path

from simmcu import core_names, get_core

from . import EXAMPLES, build
from ._examples import supports

out = Path(__file__).resolve().parent / "prebuilt"
for example in EXAMPLES:
    for core in core_names():
        if get_core(core).firmware_as != core or not supports(example, get_core(core)):
            continue  # runs another core's build, or cannot run the example
        path = build(example, core, out / f"{example}-{core}.elf")
        print(f"{path.relative_to(out.parent)}  {path.stat().st_size} bytes")
