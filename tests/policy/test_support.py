"""The support e-mail: its content, the mailto: link's encoding, long bodies, unknown address."""

from datetime import date, datetime
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from connectcheck.assess import assess_check
from connectcheck.config.profile import OrganisationProfile, load_profile
from connectcheck.policy.procedure import NEXT, Procedure
from connectcheck.policy.support import (
    MAX_URL_CHARS,
    SHORTENED,
    SupportEmail,
    compose_support_email,
    is_valid_address,
    mailto_url,
    support_address,
)
from tests.assess.fixtures import check, local, program

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


def test_the_body_has_the_lesson_what_was_found_and_what_was_tried():
    before = check(download_mbps=2.1, local=local(processes=[program("Steam", "game_launcher", 18.2, 0.3)]))
    after = check(download_mbps=8.9, local=local(processes=[program("Steam", "game_launcher", 0, 0)]))
    assessment = assess_check(after, previous=before)
    proc = Procedure(profile=load_profile("westcountry-sen"), lesson_start=LESSON)
    for answer in ("no", "no", "no", "practice", "yes", NEXT, NEXT, NEXT):
        proc.answer(answer)
    assert proc.finished
    email = compose_support_email(lesson_start=LESSON, remembered_address="help@example.org",
                                  assessment=assessment, check=after, record=proc.record,
                                  outcome_text=proc.current.text, report_name="connectcheck-2024-10-24.html")
    body = email.body
    assert body.startswith("Hello,\n\nI had technical difficulties in my lesson on Thursday 24 October "
                           "2024 at 16:00.")
    assert assessment.sentence in body and "- Sound should work well." in body
    assert "Measured on Thursday 24 October 2024 at 16:05: download 8.9 Mbit/s, upload 9.2 Mbit/s" in body
    assert "- Used the practice's mobile for the sound." in body
    assert "- Checked again: download 2.1 → 8.9 Mbit/s (better) after Steam was paused" in body
    assert "Outcome: The lesson went on with a phone for the sound." in body
    assert "I have attached the report (connectcheck-2024-10-24.html)." in body
    to, subject, decoded = decode(mailto_url(email))
    assert (to, decoded) == ("help@example.org", body.replace("\n", "\r\n"))


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
def test_very_long_bodies_are_shortened_at_a_word_and_say_so(size):
    words = ("Sound broke up again at café ñ & the whiteboard froze. " * (size // 50))[:size]
    email = SupportEmail(to="help@example.org", subject="Lesson", body=words)
    url = mailto_url(email)
    assert len(url) <= MAX_URL_CHARS
    _, _, body = decode(url)
    assert body.endswith(SHORTENED.replace("\n", "\r\n"))
    kept = body[: -len(SHORTENED.replace("\n", "\r\n"))]
    assert words.startswith(kept) and len(kept) > 300
    assert words[len(kept)] == " " or kept.endswith(".")  # cut between words
    assert len(mailto_url(email, max_chars=5_000)) <= 5_000


def test_a_short_body_is_left_alone():
    email = SupportEmail(to="help@example.org", subject="Lesson", body="Short.")
    assert SHORTENED.strip() not in decode(mailto_url(email))[2]


def test_a_lesson_given_as_a_date_has_no_time_in_the_subject():
    email = compose_support_email(lesson_start=date(2024, 10, 24))
    assert email.subject == "Technical difficulties in my lesson on Thursday 24 October 2024"
    assert email.body.endswith("I have attached the report.\n\nThank you")
