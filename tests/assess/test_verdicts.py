"""Verdicts per activity and the overall line, on realistic checks."""

import pytest

from connectcheck.assess import assess_check
from connectcheck.assess.thresholds import default_thresholds
from connectcheck.assess.verdicts import judge_check, overall
from connectcheck.core.model import Connectivity

from .fixtures import check, offline_check, quick_check


def verdicts_of(result):
    return {v.activity: v for v in judge_check(result, default_thresholds())}


def test_a_good_line_is_ready_with_a_call_quality_score():
    a = assess_check(check())
    assert a.overall == "ready"
    assert [v.state for v in a.verdicts] == ["good", "good", "good"]
    sound = a.verdicts[0]
    assert sound.activity == "sound" and sound.mos == 4.4 and sound.sentence == "Sound should work well."
    assert all(v.mos is None for v in a.verdicts[1:])


def test_the_issue_example_sentence():
    v = verdicts_of(check(upload_mbps=0.4))["video"]
    assert v.state == "degraded"
    assert v.sentence == ("Video may freeze or blur at times: your upload is 0.4 Mbit/s and video needs "
                          "2.5 Mbit/s.")
    (deciding,) = v.deciding
    assert (deciding.metric, deciding.value, deciding.good, deciding.fail) == ("upload_mbps", 0.4, 2.5, 0.3)
    assert deciding.margin == pytest.approx(-2.1)
    failing = verdicts_of(check(upload_mbps=0.2))["video"]
    assert failing.sentence == ("Video will probably freeze: your upload is 0.2 Mbit/s and video needs "
                                "2.5 Mbit/s.")


def test_several_deciding_metrics_are_named_with_their_needs():
    v = verdicts_of(check(rtt_ms=450, jitter_ms=45, loss_pct=4))["sound"]
    assert v.state == "fail"
    assert [d.metric for d in v.deciding] == ["rtt_ms", "jitter_ms", "loss_pct"]
    assert v.sentence == ("Sound will probably break up or drop out: your delay is 450 ms (sound "
                          "needs 100 ms or less), your delay variation is 45 ms (sound needs under 15 ms) "
                          "and your lost data is too high.")  # the third named, never "1 more figure"


def test_a_value_that_rounds_to_its_limit_is_shown_with_more_decimals():
    v = verdicts_of(check(download_mbps=2.96))["video"]
    assert "your download is 2.96 Mbit/s and video needs 3 Mbit/s" in v.sentence


def test_quick_check_says_what_is_known_and_what_is_not():
    a = assess_check(quick_check())
    assert [v.state for v in a.verdicts] == ["unknown"] * 3
    sound = a.verdicts[0]
    assert sound.sentence == ("Sound looks fine so far (delay, delay variation and lost data are good), but "
                              "download, upload and delay when busy were not measured.")
    assert {m.metric for m in sound.deciding} == {"download_mbps", "upload_mbps", "rtt_increase_ms"}
    assert a.overall == "unknown" and "run a full check" in a.sentence


def test_quick_check_with_a_known_problem_still_reports_it():
    a = assess_check(quick_check(jitter_ms=40))
    v = {x.activity: x for x in a.verdicts}
    assert [v[k].state for k in ("sound", "video", "whiteboard")] == ["fail", "degraded", "degraded"]
    assert "(download, upload and delay when busy were not measured)" in v["sound"].sentence
    assert a.overall == "limited"


def test_nothing_measured_cannot_be_judged():
    r = quick_check(rtt_ms=None, jitter_ms=None, loss_pct=None)
    v = verdicts_of(r)["whiteboard"]
    assert v.state == "unknown" and "could not be judged" in v.sentence


def test_offline_cannot_go_ahead_with_the_plain_reason():
    a = assess_check(offline_check())
    assert a.overall == "cannot"
    assert a.sentence == "The lesson cannot go ahead online: there is no internet connection."
    for v in a.verdicts:
        assert v.state == "fail" and v.deciding[0].metric == "connectivity"
        assert "no internet connection" in v.sentence


def test_platform_unreachable_is_its_own_reason_naming_the_address():
    r = check(platform_reachable=False,
              reach=[("https://westcountrysen.com/", True), ("https://bitpaper.io/", False)])
    a = assess_check(r)
    assert a.overall == "cannot"
    assert a.sentence == ("The lesson cannot go ahead online: the lesson platform (bitpaper.io) could not "
                          "be reached.")
    assert all(v.deciding[0].metric == "platform_reachable" for v in a.verdicts)
    assert a.verdicts[0].metrics[0].state == "good"  # the numbers are still there


def test_udp_blocked_makes_sound_and_video_degraded_but_not_the_whiteboard():
    v = verdicts_of(check(udp_ok=False, connectivity=Connectivity.LIMITED))
    assert v["sound"].state == v["video"].state == "degraded" and v["whiteboard"].state == "good"
    assert "blocks the direct route calls take (UDP)" in v["sound"].sentence


@pytest.mark.parametrize(("summary", "state", "words"), [
    (dict(upload_mbps=0.2), "limited",
     "Video will not work well over this connection: turn the cameras off (the whiteboard may not be "
     "smooth)."),
    (dict(rtt_increase_ms=150, upload_mbps=0.5), "limited",
     "Sound will not work well over this connection: carry on by typing on the whiteboard, with the "
     "cameras off, and use a phone for sound if you can"),
    (dict(download_mbps=0.4), "limited",
     "The whiteboard will not work well over this connection: the lesson can only go on by voice"),
    (dict(loss_pct=12), "cannot", "neither sound nor the whiteboard will work"),
    (dict(jitter_ms=20), "limited", "Can go ahead, with care: sound and video may not be smooth."),
])
def test_overall_line(summary, state, words):
    result = check(**summary)
    t = default_thresholds()
    got_state, sentence = overall(result, judge_check(result, t), t)
    assert got_state == state and words in sentence


@pytest.mark.parametrize("failing", [{"sound"}, {"video"}, {"whiteboard"}, {"sound", "video"},
                                     {"video", "whiteboard"}])
def test_the_overall_line_goes_with_the_one_answer(failing):
    """The headline (core/words.answer) and the line under it never disagree: no "can go ahead with
    limits" under "Not ready as it is"; typing comes before the phone, as in the procedure."""
    from connectcheck.core.model import ActivityVerdict
    from connectcheck.core.words import answer

    result = check()
    t = default_thresholds()
    verdicts = [ActivityVerdict(v.activity, "fail" if v.activity in failing else v.state, v.sentence,
                                v.deciding, v.metrics, v.mos) for v in judge_check(result, t)]
    state, sentence = overall(result, verdicts, t)
    headline = answer(state, failing)
    assert state == "limited"
    assert "go ahead" not in sentence.lower()
    if failing - {"video"}:
        assert headline.startswith("Not ready")
    else:
        assert headline == "Ready with the cameras off" and "turn the cameras off" in sentence
    if "sound" in failing:
        assert sentence.index("typing") < sentence.index("phone") and "phone for sound" in headline
    if "whiteboard" in failing:
        assert "whiteboard will not work" in headline and "whiteboard will not work" in sentence
    assert ("cameras off" in sentence) == ("video" in failing)


def test_cancelled_before_anything_is_unknown():
    r = quick_check(rtt_ms=None, jitter_ms=None, loss_pct=None, connectivity=None)
    r.connectivity = Connectivity.UNKNOWN
    a = assess_check(r)
    assert a.overall == "unknown" and "stopped before" in a.sentence


def test_the_assessment_travels_in_the_check_result_json():
    from connectcheck.core.model import dumps, loads

    from .fixtures import local, program

    result = check(upload_mbps=0.25, local=local(processes=[program("Steam", "game_launcher", 18.2, 0.3)]))
    result.assessment = assess_check(result, previous=check())
    assert loads(dumps(result)) == result
