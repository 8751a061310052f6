"""Where connectcheck finds its bundled resources and keeps the user's files."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import platformdirs

APP_NAME = "connectcheck"


def resource_dir() -> Path:
    """The folder of bundled data (thresholds, catalogues, organisation profiles, icons).

    In a wheel it is ``connectcheck/resources``; in an editable install or a source checkout
    it is the top-level ``resources/``; in a frozen build it sits beside the program.
    """
    here = Path(__file__).resolve().parent
    candidates = [here.parent / "resources", here.parent.parent.parent / "resources"]
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        candidates.insert(0, Path(frozen) / "connectcheck" / "resources")
    for cand in candidates:
        if cand.is_dir():
            return cand
    raise FileNotFoundError(
        "connectcheck's resources folder is missing; the installation is incomplete "
        f"(looked in: {', '.join(str(c) for c in candidates)})"
    )


def resource_path(*parts: str) -> Path:
    return resource_dir().joinpath(*parts)


def _user_dir(kind: str, default: Callable[..., str]) -> Path:
    """A user folder of ours: ``CONNECTCHECK_<KIND>_DIR`` if set (tests, portable use), else
    the platform's usual place."""
    override = os.environ.get(f"CONNECTCHECK_{kind}_DIR")
    return Path(override) if override else Path(default(APP_NAME, appauthor=False))


def config_dir() -> Path:
    return _user_dir("CONFIG", platformdirs.user_config_dir)


def data_dir() -> Path:
    return _user_dir("DATA", platformdirs.user_data_dir)


def cache_dir() -> Path:
    return _user_dir("CACHE", platformdirs.user_cache_dir)


def log_dir() -> Path:
    return _user_dir("LOG", platformdirs.user_log_dir)


def current_os() -> str:
    """"linux", "macos" or "windows" (anything else is treated as Linux)."""
    if sys.platform.startswith("win"):
        return "windows"
    if sys.platform == "darwin":
        return "macos"
    return "linux"
