"""The status window: is the connection good enough for the lesson, and what to do now.

From the top: messages (why there is no tray icon, settings problems, alerts when there is no
tray), the state with the overall line, the check's progress with Cancel, the three lights
(SOUND, VIDEO, WHITEBOARD) with their one-line reasons, the key numbers with units, what to do
now (ranked, with "Check again") and what changed since the previous check, the programs using
the connection, and lesson monitoring with its live chart. Everything it shows comes from the
controller; nothing here waits on the network.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
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
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from connectcheck.assess.advice import programs
from connectcheck.assess.cause import check_cause
from connectcheck.assess.verdicts import plain_sentence
from connectcheck.core.model import CheckKind, CheckResult, Status
from connectcheck.core.tasks import Progress
from connectcheck.core.words import FIGURE_WORDS, call_words, data_amount
from connectcheck.ui import desktop, icons, style
from connectcheck.ui.actions import Actions
from connectcheck.ui.controller import Controller
from connectcheck.ui.lesson import LessonPanel
from connectcheck.ui.text import plain, unbroken, value
from connectcheck.ui.widgets import Banner, Light, NumberTile, PathPicture, clear_layout

ACTIVITIES = ("sound", "video", "whiteboard")
# the key numbers, behind "Details": (Summary field, unit); their names and meanings in
# core/words.FIGURE_WORDS. Three a row: speed; the idle line; what the call-like stream saw, under
# the idle figures it stands beside, which the sound verdict reads instead.
NUMBERS = (
    ("download_mbps", "Mbit/s"),
    ("upload_mbps", "Mbit/s"),
    ("rtt_increase_ms", "ms"),
    ("rtt_ms", "ms"),
    ("jitter_ms", "ms"),
    ("loss_pct", "%"),
    ("call_rtt_ms", "ms"),
    ("call_jitter_ms", "ms"),
    ("call_loss_pct", "%"),
)
# the metric a call figure is judged as
CALL_METRICS = {"call_rtt_ms": "rtt_ms", "call_jitter_ms": "jitter_ms", "call_loss_pct": "loss_pct"}
PHASE_WORDS = {
    "starting": "Starting the check",
    "latency": "Measuring the delay, lost data and the lesson platform",
    "server": "Choosing a speed server",
    "download": "Measuring the download speed",
    "upload": "Measuring the upload speed",
    "done": "Finishing",
}
MAX_PROGRAMS = 6
# a button beside a piece of advice (by its rule's key): the system's own tool it needs ...
ADVICE_TOOLS = {
    "offline": "network", "weak_wifi": "network", "udp_blocked": "network", "vpn": "network",
    "pause_streaming": "tasks", "pause_game_launcher": "tasks", "pause_cloud_sync": "tasks",
    "pause_updates": "tasks", "close_torrent": "tasks", "close_call_app": "tasks", "pause_program": "tasks",
    "unnamed_traffic": "tasks", "computer_busy": "tasks",
}
# ... or one of the app's own actions: (caption, action)
ADVICE_ACTIONS = {
    "follow_procedure": ("Open “The lesson can't go on…”", "guide"),
    "phone_for_sound": ("Open “The lesson can't go on…”", "guide"),
    "full_check": ("Run a full check", "check"),
}  # "check again" has its own button under the advice
HINT = "Point at a figure, or move to it with Tab, to see what it means."


def section_title(text: str) -> QLabel:
    title = QLabel(text)
    title.setProperty("role", "section")
    title.setAccessibleName(text)
    return title


class StatusWindow(QMainWindow):
    """The main window. Closing it hides it while the tray icon stays; without a tray it quits."""

    hidden_to_tray = Signal()  # the first time it is closed to the tray

    def __init__(self, controller: Controller, actions: Actions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.actions = actions
        self.quit_on_close = False  # set when there is no tray icon to come back from
        self.told_hidden = False  # the first close says where the app went
        self.shown: tuple[CheckResult | None, bool] | None = None  # (result, checking) on show
        self.advice_buttons: dict[str, QPushButton] = {}  # advice key -> the button that does it
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
        self.offer_banner = Banner()  # once, at the first start: start at login
        for banner in (self.tray_banner, self.problem_banner, self.notice_banner, self.offer_banner):
            self.body.addWidget(banner)
        self._header()
        self._progress()
        self.results = QWidget()
        self.results.setAccessibleName("Results of the last check")
        self.results_box = QVBoxLayout(self.results)
        self.results_box.setContentsMargins(0, 0, 0, 0)
        self.results_box.setSpacing(style.SPACING)
        self._lights()
        self._path()
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

    def _path(self) -> None:
        self.path_title = section_title("Where the problem is")
        self.results_box.addWidget(self.path_title)
        self.path = PathPicture()
        self.results_box.addWidget(self.path)

    def _numbers(self) -> None:
        """The figures behind "Details" (closed until opened; stays as the tutor left it): each
        card's sentence with its numbers, the numbers with what each means, the check's notes."""
        self.numbers_note = style.label(role="secondary")  # a quick or cancelled check: always shown
        self.results_box.addWidget(self.numbers_note)
        self.details_button = QToolButton()
        self.details_button.setText("Details: the figures")
        self.details_button.setCheckable(True)
        self.details_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.details_button.setArrowType(Qt.ArrowType.RightArrow)
        self.details_button.setAutoRaise(True)
        self.details_button.setAccessibleName("Details: the figures")
        self.details_button.toggled.connect(self._show_details)
        self.results_box.addWidget(self.details_button)
        self.details = QWidget()
        self.details.setAccessibleName("Details")
        box = QVBoxLayout(self.details)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(8)
        self.figures = style.label()
        self.figures.setAccessibleName("What each part found, with the figures")
        box.addWidget(self.figures)
        grid = QGridLayout()
        grid.setHorizontalSpacing(24)
        grid.setVerticalSpacing(10)
        self.tiles: dict[str, NumberTile] = {}
        for i, (key, _unit) in enumerate(NUMBERS):
            caption, meaning = FIGURE_WORDS[key]
            tile = NumberTile(caption, meaning)
            tile.explained.connect(self._explain)
            self.tiles[key] = tile
            grid.addWidget(tile, i // 3, i % 3)
        box.addLayout(grid)
        self.call_note = style.label(role="secondary")
        self.call_note.setAccessibleName("Call-like stream")
        box.addWidget(self.call_note)
        self.meaning = style.label(HINT, "secondary")  # what the figure pointed at or focused means
        self.meaning.setAccessibleName("What this figure means")
        self.meaning.setMinimumHeight(self.meaning.fontMetrics().lineSpacing() * 2)
        box.addWidget(self.meaning)
        self.check_notes = style.label(role="secondary")
        self.check_notes.setAccessibleName("Notes from the check")
        box.addWidget(self.check_notes)
        self.results_box.addWidget(self.details)
        self.details.hide()

    def _explain(self, text: str) -> None:
        self.meaning.setText(text)

    def _show_details(self, shown: bool) -> None:
        self.details.setVisible(shown)
        self.details_button.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)

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
        self.check_button.setToolTip("A full check: about 15 seconds, with the speed test")
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
        old = c.result_is_old()
        draw = icons.render_stale if old else icons.render
        self.state_icon.setPixmap(draw(icons.icon_file(c.icon_state()), 48))
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
        if c.checking and c.last_result is not None:
            self.sentence.setText("Below: the previous check, until this one is done.")
        elif old:
            self.sentence.setText(
                "This result is old and the connection may have changed since. Check now to know "
                "how it is today; what it found then is below."
            )
        self.results.setEnabled(not c.checking and not old)  # greyed: not the connection as it is now

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
            self.sentence.setText(unbroken(
                "Check now to see whether sound, video and the whiteboard will work "
                f"in your lesson. A full check takes about 15 seconds. {self.data_words()}"
            ))
        elif a is not None:
            self.sentence.setText(unbroken(a.sentence))
        else:
            self.sentence.setText(" ".join(r.notes) or "The check could not tell anything.")
        verdicts = {v.activity: v for v in a.verdicts} if a else {}
        thresholds = self.controller.thresholds()
        figures = []
        for activity, light in self.lights.items():
            v = verdicts.get(activity)
            if v is None:
                light.set_verdict("unknown", "Run a check to find out.")
                continue
            detailed = v.sentence
            if v.mos is not None and v.state == "good":  # never beside "Failing"
                detailed += f" Call quality on a quiet line: {v.mos:.1f} / 5."
            light.set_verdict(v.state, plain_sentence(v, thresholds), detailed)
            figures.append(f"• {detailed}")
        self.figures.setText(unbroken("\n".join(figures)))
        self.figures.setVisible(bool(figures))
        self._show_path(r)
        self._show_numbers(r)
        self._show_advice(r)
        self._show_programs(r)

    def _show_path(self, r: CheckResult | None) -> None:
        cause = check_cause(r, r.assessment) if r is not None and r.assessment is not None else None
        wired = bool(r and r.local and r.local.connection_type == "ethernet")
        self.path.set_links(cause.links if cause else [], cause.broken if cause else "", wired=wired)
        self.path_title.setVisible(cause is not None)
    def data_words(self) -> str:
        """How much data a full check may move, here and on a metered connection."""
        s = self.controller.settings
        full, metered = s["speed.data_limit_mb"], s["speed.metered_data_limit_mb"]
        return (f"It moves up to {data_amount(full * 1e6)} of data, {data_amount(min(full, metered) * 1e6)} "
                "on a connection the computer knows is metered (such as a phone's hotspot).")

    def _show_numbers(self, r: CheckResult | None) -> None:
        order = {"unknown": 0, "good": 1, "degraded": 2, "fail": 3}
        for key, unit in NUMBERS:
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
            if r.metered:
                notes.append(f"This connection is metered ({plain(r.metered)}), so the check kept its data "
                             f"small: it moved {data_amount(r.bytes_used)}.")
        self.numbers_note.setText(unbroken("\n".join(notes)))
        self.numbers_note.setVisible(bool(notes))
        check_notes = [] if r is None else [
            plain(n) for n in r.notes if not n.startswith("This connection is metered")]
        if r is not None and r.bytes_used and not r.metered:
            check_notes.append(f"This check moved {data_amount(r.bytes_used)} of data.")
        self.check_notes.setText(unbroken("\n".join(check_notes)))
        self.check_notes.setVisible(bool(check_notes))
        self.details_button.setVisible(r is not None)
        if r is None:
            self.details_button.setChecked(False)

    def _show_advice(self, r: CheckResult | None) -> None:
        clear_layout(self.advice_box)
        advice = r.assessment.advice if r and r.assessment else []
        self.advice_buttons = {}
        for item in advice:
            line = style.label(unbroken(f"{item.rank}. {item.action}"))
            line.setAccessibleName(f"Advice {item.rank}")
            line.setAccessibleDescription(item.action)
            self.advice_box.addWidget(line)
            if item.evidence:
                why = style.label(unbroken(f"Why: {item.evidence}"), "secondary")
                why.setIndent(18)
                self.advice_box.addWidget(why)
            if (button := self._advice_button(item.key)) is not None:
                self.advice_box.addWidget(button)
        self.advice_title.setVisible(bool(advice))
        changes = r.assessment.changes if r and r.assessment else []
        self.changes.setText(unbroken("\n".join(f"• {c}" for c in changes)))
        self.changes_title.setVisible(bool(changes))
        self.changes.setVisible(bool(changes))
        self.check_again.setVisible(r is not None)

    def _advice_button(self, key: str) -> QWidget | None:
        """The button that does what a piece of advice says, where one fits; a tool the system
        cannot open here says so beside the button when pressed."""
        tool = ADVICE_TOOLS.get(key)
        caption = desktop.TOOL_WORDS[tool][0] if tool else ADVICE_ACTIONS.get(key, ("", ""))[0]
        if not caption or any(b.text() == caption for b in self.advice_buttons.values()):
            return None  # one button for one thing
        row = QWidget()
        box = QHBoxLayout(row)
        box.setContentsMargins(18, 0, 0, 4)
        button = QPushButton(caption)
        button.setAccessibleDescription(f"For the advice above: {caption.lower()}")
        told = style.label(role="secondary")
        told.hide()
        box.addWidget(button)
        box.addWidget(told, 1)
        box.addStretch(0 if told.isVisibleTo(row) else 1)
        button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        if tool is not None:

            def open_tool(_checked: bool = False, tool: str = tool, told: QLabel = told) -> None:
                problem = desktop.open_system_tool(tool)
                told.setText(problem or "")
                told.setVisible(bool(problem))

            button.clicked.connect(open_tool)
        else:
            button.clicked.connect(self.actions[ADVICE_ACTIONS[key][1]].trigger)
        self.advice_buttons[key] = button
        return row

    def _show_programs(self, r: CheckResult | None) -> None:
        local = r.local if r else None
        rows = [p for p in programs(local) if not _idle(p)][:MAX_PROGRAMS] if local is not None else []
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
        """Bring the answer into view and tell screen readers the outcome when a check ends (the
        window may not have focus)."""
        self.scroll.verticalScrollBar().setValue(0)  # after Cancel too: the headline in view
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
        if not self.told_hidden:
            self.told_hidden = True
            self.hidden_to_tray.emit()


def _idle(p: object) -> bool:
    """A program listed with 0 Mbit/s both ways says nothing useful (a rate not measured is kept)."""
    down, up = getattr(p, "down_mbps", None), getattr(p, "up_mbps", None)
    return down is not None and up is not None and down < 0.05 and up < 0.05
