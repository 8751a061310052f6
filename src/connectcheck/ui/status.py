"""The status window: is the connection good enough for the lesson, and what to do now.

From the top: messages (why there is no tray icon, settings problems, alerts when there is no
tray), the state with the overall line, the check's progress with Cancel, the three lights
(SOUND, VIDEO, WHITEBOARD) with their one-line reasons, the key numbers with units, what to do
now (ranked, with "Check again") and what changed since the previous check, the programs using
the connection, and lesson monitoring with its live chart. Everything it shows comes from the
controller; nothing here waits on the network.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAccessible, QAccessibleAnnouncementEvent, QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from connectcheck.assess.advice import programs
from connectcheck.core.model import CheckKind, CheckResult, Status
from connectcheck.core.tasks import Progress
from connectcheck.core.words import call_words
from connectcheck.ui import icons, style
from connectcheck.ui.actions import Actions
from connectcheck.ui.controller import Controller
from connectcheck.ui.lesson import LessonPanel
from connectcheck.ui.text import plain, unbroken, value
from connectcheck.ui.widgets import Banner, Light, NumberTile, clear_layout

ACTIVITIES = ("sound", "video", "whiteboard")
# the key numbers: (Summary field, caption, unit)
# (three a row: speed; the idle line; what the call-like stream saw, under the idle figures it
# stands beside, which the sound verdict reads instead)
NUMBERS = (
    ("download_mbps", "Download", "Mbit/s"),
    ("upload_mbps", "Upload", "Mbit/s"),
    ("rtt_increase_ms", "Added delay under load", "ms"),
    ("rtt_ms", "Round trip", "ms"),
    ("jitter_ms", "Jitter", "ms"),
    ("loss_pct", "Packet loss", "%"),
    ("call_rtt_ms", "A call's round trip", "ms"),
    ("call_jitter_ms", "A call's jitter", "ms"),
    ("call_loss_pct", "A call's packets missed", "%"),
)
# the metric a call figure is judged as
CALL_METRICS = {"call_rtt_ms": "rtt_ms", "call_jitter_ms": "jitter_ms", "call_loss_pct": "loss_pct"}
PHASE_WORDS = {
    "starting": "Starting the check",
    "latency": "Measuring delay, loss and the lesson platform",
    "server": "Choosing a speed server",
    "download": "Measuring the download speed",
    "upload": "Measuring the upload speed",
    "done": "Finishing",
}
MAX_PROGRAMS = 6


def section_title(text: str) -> QLabel:
    title = QLabel(text)
    title.setProperty("role", "section")
    title.setAccessibleName(text)
    return title


class StatusWindow(QMainWindow):
    """The main window. Closing it hides it while the tray icon stays; without a tray it quits."""

    def __init__(self, controller: Controller, actions: Actions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.actions = actions
        self.quit_on_close = False  # set when there is no tray icon to come back from
        self.shown: tuple[CheckResult | None, bool] | None = None  # (result, checking) on show
        self.setWindowTitle("connectcheck")
        self.setWindowIcon(icons.app_icon())
        self._menus()
        body = QWidget()
        self.body = QVBoxLayout(body)
        self.body.setContentsMargins(style.MARGIN, style.MARGIN, style.MARGIN, style.MARGIN)
        self.body.setSpacing(style.SPACING)
        self.tray_banner = Banner()
        self.problem_banner = Banner()
        self.notice_banner = Banner()
        for banner in (self.tray_banner, self.problem_banner, self.notice_banner):
            self.body.addWidget(banner)
        self._header()
        self._progress()
        self.results = QWidget()
        self.results.setAccessibleName("Results of the last check")
        self.results_box = QVBoxLayout(self.results)
        self.results_box.setContentsMargins(0, 0, 0, 0)
        self.results_box.setSpacing(style.SPACING)
        self._lights()
        self._numbers()
        self._advice()
        self._programs()
        self.body.addWidget(self.results)
        self.lesson_section = QWidget()
        lesson_box = QVBoxLayout(self.lesson_section)
        lesson_box.setContentsMargins(0, 0, 0, 0)
        lesson_box.addWidget(section_title("Lesson monitoring"))
        self.lesson = LessonPanel(controller)
        lesson_box.addWidget(self.lesson)
        self.body.addWidget(self.lesson_section)
        self.body.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setWidget(body)
        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(self.scroll, 1)
        outer.addWidget(self._button_row())
        self.setCentralWidget(central)
        room = self.screen().availableGeometry()  # small laptop screens: never taller than the screen
        self.resize(min(680, room.width() - 40), min(760, room.height() - 60))
        controller.changed.connect(self.refresh)
        controller.check_progress.connect(self.show_progress)
        controller.check_finished.connect(self._finished)
        controller.monitoring_changed.connect(self._place_lesson)
        self.refresh()

    # --- building ---

    def _menus(self) -> None:
        bar = self.menuBar()
        a = self.actions
        for title, keys in (
            ("&connectcheck", ("check", "quick", "cancel", None, "settings", None, "quit")),
            ("&Lesson", ("monitor", "advice", "guide")),
            ("&Report", ("export", "email", None, "history", "reports")),
            ("&Help", ("about",)),
        ):
            menu = bar.addMenu(title)
            for key in keys:
                if key is None:
                    menu.addSeparator()
                else:
                    menu.addAction(a[key])
        # Esc cancels a running check; Ctrl+W hides the window like closing it
        QShortcut(QKeySequence(QKeySequence.StandardKey.Close), self, self.close)

    def _header(self) -> None:
        self.state_icon = QLabel()
        self.state_icon.setFixedSize(48, 48)
        self.headline = style.label()
        self.headline.setFont(style.scaled_font(self, 1.45, bold=True))
        self.headline.setAccessibleName("State")
        self.sentence = style.label()
        self.sentence.setAccessibleName("Overall")
        self.when = style.label(role="secondary")
        words = QVBoxLayout()
        words.setSpacing(4)
        words.addWidget(self.headline)
        words.addWidget(self.sentence)
        words.addWidget(self.when)
        row = QHBoxLayout()
        row.setSpacing(14)
        row.addWidget(self.state_icon, 0, Qt.AlignmentFlag.AlignTop)
        row.addLayout(words, 1)
        self.body.addLayout(row)

    def _progress(self) -> None:
        self.progress_box = QFrame()
        self.progress_box.setProperty("role", "card")
        self.phase = style.label()
        self.phase.setAccessibleName("Check progress")
        self.detail = style.label(role="secondary")
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.bar.setAccessibleName("Check progress")
        self.cancel = QPushButton("Cancel")
        self.cancel.setAccessibleName("Cancel the check")
        self.cancel.clicked.connect(self.controller.cancel_check)
        row = QHBoxLayout()
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel)
        layout = QVBoxLayout(self.progress_box)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addWidget(self.phase)
        layout.addLayout(row)
        layout.addWidget(self.detail)
        self.body.addWidget(self.progress_box)

    def _lights(self) -> None:
        row = QHBoxLayout()
        row.setSpacing(10)
        self.lights = {a: Light(a) for a in ACTIVITIES}
        for light in self.lights.values():
            row.addWidget(light, 1)
        self.results_box.addLayout(row)

    def _numbers(self) -> None:
        self.results_box.addWidget(section_title("Measurements"))
        grid = QGridLayout()
        grid.setHorizontalSpacing(24)
        grid.setVerticalSpacing(10)
        self.tiles: dict[str, NumberTile] = {}
        for i, (key, caption, _unit) in enumerate(NUMBERS):
            tile = NumberTile(caption)
            self.tiles[key] = tile
            grid.addWidget(tile, i // 3, i % 3)
        self.results_box.addLayout(grid)
        self.call_note = style.label(role="secondary")
        self.call_note.setAccessibleName("Call-like stream")
        self.results_box.addWidget(self.call_note)
        self.numbers_note = style.label(role="secondary")
        self.results_box.addWidget(self.numbers_note)

    def _advice(self) -> None:
        self.advice_title = section_title("What to do now")
        self.results_box.addWidget(self.advice_title)
        self.advice_box = QVBoxLayout()
        self.advice_box.setSpacing(8)
        self.results_box.addLayout(self.advice_box)
        self.check_again = QPushButton("Check again")
        self.check_again.setToolTip("Run the same check again and compare with this one")
        self.check_again.clicked.connect(self._check_again)
        again = QHBoxLayout()
        again.addWidget(self.check_again)
        again.addStretch(1)
        self.results_box.addLayout(again)
        self.changes_title = section_title("Since the last check")
        self.changes = style.label()
        self.changes.setAccessibleName("Since the last check")
        self.results_box.addWidget(self.changes_title)
        self.results_box.addWidget(self.changes)

    def _programs(self) -> None:
        self.programs_title = section_title("Programs using the connection")
        self.programs = QTableWidget(0, 3)
        self.programs.setHorizontalHeaderLabels(["Program", "Download", "Upload"])
        self.programs.setAccessibleName("Programs using the connection")
        self.programs.verticalHeader().hide()
        self.programs.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.programs.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.programs.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        header = self.programs.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.programs_note = style.label(role="secondary")
        self.results_box.addWidget(self.programs_title)
        self.results_box.addWidget(self.programs)
        self.results_box.addWidget(self.programs_note)

    def _button_row(self) -> QWidget:
        bar = QFrame()
        bar.setFrameShape(QFrame.Shape.StyledPanel)
        row = QHBoxLayout(bar)
        row.setContentsMargins(style.MARGIN, 10, style.MARGIN, 10)
        self.check_button = QPushButton("Check now")
        self.check_button.setDefault(True)
        self.check_button.clicked.connect(self.actions["check"].trigger)
        self.quick_button = QPushButton("Quick check")
        self.quick_button.clicked.connect(self.actions["quick"].trigger)
        self.guide_button = QPushButton("The lesson can't go on…")
        self.guide_button.clicked.connect(self.actions["guide"].trigger)
        self.email_button = QPushButton("E-mail support…")
        self.email_button.clicked.connect(self.actions["email"].trigger)
        for button in (self.check_button, self.quick_button):
            row.addWidget(button)
        row.addStretch(1)
        for button in (self.guide_button, self.email_button):
            row.addWidget(button)
        return bar

    # --- showing ---

    def refresh(self) -> None:
        c = self.controller
        self.state_icon.setPixmap(icons.render(icons.icon_file(c.icon_state()), 48))
        self.state_icon.setAccessibleName(c.headline())
        self.headline.setText(c.headline())
        self.when.setText(c.last_check_words())
        self.progress_box.setVisible(c.checking)
        self.check_button.setEnabled(not c.checking)
        self.quick_button.setEnabled(not c.checking)
        self.check_again.setEnabled(not c.checking and c.last_result is not None)
        if c.checking and c.progress is not None:
            self.show_progress(c.progress)
        if (c.last_result, c.checking) != self.shown:  # redrawn only when something changed
            self.show_result(c.last_result)
            self.shown = (c.last_result, c.checking)
        self.results.setEnabled(not c.checking)  # greyed: the previous check, until this one is done
        if c.checking and c.last_result is not None:
            self.sentence.setText("Below: the previous check, until this one is done.")

    def _place_lesson(self, monitoring: bool) -> None:
        """While a lesson is monitored its chart comes first, right under the state."""
        self.body.removeWidget(self.lesson_section)
        anchor = self.progress_box if monitoring else self.results
        self.body.insertWidget(self.body.indexOf(anchor) + 1, self.lesson_section)

    def show_progress(self, p: Progress) -> None:
        self.progress_box.setVisible(True)
        words = PHASE_WORDS.get(p.phase, p.phase.capitalize())
        cancelling = p.message == "Cancelling…"
        self.phase.setText("Cancelling…" if cancelling else f"{words}…")
        self.detail.setText("" if cancelling else plain(p.message))
        self.bar.setValue(round(p.fraction * 100))
        self.bar.setAccessibleDescription(f"{words}, {p.fraction * 100:.0f} percent")
        self.cancel.setEnabled(not cancelling)

    def show_result(self, r: CheckResult | None) -> None:
        a = r.assessment if r else None
        if r is None:
            self.sentence.setText(
                "Check now to see whether sound, video and the whiteboard will work "
                "in your lesson. A full check takes about 15 seconds."
            )
        elif a is not None:
            self.sentence.setText(unbroken(a.sentence))
        else:
            self.sentence.setText(" ".join(r.notes) or "The check could not tell anything.")
        verdicts = {v.activity: v for v in a.verdicts} if a else {}
        for activity, light in self.lights.items():
            v = verdicts.get(activity)
            sentence = v.sentence if v else "Run a check to find out."
            if v is not None and v.mos is not None:
                sentence += f" Call quality on a quiet line: {v.mos:.1f} / 5."
            light.set_verdict(v.state if v else "unknown", sentence)
        self._show_numbers(r)
        self._show_advice(r)
        self._show_programs(r)

    def _show_numbers(self, r: CheckResult | None) -> None:
        order = {"unknown": 0, "good": 1, "degraded": 2, "fail": 3}
        for key, _caption, unit in NUMBERS:
            number = getattr(r.summary, key) if r else None
            # the worst state among the verdicts that judged this very number (sound judges
            # the call's figures, the other activities the idle ones)
            metric = CALL_METRICS.get(key, key)
            judged = [m.state for v in (r.assessment.verdicts if r and r.assessment else [])
                      for m in v.metrics if m.metric == metric and number is not None and m.value == number]
            state = max(judged, key=lambda x: order.get(x, 0)) if judged else None
            self.tiles[key].set_value(value(number, unit), state)
        call = r.call if r else None
        section = r.sections.get("call") if r else None
        self.call_note.setText(unbroken(f"A call-like stream: {call_words(call, section)}.")
                               if call is not None or section is not None else "")
        self.call_note.setVisible(call is not None or section is not None)
        notes = []
        if r is not None:
            if r.kind is CheckKind.QUICK:
                notes.append(
                    "A quick check does not measure the speed: run a full check for download, "
                    "upload and the added delay under load."
                )
            if r.status is Status.CANCELLED:
                notes.append("The check was cancelled: what was measured until then is shown.")
            notes += [plain(n) for n in r.notes]
        self.numbers_note.setText(unbroken("\n".join(notes)))
        self.numbers_note.setVisible(bool(notes))

    def _show_advice(self, r: CheckResult | None) -> None:
        clear_layout(self.advice_box)
        advice = r.assessment.advice if r and r.assessment else []
        for item in advice:
            line = style.label(unbroken(f"{item.rank}. {item.action}"))
            line.setAccessibleName(f"Advice {item.rank}")
            line.setAccessibleDescription(item.action)
            self.advice_box.addWidget(line)
            if item.evidence:
                why = style.label(unbroken(f"Why: {item.evidence}"), "secondary")
                why.setIndent(18)
                self.advice_box.addWidget(why)
        self.advice_title.setVisible(bool(advice))
        changes = r.assessment.changes if r and r.assessment else []
        self.changes.setText(unbroken("\n".join(f"• {c}" for c in changes)))
        self.changes_title.setVisible(bool(changes))
        self.changes.setVisible(bool(changes))
        self.check_again.setVisible(r is not None)

    def _show_programs(self, r: CheckResult | None) -> None:
        local = r.local if r else None
        rows = programs(local)[:MAX_PROGRAMS] if local is not None else []
        self.programs.setRowCount(len(rows))
        for i, p in enumerate(rows):
            name = plain(p.app or p.name)
            if p.app and p.name and p.app.casefold() != p.name.casefold():
                name += f" ({plain(p.name)})"
            estimate = "~" if p.rate_source == "estimate" else ""
            for col, text in enumerate(
                (name, estimate + value(p.down_mbps, "Mbit/s"), estimate + value(p.up_mbps, "Mbit/s"))
            ):
                item = QTableWidgetItem(text)
                if col:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.programs.setItem(i, col, item)
        self.programs.setVisible(bool(rows))
        self.programs.setFixedHeight(
            self.programs.horizontalHeader().height()
            + 4
            + sum(self.programs.rowHeight(i) for i in range(len(rows)))
        )
        if local is None:
            note = "" if r is None else "This computer's programs were not looked at in this check."
        elif not rows:
            note = "No program on this computer was using the connection noticeably."
        else:
            note = (
                "~ an estimate: this system does not count each program's traffic."
                if any(p.rate_source == "estimate" for p in rows)
                else ""
            )
        self.programs_note.setText(note)
        self.programs_note.setVisible(bool(note))
        self.programs_title.setVisible(r is not None)

    # --- actions ---

    def _check_again(self) -> None:
        r = self.controller.last_result
        self.controller.start_check(r.kind if r else CheckKind.QUICK)

    def _finished(self, result: CheckResult | None) -> None:
        """Tell screen readers the outcome when a check ends (the window may not have focus)."""
        if result is None or not self.isVisible():
            return
        words = self.controller.headline()
        if result.assessment is not None:
            words += ". " + result.assessment.sentence
        QAccessible.updateAccessibility(QAccessibleAnnouncementEvent(self.headline, words))

    def show_advice(self) -> None:
        """Bring the window forward with "What to do now" in view."""
        self.bring_forward()
        QTimer.singleShot(0, lambda: self.scroll.ensureWidgetVisible(self.advice_title, 0, 40))

    def bring_forward(self) -> None:
        if self.isMinimized():
            self.showNormal()
        self.show()
        self.raise_()
        self.activateWindow()

    def show_tray_missing(self, reason: str) -> None:
        self.quit_on_close = True
        self.tray_banner.show_message(reason, info=True)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.quit_on_close:
            event.ignore()
            self.actions["quit"].trigger()
            return
        event.accept()  # hidden; the tray icon brings it back
