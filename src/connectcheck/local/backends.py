"""The backend of this computer's system (or another's, for tests)."""

from __future__ import annotations

from connectcheck.core.paths import current_os
from connectcheck.local.base import OS_NAMES, LocalBackend


def get_backend(os_name: str | None = None, **options: object) -> LocalBackend:
    """The backend for ``os_name`` (default: this computer's system).

    Forcing another system's backend is for tests: its tools are not here, so give it a
    ``run=`` that replays their recorded outputs.
    """
    name = os_name or current_os()
    if name == "linux":
        from connectcheck.local.linux import LinuxBackend

        return LinuxBackend(**options)  # type: ignore[arg-type]
    if name == "macos":
        from connectcheck.local.macos import MacBackend

        return MacBackend(**options)  # type: ignore[arg-type]
    if name == "windows":
        from connectcheck.local.windows import WindowsBackend

        return WindowsBackend(**options)  # type: ignore[arg-type]
    raise ValueError(f"unknown operating system {name!r} (expected one of {', '.join(OS_NAMES)})")
