"""Emitting Qt signals from Python without slowly killing the process.

PySide6 6.12.0's ``SignalInstance.emit()`` returns ``True`` without taking a reference to it, so
every emit from Python steals one reference of ``True``. On Python 3.11, where ``True`` is not
immortal, the process aborts ("Fatal Python error: bool_dealloc") once the count runs out:
after a few thousand emits, that is a few checks' worth of progress reports. 6.11 does not do
this, and from Python 3.12 on ``True`` is immortal, so it does no harm there.

Every emit of the app goes through :func:`emit`, which gives the reference back when this PySide
is found (once, by measuring) to steal it.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from PySide6.QtCore import QObject, Signal, SignalInstance

PROBE_EMITS = 200

_steals: bool | None = None


class _Probe(QObject):
    fired = Signal()


def emit_steals_true() -> bool:
    """Whether ``emit()`` loses a reference of ``True`` here (measured over a few hundred emits,
    so that other threads touching ``True`` meanwhile cannot fake or hide it)."""
    global _steals
    if _steals is None:
        probe = _Probe()
        before = sys.getrefcount(True)
        for _ in range(PROBE_EMITS):
            probe.fired.emit()
        lost = before - sys.getrefcount(True)
        _steals = lost > PROBE_EMITS // 2
        if _steals:
            _give_back(lost)
    return _steals


def emit(signal: SignalInstance, *args: Any) -> None:
    """``signal.emit(*args)``, keeping ``True``'s reference count right."""
    result = signal.emit(*args)
    if result is True and emit_steals_true():
        _give_back(1)


def _give_back(count: int) -> None:
    for _ in range(count):
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))
