"""Writing files so that a crash or a full disk never leaves a half-written one behind, reading
the files the app is given (only regular files of bounded size: never a device, a pipe or a
folder, which could hang or fill memory), and reading the data files the app ships
(``resources/*.toml``) with one clear message when one is broken."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from connectcheck.core import paths


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, synced and then
    renamed over the target: readers see the old file or the new one, never a mix. On any
    error (``OSError`` such as a full disk) the temporary file is removed and the old file kept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


class FileRefused(OSError):
    """A file that is not read: not a regular file, too large, or a name the system refuses.
    The text says why in plain words (``strerror`` too, for callers that show that)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.strerror = text

    def __str__(self) -> str:
        return self.strerror


def read_limited(path: Path, max_bytes: int, what: str = "file") -> bytes:
    """The bytes of ``path`` if it is a regular file (a link to one is fine) of at most
    ``max_bytes``; raises FileNotFoundError when it is missing, :class:`FileRefused` when it is
    a device, a pipe, a folder, too large or a name too long, and OSError for other trouble.

    Looked at before it is opened (a pipe would block the opening), opened without blocking
    where the system has that, and looked at again once open (it may have been swapped)."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise _plain(exc, path, what) from None
    _check_regular(info, path, max_bytes, what)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise _plain(exc, path, what) from None
    try:
        _check_regular(os.fstat(fd), path, max_bytes, what)
        chunks, total = [], 0
        while total <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    finally:
        os.close(fd)
    if total > max_bytes:
        raise FileRefused(f"the {what} {path} is too large (more than {_size(max_bytes)})")
    return b"".join(chunks)


def _check_regular(info: os.stat_result, path: Path, max_bytes: int, what: str) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise FileRefused(f"the {what} {path} is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise FileRefused(f"the {what} {path} is not a regular file (a device or a pipe), so it was not read")
    if info.st_size > max_bytes:
        raise FileRefused(f"the {what} {path} is too large ({_size(info.st_size)}; at most "
                          f"{_size(max_bytes)} is read)")


def _plain(exc: OSError, path: Path, what: str) -> OSError:
    if isinstance(exc, FileNotFoundError):
        return exc
    if exc.errno == errno.ENAMETOOLONG:
        return FileRefused(f"the {what} name is too long for this system ({len(os.fsencode(path))} bytes)")
    return exc


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n:,} bytes"


def read_toml(path: Path, what: str, error: type[Exception]) -> dict[str, Any]:
    """The parsed TOML file at ``path``; a file that is missing, unreadable, not UTF-8 or not
    TOML raises ``error`` saying "the {what} {path} cannot be read: …"."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise error(f"the {what} {path} cannot be read: {exc}") from None


def read_bundled_toml(name: str, what: str, error: type[Exception], path: Path | None = None
                      ) -> tuple[dict[str, Any], Path]:
    """The data file ``name`` shipped in ``resources/`` (or ``path`` when given), parsed, and
    where it was read from; failures as :func:`read_toml`."""
    path = path or paths.resource_path(name)
    return read_toml(path, what, error), path
