"""The settings dialog, built from the settings schema (``settings.SCHEMA``): one editor per
option, grouped by section into tabs, each with its help text; the thresholds as a table of
"good" and "failing" limits with "Reset to defaults". Invalid input is refused with the reason
beside the field; nothing is saved until every field is valid.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from connectcheck.assess.thresholds import (
    BOUNDS,
    SETTINGS_SECTION,
    check_pair,
    default_thresholds,
    setting_key,
)
from connectcheck.config.profile import ProfileError, available_profiles, load_profile
from connectcheck.config.settings import SCHEMA, Option, Settings, validate_value
from connectcheck.ui import autostart, icons, style
from connectcheck.ui.controller import Controller

NOT_SHOWN = {"app.asked_support_address", "app.asked_start_at_login"}  # the app's own memory, not a choice

# section -> tab; sections not listed get a tab of their own
TABS = {
    "organisation": "Organisation",
    "network": "Measuring",
    "latency": "Measuring",
    "speed": "Measuring",
    "check": "Measuring",
    "monitor": "Monitoring",
    "history": "History",
    "report": "Reports",
    "app": "Start",
    SETTINGS_SECTION: "Thresholds",
}
# the tabs in order: the tutor's first, then the ones for support staff (each says so at its top)
TAB_ORDER = ("Start", "Organisation", "Reports", "Monitoring", "History", "Measuring", "Thresholds")
FOR_SUPPORT = {"Monitoring", "Measuring", "Thresholds"}
FOR_SUPPORT_WORDS = (
    "For support staff: the defaults suit almost every home connection. Change these only when "
    "your organisation's support asks you to."
)
SECTION_TITLES = {
    "organisation": "Organisation",
    "network": "Servers and platform",
    "latency": "Latency probes",
    "speed": "Speed test",
    "check": "Time limits",
    "monitor": "Lesson monitoring",
    "history": "History",
    "report": "Reports and privacy",
    "app": "Start",
}
WORDS = {
    "stun": "STUN",
    "icmp": "ICMP",
    "url": "address",
    "urls": "addresses",
    "org": "organisation's",
    "email": "e-mail address",
    "mb": "(MB)",
    "s": "(s)",
    "ms": "(ms)",
    "hours": "(hours)",
    "days": "(days)",
    "pct": "(%)",
    "max": "largest",
}


def caption(opt: Option) -> str:
    """A field's label from its key: ``time_limit_s`` → "Time limit (s)", ``stun_servers`` →
    "STUN servers"."""
    words = [WORDS.get(w, w) for w in opt.name.split("_")]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


@dataclass
class Field:
    """One option's editor: how to read and set its value, and where to show its problem."""

    option: Option
    widget: QWidget
    get: Callable[[], Any]
    set: Callable[[Any], None]
    problem: QLabel


def _spin(opt: Option) -> tuple[QAbstractSpinBox, Callable[[], Any], Callable[[Any], None]]:
    if opt.type == "int":
        box: QAbstractSpinBox = QSpinBox()
        box.setRange(
            int(opt.min if opt.min is not None else -(2**31)),
            int(opt.max if opt.max is not None else 2**31 - 1),
        )
        return box, box.value, lambda v: box.setValue(int(v))
    dbl = QDoubleSpinBox()
    dbl.setDecimals(_decimals(opt.default))
    dbl.setRange(opt.min if opt.min is not None else -1e9, opt.max if opt.max is not None else 1e9)
    return dbl, dbl.value, lambda v: dbl.setValue(float(v))


def _decimals(default: float) -> int:
    """Enough decimals to show the default exactly (0.03 needs two), one at least, three at most."""
    text = f"{default:g}"
    return min(3, max(1, len(text.partition(".")[2])))


def make_field(opt: Option) -> Field:
    """The editor that fits the option's type, range and choices."""
    problem = style.label()
    style.set_tone(problem, "fail")
    problem.hide()
    widget: QWidget
    if opt.type == "bool":
        box = QCheckBox(caption(opt))
        widget, get, put = box, box.isChecked, lambda v: box.setChecked(bool(v))
    elif opt.type in ("int", "float"):
        widget, get, put = _spin(opt)
    elif opt.choices or opt.key == "organisation.profile":
        combo = QComboBox()
        for value, text in _choices(opt):
            combo.addItem(text, value)
        widget, get = combo, combo.currentData

        def put(v: Any, combo: QComboBox = combo) -> None:
            if combo.findData(v) < 0:
                combo.addItem(str(v), v)
            combo.setCurrentIndex(combo.findData(v))
    elif opt.type == "list[str]":
        text = QPlainTextEdit()
        text.setTabChangesFocus(True)
        text.setFixedHeight(64)
        widget = text
        get = lambda: [line.strip() for line in text.toPlainText().splitlines() if line.strip()]  # noqa: E731
        put = lambda v: text.setPlainText("\n".join(v))  # noqa: E731
    else:
        line = QLineEdit()
        line.setClearButtonEnabled(True)
        widget, get, put = line, lambda: line.text().strip(), lambda v: line.setText(str(v))
    widget.setToolTip(opt.help)
    widget.setAccessibleName(caption(opt))
    widget.setAccessibleDescription(opt.help)
    widget.setObjectName(opt.key)
    return Field(opt, widget, get, put, problem)


def _choices(opt: Option) -> list[tuple[str, str]]:
    """(value, what the list shows): organisation profiles by their name."""
    if opt.choices:
        return [(c, c) for c in opt.choices]
    out = []
    for profile_id in available_profiles():
        try:
            out.append((profile_id, load_profile(profile_id).name))
        except ProfileError:
            out.append((profile_id, profile_id))
    return out


class SettingsDialog(QDialog):
    """Edits a copy of the settings; OK validates everything, then saves through the controller."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setWindowTitle("connectcheck settings")
        self.setWindowIcon(icons.app_icon())
        self.fields: dict[str, Field] = {}
        self.failure: str | None = None  # after OK: what could not be done although saved (start at login)
        self.tabs = QTabWidget()
        self._pages: dict[str, QVBoxLayout] = {}
        self._tab_index: dict[str, int] = {}
        thresholds = [o for o in SCHEMA if o.section == SETTINGS_SECTION]
        for tab in TAB_ORDER:
            self._page(tab)
        for opt in SCHEMA:
            if opt.section != SETTINGS_SECTION and opt.key not in NOT_SHOWN:
                self._add(opt)
        self._thresholds_tab(thresholds)
        self.summary = style.label()
        style.set_tone(self.summary, "fail")
        self.summary.hide()
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.summary)
        layout.addWidget(buttons)
        self.resize(720, 640)
        self.load(controller.settings)

    # --- building ---

    def _page(self, tab: str) -> QVBoxLayout:
        if tab not in self._pages:
            inner = QWidget()
            page = QVBoxLayout(inner)
            page.setSpacing(style.SPACING)
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setWidget(inner)
            self._tab_index[tab] = self.tabs.addTab(scroll, tab)
            self._pages[tab] = page
            if tab in FOR_SUPPORT:
                page.addWidget(style.label(FOR_SUPPORT_WORDS, "secondary"))
            page.addStretch(1)
        return self._pages[tab]

    def _add(self, opt: Option) -> None:
        page = self._page(TABS.get(opt.section, opt.section.capitalize()))
        group = self._group(page, SECTION_TITLES.get(opt.section, opt.section.capitalize()))
        field = make_field(opt)
        self.fields[opt.key] = field
        help_text = style.label(opt.help + _range(opt), "secondary")
        help_text.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        box = QVBoxLayout()
        box.setSpacing(2)
        box.addWidget(field.widget)
        box.addWidget(field.problem)
        box.addWidget(help_text)
        if opt.key == "app.start_at_login":  # what is in place on this computer, not just the setting
            self.login_state = style.label(role="secondary")
            self.login_state.setAccessibleName("Start at login now")
            box.addWidget(self.login_state)
            field.widget.toggled.connect(self._show_login_state)  # type: ignore[attr-defined]
        form: QFormLayout = group.layout()  # type: ignore[assignment]
        if opt.type == "bool":
            form.addRow(box)
        else:
            label = QLabel(caption(opt) + ":")
            label.setBuddy(field.widget)
            form.addRow(label, box)

    def _group(self, page: QVBoxLayout, title: str) -> QGroupBox:
        for i in range(page.count()):
            w = page.itemAt(i).widget()
            if isinstance(w, QGroupBox) and w.title() == title:
                return w
        group = QGroupBox(title)
        form = QFormLayout(group)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.setVerticalSpacing(10)
        page.insertWidget(page.count() - 1, group)
        return group

    def _thresholds_tab(self, options: list[Option]) -> None:
        page = self._page(TABS[SETTINGS_SECTION])
        t = default_thresholds()
        intro = style.label(
            "When a measurement is at or better than “good”, that part of the lesson should work "
            "well; beyond “failing” it will probably not work. In between it is weak.",
            "secondary",
        )
        page.insertWidget(0, intro)
        by_key = {o.key: o for o in options}
        for activity_key, activity in t.activities.items():
            group = QGroupBox(activity.label)
            grid = QGridLayout(group)
            grid.addWidget(style.label("Good", "secondary", wrap=False), 0, 1)
            grid.addWidget(style.label("Failing", "secondary", wrap=False), 0, 2)
            row = 1
            for metric_key, metric in t.metrics.items():
                name = QLabel(f"{metric.label[:1].upper()}{metric.label[1:]} ({metric.unit})")
                grid.addWidget(name, row, 0)
                problems = style.label()
                style.set_tone(problems, "fail")
                problems.hide()
                for col, bound in enumerate(BOUNDS, start=1):
                    key = f"{SETTINGS_SECTION}.{setting_key(activity_key, metric_key, bound)}"
                    field = make_field(by_key[key])
                    field.problem = problems
                    field.widget.setAccessibleName(
                        f"{activity.label}, {metric.label}, {'good' if bound == 'good' else 'failing'} limit"
                    )
                    self.fields[key] = field
                    grid.addWidget(field.widget, row, col)
                grid.addWidget(problems, row + 1, 0, 1, 3)
                row += 2
            page.insertWidget(page.count() - 1, group)
        reset = QPushButton("Reset to defaults")
        reset.setToolTip("Put every threshold back to connectcheck's defaults")
        reset.clicked.connect(self.reset_thresholds)
        page.insertWidget(page.count() - 1, reset, 0, Qt.AlignmentFlag.AlignLeft)

    # --- values ---

    def load(self, settings: Settings) -> None:
        self.login_now = login_state()
        for key, field in self.fields.items():
            field.set(settings[key])
        if self.login_now[0] is not None:  # the box shows what really happens at login
            self.fields["app.start_at_login"].set(self.login_now[0])
        self._show_login_state()

    def _show_login_state(self, _ticked: bool = False) -> None:
        """Say truthfully what happens at the next login, and what OK will change."""
        now, where = self.login_now
        ticked = bool(self.fields["app.start_at_login"].get())
        if now is None:
            text = f"Whether connectcheck starts at login could not be read here: {where}."
        elif now and ticked:
            text = f"Now: connectcheck starts when you log in ({where})."
        elif now:
            text = "Now connectcheck starts when you log in; after OK it will not."
        elif ticked:
            text = "After OK, connectcheck will start when you log in, ready in the tray before each lesson."
        else:
            text = ("Now: connectcheck does not start when you log in. Tick this so it is ready, in the "
                    "tray, before each lesson.")
        self.login_state.setText(text)

    def reset_thresholds(self) -> None:
        for field in self.fields.values():
            if field.option.section == SETTINGS_SECTION:
                field.set(field.option.default)
                field.problem.hide()

    def collect(self) -> tuple[dict[str, Any], dict[str, str]]:
        """Every field's value, and the problems (key -> reason), thresholds pairs included."""
        values: dict[str, Any] = {}
        problems: dict[str, str] = {}
        for key, field in self.fields.items():
            converted, problem = validate_value(field.option, field.get())
            if problem:
                problems[key] = _sentence(problem)
            else:
                values[key] = converted
        t = default_thresholds()
        for activity, metric_key in t.limits:
            good_key, fail_key = (
                f"{SETTINGS_SECTION}.{setting_key(activity, metric_key, b)}" for b in BOUNDS
            )
            if good_key in values and fail_key in values:
                if problem := check_pair(t.metrics[metric_key], values[good_key], values[fail_key]):
                    problems[good_key] = _sentence(problem)
        return values, problems

    def accept(self) -> None:
        values, problems = self.collect()
        for field in self.fields.values():
            field.problem.hide()
        if problems:
            self._show_problems(problems)
            return
        current = self.controller.settings
        new = Settings(values=dict(current.values), path=current.path, file_was_bad=current.file_was_bad)
        new.values.update(values)
        failure = self.controller.apply_settings(new)
        if failure and "could not be saved" in failure:
            self.summary.setText(failure)
            self.summary.show()
            return
        self.failure = failure
        super().accept()

    def _show_problems(self, problems: dict[str, str]) -> None:
        first: Field | None = None
        for key, reason in problems.items():
            field = self.fields[key]
            field.problem.setText(reason)
            field.problem.show()
            first = first or field
        count = len(problems)
        self.summary.setText(
            f"{count} setting{'s' if count > 1 else ''} cannot be used as written: "
            "see the reason beside each. Nothing was saved yet."
        )
        self.summary.show()
        if first is not None:
            tab = TABS.get(first.option.section, first.option.section.capitalize())
            self.tabs.setCurrentIndex(self._tab_index[tab])
            first.widget.setFocus()


def login_state() -> tuple[bool | None, str]:
    """(whether the app starts at login on this computer now, where that is set up, in words);
    (None, the reason) when it cannot be read."""
    try:
        e = autostart.entry()
        on = autostart.is_enabled()
    except (OSError, ValueError) as exc:
        return None, str(exc) or type(exc).__name__
    where = {
        "registry": "in the list of programs Windows starts for you",
        "file": f"set up in {e.location}",
    }[e.kind]
    if e.os == "macos":
        where = "set up as a login item of your Mac account"
    return on, where


def _range(opt: Option) -> str:
    """ " Between 2 and 60." for a number (its box refuses anything else)."""
    if opt.type not in ("int", "float") or opt.min is None or opt.max is None:
        return ""
    return f" Between {opt.min:g} and {opt.max:g}."


def _sentence(problem: str) -> str:
    """A validation message as a sentence for the field: "It must be between 2 and 60, not 90."."""
    text = re.sub(r"^'(.*)' is not valid: ", "", problem)
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."
