"""The worker primitive: work off the GUI thread, outcome and progress back on it."""

import threading
import time

from PySide6.QtCore import QTimer

from connectcheck.ui.worker import SyncWorker, Worker


def test_result_comes_back_on_the_gui_thread(qtbot):
    worker = Worker()
    gui = threading.get_ident()
    seen = {}

    def work(cancel):
        seen["work"] = threading.get_ident()
        return 42

    with qtbot.waitCallback() as done:
        worker.run(work, done=lambda value: done((value, threading.get_ident())))
    assert done.args[0] == (42, gui)
    assert seen["work"] != gui


def test_error_comes_back_on_the_gui_thread(qtbot):
    worker = Worker()
    gui = threading.get_ident()

    def work(cancel):
        raise ValueError("the server did not answer")

    with qtbot.waitCallback() as failed:
        worker.run(work, done=lambda v: None, failed=lambda exc: failed(exc, threading.get_ident()))
    exc, thread = failed.args
    assert isinstance(exc, ValueError) and str(exc) == "the server did not answer"
    assert thread == gui


def test_work_without_error_handling_goes_to_on_error(qtbot):
    errors = []
    worker = Worker(on_error=errors.append)
    job = worker.run(lambda cancel: 1 / 0)
    qtbot.waitUntil(lambda: bool(errors), timeout=2000)
    assert isinstance(errors[0], ZeroDivisionError) and not job.running


def test_to_gui_runs_progress_reports_on_the_gui_thread_in_order(qtbot):
    worker = Worker()
    gui = threading.get_ident()
    reports = []
    report = worker.to_gui(lambda n: reports.append((n, threading.get_ident())))

    def work(cancel):
        for n in range(50):
            report(n)
        return "done"

    with qtbot.waitCallback() as done:
        worker.run(work, done=done)
    qtbot.waitUntil(lambda: len(reports) == 50, timeout=2000)
    assert [n for n, _ in reports] == list(range(50))
    assert {t for _, t in reports} == {gui}


def test_the_gui_thread_keeps_running_while_work_blocks(qtbot):
    worker = Worker()
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(20)
    with qtbot.waitCallback(timeout=3000) as done:
        worker.run(lambda cancel: cancel.wait(0.5), done=done)
    timer.stop()
    assert len(ticks) >= 10  # the event loop went on ticking while the work waited


def test_shutdown_cancels_and_waits_for_running_work(qtbot):
    worker = Worker()
    started = threading.Event()

    def work(cancel):
        started.set()
        cancel.wait(10)
        return "stopped"

    job = worker.run(work)
    assert started.wait(2)
    t0 = time.monotonic()
    assert worker.shutdown(2.0) == []
    assert time.monotonic() - t0 < 1.0
    assert job.cancel.is_set() and not job.running


def test_shutdown_names_work_that_does_not_stop(qtbot):
    worker = Worker()
    release = threading.Event()
    worker.run(lambda cancel: release.wait(5), name="stubborn")
    assert worker.shutdown(0.2) == ["stubborn"]
    release.set()


def test_sync_worker_does_everything_at_once_in_the_calling_thread():
    worker = SyncWorker()
    out = []
    job = worker.run(lambda cancel: "value", done=out.append)
    assert out == ["value"] and not job.running
    worker.run(lambda cancel: 1 / 0, failed=out.append)
    assert isinstance(out[-1], ZeroDivisionError)
    worker.to_gui(out.append)("now")
    assert out[-1] == "now"


def test_sync_worker_still_brings_other_threads_calls_to_the_gui_thread(qtbot):
    worker = SyncWorker()
    gui = threading.get_ident()
    seen = []
    call = worker.to_gui(lambda: seen.append(threading.get_ident()))
    thread = threading.Thread(target=call)
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: bool(seen), timeout=2000)
    assert seen == [gui]


def test_a_worker_dropped_while_its_thread_finishes_does_not_crash_the_app(qtbot, qapp):
    # The worker's own thread often holds its last reference: a QObject owned by the worker was
    # then destroyed off the GUI thread while its queued outcome was being delivered (a
    # segmentation fault within a hundred rounds). The poster belongs to the application.
    outcomes = []
    for _ in range(300):
        worker = Worker()
        started = threading.Event()

        def work(cancel, started=started):
            started.set()
            cancel.wait(10)
            return "stopped"

        worker.run(work, done=outcomes.append)
        assert started.wait(2)
        assert worker.shutdown(2.0) == []
        del worker
        qapp.processEvents()
    qtbot.waitUntil(lambda: len(outcomes) == 300, timeout=5000)
    assert set(outcomes) == {"stopped"}


def test_workers_share_one_poster_owned_by_the_application(qtbot, qapp):
    first, second = Worker(), Worker()
    assert first._poster is second._poster
    assert first._poster.parent() is qapp


class _Witness:
    """Records the thread its last reference was dropped in."""

    def __init__(self, seen: list[int]) -> None:
        self.seen = seen

    def __del__(self) -> None:
        self.seen.append(threading.get_ident())


def test_the_works_and_callbacks_last_references_go_on_the_gui_thread(qtbot):
    # A controller or window held only by the work's closure must not be destroyed in the
    # worker's thread (a QObject destroyed off its thread can crash the app).
    gui = threading.get_ident()
    released = []
    outcomes = []
    worker = Worker()
    for fails in (False, True):
        in_work, in_done = _Witness(released), _Witness(released)

        def work(cancel, held=in_work, fails=fails):
            time.sleep(0.05)  # the test has dropped its own references by now
            if fails:
                raise ValueError("no answer")
            return "ok"

        def finished(value, held=in_done):
            outcomes.append(value if isinstance(value, str) else repr(value))

        worker.run(work, done=finished, failed=finished)
        del work, finished, in_work, in_done
        qtbot.waitUntil(lambda n=2 * (1 + fails): len(released) == n, timeout=3000)
    assert outcomes == ["ok", "ValueError('no answer')"]
    assert released == [gui] * 4
