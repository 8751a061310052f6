"""The one answer a tutor reads first (core/words.answer): consistent with the cards, naming the
likely cause where it is known."""

import pytest

from connectcheck.core.words import CAUSE_HEADLINE, OVERALL_WORDS, answer, short_answer

CAUSES = ("weak_wifi", "others_at_home", "other_program", "computer_overloaded", "line_too_slow",
          "line_unsteady", "network_blocks_udp", "platform_unreachable", "no_connection")


def test_every_cause_the_judge_gives_has_headline_words():
    from connectcheck.assess.cause import TITLES

    assert set(TITLES) - {"no_fault", "unclear"} == set(CAUSE_HEADLINE) == set(CAUSES)


@pytest.mark.parametrize("overall, failing, cause, words", [
    ("cannot", (), "weak_wifi", "Not ready: your Wi-Fi is weak"),
    ("cannot", (), None, OVERALL_WORDS["cannot"]),
    ("limited", ("sound",), "others_at_home",
     "Not ready as it is: someone else at home is using the line — use a phone for sound"),
    ("limited", ("sound",), None, "Not ready as it is: use a phone for sound"),
    ("limited", ("whiteboard", "sound"), "line_too_slow",
     "Not ready: your internet line is too slow, so the whiteboard will not work"),
    ("limited", ("video",), "line_too_slow", "Ready with the cameras off (your internet line is too slow)"),
    ("limited", (), "other_program",
     "Can go ahead with limits: a program on this computer is using the line"),
    ("ready", (), "no_fault", OVERALL_WORDS["ready"]),
    ("ready", (), "weak_wifi", OVERALL_WORDS["ready"]),  # a hint, not a fault: the answer stays Ready
    ("limited", ("sound",), "unclear", "Not ready as it is: use a phone for sound"),
])
def test_the_answer_names_the_cause_where_it_is_known(overall, failing, cause, words):
    assert answer(overall, failing, cause) == words


@pytest.mark.parametrize("cause", [*CAUSES, None, "no_fault", "unclear"])
def test_the_answer_never_says_go_ahead_when_sound_or_the_whiteboard_fails(cause):
    for failing in (("sound",), ("whiteboard",), ("sound", "video"), ("sound", "whiteboard", "video")):
        words = answer("limited", failing, cause)
        assert words.startswith("Not ready") and "go ahead" not in words
        assert short_answer("limited", failing) == "Not ready"
