""" "The lesson can't go on…": the organisation's procedure, one question at a time.

The steps, their wording and the paths come from the procedure logic
(:class:`connectcheck.policy.procedure.Procedure`); this dialog only shows the current step with
its reminders, offers its answers as buttons (or a day within the 7-day window for a rearranged
lesson), lets the tutor go back, and ends with "E-mail support". Every answer is handed to the
controller, so the e-mail and the report carry the steps taken.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import date, timedelta

from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QColor, QFont, QTextCharFormat
from PySide6.QtWidgets import (
    QCalendarWidget,
    QDateEdit,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from connectcheck.core.words import describe_date
from connectcheck.policy.procedure import NEXT, Procedure, ProcedureError, StepView
from connectcheck.policy.rearrange import first_allowed_date, last_allowed_date
from connectcheck.ui import desktop, icons, style
from connectcheck.ui.controller import Controller
from connectcheck.ui.widgets import clear_layout

WIDTH = 560
MIN_HEIGHT = 460  # steady: the buttons do not jump about from one step to the next
ENDS_LESSON = ("abandoned", "not_this_procedure")  # outcomes no key press may choose by itself


class GuideDialog(QDialog):
    """The procedure for one lesson. Non-modal: the status window stays usable beside it."""

    def __init__(
        self,
        controller: Controller,
        email_support: Callable[[QWidget], None],
        parent: QWidget | None = None,
        *,
        procedure: Procedure | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.email_support = email_support
        self.procedure = procedure or Procedure(
            controller.profile, controller.lesson_start(), offline=controller.found_offline(),
            found=controller.found_programs(),
        )
        self.lesson_id = controller.monitored_lesson_id()
        self.setWindowTitle("The lesson can't go on")
        self.setWindowIcon(icons.app_icon())
        self.setMinimumSize(WIDTH, MIN_HEIGHT)
        self.step_label = style.label(role="secondary")
        self.title = style.label()
        self.title.setFont(style.scaled_font(self, 1.35, bold=True))
        self.text = style.label()
        self.notes = style.label(plain=False)
        self.notes.setTextFormat(Qt.TextFormat.RichText)
        self.notes_frame = QFrame()
        self.notes_frame.setProperty("role", "card")
        notes_layout = QVBoxLayout(self.notes_frame)
        notes_layout.setContentsMargins(12, 10, 12, 10)
        notes_layout.addWidget(self.notes)
        self.tools = QHBoxLayout()  # a step's own system tool, beside the tips it helps with
        notes_layout.addLayout(self.tools)
        self.question = style.label()
        self.question.setFont(style.scaled_font(self, 1.0, bold=True))
        self.answers = QVBoxLayout()
        self.answers.setSpacing(8)
        self.error = style.label()
        style.set_tone(self.error, "fail")
        self.error.setAccessibleName("Problem")
        self.back = QPushButton("Back")
        self.back.setAccessibleName("Back to the previous step")
        self.back.clicked.connect(self._back)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.close)
        bottom = QHBoxLayout()
        bottom.addWidget(self.back)
        bottom.addStretch(1)
        bottom.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(style.MARGIN, style.MARGIN, style.MARGIN, style.MARGIN)
        layout.setSpacing(style.SPACING)
        for w in (self.step_label, self.title, self.text, self.notes_frame, self.question):
            layout.addWidget(w)
        layout.addLayout(self.answers)
        layout.addWidget(self.error)
        layout.addStretch(1)
        layout.addLayout(bottom)
        self.date_edit: QDateEdit | None = None
        self.tool_button: QPushButton | None = None  # the step's own system tool, if any
        self.show_step(self.procedure.current)

    # --- showing a step ---

    def show_step(self, view: StepView) -> None:
        self._clear_answers()
        self.error.hide()
        done = len([s for s in self.procedure.record.steps if s.kind != "end"])
        self.step_label.setText("Done" if self.procedure.finished else f"Step {done + 1}")
        self.title.setText(view.title)
        self.text.setText(view.text)
        self.notes.setText(bullets(view.notes))
        self.notes_frame.setVisible(bool(view.notes) or view.action in GUIDE_TOOLS)
        reminders = view.id == "donts"
        self.notes_frame.setAccessibleName("Please remember" if reminders else "Notes")
        self.notes_frame.setProperty("role", "reminder" if reminders else "card")
        self.notes_frame.style().unpolish(self.notes_frame)
        self.notes_frame.style().polish(self.notes_frame)
        self.question.setText(view.question)
        self.question.setVisible(bool(view.question))
        if view.action in GUIDE_TOOLS:
            self._tool_row(GUIDE_TOOLS[view.action])
        if view.kind == "question":
            for value, caption in view.answers:
                self._answer_button(caption, lambda _=False, v=value: self._answer(v))
        elif view.kind == "date":
            self._date_picker()
        elif view.kind == "info":
            if view.action == "email_support":
                self._answer_button("E-mail support…", self._email)
            if view.action == "open_calendar" and self._calendar_url():
                self._answer_button("Open the calendar", self._open_calendar)
            self._answer_button("Next", lambda _=False: self._answer(NEXT))
        else:  # the end
            self._answer_button("E-mail support…", self._email)
        self.back.setEnabled(bool(self.procedure.record.steps))
        self._focus(view)
        self.setAccessibleDescription(f"{view.title}. {view.text} {view.question}".strip())
        self._fit()

    def _focus(self, view: StepView) -> None:
        """Keyboard focus on the first answer that does not end the lesson. On a question no
        button is the default: Enter never answers it, least of all by abandoning the lesson."""
        buttons = self._buttons()
        for button in buttons:
            button.setAutoDefault(False)
            button.setDefault(False)
        if not buttons:
            return
        if view.kind == "question":
            ending = {a.label for a in self.procedure.step.answers if a.outcome in ENDS_LESSON}
            calm = [b for b in buttons if b.text() not in ending]
            (calm or buttons)[0].setFocus()
        else:  # Next, the agreed day, E-mail support: safe to take with Enter
            buttons[-1 if view.kind == "info" else 0].setDefault(True)
            buttons[-1 if view.kind == "info" else 0].setFocus()

    def _tool_row(self, tool: str) -> None:
        """A button that opens the system's own tool for this step (the network settings, the
        task manager); where the system has none connectcheck knows, it says where to look."""
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 4, 0, 0)
        caption = desktop.TOOL_WORDS[tool][0]
        button = QPushButton(caption)
        button.setAccessibleName(caption)
        told = style.label(role="secondary")
        told.hide()

        def open_tool(_checked: bool = False) -> None:
            problem = desktop.open_system_tool(tool)
            told.setText(problem or "")
            told.setVisible(bool(problem))

        button.clicked.connect(open_tool)
        line.addWidget(button)
        line.addWidget(told, 1)
        line.addStretch(0)
        button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        self.tool_button = button
        self.tools.addWidget(row)

    def _calendar_url(self) -> str:
        profile = self.controller.profile
        return profile.calendar_url if profile else ""

    def _open_calendar(self, _checked: bool = False) -> None:
        if not desktop.open_url(self._calendar_url()):
            url = self._calendar_url()
            self.error.setText(f"The calendar could not be opened: open {url} in your browser.")
            self.error.show()

    def _fit(self) -> None:
        """Tall enough for the step's wrapped text at the dialog's width (Qt's own size hint
        underestimates wrapped labels)."""
        layout = self.layout()
        layout.activate()
        width = max(self.width(), WIDTH)
        needed = layout.totalHeightForWidth(width)
        self.resize(width, max(MIN_HEIGHT, needed, self.height() if self.isVisible() else 0))

    def _buttons(self) -> list[QPushButton]:
        return [
            self.answers.itemAt(i).widget()
            for i in range(self.answers.count())
            if isinstance(self.answers.itemAt(i).widget(), QPushButton)
        ]

    def _answer_button(self, caption: str, slot: Callable[..., None]) -> QPushButton:
        button = QPushButton(caption)
        button.setAccessibleName(caption)
        button.setMinimumHeight(34)
        button.setStyleSheet("text-align: left; padding: 6px 12px;")
        button.clicked.connect(slot)
        self.answers.addWidget(button)
        return button

    def _date_picker(self) -> None:
        lesson = self.procedure.lesson_start
        assert lesson is not None
        first, last = first_allowed_date(lesson), last_allowed_date(lesson)
        picker = QDateEdit()
        picker.setCalendarPopup(True)
        picker.setDisplayFormat("dddd d MMMM yyyy")
        picker.setDateRange(_qdate(first), _qdate(last))
        picker.setDate(_qdate(min(last, max(first, date.today()))))
        picker.setAccessibleName(f"The agreed day, between {describe_date(first)} and {describe_date(last)}")
        mark_allowed_days(picker.calendarWidget(), first, last)
        self.date_edit = picker
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(QLabel("Day:"))
        line.addWidget(picker, 1)
        self.answers.addWidget(row)
        self._answer_button(
            "This is the day we agreed", lambda _=False: self._answer(picker.date().toPython().isoformat())
        )

    def _clear_answers(self) -> None:
        clear_layout(self.answers)
        clear_layout(self.tools)
        self.date_edit = None
        self.tool_button = None

    # --- answering ---

    def _answer(self, value: str) -> None:
        try:
            view = self.procedure.answer(value)
        except ProcedureError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        self.controller.keep_procedure(self.procedure.record, self.lesson_id)
        self.show_step(view)

    def _back(self) -> None:
        try:
            view = self.procedure.back()
        except ProcedureError:
            return
        self.controller.keep_procedure(self.procedure.record, self.lesson_id)
        self.show_step(view)

    def _email(self, _checked: bool = False) -> None:
        self.controller.keep_procedure(self.procedure.record, self.lesson_id)
        self.email_support(self)


def bullets(items: tuple[str, ...]) -> str:
    """A bulleted list as rich text, wrapped lines hanging under their text (items escaped)."""
    rows = "".join(f"<tr><td>•&nbsp;</td><td>{html.escape(item)}</td></tr>" for item in items)
    return f"<table cellspacing='3' cellpadding='0'>{rows}</table>"


GUIDE_TOOLS = {"open_network": "network", "show_programs": "tasks"}  # a step's action -> system tool


def mark_allowed_days(calendar: QCalendarWidget, first: date, last: date) -> None:
    """In the calendar that opens, the days the policy allows stand out (bold, in the link colour)
    and the others around them are greyed and struck through: they look as refused as they are."""
    allowed, refused = QTextCharFormat(), QTextCharFormat()
    allowed.setFontWeight(QFont.Weight.Bold)
    allowed.setForeground(QColor(style.current().text_link))
    refused.setForeground(QColor(style.current().text_secondary))
    refused.setFontStrikeOut(True)
    for offset in range(-45, (last - first).days + 46):  # the months the popup can show around them
        day = first + timedelta(days=offset)
        calendar.setDateTextFormat(_qdate(day), allowed if first <= day <= last else refused)
    calendar.setToolTip(f"Only {describe_date(first)} to {describe_date(last)} can be chosen: the "
                        "organisation's 7 days.")


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)
