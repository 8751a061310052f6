"""This computer's system, as connectcheck's per-OS code names it."""

from __future__ import annotations

import sys


def current_os() -> str:
    """"linux", "macos" or "windows" (anything else is treated as Linux)."""
    if sys.platform.startswith("win"):
        return "windows"
    if sys.platform == "darwin":
        return "macos"
    return "linux"
