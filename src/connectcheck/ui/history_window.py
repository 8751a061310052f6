"""The History window: past checks and monitored lessons. Selecting a check shows what it found;
selecting a lesson shows its timeline and alerts; either can be exported as a report. Reading
the history runs in the background, like everything that touches the disk or the network.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from connectcheck.core.model import CheckKind, CheckResult, LessonRecord
from connectcheck.core.words import FIGURE_WORDS, parse_time, short_answer, stamp
from connectcheck.ui import icons, style
from connectcheck.ui.controller import Controller
from connectcheck.ui.export import Exporter
from connectcheck.ui.lesson import LessonPath, TimelineChart, alert_words, lesson_span
from connectcheck.ui.status import NUMBERS
from connectcheck.ui.text import VERDICT_WORDS, plain, value
from connectcheck.ui.widgets import Banner

log = logging.getLogger(__name__)

ID_ROLE = Qt.ItemDataRole.UserRole
NEWER = "written by a newer connectcheck"


def check_words(r: CheckResult) -> str:
    """A past check in a few lines: when, the overall line, each verdict, the numbers."""
    moment = parse_time(r.started_at)
    kind = "Quick check" if r.kind is CheckKind.QUICK else "Full check"
    lines = [f"{kind} on {moment:%A %d %B %Y at %H:%M}" if moment else kind]
    if r.assessment is not None:
        lines.append(r.assessment.sentence)
        lines += [f"• {VERDICT_WORDS.get(v.state, v.state)}: {v.sentence}" for v in r.assessment.verdicts]
    lines.append(
        ", ".join(
            f"{FIGURE_WORDS[key][0].lower()} {value(getattr(r.summary, key), unit)}" for key, unit in NUMBERS
        )
    )
    return "\n".join(lines)


class HistoryWindow(QWidget):
    """A top-level window over the controller's history."""

    def __init__(self, controller: Controller, exporter: Exporter, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.controller = controller
        self.exporter = exporter
        self.setWindowTitle("connectcheck history")
        self.setWindowIcon(icons.app_icon())
        self.banner = Banner()
        self.tabs = QTabWidget()
        self.checks = self._tree(["When", "Check", "Result", "Download", "Upload"], "Past checks")
        self.lessons = self._tree(["When", "Label", "Samples", "Alerts"], "Monitored lessons")
        self.tabs.addTab(self.checks, "Checks")
        self.tabs.addTab(self.lessons, "Lessons")
        self.check_text = style.label()
        self.check_text.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.chart = TimelineChart()
        self.path = LessonPath()
        self.chart.set_thresholds(controller.thresholds())
        self.alerts = QListWidget()
        self.alerts.setAccessibleName("Alerts in this lesson")
        lesson_page = QWidget()
        lesson_layout = QVBoxLayout(lesson_page)
        lesson_layout.setContentsMargins(0, 0, 0, 0)
        lesson_layout.addWidget(self.chart, 2)
        lesson_layout.addWidget(self.path)
        lesson_layout.addWidget(self.alerts, 1)
        self.detail = QStackedWidget()
        self.empty = style.label("Choose a check or a lesson to see it here.", "secondary")
        for page in (self.empty, self.check_text, lesson_page):
            self.detail.addWidget(page)
        self.export_button = QPushButton("Export report…")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self._export)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.reload)
        buttons = QHBoxLayout()
        buttons.addWidget(self.refresh_button)
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.tabs)
        split.addWidget(self.detail)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(style.MARGIN, style.MARGIN, style.MARGIN, style.MARGIN)
        layout.addWidget(self.banner)
        layout.addWidget(split, 1)
        layout.addLayout(buttons)
        self.checks.itemSelectionChanged.connect(self._check_selected)
        self.lessons.itemSelectionChanged.connect(self._lesson_selected)
        self.tabs.currentChanged.connect(lambda _i: self._tab_changed())
        self.selected: tuple[str, Any] | None = None
        self.resize(720, 620)
        self.reload()

    def _tree(self, headers: list[str], name: str) -> QTreeWidget:
        tree = QTreeWidget()
        tree.setHeaderLabels(headers)
        tree.setRootIsDecorated(False)
        tree.setAlternatingRowColors(True)
        tree.setAccessibleName(name)
        tree.setColumnWidth(0, 190)
        for column in range(1, len(headers)):
            tree.setColumnWidth(column, 120)
        return tree

    @property
    def history(self) -> Any:
        return self.controller.history

    def reload(self) -> None:
        """Read the lists again (in the background)."""
        if self.history is None:
            self.banner.show_message("The history is not kept in this session.", info=True, dismissable=False)
            return
        if self.history.problem:
            self.banner.show_message(f"The history cannot be used now: {self.history.problem}")
            return
        if self.history.recovered:
            self.banner.show_message(self.history.recovered)
        history = self.history
        self.controller.worker.run(
            lambda cancel: (history.checks(), history.lessons()),
            done=self._fill,
            failed=self._failed,
            name="history-read",
        )

    def _failed(self, exc: BaseException) -> None:
        log.error("reading the history failed", exc_info=exc)
        self.banner.show_message(f"The history could not be read: {exc}")

    def _fill(self, lists: tuple[list[Any], list[Any]]) -> None:
        checks, lessons = lists
        self.checks.clear()
        for c in checks:
            overall = short_answer(c.overall or "unknown", c.failing) if c.readable else NEWER
            item = QTreeWidgetItem(
                [
                    stamp(c.started_at, weekday=True),
                    "Quick" if c.kind == "quick" else "Full",
                    overall,
                    value(c.download_mbps, "Mbit/s"),
                    value(c.upload_mbps, "Mbit/s"),
                ]
            )
            item.setData(0, ID_ROLE, c.id)
            self.checks.addTopLevelItem(item)
        self.lessons.clear()
        for lesson in lessons:
            item = QTreeWidgetItem(
                [
                    lesson_span(lesson.started_at, lesson.ended_at),
                    plain(lesson.label),
                    str(lesson.samples),
                    str(lesson.alerts),
                ]
            )
            item.setData(0, ID_ROLE, lesson.id)
            self.lessons.addTopLevelItem(item)
        for tree in (self.checks, self.lessons):  # the newest is chosen in each list ...
            if tree.topLevelItemCount() and not tree.selectedItems():
                tree.blockSignals(True)
                tree.setCurrentItem(tree.topLevelItem(0))
                tree.blockSignals(False)
        self._tab_changed()  # ... and the open tab's is shown

    # --- selection ---

    def _tab_changed(self) -> None:
        tree = self.checks if self.tabs.currentIndex() == 0 else self.lessons
        if not tree.selectedItems():
            self.selected = None
            self.detail.setCurrentWidget(self.empty)
            self.export_button.setEnabled(False)
        else:
            (self._check_selected if tree is self.checks else self._lesson_selected)()

    def _check_selected(self) -> None:
        self._read_selected(self.checks, self.history.check, self.show_check, "history-check")

    def _lesson_selected(self) -> None:
        self._read_selected(self.lessons, self.history.lesson, self.show_lesson, "history-lesson")

    def _read_selected(self, tree: QTreeWidget, read: Callable[[int], object],
                       done: Callable[[Any], None], name: str) -> None:
        """Read the selected entry from the history off the GUI thread, then show it."""
        items = tree.selectedItems()
        if not items:
            return
        entry_id = items[0].data(0, ID_ROLE)
        self.controller.worker.run(lambda cancel: read(entry_id), done=done, failed=self._failed, name=name)

    def show_check(self, result: CheckResult) -> None:
        if self.tabs.currentWidget() is not self.checks:  # read late, after the tutor moved on
            return
        self.selected = ("check", result)
        self.check_text.setText(check_words(result))
        self.detail.setCurrentWidget(self.check_text)
        self.export_button.setEnabled(True)

    def show_lesson(self, lesson: LessonRecord) -> None:
        if self.tabs.currentWidget() is not self.lessons:
            return
        self.selected = ("lesson", lesson)
        self.chart.set_data(lesson.samples, lesson.alerts)
        self.path.show_lesson(lesson)
        self.alerts.clear()
        for a in lesson.alerts:
            self.alerts.addItem(alert_words(a))
        if not lesson.alerts:
            self.alerts.addItem("No alerts in this lesson.")
        self.detail.setCurrentIndex(2)
        self.export_button.setEnabled(True)

    def _export(self) -> None:
        if self.selected is None:
            return
        kind, item = self.selected
        if kind == "check":
            self.exporter.export_check(self, item)
        else:
            self.exporter.export_lesson(self, item.id)
