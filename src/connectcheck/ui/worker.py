"""The one worker primitive of the app: blocking work runs off the GUI thread, and its result,
its error and anything it reports come back on the GUI thread.

    job = worker.run(lambda cancel: run_check(options, cancel=cancel,
                                              progress=worker.to_gui(window.show_progress)),
                     done=window.show_result, failed=window.show_error, name="check")
    job.request_cancel()

``run(work, done=, failed=)`` starts ``work(cancel)`` in a daemon thread; ``done(result)`` or
``failed(exception)`` is then called on the GUI thread. ``to_gui(fn)`` wraps a callback so that
any thread may call it and ``fn`` runs on the GUI thread (progress reports, the lesson monitor's
samples and alerts). :class:`SyncWorker` does the same in the calling thread, at once, for tests
that do not need real threads (as MusicBrainz Picard's ``FakeThreadPool`` does).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal, Slot

from connectcheck.ui.signals import emit, emit_steals_true

T = TypeVar("T")
ErrorFn = Callable[[BaseException], None]

log = logging.getLogger(__name__)


class Job:
    """One piece of work: its cancel event, and whether the work itself has returned."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.cancel = threading.Event()
        self._returned = threading.Event()

    def request_cancel(self) -> None:
        """Ask the work to stop (it watches ``cancel`` and returns what it has)."""
        self.cancel.set()

    @property
    def running(self) -> bool:
        return not self._returned.is_set()

    def wait(self, timeout_s: float) -> bool:
        """Wait (in any thread) until the work returned; True if it did within ``timeout_s``."""
        return self._returned.wait(timeout_s)


class _Poster(QObject):
    """Lives on the GUI thread; a call handed to it from any thread is made there.

    The call travels in a queue, not in the signal: the thread that hands it over keeps no
    reference to it once :meth:`hand_over` returns, so whatever the call holds (a window's bound
    method, a controller in a closure) is released on the GUI thread, never in the worker's.
    """

    posted = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._box: queue.SimpleQueue[list[Any]] = queue.SimpleQueue()
        self.posted.connect(self._call, Qt.ConnectionType.QueuedConnection)

    def hand_over(self, parcel: list[Any]) -> None:
        """Queue ``parcel`` (``[fn, *args]``) for the GUI thread and empty the caller's list."""
        self._box.put(parcel[:])
        parcel.clear()
        emit(self.posted)

    @Slot()
    def _call(self) -> None:
        try:
            parcel = self._box.get_nowait()
        except queue.Empty:  # pragma: no cover - one signal is emitted per parcel
            return
        fn, *args = parcel
        parcel.clear()
        fn(*args)


_posters: dict[int, _Poster] = {}


def _shared_poster() -> _Poster:
    """The one poster of this application, owned by the application (created on the GUI thread).

    A poster per worker was destroyed wherever the worker's last reference went, and that was
    often the worker's own thread, just after it had posted its outcome: the QObject died off its
    thread while the GUI thread was delivering the queued call to it (a segmentation fault, one
    run in a few hundred). Owned by the application, it is never destroyed before the app is.
    """
    app = QCoreApplication.instance()
    key = id(app)
    poster = _posters.get(key)
    if poster is None:
        poster = _Poster()
        if app is not None:
            poster.setParent(app)  # the C++ object belongs to the app, not to the wrapper
            app.destroyed.connect(lambda *_: _posters.pop(key, None))
        _posters[key] = poster
    return poster


class Worker:
    """Runs blocking work in threads and brings its outcome back to the GUI thread.

    Create it on the GUI thread. ``on_error`` receives the exceptions of work started without
    a ``failed`` callback (the app shows them calmly and logs them).
    """

    def __init__(self, on_error: ErrorFn | None = None) -> None:
        emit_steals_true()  # measured here, on the GUI thread, before any thread emits
        self._poster = _shared_poster()
        self._gui_thread = threading.get_ident()
        self.on_error = on_error or _log_error
        self._jobs: set[Job] = set()
        self._lock = threading.Lock()

    def run(
        self,
        work: Callable[[threading.Event], T],
        *,
        done: Callable[[T], None] | None = None,
        failed: ErrorFn | None = None,
        name: str = "work",
    ) -> Job:
        """Start ``work(cancel)`` off the GUI thread; ``done``/``failed`` are called on the GUI thread."""
        job = Job(name)
        with self._lock:
            self._jobs.add(job)
        # The work and its callbacks sit in a list the thread empties when it hands the outcome
        # over, so that their last references (often a window's or a controller's) are dropped
        # on the GUI thread.
        calls: list[Any] = [work, done, failed]

        def body() -> None:
            try:
                calls.append(calls[0](job.cancel))
            except Exception as exc:
                calls[:] = [self._fail, calls[2], exc, calls[0]]
            else:
                calls[:] = [_deliver, calls[1], calls[3], calls[0]]
            self._returned(job, calls)

        self._start(body, name)
        return job

    def _start(self, body: Callable[[], None], name: str) -> None:
        threading.Thread(target=body, name=f"worker-{name}", daemon=True).start()

    def to_gui(self, fn: Callable[..., Any]) -> Callable[..., None]:
        """A thread-safe stand-in for ``fn``: calling it queues ``fn(*args)`` on the GUI thread."""
        return lambda *args: self._post([fn, *args])

    def shutdown(self, timeout_s: float = 2.0) -> list[str]:
        """Cancel every running job and wait up to ``timeout_s`` in all; the names of those
        still running (they are daemon threads and end with the process)."""
        with self._lock:
            jobs = list(self._jobs)
        for job in jobs:
            job.request_cancel()
        end = time.monotonic() + timeout_s
        return [job.name for job in jobs if not job.wait(max(0.0, end - time.monotonic()))]

    def _returned(self, job: Job, parcel: list[Any]) -> None:
        job._returned.set()
        with self._lock:
            self._jobs.discard(job)
        self._post(parcel)

    def _fail(self, failed: ErrorFn | None, exc: BaseException, _work: object = None) -> None:
        (failed or self.on_error)(exc)

    def _post(self, parcel: list[Any]) -> None:
        """Hand ``parcel`` (``[fn, *args]``) to the GUI thread; ``parcel`` is emptied."""
        try:
            self._poster.hand_over(parcel)
        except RuntimeError:  # the app is shutting down and the poster is gone
            parcel.clear()
            log.debug("dropped a call to the GUI thread after shutdown")


def _deliver(done: Callable[[Any], None] | None, result: Any, _work: object = None) -> None:
    """Call ``done(result)``; ``_work`` only rides along to be released on the GUI thread."""
    if done is not None:
        done(result)


class SyncWorker(Worker):
    """The same interface, work done at once in the calling thread (for tests). Calls from other
    threads (the lesson monitor's) still go to the GUI thread, as they must."""

    def _start(self, body: Callable[[], None], name: str) -> None:
        body()

    def _post(self, parcel: list[Any]) -> None:
        if threading.get_ident() == self._gui_thread:
            fn, *args = parcel
            parcel.clear()
            fn(*args)
        else:
            super()._post(parcel)


def _log_error(exc: BaseException) -> None:
    log.error("background work failed", exc_info=exc)
