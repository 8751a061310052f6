"""connectcheck: is this connection good enough for an online lesson, and what to do if not."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed package's metadata when first asked for (not at
    import: importing connectcheck stays quick, so Ctrl-C at start meets :func:`__main__.run`)."""
    if name != "__version__":
        raise AttributeError(f"module 'connectcheck' has no attribute {name!r}")
    from importlib import metadata

    try:
        version = metadata.version("connectcheck")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        version = "0.0.0+unknown"
    globals()["__version__"] = version
    return version
