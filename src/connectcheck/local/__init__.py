"""What on this computer may be eating the connection: per-program network rates, known
bandwidth-hungry programs, browsers, network cards, Wi-Fi, and the load of the machine.

One interface (``local/base.py``) with a backend per operating system (``linux.py``, ``macos.py``,
``windows.py``, chosen in ``backends.py``); no Qt. The check calls :func:`sample_local`; lesson
monitoring and ``connectcheck top`` keep a :class:`LocalSampler`; the words for the terminal are
in ``cli/text.py``.
"""

from __future__ import annotations

from connectcheck.local.backends import get_backend
from connectcheck.local.base import LocalBackend, Scope
from connectcheck.local.sampler import LocalSampler, sample_local

__all__ = ["LocalBackend", "LocalSampler", "Scope", "get_backend", "sample_local"]
