"""The failed-lesson procedure: every path through it, what each records, and the checks on
its data."""

import copy
import tomllib
from datetime import date, datetime, timedelta, timezone

import pytest

from connectcheck.config.profile import load_profile
from connectcheck.core import paths
from connectcheck.core.model import ProcedureRecord, from_dict, to_dict
from connectcheck.policy.procedure import NEXT, Procedure, ProcedureError, default_procedure, parse_procedure

LESSON = datetime(2024, 10, 24, 16, 0, tzinfo=timezone(timedelta(hours=1)))  # a Thursday
IN_WINDOW = "2024-10-29"


class Clock:
    """A clock that moves on a minute each time it is read."""

    def __init__(self):
        self.now = datetime(2024, 10, 24, 16, 10, tzinfo=timezone(timedelta(hours=1)))

    def __call__(self):
        self.now += timedelta(minutes=1)
        return self.now


def new(profile="westcountry-sen", lesson=LESSON):
    return Procedure(profile=load_profile(profile) if profile else None, lesson_start=lesson, clock=Clock())


def walk(answers, **kwargs):
    """Answer in order; info steps are passed with NEXT; then carry on to the end."""
    p = new(**kwargs)
    answers = list(answers)
    while not p.finished:
        if p.current.kind in ("question", "date"):
            p.answer(answers.pop(0))
        else:
            p.answer(NEXT)
    assert answers == [], "answers left over"
    return p


def every_path():
    """Every sequence of answers from the start to the end (info steps skipped)."""
    data = default_procedure()
    out = []

    def go(step_id, answers):
        step = data.steps[step_id]
        if step.kind == "end":
            out.append(tuple(answers))
        elif step.kind == "question":
            for a in step.answers:
                go(a.next, [*answers, a.value])
        elif step.kind == "date":
            go(step.next, [*answers, IN_WINDOW])
        else:
            go(step.next, answers)

    go(data.start, [])
    return out


PATHS = every_path()


def test_there_are_many_paths_and_each_step_is_on_one():
    assert len(PATHS) >= 15


@pytest.mark.parametrize("answers", PATHS, ids=["/".join(p) for p in PATHS])
def test_every_path_ends_with_an_outcome_the_reminders_and_support(answers):
    p = walk(answers)
    r = p.record
    visited = [s.step for s in r.steps]
    assert r.finished and r.outcome is not None and visited[-1] == "done"
    assert visited[-3:] == ["donts", "tell_support", "done"]
    assert p.current.text == default_procedure().outcomes[r.outcome]
    assert all(s.at for s in r.steps)
    assert [s.answer for s in r.steps if s.kind in ("question", "date")] == list(answers)


@pytest.mark.parametrize(("answers", "outcome", "tried"), [
    (["first_lesson"], "not_this_procedure",
     ["Abandoned the lesson: it was my first lesson with this student."]),
    (["moved"], "not_this_procedure", ["Abandoned the lesson: the student is now taught from a new place."]),
    (["no", "yes"], "resolved", None),
    (["no", "no", "typing"], "continued", None),
    (["no", "no", "voice"], "continued", None),
    (["no", "no", "cannot_read", "practice", "yes"], "continued_phone", None),
    (["no", "no", "no", "elsewhere", "yes", "yes"], "continued_phone", None),
    (["no", "no", "no", "elsewhere", "no", "no"], "abandoned", None),
    (["no", "no", "no", "elsewhere", "no", "yes", "yes", IN_WINDOW], "rearranged", None),
    (["no", "no", "no", "practice", "no", "yes", "no"], "abandoned", None),
])
def test_named_paths(answers, outcome, tried):
    p = walk(answers)
    assert p.record.outcome == outcome
    if tried:
        assert p.tried() == tried


def test_new_student_is_not_this_procedure_and_reported():
    p = new()
    assert p.current.id == "new_student"
    p.answer("first_lesson")
    assert p.current.id == "not_this_procedure"
    assert p.current.title == "Abandon this lesson and report it"
    assert "Abandon the lesson" in p.current.text and "report it to support" in p.current.text
    assert "you don't know" in " ".join(p.current.notes)  # before talking to the family


def test_typing_comes_first_then_the_phone():
    p = new()
    p.answer("no")
    p.answer("no")
    assert p.current.id == "carry_on" and "typing" in p.current.text
    assert "Zoom" in " ".join(p.current.notes)  # where the tutor looks for another way
    p.answer("no")
    assert p.current.id == "where_teaching"


def test_the_questions_are_recorded_not_the_introductions():
    p = walk(["no", "no", "typing"])
    assert p.record.steps[1].text == "Is it working now?"
    assert p.record.steps[2].text == "Can you carry on like this?"


def test_practice_phone_path_shows_the_profile_note_and_the_return_reminder():
    p = new()
    for a in ("no", "no", "no", "practice"):
        p.answer(a)
    assert "same code as the practice door" in p.current.text
    p.answer("yes")
    assert p.current.id == "return_phone" and "main desk" in p.current.text


def test_own_phone_explains_how_to_withhold_the_number():
    p = new()
    for a in ("no", "no", "no", "elsewhere"):
        p.answer(a)
    assert "unlimited" in p.current.text and "hidden" in p.current.text
    p.answer("yes")
    notes = " ".join(p.current.notes)
    assert "141" in notes and "iPhone: Settings › Phone › Show My Caller ID" in notes
    assert "Android" in notes and "vary by phone" in notes


def test_a_student_who_cannot_read_goes_to_the_phone():
    p = new()
    for a in ("no", "no"):
        p.answer(a)
    assert ("cannot_read", "No: the student cannot read yet, so typing will not work") in p.current.answers
    p.answer("cannot_read")
    assert p.current.id == "where_teaching"


def test_rearranging_states_the_window_and_the_rules():
    p = new()
    for a in ("no", "no", "no", "elsewhere", "no"):
        p.answer(a)
    assert "on or before Wednesday 30 October 2024" in p.current.text
    assert "refund" in " ".join(p.current.notes)  # before offering anything to the family
    p.answer("yes")
    notes = " ".join(p.current.notes)
    assert "do not normally have this space" in notes
    assert "between Thursday 24 October 2024 and Wednesday 30 October 2024" in notes
    assert "must not move another student's lesson" in notes and "does not become the usual time" in notes
    p.answer("yes")
    with pytest.raises(ProcedureError, match="outside the 7 days"):
        p.answer("2024-10-31")
    with pytest.raises(ProcedureError, match="year-month-day"):
        p.answer("31/10/2024")
    assert p.current.id == "rearrange_date"
    p.answer("2024-10-30")
    assert p.record.rearranged_to == "2024-10-30"
    assert p.current.id == "calendar_edit"
    assert "Edit lesson" in p.current.text and "unticked" in p.current.text
    assert "https://westcountrysen.com/" in p.current.text
    assert "learning manager" in p.current.notes[0]
    p.answer()
    donts = " ".join(p.current.notes)
    for words in ("Zoom, FaceTime", "you don't know and that someone will get in touch", "refunds",
                  "out of the session report", "practice would be better"):
        assert words in donts
    assert p.tried()[-1] == ("Agreed a one-off replacement lesson on Wednesday 30 October 2024, "
                             "as an exception.")


def test_abandoned_is_not_the_tutors_fault():
    p = walk(["no", "no", "no", "elsewhere", "no", "no"])
    assert p.record.outcome == "abandoned" and "not your fault" in p.current.text
    visited = [s.step for s in p.record.steps]
    assert visited[-4:] == ["abandon", "donts", "tell_support", "done"]
    assert p.current.action is None
    assert default_procedure().steps["tell_support"].action == "email_support"


def test_wrong_answers_are_refused_and_nothing_is_recorded():
    p = new()
    with pytest.raises(ProcedureError, match="choose one of"):
        p.answer("maybe")
    with pytest.raises(ProcedureError):
        p.answer(NEXT)
    assert p.record.steps == [] and p.current.id == "new_student"
    p.answer("first_lesson")
    with pytest.raises(ProcedureError, match="no question"):
        p.answer("yes")
    done = walk(["no", "yes"])
    with pytest.raises(ProcedureError, match="finished"):
        done.answer(NEXT)


def test_back_undoes_answers_outcome_and_date():
    p = walk(["no", "no", "no", "elsewhere", "no", "yes", "yes", IN_WINDOW])
    assert p.finished and p.record.outcome == "rearranged"
    while p.current.id != "rearrange_date":
        p.back()
    assert not p.record.finished and p.record.rearranged_to is None and p.record.outcome is None
    p.back()
    p.answer("no")
    assert p.record.outcome == "abandoned"
    while p.record.steps:
        p.back()
    assert p.current.id == "new_student"
    with pytest.raises(ProcedureError, match="first step"):
        p.back()


def test_the_record_is_plain_data_for_the_report():
    p = walk(["no", "no", "no", "practice", "yes"])
    r = p.record
    assert r.profile == "westcountry-sen" and r.lesson_start == LESSON.isoformat()
    assert r.last_allowed_date == "2024-10-30" and r.started_at == "2024-10-24T16:11:00+01:00"
    answered = r.steps[1]
    assert (answered.step, answered.answer) == ("quick_fixes", "no")
    assert answered.answer_text == "No, still not working"
    assert answered.at == "2024-10-24T16:13:00+01:00"
    assert from_dict(ProcedureRecord, to_dict(r)) == r


def test_without_a_profile_or_lesson_date_it_still_works():
    p = Procedure(clock=Clock())
    assert p.record.lesson_start == "2024-10-24" and p.record.profile == ""
    for a in ("no", "no", "no", "practice"):
        p.answer(a)
    assert "main desk" in p.current.text  # the default note
    p.answer("yes")
    p.answer()
    assert p.current.id == "donts" and "Stay on the organisation's platform" in p.current.notes[1]


def test_dates_are_words_in_english_whatever_the_lesson_kind():
    p = new(lesson=date(2024, 12, 28))
    assert p.record.last_allowed_date == "2025-01-03"


def _data():
    return tomllib.loads(paths.resource_path("procedure.toml").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d["steps"]["carry_on"]["answers"][0].update(next="nowhere"), "missing step 'nowhere'"),
    (lambda d: d["steps"]["return_phone"].update(next="practice_phone"), "loop back"),
    (lambda d: d["steps"]["carry_on"]["answers"][0].pop("outcome"), "ends without an outcome"),
    (lambda d: d["steps"]["carry_on"]["answers"][0].update(outcome="lunch"), "unknown outcome"),
    (lambda d: d["steps"].update(orphan={"kind": "info", "text": "x", "next": "done"}), "never reached"),
    (lambda d: d["steps"]["donts"].update(text="{weather}"), "unknown placeholders"),
    (lambda d: d["steps"]["donts"].update(kind="dialog"), "kind must be"),
    (lambda d: d["steps"]["donts"].pop("next"), "needs a next step"),
    (lambda d: d["steps"]["carry_on"]["answers"].append(
        copy.deepcopy(d["steps"]["carry_on"]["answers"][0])), "share a value"),
])
def test_broken_procedure_data_is_refused(mutate, message):
    data = _data()
    mutate(data)
    with pytest.raises(ProcedureError, match=message):
        parse_procedure(data)


def test_offline_the_guide_gets_the_connection_back_first_then_the_phone():
    p = Procedure(profile=load_profile("westcountry-sen"), lesson_start=LESSON, clock=Clock(), offline=True)
    p.answer("no")
    assert p.current.id == "offline_fixes"
    assert "Restart the router" in " ".join(p.current.notes)
    assert "Close programs" not in " ".join(p.current.notes)
    p.answer("no")
    assert p.current.id == "where_teaching"  # no connection: typing on the whiteboard cannot work either
    assert "typing on the whiteboard was not possible" in p.tried()[-1]


def test_the_programs_the_check_named_come_first_in_the_quick_fixes():
    found = ("Pause Steam until after the lesson: it is using 18.5 Mbit/s.",)
    p = Procedure(profile=load_profile("westcountry-sen"), lesson_start=LESSON, clock=Clock(), found=found)
    p.answer("no")
    assert p.current.id == "quick_fixes" and p.current.notes[0] == found[0]
    assert p.current.notes[1].startswith("Close programs")
    p.answer("no")
    assert found[0] not in p.current.notes  # only where the quick fixes are
