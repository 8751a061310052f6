"""The support e-mail: its content, the mailto: link's encoding, long bodies, unknown address."""

from datetime import date, datetime
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from connectcheck.assess import assess_check
from connectcheck.config.profile import OrganisationProfile, load_profile
from connectcheck.policy.procedure import NEXT, Procedure, support_outcome
from connectcheck.policy.support import (
    MAX_URL_CHARS,
    SHORTENED,
    STEPS_LEFT_OUT,
    SupportEmail,
    compose_support_email,
    is_valid_address,
    mailto_url,
    support_address,
)
from tests.assess.fixtures import check, local, program
from tests.policy.test_procedure import IN_WINDOW, PATHS, walk

LESSON = datetime(2024, 10, 24, 16, 0)


def decode(url):
    """Split a mailto: URL back into (to, subject, body) the way a mail program does."""
    parts = urlsplit(url)
    assert parts.scheme == "mailto"
    query = parse_qs(parts.query, keep_blank_values=True)
    return unquote(parts.path), query["subject"][0], query["body"][0]


def test_unknown_address_means_ask_once_and_nothing_breaks():
    profile = load_profile("westcountry-sen")
    assert profile.support_email == ""
    email = compose_support_email(lesson_start=LESSON, profile=profile)
    assert email.needs_address and email.to == ""
    url = mailto_url(email)
    assert url.startswith("mailto:?subject=")
    assert decode(url)[1] == "Technical difficulties in my lesson on Thursday 24 October 2024 at 16:00"


def test_the_remembered_address_wins_and_bad_ones_are_ignored():
    profile = OrganisationProfile(id="x", name="X", support_email="help@example.org")
    assert support_address(profile) == "help@example.org"
    remembered = "tutor.support+lessons@example.org"
    assert support_address(profile, remembered) == remembered
    assert support_address(profile, "not an address") == "help@example.org"
    assert support_address(None, "") == ""
    for bad in ("", "a@b", "a b@example.org", "a@b@example.org", "<a@example.org>",
                "a@example.org, b@example.org"):
        assert not is_valid_address(bad)


def test_the_body_starts_with_how_it_ended_and_what_was_tried():
    before = check(download_mbps=2.1, local=local(processes=[program("Steam", "game_launcher", 18.2, 0.3)]))
    after = check(download_mbps=8.9, local=local(processes=[program("Steam", "game_launcher", 0, 0)]))
    assessment = assess_check(after, previous=before)
    proc = Procedure(profile=load_profile("westcountry-sen"), lesson_start=LESSON)
    for answer in ("no", "no", "no", "practice", "yes", NEXT, NEXT, NEXT):
        proc.answer(answer)
    assert proc.finished
    email = compose_support_email(lesson_start=LESSON, remembered_address="help@example.org",
                                  assessment=assessment, check=after, record=proc.record,
                                  outcome_text=support_outcome(proc.record),
                                  report_name="connectcheck-2024-10-24.html")
    body = email.body
    assert body.startswith("Hello,\n\nI had technical difficulties in my lesson on Thursday 24 October "
                           "2024 at 16:00.\n\nHow it ended: The lesson went on with a phone for the "
                           "sound.\n\nWhat I tried:\n- Closed what was using the connection")
    assert body.index("How it ended") < body.index("What I tried") < body.index("What connectcheck found")
    assert assessment.sentence in body and "- Sound should work well." in body
    assert "Measured on Thursday 24 October 2024 at 16:05: download 8.9 Mbit/s, upload 9.2 Mbit/s" in body
    assert "- Used the practice's mobile for the sound." in body
    assert "- Checked again: download 2.1 → 8.9 Mbit/s (better) after Steam was paused" in body
    assert ("I have attached the report of the last check, with my answers to the guide: "
            "connectcheck-2024-10-24.html.") in body
    to, subject, decoded = decode(mailto_url(email))
    assert (to, decoded) == ("help@example.org", body.replace("\n", "\r\n"))


def test_a_moved_lesson_says_its_new_day_in_the_outcome():
    proc = Procedure(profile=load_profile("westcountry-sen"), lesson_start=LESSON)
    for answer in ("no", "no", "no", "elsewhere", "no", "yes", "yes", "2024-10-29", NEXT, NEXT, NEXT):
        proc.answer(answer)
    assert support_outcome(proc.record) == ("The lesson was moved to another time, this once, "
                                            "to Tuesday 29 October 2024.")


def busy_lesson_parts():
    """A troubled lesson with much to say: a failing check, many alerts, long program names."""
    failing = check(upload_mbps=0.2, loss_pct=6.0, rtt_ms=450, local=local(processes=[
        program("Steam Client WebHelper (a long program name) " * 2, "game_launcher", 18.2, 0.3)]))
    alerts = [f"16:{m:02d} Sound: failing — the sound breaks up: {m % 7 + 3} % of the packets are lost."
              for m in range(5, 45, 2)]
    return assess_check(failing), failing, alerts


@pytest.mark.parametrize("answers", PATHS, ids=["/".join(p) for p in PATHS])
def test_every_guide_path_arrives_whole_outcome_and_steps_first(answers):
    proc = walk(answers)
    assessment, failing, alerts = busy_lesson_parts()
    outcome = support_outcome(proc.record)
    email = compose_support_email(lesson_start=LESSON, remembered_address="help@example.org",
                                  assessment=assessment, check=failing, record=proc.record,
                                  outcome_text=outcome, report_kind="lesson", alerts=alerts,
                                  report_name="connectcheck-lesson-2024-10-24-1600.html")
    url = mailto_url(email)
    assert len(url) <= MAX_URL_CHARS
    _, _, sent = decode(url)
    sent = sent.replace("\r\n", "\n")
    assert outcome and f"How it ended: {outcome}" in sent
    lines = sent.split("\n")
    whole = email.body.split("\n")
    for line in lines:  # every line is one of the message's, whole, or the notes about shortening
        assert line in whole or line in (SHORTENED, STEPS_LEFT_OUT), line
    tried = [f"- {t}" for t in proc.tried()]
    kept = [t for t in tried if t in lines]
    if STEPS_LEFT_OUT not in lines:
        assert kept == tried  # every step tried, in order
    else:
        assert kept[0] == tried[0] and kept[-1] == tried[-1]
    assert "I have attached the report of the lesson (its timeline, connectcheck's warnings and my " \
           "answers to the guide): connectcheck-lesson-2024-10-24-1600.html." in lines
    assert sent.endswith("Thank you")
    if sent != email.body:
        assert SHORTENED in lines
    assert sent.index("How it ended") < sent.index("What I tried") if tried else True


def test_the_figures_go_before_the_outcome_ever_would():
    """The case of the issue: a long body was cut from its end mid-sentence ("Agreed a one-off
    replacement lesson on"). Now the figures go first, and the outcome and the new day stay."""
    proc = walk(["no", "no", "no", "elsewhere", "no", "yes", "yes", IN_WINDOW])
    assessment, failing, alerts = busy_lesson_parts()
    email = compose_support_email(lesson_start=LESSON, assessment=assessment, check=failing,
                                  record=proc.record, outcome_text=support_outcome(proc.record),
                                  report_kind="lesson", alerts=alerts * 3)
    assert len(email.body) > 2000  # far too long for a link as it is
    _, _, sent = decode(mailto_url(email))
    assert "Agreed a one-off replacement lesson on Tuesday 29 October 2024, as an exception." in sent
    assert "to Tuesday 29 October 2024." in sent
    assert SHORTENED in sent.replace("\r\n", "\n")


AWKWARD = 'Tom & Jerry\'s "lesson" — 50% off? #3 café ñ 😀\nline two\r\nline three\rend + plus = equals'


def test_awkward_text_is_encoded_and_comes_back_exactly():
    email = SupportEmail(to="support+tutors@example.org", subject=AWKWARD, body=AWKWARD)
    url = mailto_url(email)
    head, _, query = url.partition("?")
    assert head == "mailto:support%2Btutors@example.org"
    assert query.count("&") == 1 and query.count("?") == 0 and "#" not in url and " " not in url
    assert "+" not in query  # spaces are %20, a plus sign %2B
    assert "%26" in query and "%22" in query and "%3F" in query and "%23" in query and "%25" in query
    assert "caf%C3%A9" in query and "%F0%9F%98%80" in query
    assert "%0D%0Aline%20two%0D%0Aline%20three%0D%0Aend" in query and "%0A" not in query.replace("%0D%0A", "")
    to, subject, body = decode(url)
    assert to == "support+tutors@example.org"
    expected = AWKWARD.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
    assert subject == expected and body == expected


@pytest.mark.parametrize("size", [3_000, 50_000])
def test_a_long_plain_body_is_shortened_at_a_sentence_and_says_so(size):
    words = ("Sound broke up again at café ñ & the whiteboard froze. " * (size // 50))[:size]
    email = SupportEmail(to="help@example.org", subject="Lesson", body=words)
    url = mailto_url(email)
    assert len(url) <= MAX_URL_CHARS
    _, _, body = decode(url)
    assert body.endswith(SHORTENED.replace("\n", "\r\n"))
    kept = body[: -len(SHORTENED.replace("\n", "\r\n"))]
    kept = kept.rstrip()
    assert words.startswith(kept) and len(kept) > 300
    assert kept.endswith(".")  # never in the middle of a sentence
    assert len(mailto_url(email, max_chars=5_000)) <= 5_000


def test_a_short_body_is_left_alone():
    email = SupportEmail(to="help@example.org", subject="Lesson", body="Short.")
    assert SHORTENED.strip() not in decode(mailto_url(email))[2]


def test_a_lesson_given_as_a_date_has_no_time_in_the_subject():
    email = compose_support_email(lesson_start=date(2024, 10, 24))
    assert email.subject == "Technical difficulties in my lesson on Thursday 24 October 2024"
    assert email.body.endswith("I have attached the report of the last check.\n\nThank you")
