"""Emitting signals from Python keeps True's reference count right (PySide6 6.12.0 steals one
reference of True per emit, which on Python 3.11 aborts the process after a few thousand)."""

import sys

from PySide6.QtCore import QObject, Signal

from connectcheck.ui.signals import emit, emit_steals_true


class Source(QObject):
    plain = Signal()
    with_value = Signal(object)


def test_many_emits_leave_trues_count_as_it_was():
    source = Source()
    got = []
    source.with_value.connect(got.append)
    emit_steals_true()  # measured once, before counting
    before = sys.getrefcount(True)
    for n in range(2000):
        emit(source.plain)
        emit(source.with_value, n)
    assert abs(sys.getrefcount(True) - before) < 50
    assert got == list(range(2000))
