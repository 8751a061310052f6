"""The failed-lesson procedure as a state machine driven by the tutor's answers.

The steps and their wording are data (``resources/procedure.toml``); this module walks them:
it shows one step at a time with the lesson's dates and the organisation's notes filled in,
takes the tutor's answer, moves on, and records every step and answer in a
:class:`~connectcheck.model.ProcedureRecord` for the report and the support e-mail. ``back()``
undoes the last answer. The data is checked when read: every step reachable, every path ending
at the end step with an outcome, no loops, every placeholder known.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from connectcheck.config.profile import OrganisationProfile
from connectcheck.core.files import read_bundled_toml
from connectcheck.core.model import ProcedureRecord, ProcedureStepRecord
from connectcheck.core.words import describe_date
from connectcheck.policy.rearrange import (
    first_allowed_date,
    is_within_window,
    last_allowed_date,
)

FILE_NAME = "procedure.toml"
NEXT = "next"  # the answer that moves on from an info step
KINDS = ("question", "info", "date", "end")
PLACES = ("organisation", "lesson_date", "first_allowed", "last_allowed", "practice_phone_note", "calendar",
          "outcome")


class ProcedureError(ValueError):
    """An answer the current step cannot take (the message is for the tutor), or bad data."""


@dataclass(frozen=True)
class Answer:
    value: str
    label: str
    next: str
    outcome: str | None = None
    tried: str | None = None
    offline_next: str | None = None  # where it leads instead when the check found no connection


@dataclass(frozen=True)
class Step:
    id: str
    kind: str
    title: str
    text: str
    notes: tuple[str, ...] = ()
    question: str = ""
    answers: tuple[Answer, ...] = ()
    next: str | None = None  # info and date steps
    outcome: str | None = None  # date steps
    tried: str | None = None  # date steps ({date})
    error: str = ""  # date steps: when the date is outside the window
    action: str | None = None  # what the app offers here, e.g. "email_support"
    found_notes: bool = False  # what the check found (the programs it names) comes first in the notes

    def targets(self) -> list[tuple[str, str | None]]:
        """(next step, outcome set on the way) for every way out of this step."""
        if self.answers:
            return [(n, a.outcome) for a in self.answers for n in (a.next, a.offline_next) if n]
        return [(self.next, self.outcome)] if self.next else []


@dataclass(frozen=True)
class ProcedureData:
    start: str
    end: str
    steps: Mapping[str, Step]
    outcomes: Mapping[str, str]
    defaults: Mapping[str, str]
    support_outcomes: Mapping[str, str] = field(default_factory=dict)  # the outcomes for support staff


@dataclass(frozen=True)
class StepView:
    """What to show for the current step, everything filled in."""

    id: str
    kind: str
    title: str
    text: str
    notes: tuple[str, ...] = ()
    question: str = ""
    answers: tuple[tuple[str, str], ...] = ()  # (value, label)
    action: str | None = None


# --- reading and checking the data ------------------------------------------------------------------


def _placeholders(text: str, where: str, allowed: tuple[str, ...]) -> str:
    try:
        used = {n for _, n, _, _ in string.Formatter().parse(text) if n is not None}
    except ValueError as exc:
        raise ProcedureError(f"{where}: {exc}") from None
    if unknown := used - set(allowed):
        raise ProcedureError(f"{where}: unknown placeholders {sorted(unknown)}")
    return text


def _answer(raw: Any, where: str) -> Answer:
    if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) for k in ("value", "label", "next")):
        raise ProcedureError(f"{where}: an answer needs a value, a label and a next step")
    if set(raw) - {"value", "label", "next", "outcome", "tried", "offline_next"}:
        raise ProcedureError(f"{where}: unknown fields in an answer")
    _placeholders(raw["label"], where, ())
    _placeholders(raw.get("tried") or "", where, ())
    return Answer(raw["value"], raw["label"], raw["next"], raw.get("outcome"), raw.get("tried"),
                  raw.get("offline_next"))


def _step(step_id: str, raw: Any) -> Step:
    where = f"{FILE_NAME} [steps.{step_id}]"
    if not isinstance(raw, dict) or raw.get("kind") not in KINDS:
        raise ProcedureError(f"{where}: kind must be one of {', '.join(KINDS)}")
    texts = {k: raw.get(k, "") for k in ("title", "text", "question", "error")}
    if not all(isinstance(v, str) for v in texts.values()) or not texts["text"]:
        raise ProcedureError(f"{where}: title, text, question and error must be texts, and text is needed")
    notes = raw.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise ProcedureError(f"{where}: notes must be a list of texts")
    for t in [*texts.values(), *notes]:
        _placeholders(t, where, PLACES)
    _placeholders(raw.get("tried") or "", where, ("date",))
    answers = tuple(_answer(a, where) for a in raw.get("answers", []))
    step = Step(step_id, raw["kind"], texts["title"], texts["text"], tuple(notes), texts["question"], answers,
                raw.get("next"), raw.get("outcome"), raw.get("tried"), texts["error"], raw.get("action"),
                bool(raw.get("found_notes", False)))
    if (step.kind == "question") != bool(answers):
        raise ProcedureError(f"{where}: questions, and only questions, have answers")
    if step.kind in ("info", "date") and not step.next:
        raise ProcedureError(f"{where}: needs a next step")
    if step.kind == "end" and step.next:
        raise ProcedureError(f"{where}: the end has no next step")
    if len({a.value for a in answers}) != len(answers):
        raise ProcedureError(f"{where}: two answers share a value")
    return step


def _check_paths(data: ProcedureData) -> None:
    """Every step reachable; every path loop-free and ending at the end with an outcome."""
    reached: set[str] = set()

    def walk(step_id: str, seen: tuple[str, ...], outcome: str | None) -> None:
        if step_id not in data.steps:
            raise ProcedureError(f"{FILE_NAME}: {seen[-1]} leads to a missing step {step_id!r}")
        if step_id in seen:
            raise ProcedureError(f"{FILE_NAME}: the steps loop back to {step_id!r}")
        reached.add(step_id)
        step = data.steps[step_id]
        if step.kind == "end":
            if step_id != data.end or outcome is None:
                raise ProcedureError(f"{FILE_NAME}: the path {' → '.join(seen + (step_id,))} ends "
                                     f"without an outcome")
            return
        for target, set_outcome in step.targets():
            if set_outcome is not None and set_outcome not in data.outcomes:
                raise ProcedureError(f"{FILE_NAME} [steps.{step_id}]: unknown outcome {set_outcome!r}")
            walk(target, seen + (step_id,), set_outcome or outcome)

    walk(data.start, (), None)
    if unreached := set(data.steps) - reached:
        raise ProcedureError(f"{FILE_NAME}: steps never reached: {sorted(unreached)}")


def parse_procedure(data: Mapping[str, Any]) -> ProcedureData:
    """Build and check the procedure from the parsed data file; raises ProcedureError."""
    steps_raw = data.get("steps")
    if not isinstance(steps_raw, dict) or not steps_raw:
        raise ProcedureError(f"{FILE_NAME}: no [steps]")
    outcomes, defaults = data.get("outcomes", {}), data.get("defaults", {})
    for_support = data.get("outcomes_for_support", {})
    tables = (("outcomes", outcomes), ("defaults", defaults), ("outcomes_for_support", for_support))
    for name, table in tables:
        if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
            raise ProcedureError(f"{FILE_NAME}: [{name}] must map names to texts")
    if missing := set(outcomes) - set(for_support):
        raise ProcedureError(f"{FILE_NAME}: [outcomes_for_support] lacks {sorted(missing)}")
    proc = ProcedureData(str(data.get("start")), str(data.get("end")),
                         {k: _step(k, v) for k, v in steps_raw.items()}, outcomes, defaults, for_support)
    _check_paths(proc)
    return proc


def load_procedure(path: Path | None = None) -> ProcedureData:
    """Read a procedure file (the bundled one by default); raises ProcedureError."""
    data, path = read_bundled_toml(FILE_NAME, "procedure", ProcedureError, path)
    return parse_procedure(data)


@functools.cache
def default_procedure() -> ProcedureData:
    return load_procedure()


# --- walking it ---------------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now().astimezone()


@dataclass
class Procedure:
    """One walk through the procedure for one lesson.

    ``lesson_start`` is the failed lesson's date or date-time (today when not given); it sets the
    7-day window. ``clock`` gives the time each answer is recorded with. What the last check
    found changes the way: ``offline`` (no connection: the steps to get it back instead of the
    quick fixes for a busy line) and ``found`` (what to do about the programs it named, shown
    first among the quick fixes).
    """

    profile: OrganisationProfile | None = None
    lesson_start: date | datetime | None = None
    data: ProcedureData = field(default_factory=default_procedure)
    clock: Callable[[], datetime] = _now
    offline: bool = False
    found: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        started = self.clock()
        if self.lesson_start is None:
            self.lesson_start = started.date()
        self._current = self.data.start
        self.record = ProcedureRecord(
            profile=self.profile.id if self.profile else "",
            lesson_start=self.lesson_start.isoformat(), started_at=started.isoformat(timespec="seconds"),
            last_allowed_date=last_allowed_date(self.lesson_start).isoformat())

    # --- what to show ---

    def _fill(self, text: str) -> str:
        assert self.lesson_start is not None
        p = self.profile
        words = {
            "organisation": p.name if p else "the organisation",
            "lesson_date": describe_date(self.lesson_start),
            "first_allowed": describe_date(first_allowed_date(self.lesson_start)),
            "last_allowed": describe_date(last_allowed_date(self.lesson_start)),
            "practice_phone_note": (p.practice_phone_note if p else "") or self.data.defaults.get(
                "practice_phone_note", ""),
            "calendar": self._calendar(),
            "outcome": self.data.outcomes.get(self.record.outcome or "", ""),
        }
        return text.format_map(words)

    def _calendar(self) -> str:
        name = self.data.defaults.get("calendar", "")
        url = self.profile.calendar_url if self.profile else ""
        return f"{name} ({url})" if url else name

    @property
    def step(self) -> Step:
        return self.data.steps[self._current]

    @property
    def current(self) -> StepView:
        s = self.step
        notes = tuple(self._fill(n) for n in s.notes)
        if s.found_notes and self.found:
            notes = (*self.found, *notes)
        return StepView(s.id, s.kind, self._fill(s.title), self._fill(s.text),
                        notes, self._fill(s.question),
                        tuple((a.value, a.label) for a in s.answers), s.action)

    @property
    def finished(self) -> bool:
        return self.step.kind == "end"

    # --- moving on ---

    def answer(self, value: str = NEXT) -> StepView:
        """Take the tutor's answer to the current step and move to the next one.

        Questions take one of their answers' values, info steps ``NEXT``, date steps an ISO date
        (``2024-10-29``) inside the 7-day window. Raises ProcedureError, with a message for the
        tutor, for anything else; the procedure then stays where it was.
        """
        step, view = self.step, self.current
        entry = ProcedureStepRecord(step=step.id, kind=step.kind, text=view.question or view.text,
                                    answer=value, at=self.clock().isoformat(timespec="seconds"))
        if step.kind == "end":
            raise ProcedureError("the procedure is finished")
        if step.kind == "question":
            chosen = next((a for a in step.answers if a.value == value), None)
            if chosen is None:
                raise ProcedureError(f"choose one of: {', '.join(a.label for a in step.answers)}")
            entry.answer_text, entry.tried = chosen.label, chosen.tried
            target, outcome = chosen.next, chosen.outcome
            if self.offline and chosen.offline_next:
                target = chosen.offline_next
        elif step.kind == "date":
            day = self._agreed_date(value, step)
            entry.answer_text = describe_date(day)
            entry.tried = (step.tried or "").format(date=describe_date(day)) or None
            target, outcome = step.next, step.outcome
            self.record.rearranged_to = day.isoformat()
        else:
            if value != NEXT:
                raise ProcedureError("this step has no question: carry on to the next one")
            target, outcome = step.next, None
        assert target is not None
        self.record.steps.append(entry)
        self.record.outcome = outcome or self.record.outcome
        self._current = target
        if self.finished:
            end = self.current
            self.record.steps.append(ProcedureStepRecord(step=end.id, kind="end", text=end.text,
                                                         at=entry.at))
            self.record.finished = True
        return self.current

    def _agreed_date(self, value: str, step: Step) -> date:
        assert self.lesson_start is not None
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise ProcedureError("write the date as year-month-day, for example 2024-10-29") from None
        if not is_within_window(self.lesson_start, day):
            raise ProcedureError(self._fill(step.error))
        return day

    def back(self) -> StepView:
        """Undo the last answer and return to that step."""
        steps = self.record.steps
        if steps and steps[-1].kind == "end":
            steps.pop()
            self.record.finished = False
        if not steps:
            raise ProcedureError("this is the first step")
        last = steps.pop()
        self._current = last.step
        self.record.outcome = self._outcome_so_far()
        if last.kind == "date":
            self.record.rearranged_to = None
        return self.current

    def _outcome_so_far(self) -> str | None:
        outcome = None
        for entry in self.record.steps:
            step = self.data.steps[entry.step]
            chosen = next((a for a in step.answers if a.value == entry.answer), None)
            outcome = (chosen.outcome if chosen else step.outcome) or outcome
        return outcome

    def tried(self) -> list[str]:
        """What was tried, in order, in the tutor's voice (for the support e-mail)."""
        return [s.tried for s in self.record.steps if s.tried]


def support_outcome(record: ProcedureRecord, data: ProcedureData | None = None) -> str:
    """How the lesson ended, in the words for support staff (with the new day of a moved lesson);
    "" while the guide has no outcome yet."""
    data = data or default_procedure()
    text = data.support_outcomes.get(record.outcome or "") or data.outcomes.get(record.outcome or "", "")
    if text and record.outcome == "rearranged" and record.rearranged_to:
        try:
            day = describe_date(date.fromisoformat(record.rearranged_to))
        except ValueError:
            day = record.rearranged_to
        text = text.rstrip(".") + f", to {day}."
    return text
