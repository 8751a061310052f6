"""What on this computer may be eating the connection: per-program network rates, known
bandwidth-hungry programs, browsers, network cards, Wi-Fi, and the load of the machine.

One interface (``local/base.py``) with a backend per operating system (``linux.py``, ``macos.py``,
``windows.py``); no Qt. The check calls :func:`sample_local`; ``connectcheck top`` calls
:func:`run_top`; lesson monitoring keeps a :class:`LocalSampler`.
"""

from __future__ import annotations

from connectcheck.local.base import LocalBackend, Scope, get_backend
from connectcheck.local.sampler import LocalSampler, sample_local
from connectcheck.local.text import format_local, run_top

__all__ = ["LocalBackend", "LocalSampler", "Scope", "format_local", "get_backend", "run_top", "sample_local"]
