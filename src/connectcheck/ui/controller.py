"""The app's state and its actions, shared by the tray and every window.

One object knows the settings, the last check, whether a check runs (and how far it got), the
monitored lesson and its samples and alerts; the tray and the windows only show it and call its
actions. Every blocking action (a check, starting and stopping the lesson monitor, saving to the
history) goes through the worker, so the GUI thread never waits on the network or the disk.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import QObject, QTimer, Signal

from connectcheck.assess import Thresholds
from connectcheck.assess.cause import check_cause
from connectcheck.assess.compare import recent
from connectcheck.check import CheckOptions, run_check
from connectcheck.config.profile import OrganisationProfile
from connectcheck.config.settings import Settings, save_settings
from connectcheck.config.startup import profile_or_problem, thresholds_from_settings
from connectcheck.core.model import (
    CheckKind,
    CheckResult,
    Connectivity,
    LessonAlert,
    LessonRecord,
    MonitorSample,
    ProcedureRecord,
    Status,
)
from connectcheck.core.tasks import Progress
from connectcheck.core.words import ALERT_ADVICE, OVERALL_WORDS, age_words, answer, parse_time, relative_time
from connectcheck.history import History
from connectcheck.monitor import Monitor, MonitorOptions
from connectcheck.ui import autostart, icons
from connectcheck.ui.signals import emit
from connectcheck.ui.text import ACTIVITY_WORDS, VERDICT_WORDS
from connectcheck.ui.worker import Job, Worker

log = logging.getLogger(__name__)

_OVERALL_ICON = {"ready": icons.GOOD, "limited": icons.DEGRADED, "cannot": icons.FAILING}
_SAMPLE_ICON = {"fail": icons.FAILING, "degraded": icons.DEGRADED}

OLD_AFTER_S = 15 * 60  # a result older than this is shown as old (faded icon, "checked … ago")
CHECK_ON_OPEN_AFTER_S = 5 * 60  # opening the window checks again when the last check is older
STALE_POLL_MS = 30_000
ALERT_BATCH_MS = 400  # alerts this close together are told as one notification (the worst)
NOTIFY_S = 10.0  # how long a notification stays on screen (the tray's NOTIFY_MS)
_ALERT_RANK = {"fail": 3, "degraded": 2, "good": 1}
EMAIL_CAN_GO = (
    "The connection is back. If your message to support is still in your mail program's Outbox, "
    "open the mail program and press Send. With webmail, paste the message (it is still on the "
    "clipboard) or press “E-mail support…” again."
)
RECENT_LESSON_S = 3 * 3600  # a lesson stopped this recently is still the one the guide is about

MonitorFactory = Callable[..., Monitor]  # called as Monitor(options=, history=, on_sample=, on_alert=)
OptionsFactory = Callable[[Settings, OrganisationProfile | None], MonitorOptions]


def _failing(r: CheckResult) -> set[str]:
    """The activities a check found failing."""
    return {v.activity for v in r.assessment.verdicts if v.state == "fail"} if r.assessment else set()


def _cause_key(r: CheckResult) -> str | None:
    """The likely cause's key, for the headline (None: not known, or judging it failed)."""
    if r.assessment is None:
        return None
    try:
        return check_cause(r, r.assessment).key
    except Exception:  # the headline never fails for the cause's sake; the cause section says more
        log.exception("the likely cause could not be judged for the headline")
        return None


def alert_notification(alert: LessonAlert, others: int = 0) -> tuple[str, str]:
    """The title and text of a lesson alert's notification: what happened and what to do."""
    worse = alert.state in ("fail", "degraded")
    title = f"{ACTIVITY_WORDS.get(alert.activity, alert.activity.capitalize())}: " + (
        VERDICT_WORDS.get(alert.state, alert.state).lower() if worse else "back to good"
    )
    text = alert.message
    if todo := ALERT_ADVICE.get((alert.activity, alert.state)):
        text += f"\n{todo}"
    if others:
        text += f"\n({others} more in connectcheck's window.)"
    return title, text


class Controller(QObject):
    """State and actions. Signals are emitted on the GUI thread."""

    changed = Signal()  # anything the tray shows: state, tooltip, what the menu offers
    check_progress = Signal(object)  # Progress
    check_finished = Signal(object)  # CheckResult
    monitoring_changed = Signal(bool)
    sample_added = Signal(object)  # MonitorSample
    alert_raised = Signal(object)  # LessonAlert
    notify = Signal(str, str, str)  # title, message, level ("info" | "warning"): a tray notification
    settings_changed = Signal()
    email_can_go = Signal(str)  # an e-mail to support made offline: the connection is back (what to do)

    def __init__(
        self,
        settings: Settings,
        worker: Worker,
        *,
        history: History | None = None,
        monitor_factory: MonitorFactory = Monitor,
        monitor_options: OptionsFactory = MonitorOptions.from_settings,
        problems: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.worker = worker
        self.history = history
        self.monitor_factory = monitor_factory
        self.monitor_options = monitor_options
        self.profile, problem = profile_or_problem(settings)
        self.problems = list(problems or [])  # shown once the tray is up
        if settings.problems:
            self.problems.insert(0, settings.problems_text())
        if problem:
            self.problems.append(problem)
        self.problems += list(self.thresholds().notes)
        self.last_result: CheckResult | None = history.latest_check() if history is not None else None
        self._checking = False
        self.check_job: Job | None = None
        self.progress: Progress | None = None
        self.monitor: Monitor | None = None
        self.lesson_id: int | None = None
        self.lesson_started: datetime | None = None
        self.samples: list[MonitorSample] = []
        self.alerts: list[LessonAlert] = []
        self.last_lesson: LessonRecord | None = None
        self.procedure_record: ProcedureRecord | None = None
        self.procedure_lesson_id: int | None = None
        self.clock: Callable[[], datetime] = lambda: datetime.now().astimezone()
        self._was_old = self.result_is_old()
        self._age_timer = QTimer(self)  # an old result turns old in the tray without any event
        self._age_timer.setInterval(STALE_POLL_MS)
        self._age_timer.timeout.connect(self._age_tick)
        self._age_timer.start()
        self._pending_alerts: list[LessonAlert] = []
        self._shown_alert: tuple[int, str, float] = (0, "", 0.0)  # rank, activity, on screen until
        self._alert_timer = QTimer(self)
        self._alert_timer.setSingleShot(True)
        self._alert_timer.setInterval(ALERT_BATCH_MS)
        self._alert_timer.timeout.connect(self._tell_alerts)
        self.email_waiting = False  # an e-mail to support was made while offline: say when it can go

    # --- what is shown --------------------------------------------------------------------------

    @property
    def checking(self) -> bool:
        return self._checking

    @property
    def monitoring(self) -> bool:
        return self.monitor is not None

    def result_age_s(self) -> float | None:
        """How old the last check is, in seconds (None: there is none, or its time is unreadable)."""
        r = self.last_result
        started = parse_time(r.started_at) if r else None
        if started is None:
            return None
        if started.tzinfo is None:
            started = started.astimezone()
        return max(0.0, (self.clock() - started).total_seconds())

    def result_is_old(self) -> bool:
        """True when the last check is too old to be shown as the state of the connection now
        (never while checking or monitoring: then the state is current)."""
        if self.checking or self.monitoring:
            return False
        age = self.result_age_s()
        return age is not None and age > OLD_AFTER_S

    def wants_check_on_open(self) -> bool:
        """Opening the window should check by itself: no check yet, or the last is a few minutes old."""
        if self.checking or self.monitoring:
            return False
        age = self.result_age_s()
        return age is None or age > CHECK_ON_OPEN_AFTER_S

    def _age_tick(self) -> None:
        old = self.result_is_old()
        if old != self._was_old or old:  # the tooltip's "… ago" moves on too
            self._was_old = old
            emit(self.changed)

    def icon_state(self) -> str:
        """The tray icon's state: checking, then the monitored lesson, then the last check."""
        if self.checking:
            return icons.CHECKING
        if self.monitoring:
            worst = self._latest_sample_state()
            return _SAMPLE_ICON.get(worst, icons.MONITORING)
        r = self.last_result
        if r is None:
            return icons.UNCHECKED
        if r.connectivity is Connectivity.OFFLINE:
            return icons.OFFLINE
        overall = r.assessment.overall if r.assessment else "unknown"
        if overall == "limited" and _failing(r) - {"video"}:
            return icons.FAILING  # sound or the whiteboard fails: red, like its card
        if overall in _OVERALL_ICON:
            return _OVERALL_ICON[overall]
        # "unknown": nothing wrong found by a quick check, or a check that got nowhere
        return (
            icons.GOOD if r.connectivity in (Connectivity.ONLINE, Connectivity.LIMITED) else icons.UNCHECKED
        )

    def _latest_sample_state(self) -> str:
        if not self.samples:
            return "unknown"
        states = self.samples[-1].states.values()
        for state in ("fail", "degraded"):
            if state in states:
                return state
        return "good"

    def headline(self) -> str:
        """One line for the tooltip and the status window: the state in words."""
        if self.checking:
            pct = f" {self.progress.fraction * 100:.0f} %" if self.progress else ""
            return f"Checking the connection…{pct}"
        if self.monitoring:
            since = f" since {self.lesson_started:%H:%M}" if self.lesson_started else ""
            worst = self._latest_sample_state()
            tail = {"fail": "something is failing", "degraded": "something is weak"}.get(
                worst, "all fine so far"
            )
            return f"Monitoring the lesson{since}: {tail}"
        r = self.last_result
        if r is None:
            return "Not checked yet"
        if self.result_is_old():
            return f"Checked {age_words(self.result_age_s() or 0)}: check again before the lesson"
        if r.connectivity is Connectivity.OFFLINE:
            return "No connection"
        overall = r.assessment.overall if r.assessment else "unknown"
        if overall == "unknown" and r.connectivity is not Connectivity.UNKNOWN:
            return "Nothing wrong found so far"
        return answer(overall, _failing(r), _cause_key(r))

    def last_check_words(self) -> str:
        r = self.last_result
        if r is None:
            return "No check yet"
        kind = "quick check" if r.kind is CheckKind.QUICK else "full check"
        note = " (cancelled)" if r.status is Status.CANCELLED else ""
        then = ""
        if self.result_is_old():
            overall = r.assessment.overall if r.assessment else "unknown"
            then = f". It said then: {OVERALL_WORDS[overall].lower()}; the connection may have changed since"
        return f"Last {kind} {relative_time(r.started_at)}{note}{then}"

    def tooltip(self) -> str:
        lines = ["connectcheck", self.headline()]
        if not self.checking:
            lines.append(self.last_check_words())
        return "\n".join(lines)

    # --- checks ---------------------------------------------------------------------------------

    def check_options(self, kind: CheckKind) -> CheckOptions:
        return CheckOptions.from_settings(self.settings, self.profile, kind)

    def thresholds(self) -> Thresholds:
        """The limits in use: defaults, then the profile's, then the settings' overrides."""
        return thresholds_from_settings(self.settings, self.profile)

    def previous_for_comparison(self) -> CheckResult | None:
        """The last check if it is recent enough to say what changed since."""
        return recent(self.last_result)

    def start_check(self, kind: CheckKind) -> bool:
        """Start a check in the background; False if one is running already."""
        if self.checking:
            return False
        options = self.check_options(kind)
        previous = self.previous_for_comparison()
        progress = self.worker.to_gui(self._on_progress)
        lesson_id = self.lesson_id if self.monitoring else None  # a check during a lesson belongs to it

        def work(cancel: threading.Event) -> CheckResult:
            result = run_check(options, cancel=cancel, progress=progress, previous=previous)
            self._keep(result, lesson_id)
            return result

        self._checking = True
        self.progress = Progress("starting", 0.0, "Starting the check…")
        emit(self.changed)
        log.info("%s check started", kind.value)
        self.check_job = self.worker.run(work, done=self._check_done, failed=self._check_failed, name="check")
        return True

    def cancel_check(self) -> None:
        if self.checking and self.check_job is not None:
            log.info("check cancelled by the user")
            self.check_job.request_cancel()
            self.progress = Progress(
                self.progress.phase if self.progress else "cancel",
                self.progress.fraction if self.progress else 0.0,
                "Cancelling…",
            )
            emit(self.check_progress, self.progress)

    def _on_progress(self, p: Progress) -> None:
        if not self.checking:
            return
        if self.check_job is not None and self.check_job.cancel.is_set():
            p = Progress(p.phase, p.fraction, "Cancelling…")
        self.progress = p
        emit(self.check_progress, p)
        emit(self.changed)

    def _keep(self, result: CheckResult, lesson_id: int | None) -> None:
        """Keep a check in the history (in the worker's thread)."""
        if self.history is not None:
            try:
                self.history.add_check(result, lesson_id)
            except Exception:  # the history is a convenience: a failure must not lose the result
                log.exception("could not save the check in the history")

    def _check_done(self, result: CheckResult) -> None:
        self._checking = False
        self.progress = None
        self.last_result = result
        log.info(
            "check finished: %s, %s in %.1f s",
            result.status.value,
            result.assessment.overall if result.assessment else "no assessment",
            result.duration_s,
        )
        emit(self.check_finished, result)
        emit(self.changed)
        if result.connectivity in (Connectivity.ONLINE, Connectivity.LIMITED):
            self._connection_back()

    def _connection_back(self) -> None:
        """Once the connection answers again after an e-mail to support was made offline, say
        that it can go now (once) and how."""
        if not self.email_waiting:
            return
        self.email_waiting = False
        text = EMAIL_CAN_GO
        log.info("the connection is back after an offline hand-off to support")
        emit(self.notify, "The e-mail to support can go now", text, "info")
        emit(self.email_can_go, text)

    def _check_failed(self, exc: BaseException) -> None:
        self._checking = False
        self.progress = None
        log.error("the check failed", exc_info=exc)
        emit(self.notify, "The check could not run", f"Something went wrong: {exc}", "warning")
        emit(self.check_finished, None)
        emit(self.changed)

    # --- lesson monitoring ----------------------------------------------------------------------

    def start_monitoring(self, label: str | None = None) -> bool:
        """Start monitoring a lesson (light sampling in the monitor's own thread)."""
        if self.monitoring:
            return False
        monitor = self.monitor_factory(
            options=self.monitor_options(self.settings, self.profile),
            history=self.history,
            on_sample=self.worker.to_gui(self._on_sample),
            on_alert=self.worker.to_gui(self._on_alert),
        )
        self.monitor = monitor
        self.samples, self.alerts = [], []
        self.lesson_id = None
        self.lesson_started = datetime.now().astimezone()
        self.procedure_record, self.procedure_lesson_id = None, None
        log.info("lesson monitoring starting")
        emit(self.monitoring_changed, True)
        emit(self.changed)
        self.worker.run(
            lambda cancel: monitor.start(label),
            done=self._monitor_started,
            failed=self._monitor_failed,
            name="monitor-start",
        )
        return True

    def _monitor_started(self, lesson_id: int | None) -> None:
        if self.monitor is not None:
            self.lesson_id = lesson_id
            log.info("lesson monitoring started (lesson %s)", lesson_id)

    def _monitor_failed(self, exc: BaseException) -> None:
        log.error("lesson monitoring failed to start", exc_info=exc)
        self.monitor = None
        emit(self.monitoring_changed, False)
        emit(self.changed)
        emit(self.notify, "Lesson monitoring could not start", str(exc), "warning")

    def stop_monitoring(self) -> bool:
        """Stop monitoring; the lesson is kept in the history (stopping runs in the background)."""
        monitor = self.monitor
        if monitor is None:
            return False
        self.monitor = None
        log.info("lesson monitoring stopping")
        emit(self.monitoring_changed, False)
        emit(self.changed)
        self.worker.run(
            lambda cancel: (monitor.stop(), monitor.history_problem),
            done=self._monitor_stopped,
            failed=lambda exc: log.error("stopping the lesson monitor failed", exc_info=exc),
            name="monitor-stop",
        )
        return True

    def _monitor_stopped(self, stopped: tuple[LessonRecord, str | None]) -> None:
        record, problem = stopped
        self.last_lesson = record
        if problem:
            emit(self.notify, "The lesson could not be kept in the history", problem, "warning")
        log.info(
            "lesson monitoring stopped (lesson %s: %d samples, %d alerts)",
            record.id,
            len(record.samples),
            len(record.alerts),
        )
        emit(self.changed)

    def _on_sample(self, sample: MonitorSample) -> None:
        if self.monitor is None:
            return
        self.samples.append(sample)
        emit(self.sample_added, sample)
        emit(self.changed)
        if sample.rtt_ms is not None:  # something answered: the connection is there
            self._connection_back()

    def _on_alert(self, alert: LessonAlert) -> None:
        """An alert is listed at once; the notification waits ALERT_BATCH_MS for others that come
        together, so that one notification tells the worst of them (see :meth:`_tell_alerts`)."""
        if self.monitor is None:
            return
        self.alerts.append(alert)
        self._pending_alerts.append(alert)
        log.info("lesson alert: %s %s — %s", alert.activity, alert.state, alert.message)
        emit(self.alert_raised, alert)
        emit(self.changed)
        if not self._alert_timer.isActive():
            self._alert_timer.start()

    def _tell_alerts(self) -> None:
        """One notification at a time, worst first, saying what to do. A notification still on
        screen is replaced only by news as bad or worse, or by news of the same activity (its
        recovery); the others are in the window's list of alerts."""
        pending, self._pending_alerts = self._pending_alerts, []
        if not pending or self.monitor is None:
            return
        worst = max(pending, key=lambda a: (_ALERT_RANK.get(a.state, 0), -pending.index(a)))
        rank = _ALERT_RANK.get(worst.state, 0)
        now = time.monotonic()
        shown_rank, shown_activity, until = self._shown_alert
        if now < until and rank < shown_rank and worst.activity != shown_activity:
            log.info("lesson alert not notified (worse news on screen): %s %s", worst.activity, worst.state)
            return
        self._shown_alert = (rank, worst.activity, now + NOTIFY_S)
        title, text = alert_notification(worst, len(pending) - 1)
        emit(self.notify, title, text, "warning" if worst.state in ("fail", "degraded") else "info")

    # --- the failed-lesson guide ----------------------------------------------------------------

    def _recent_lesson(self) -> LessonRecord | None:
        """The lesson monitored last, when it ended less than RECENT_LESSON_S ago."""
        last = self.last_lesson
        ended = parse_time(last.ended_at) if last is not None else None
        if last is None or last.id is None or ended is None:
            return None
        if ended.tzinfo is None:
            ended = ended.astimezone()
        return last if (self.clock() - ended).total_seconds() < RECENT_LESSON_S else None

    def lesson_start(self) -> datetime | None:
        """The start of the lesson the guide is about: the monitored one, or the one that was
        monitored until a moment ago; None (today) otherwise."""
        if self.monitoring:
            return self.lesson_started
        recent = self._recent_lesson()
        return parse_time(recent.started_at) if recent is not None else None

    def monitored_lesson_id(self) -> int | None:
        """The history's id of the lesson the guide is about (as :meth:`lesson_start`)."""
        if self.monitoring:
            return self.lesson_id
        recent = self._recent_lesson()
        return recent.id if recent is not None else None

    def lesson_for_support(self) -> int | None:
        """The lesson whose report goes to support: the guide's, else the monitored or recent one."""
        return self.procedure_lesson_id if self.procedure_record is not None and \
            self.procedure_lesson_id is not None else self.monitored_lesson_id()

    def found_offline(self) -> bool:
        """The latest evidence says there is no connection: the last check (when current) found
        none, or the lesson's last sample lost every probe."""
        if self.monitoring and self.samples:
            return self.samples[-1].loss_pct is not None and self.samples[-1].loss_pct >= 100
        r = self.last_result
        return r is not None and not self.result_is_old() and r.connectivity is Connectivity.OFFLINE

    def found_programs(self, most: int = 3) -> tuple[str, ...]:
        """What to do about the programs the last check (when current) named, for the guide."""
        r = self.last_result
        if r is None or r.assessment is None or self.result_is_old():
            return ()
        return tuple(a.action for a in r.assessment.advice if a.program)[:most]

    def keep_procedure(self, record: ProcedureRecord, lesson_id: int | None) -> None:
        """Remember the guide's record for the e-mail and the report, and with its lesson (the one
        monitored when the guide was opened) in the history."""
        self.procedure_record = record
        self.procedure_lesson_id = lesson_id
        if self.history is not None and lesson_id is not None:
            self.worker.run(
                lambda cancel: self.history.set_procedure(lesson_id, record),
                failed=lambda exc: log.error("could not keep the guide's steps", exc_info=exc),
                name="history-procedure",
            )

    def handed_off(self, record: ProcedureRecord | None) -> None:
        """The guide's answers went to support in one e-mail: a later e-mail starts afresh (the
        guide gives them again if the tutor sends from it again)."""
        if record is not None and self.procedure_record is record:
            self.procedure_record = None
            self.procedure_lesson_id = None

    # --- settings -------------------------------------------------------------------------------

    def apply_settings(self, settings: Settings) -> str | None:
        """Save new settings and use them from now on; the problem in plain words, or None."""
        try:  # what the system does at login, not just the old setting (an entry removed by hand)
            login_changed = settings["app.start_at_login"] != autostart.is_enabled()
        except OSError:
            login_changed = settings["app.start_at_login"] != self.settings["app.start_at_login"]
        try:
            kept = save_settings(settings)
        except OSError as exc:
            return f"The settings could not be saved: {exc.strerror or exc}"
        if kept is not None:
            log.warning("the old settings file had problems and was kept as %s", kept)
        self.settings = settings
        self.profile, problem = profile_or_problem(settings)
        emit(self.settings_changed)
        emit(self.changed)
        if login_changed:
            try:
                autostart.set_enabled(settings["app.start_at_login"])
            except autostart.AutostartError as exc:
                return f"The settings were saved, but {exc}."
        return problem

    def shutdown(self, timeout_s: float = 2.5) -> None:
        """Stop the check and the lesson monitor (the lesson is saved), then close the history."""
        monitor, self.monitor = self.monitor, None
        if monitor is not None:
            try:
                self.last_lesson = monitor.stop()
            except Exception:
                log.exception("stopping the lesson monitor failed")
        left = self.worker.shutdown(timeout_s)
        if left:
            log.warning("still running at exit: %s", ", ".join(left))
        if self.history is not None:
            try:
                self.history.close()
            except Exception:
                log.exception("closing the history failed")
