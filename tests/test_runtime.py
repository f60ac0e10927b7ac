"""The firmware runtime: printf's floating-point conversions against the host's formatting,
argc/argv from the semihosting command line, and the console opened as ":tt"."""

import ctypes
import math
import random
import struct

import pytest

from simmcu import Simulator
from simmcu.firmware import build

CONVERSIONS = "fFeEgG"


def _values(rng: random.Random) -> list[float]:
    special = [0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, -5e-324, 2.2250738585072014e-308,
               1.7976931348623157e308, 1.0, -1.0, 0.1, 0.5, 1.5, 2.5, -2.5, 0.125, 0.375, 2.675, 9.9995, 999999.5,
               9999995.0, 0.000095, 1e-5, 1e-4, 123456789.0, 1e15, 1e16, 1e21, 1e22, 4503599627370496.5, 2.0 ** 63]
    values = list(special)
    for _ in range(150):  # every exponent: subnormals, huge, everything between
        v = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
        values.append(abs(v) if math.isnan(v) else v)  # glibc prints a negative NaN as -nan, Python as nan
    for _ in range(150):  # everyday magnitudes
        values.append(rng.choice([-1, 1]) * rng.uniform(0, 10) * 10.0 ** rng.randint(-8, 12))
    for _ in range(150):  # rounding boundaries: ties and near-ties at the printed digit
        digits = rng.randint(0, 8)
        v = (rng.randint(0, 10 ** 6) + 0.5) / 10 ** digits
        values.append(rng.choice([v, math.nextafter(v, 0), math.nextafter(v, math.inf), v * 2 ** -rng.randint(0, 6)]))
    return values


def _format(rng: random.Random) -> str:
    flags = rng.choice(["", "", "-", "0"])
    width = rng.choice(["", "", str(rng.randint(1, 25))])
    precision = rng.choice(["", "", f".{rng.randint(0, 17)}", f".{rng.randint(18, 40)}"])
    return f"%{flags}{width}{precision}{rng.choice(CONVERSIONS)}"


def _expected(fmt: str, value: float) -> str:
    if not math.isfinite(value):
        fmt = fmt.replace("%0", "%")  # C pads inf and nan with spaces, never zeros
    return fmt % value


def _libc_snprintf():
    try:
        libc = ctypes.CDLL(None)
        libc.snprintf  # noqa: B018 -- present where the host has a C library in-process
    except (OSError, AttributeError):
        return None

    def fmt(f: str, v: float) -> str:
        buf = ctypes.create_string_buffer(512)
        libc.snprintf(buf, 512, f.encode(), ctypes.c_double(v))
        return buf.value.decode()

    return fmt


def test_the_reference_is_the_c_library():
    """Python's % formatting, as used below, is what the host's C printf prints."""
    libc = _libc_snprintf()
    if libc is None or libc("%.3f", 2.0625) != "2.062":
        pytest.skip("no glibc-like C library in this process")
    rng = random.Random(7)
    cases = [(_format(rng), v) for v in _values(rng)]
    assert [f"{f} {libc(f, v)}" for f, v in cases] == [f"{f} {_expected(f, v)}" for f, v in cases]


@pytest.mark.parametrize("core", ["rv32imc", "cortex-m0plus", "cortex-m4"])
def test_printf_floats_match_the_host(tmp_path, core):
    rng = random.Random(2026)
    cases = [(_format(rng), v) for v in _values(rng)]
    bits = ", ".join(f"{struct.unpack('<Q', struct.pack('<d', v))[0]:#x}ull" for _, v in cases)
    formats = ", ".join(f'"{f}\\n"' for f, _ in cases)
    source = tmp_path / "floats.c"
    source.write_text(f"""#include "simmcu.h"
static const uint64_t bits[] = {{{bits}}};
static const char *const formats[] = {{{formats}}};
int main(void)
{{
    for (unsigned i = 0; i < sizeof bits / sizeof bits[0]; i++) {{
        union {{ uint64_t u; double d; }} v = {{bits[i]}};
        printf(formats[i], v.d);
    }}
    return 0;
}}
""")
    r = Simulator(build(source, core, tmp_path / "floats.elf", cflags="-Wno-format-nonliteral"), core=core).run()
    assert r.exit_code == 0, r.message
    got = r.console.splitlines()
    assert [f"{f} {g}" for (f, _), g in zip(cases, got)] == [f"{f} {_expected(f, v)}" for f, v in cases]
    assert len(got) == len(cases)


def test_snprintf_truncates_and_counts_floats(tmp_path):
    (tmp_path / "s.c").write_text("""#include "simmcu.h"
int main(void)
{
    char buf[8];
    int n = snprintf(buf, sizeof buf, "%.3f|%e", 3.14159, 1.0);
    printf("%d %s %d\\n", n, buf, snprintf(0, 0, "%g", 1e100));
    return 0;
}
""")
    r = Simulator(build(tmp_path / "s.c", "cortex-m0plus", tmp_path / "s.elf"), core="cortex-m0plus").run()
    assert r.console == "18 3.142|1 6\n"


ARGV = """#include "simmcu.h"
int main(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        printf("[%s]", argv[i]);
    printf(" argc=%d argv[argc]=%p\\n", argc, (void *)argv[argc]);
    return argc;
}
"""


@pytest.mark.parametrize("core", ["rv32imc", "cortex-m3"])
def test_main_gets_argc_and_argv(tmp_path, core):
    (tmp_path / "args.c").write_text(ARGV)
    elf = build(tmp_path / "args.c", core, tmp_path / "args.elf")
    r = Simulator(elf, core=core, args=("one", "two", "3")).run()
    assert r.console == "[args.elf][one][two][3] argc=4 argv[argc]=0x00000000\n" and r.exit_code == 4
    assert Simulator(elf, core=core).run().console == "[args.elf] argc=1 argv[argc]=0x00000000\n"


def test_console_is_the_handle_opened_as_tt(monkeypatch, run):
    """The runtime writes to the handle SYS_OPEN(":tt", "w") returns, as QEMU requires."""
    from simmcu import _semihosting

    calls = []
    real_open, real_write = _semihosting.Semihosting._op_sys_open, _semihosting.Semihosting._op_sys_write

    def sys_open(self, arg):
        ptr, mode, length = self._words(arg, 3)
        calls.append(("open", self._read(ptr, length).decode(), mode))
        return real_open(self, arg)

    def sys_write(self, arg):
        calls.append(("write", self._words(arg, 1)[0]))
        return real_write(self, arg)

    monkeypatch.setattr(_semihosting.Semihosting, "_op_sys_open", sys_open)
    monkeypatch.setattr(_semihosting.Semihosting, "_op_sys_write", sys_write)
    r = run("conv2d", "cortex-m4")  # prints once, at the end
    assert r.exit_code == 0 and r.console.count("\n") == 1
    assert calls == [("open", ":tt", 4), ("write", 1)]
