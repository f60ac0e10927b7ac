"""Arm semihosting (also used by RISC-V), implemented by the simulator.

Unicorn compiles semihosting out, so the core loop hands each trapped call
here. Console I/O always works; host files only inside a directory the user
names (``--semihost-dir``), so firmware cannot touch host files by default.
Time-related calls answer in modeled time, never host time.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ADP_STOPPED_APPLICATION_EXIT = 0x20026
FEATURES_MAGIC = b"SHFB"
FEATURE_EXIT_EXTENDED = 0x01
FEATURE_STDOUT_STDERR = 0x02

OPS = {
    0x01: "SYS_OPEN", 0x02: "SYS_CLOSE", 0x03: "SYS_WRITEC", 0x04: "SYS_WRITE0", 0x05: "SYS_WRITE",
    0x06: "SYS_READ", 0x07: "SYS_READC", 0x08: "SYS_ISERROR", 0x09: "SYS_ISTTY", 0x0A: "SYS_SEEK",
    0x0C: "SYS_FLEN", 0x0D: "SYS_TMPNAM", 0x0E: "SYS_REMOVE", 0x0F: "SYS_RENAME", 0x10: "SYS_CLOCK",
    0x11: "SYS_TIME", 0x12: "SYS_SYSTEM", 0x13: "SYS_ERRNO", 0x15: "SYS_GET_CMDLINE",
    0x16: "SYS_HEAPINFO", 0x18: "SYS_EXIT", 0x20: "SYS_EXIT_EXTENDED", 0x30: "SYS_ELAPSED",
    0x31: "SYS_TICKFREQ",
}
_STDIN, _STDOUT, _STDERR = 0, 1, 2
_MODES = ["rb", "rb", "r+b", "r+b", "wb", "wb", "w+b", "w+b", "ab", "ab", "a+b", "a+b"]
_FLAGS = {"rb": os.O_RDONLY, "r+b": os.O_RDWR, "wb": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
          "w+b": os.O_RDWR | os.O_CREAT | os.O_TRUNC, "ab": os.O_WRONLY | os.O_CREAT | os.O_APPEND,
          "a+b": os.O_RDWR | os.O_CREAT | os.O_APPEND}
_WORD = 0xFFFFFFFF
#: Files a firmware may hold open at once (SYS_OPEN then fails with EMFILE), as a C library's FOPEN_MAX.
MAX_OPEN_FILES = 64
#: Guest memory is whole 4 KiB pages, so a chunk that stops at a multiple of this never crosses the
#: end of a region: strings and reads go to the guest in such chunks, never more than it holds.
_CHUNK = 4096


class SemihostingRefused(Exception):
    """The firmware asked for something simmcu does not do (or not without opt-in)."""


@dataclass
class Exit:
    """Raised-as-value: the firmware asked to end the run."""

    code: int
    detail: str


class Semihosting:
    """One firmware's semihosting session: console, sandboxed files, exit."""

    def __init__(self, *, read: Callable[[int, int], bytes], write: Callable[[int, bytes], None],
                 cycles: Callable[[], int], clock_hz: int, console: Callable[[str], None],
                 stdin: bytes = b"", sandbox: str | Path | None = None, cmdline: str = "",
                 heapinfo: tuple[int, int, int, int] = (0, 0, 0, 0),
                 check: Callable[[int, int, str], None] = lambda addr, size, access: None):
        self._read, self._write, self._cycles, self._check = read, write, cycles, check
        self._clock_hz = clock_hz
        self._console = console
        self._stdin = bytearray(stdin)
        self._sandbox = Path(sandbox).resolve() if sandbox is not None else None
        self._cmdline = cmdline
        self._heapinfo = heapinfo
        self._files: dict[int, object] = {}
        self._next_handle = 3
        self._errno = 0

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()

    # -- helpers -------------------------------------------------------------------------
    def _words(self, addr: int, n: int) -> tuple[int, ...]:
        return struct.unpack(f"<{n}I", self._read(addr, 4 * n))

    def _cstring(self, addr: int, limit: int = 1 << 16) -> bytes:
        out = bytearray()
        while len(out) < limit:
            here = addr + len(out)
            chunk = self._read(here, _CHUNK - here % _CHUNK)
            nul = chunk.find(0)
            if nul >= 0:
                return bytes(out + chunk[:nul])
            out += chunk
        raise SemihostingRefused(f"SYS_WRITE0 string at {addr:#x} is not terminated within {limit} bytes")

    def _emit(self, data: bytes) -> None:
        self._console(data.decode("utf-8", errors="replace"))

    def _fail(self, code: int) -> int:
        self._errno = code
        return _WORD  # -1

    def _host_path(self, name: str, op: str) -> Path:
        """``name`` inside the sandbox, else ``OSError``: EPERM when it escapes, EINVAL when it is no
        file name (a NUL inside, a symlink loop)."""
        if self._sandbox is None:
            raise SemihostingRefused(f"{op} of host file {name!r} refused: pass --semihost-dir DIR to allow file access")
        try:
            path = (self._sandbox / name.lstrip("/")).resolve()
        except (ValueError, RuntimeError):
            raise OSError(errno.EINVAL, "not a file name") from None
        if path != self._sandbox and self._sandbox not in path.parents:
            raise OSError(errno.EPERM, "outside the sandbox")
        return path

    def _name(self, ptr: int, length: int) -> str:
        return self._read(ptr, length).decode("utf-8", errors="replace")

    # -- dispatch ------------------------------------------------------------------------
    def call(self, op: int, arg: int) -> int | Exit:
        """Run one call; return the value for r0/a0, or an ``Exit``."""
        name = OPS.get(op)
        handler = getattr(self, f"_op_{name.lower()}", None) if name else None
        if handler is None:
            label = f"{op:#x} ({name})" if name else f"{op:#x}"
            raise SemihostingRefused(f"unsupported semihosting operation {label}")
        return handler(arg)

    def _op_sys_open(self, arg: int) -> int:
        ptr, mode, length = self._words(arg, 3)
        name = self._name(ptr, length)
        if mode > 11:
            return self._fail(errno.EINVAL)
        if name == ":tt":
            return _STDIN if mode < 4 else _STDOUT if mode < 8 else _STDERR
        if name == ":semihosting-features":
            if mode >= 4:
                return self._fail(errno.EACCES)
            data = FEATURES_MAGIC + bytes([FEATURE_EXIT_EXTENDED | FEATURE_STDOUT_STDERR])
            return self._register(lambda: _MemFile(data))
        return self._register(lambda: _open_regular(self._host_path(name, "SYS_OPEN"), _MODES[mode]))

    def _register(self, opener: Callable[[], object]) -> int:
        """A new handle for the file ``opener`` opens; -1 with errno when it fails or too many are open."""
        if len(self._files) >= MAX_OPEN_FILES:
            return self._fail(errno.EMFILE)
        try:
            f = opener()
        except OSError as e:
            return self._fail(e.errno or errno.EIO)
        handle = self._next_handle
        self._next_handle += 1
        self._files[handle] = f
        return handle

    def _op_sys_close(self, arg: int) -> int:
        (handle,) = self._words(arg, 1)
        if handle in (_STDIN, _STDOUT, _STDERR):
            return 0
        f = self._files.pop(handle, None)
        if f is None:
            return self._fail(errno.EBADF)
        try:
            f.close()
        except OSError as e:
            return self._fail(e.errno or errno.EIO)
        return 0

    def _op_sys_writec(self, arg: int) -> int:
        self._emit(self._read(arg, 1))
        return 0

    def _op_sys_write0(self, arg: int) -> int:
        self._emit(self._cstring(arg))
        return 0

    def _op_sys_write(self, arg: int) -> int:
        handle, ptr, length = self._words(arg, 3)
        data = self._read(ptr, length)
        if handle in (_STDOUT, _STDERR):
            self._emit(data)
            return 0
        f = self._files.get(handle)
        if f is None:
            self._errno = errno.EBADF
            return length
        try:
            return length - (f.write(data) or 0)
        except OSError as e:  # io.UnsupportedOperation (a handle opened for reading) has no errno
            self._errno = e.errno or errno.EBADF
            return length

    def _op_sys_read(self, arg: int) -> int:
        """Bytes go to the guest chunk by chunk as they are read, so the host never holds more than a
        chunk, whatever ``length`` says (each chunk is checked as it is written), and a buffer that
        does not start in writable memory is a firmware fault even when nothing is left to read."""
        handle, ptr, length = self._words(arg, 3)
        self._check(ptr, min(length, 1), "write")  # a buffer the firmware may not write faults even at EOF
        if handle == _STDIN:
            read = self._read_stdin
        elif handle in self._files:
            read = self._files[handle].read
        else:
            self._errno = errno.EBADF
            return length
        done = 0
        try:
            while done < length:
                here = ptr + done
                data = read(min(length - done, _CHUNK - here % _CHUNK))
                if not data:
                    break
                self._write(here, data)
                done += len(data)
        except OSError as e:  # io.UnsupportedOperation (a handle opened for writing) has no errno
            self._errno = e.errno or errno.EBADF
        return length - done

    def _read_stdin(self, n: int) -> bytes:
        data = bytes(self._stdin[:n])
        del self._stdin[:n]
        return data

    def _op_sys_readc(self, arg: int) -> int:
        if not self._stdin:
            return _WORD
        c = self._stdin.pop(0)
        return c

    def _op_sys_iserror(self, arg: int) -> int:
        (status,) = self._words(arg, 1)
        return int(status >= 0x80000000)

    def _op_sys_istty(self, arg: int) -> int:
        (handle,) = self._words(arg, 1)
        return int(handle in (_STDIN, _STDOUT, _STDERR))

    def _op_sys_seek(self, arg: int) -> int:
        handle, pos = self._words(arg, 2)
        f = self._files.get(handle)
        if f is None:
            return self._fail(errno.EBADF)
        try:
            f.seek(pos)
        except OSError as e:
            return self._fail(e.errno or errno.EIO)
        return 0

    def _op_sys_flen(self, arg: int) -> int:
        (handle,) = self._words(arg, 1)
        f = self._files.get(handle)
        if f is None:
            return self._fail(errno.EBADF)
        try:
            here = f.tell()
            size = f.seek(0, os.SEEK_END)
            f.seek(here)
        except OSError as e:
            return self._fail(e.errno or errno.EIO)
        return size

    def _op_sys_remove(self, arg: int) -> int:
        ptr, length = self._words(arg, 2)
        name = self._name(ptr, length)
        try:
            self._host_path(name, "SYS_REMOVE").unlink()
        except OSError as e:
            return self._fail(e.errno or errno.EIO)
        return 0

    def _op_sys_rename(self, arg: int) -> int:
        p1, l1, p2, l2 = self._words(arg, 4)
        src, dst = self._name(p1, l1), self._name(p2, l2)
        try:
            self._host_path(src, "SYS_RENAME").rename(self._host_path(dst, "SYS_RENAME"))
        except OSError as e:
            return self._fail(e.errno or errno.EIO)
        return 0

    def _op_sys_clock(self, arg: int) -> int:
        return self._cycles() * 100 // self._clock_hz & 0x7FFFFFFF

    def _op_sys_time(self, arg: int) -> int:
        # Seconds of modeled time since reset: host time would break determinism.
        return self._cycles() // self._clock_hz & _WORD

    def _op_sys_errno(self, arg: int) -> int:
        return self._errno

    def _op_sys_get_cmdline(self, arg: int) -> int:
        ptr, length = self._words(arg, 2)
        data = self._cmdline.encode()
        if len(data) + 1 > length:
            return _WORD
        self._write(ptr, data + b"\0")
        self._write(arg + 4, struct.pack("<I", len(data)))
        return 0

    def _op_sys_heapinfo(self, arg: int) -> int:
        (ptr,) = self._words(arg, 1)
        self._write(ptr, struct.pack("<4I", *self._heapinfo))
        return 0

    def _op_sys_exit(self, arg: int) -> Exit:
        # 32-bit callers pass the reason itself; only ApplicationExit means success.
        if arg == ADP_STOPPED_APPLICATION_EXIT:
            return Exit(0, "SYS_EXIT")
        return Exit(1, f"SYS_EXIT with reason {arg:#x}")

    def _op_sys_exit_extended(self, arg: int) -> Exit:
        reason, subcode = self._words(arg, 2)
        if reason == ADP_STOPPED_APPLICATION_EXIT:
            return Exit(subcode, "SYS_EXIT_EXTENDED")
        return Exit(1, f"SYS_EXIT_EXTENDED with reason {reason:#x}")

    def _op_sys_elapsed(self, arg: int) -> int:
        self._write(arg, struct.pack("<Q", self._cycles()))
        return 0

    def _op_sys_tickfreq(self, arg: int) -> int:
        return self._clock_hz


def _open_regular(path: Path, mode: str):
    """``path`` opened in ``mode`` if it is a regular file. O_NONBLOCK keeps a FIFO from blocking the
    open; fstat on what was opened (not the name, which may change in between) refuses it, a
    directory or a device."""
    fd = os.open(path, _FLAGS[mode] | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, mode)
    except BaseException:
        os.close(fd)
        raise


class _MemFile:
    """A read-only in-memory file (the semihosting feature file)."""

    def __init__(self, data: bytes):
        self._data, self._pos = data, 0

    def read(self, n: int) -> bytes:
        out = self._data[self._pos:self._pos + n]
        self._pos += len(out)
        return out

    def write(self, data: bytes) -> int:
        raise OSError(errno.EBADF, "read-only")

    def seek(self, pos: int, whence: int = os.SEEK_SET) -> int:
        self._pos = len(self._data) + pos if whence == os.SEEK_END else pos
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        pass
