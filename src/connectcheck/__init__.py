"""connectcheck: is this connection good enough for an online lesson, and what to do if not."""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("connectcheck")
except _metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
