"""The runtime is plain semihosting: the prebuilt hello ELFs print and exit under QEMU too.

The bundled boards' memory maps fit QEMU machines as they are: generic-cortex-m (code at 0,
SRAM at 0x2000_0000) is the MPS2 boards' SSRAM layout, and generic-rv32 (flash at 0x2000_0000,
SRAM at 0x8000_0000) is the virt machine's flash and RAM. Skipped where QEMU is not installed.
"""

import shutil
import subprocess

import pytest

from simmcu import get_core
from simmcu.firmware import example_elf

MACHINES = {
    "cortex-m3": ("qemu-system-arm", ["-M", "mps2-an385", "-cpu", "cortex-m3", "-kernel", "{elf}"]),
    "cortex-m4": ("qemu-system-arm", ["-M", "mps2-an386", "-cpu", "cortex-m4", "-kernel", "{elf}"]),
    "cortex-m7": ("qemu-system-arm", ["-M", "mps2-an500", "-cpu", "cortex-m7", "-kernel", "{elf}"]),
    # -bios none starts at RAM; the generic loader starts at the ELF's entry, in flash.
    "rv32imc": ("qemu-system-riscv32", ["-M", "virt", "-bios", "none", "-device", "loader,cpu-num=0,file={elf}"]),
}


@pytest.mark.parametrize("core", MACHINES)
def test_prebuilt_hello_runs_under_qemu(core):
    qemu, args = MACHINES[core]
    if shutil.which(qemu) is None:
        pytest.skip(f"{qemu} is not on PATH (Debian: apt-get install qemu-system-arm qemu-system-misc)")
    elf = example_elf("hello", get_core(core))
    p = subprocess.run([qemu, *(a.format(elf=elf) for a in args), "-nographic", "-monitor", "none", "-serial", "none",
                        "-semihosting-config", "enable=on,target=native"], capture_output=True, text=True, timeout=60)
    assert (p.returncode, p.stdout) == (0, f"Hello from simmcu on {core}!\n"), p.stderr
