"""Writing files so that a crash or a full disk never leaves a half-written one behind, and reading
the data files the app ships (``resources/*.toml``) with one clear message when one is broken."""

from __future__ import annotations

import os
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
