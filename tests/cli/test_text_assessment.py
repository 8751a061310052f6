"""The plain-text block for the terminal, and the number words everything uses."""

import pytest

from connectcheck.assess import assess_check
from connectcheck.cli.text import WIDTH, format_assessment
from connectcheck.core.words import join_words, number, number_beside
from tests.assess.fixtures import check, local, program, quick_check


@pytest.mark.parametrize(("value", "text"), [
    (450.4, "450"), (18.24, "18.2"), (30.0, "30"), (2.5, "2.5"), (0.4, "0.4"), (0.034, "0.034"), (0, "0"),
    (-78.0, "-78"),
])
def test_number(value, text):
    assert number(value) == text


def test_number_beside_a_limit_never_looks_equal_to_it():
    assert number_beside(2.96, 3) == "2.96"
    assert number_beside(99.96, 100) == "99.96"
    assert number_beside(3.0, 3) == "3"


def test_join_words():
    assert join_words([]) == "" and join_words(["a"]) == "a"
    assert join_words(["a", "b"]) == "a and b" and join_words(["a", "b", "c"]) == "a, b and c"


def test_format_assessment_is_aligned_wrapped_and_ranked():
    result = check(upload_mbps=0.25, rtt_increase_ms=180,
                   local=local(processes=[program("Steam", "game_launcher", 18.2, 0.3)]))
    previous = check(upload_mbps=0.2)
    text = format_assessment(assess_check(result, previous=previous))
    lines = text.splitlines()
    assert lines[0] == "Verdict"
    assert lines[1].startswith("  SOUND       [FAIL]  Sound will probably break up")
    assert any(line.startswith("  VIDEO       [FAIL]  Video will probably freeze") for line in lines)
    assert any(line.startswith("  WHITEBOARD  [WEAK]  The whiteboard may be slow") for line in lines)
    assert any(line.startswith("Overall: NOT READY — Sound will not work well over this connection: carry on")
               for line in lines)
    assert "What to do now" in lines and "Since the last check" in lines
    assert any(line.startswith("  1. Pause the downloads and updates in Steam") for line in lines)
    assert all(len(line) <= WIDTH for line in lines)
    # a number is never parted from its unit at a line break
    assert not any(line.rstrip().endswith(("180", "18.5", "0.25")) for line in lines)
    # continuation lines sit under the text, not under the label
    first = lines.index(next(line for line in lines if line.startswith("  SOUND")))
    assert lines[first + 1].startswith(" " * 22) and lines[first + 1][22] != " "


def test_quick_check_text_says_what_was_not_measured():
    text = format_assessment(assess_check(quick_check()))
    assert "[ ?? ]" in text and "NOT SURE YET" in text and "not measured" in text
    assert "Call quality on a quiet line: 4.4 / 5." in " ".join(text.split())


def test_a_rate_measured_despite_failed_connections_says_so_in_the_text():
    from connectcheck.cli.text import format_check_full
    from connectcheck.core.model import BandwidthResult, Status

    r = check()
    stalled = "1 of 4 connections failed: the server stopped exchanging data for 3 s"
    r.bandwidth = [BandwidthResult(direction="download", status=Status.OK, rate_mbps=48.2, duration_s=5.0,
                                   error=stalled),
                   BandwidthResult(direction="upload", status=Status.ERROR, error="could not be measured: "
                                   "2 of 2 connections failed: the server's answer was not valid HTTP")]
    text = format_check_full(r)
    assert "  download: 1 of 4 connections failed: the server stopped exchanging data for 3 s" in text
    speed = text.split("\nSpeed (")[1].splitlines()
    upload = next(line for line in speed if line.strip().startswith("upload"))
    assert upload.split()[1:3] == ["not", "measured"]
