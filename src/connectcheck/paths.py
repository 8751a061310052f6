"""Where connectcheck finds its bundled resources and keeps the user's files."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "connectcheck"


def resource_dir() -> Path:
    """The folder of bundled data (thresholds, catalogues, organisation profiles, icons).

    In a wheel it is ``connectcheck/resources``; in an editable install or a source checkout
    it is the top-level ``resources/``; in a frozen build it sits beside the program.
    """
    here = Path(__file__).resolve().parent
    candidates = [here / "resources", here.parent.parent / "resources"]
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


def config_dir() -> Path:
    override = os.environ.get("CONNECTCHECK_CONFIG_DIR")
    if override:
        return Path(override)
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    override = os.environ.get("CONNECTCHECK_DATA_DIR")
    if override:
        return Path(override)
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    override = os.environ.get("CONNECTCHECK_CACHE_DIR")
    if override:
        return Path(override)
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    override = os.environ.get("CONNECTCHECK_LOG_DIR")
    if override:
        return Path(override)
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))
