"""Thresholds: the bundled data is the issue's table, every limit decides at the right place,
and overrides from settings and profiles are checked."""

import math

import pytest

from connectcheck.assess.thresholds import (
    ThresholdsError,
    default_thresholds,
    load_thresholds,
    parse_thresholds,
)
from connectcheck.assess.verdicts import judge_metric
from connectcheck.config.profile import OrganisationProfile
from connectcheck.config.settings import Settings, parse_settings
from connectcheck.config.startup import thresholds_from_settings

# The table of issue 4: (good, fail) per metric and activity, and how "good" reads.
TABLE = {
    "download_mbps": {"sound": (0.1, 0.03), "video": (3, 0.5), "whiteboard": (5, 0.5)},
    "upload_mbps": {"sound": (0.1, 0.03), "video": (2.5, 0.3), "whiteboard": (1, 0.2)},
    "rtt_ms": {"sound": (100, 400), "video": (100, 400), "whiteboard": (100, 500)},
    "jitter_ms": {"sound": (15, 30), "video": (15, 50), "whiteboard": (30, 100)},
    "loss_pct": {"sound": (1, 3), "video": (1, 5), "whiteboard": (1, 10)},
    "rtt_increase_ms": {"sound": (30, 100), "video": (30, 100), "whiteboard": (60, 200)},
}
GOOD_READS = {"download_mbps": ">=", "upload_mbps": ">=", "rtt_ms": "<=", "jitter_ms": "<", "loss_pct": "<",
              "rtt_increase_ms": "<"}
CELLS = [(m, a) for m, row in TABLE.items() for a in row]


def test_defaults_are_the_issue_table_with_a_source_for_each():
    t = default_thresholds()
    assert set(t.metrics) == set(TABLE) and set(t.activities) == {"sound", "video", "whiteboard"}
    for metric, activity in CELLS:
        limit = t.limit(activity, metric)
        assert (limit.good, limit.fail) == TABLE[metric][activity]
        assert len(limit.source) > 20, f"{activity} {metric} has no real source"


def _cases(metric, good, fail):
    """(value, expected state): exactly at good, just inside and outside it, at fail, beyond fail."""
    step = min(abs(good - fail) / 10, 0.001)
    higher = GOOD_READS[metric] == ">="
    inward = step if higher else -step  # towards better
    at_good = "good" if GOOD_READS[metric] in (">=", "<=") else "degraded"
    return [
        (good, at_good),
        (good + inward, "good"),
        (good - inward, "degraded"),
        (fail, "degraded"),  # the fail limit itself is still degraded: only beyond it fails
        (fail + inward, "degraded"),
        (fail - inward, "fail"),
    ]


@pytest.mark.parametrize(("metric", "activity"), CELLS)
def test_every_threshold_decides_exactly_at_its_limits(metric, activity):
    t = default_thresholds()
    good, fail = TABLE[metric][activity]
    for value, expected in _cases(metric, good, fail):
        verdict = judge_metric(t.metrics[metric], t.limit(activity, metric), value)
        assert verdict.state == expected, f"{activity} {metric} = {value}: {verdict.state}, not {expected}"
        assert verdict.good == good and verdict.fail == fail and verdict.value == value


@pytest.mark.parametrize(("metric", "activity"), CELLS)
def test_missing_measurement_is_unknown_never_good(metric, activity):
    t = default_thresholds()
    verdict = judge_metric(t.metrics[metric], t.limit(activity, metric), None)
    assert verdict.state == "unknown" and verdict.margin is None


def test_margin_is_measured_from_the_limit_that_decided():
    t = default_thresholds()
    up = t.metrics["upload_mbps"]
    assert judge_metric(up, t.limit("video", "upload_mbps"), 4.0).margin == pytest.approx(1.5)
    video_up = t.limit("video", "upload_mbps")
    assert judge_metric(up, video_up, 1.0).margin == pytest.approx(-1.5)  # short of good
    assert judge_metric(up, video_up, 0.1).margin == pytest.approx(-0.2)  # below fail
    rtt = t.metrics["rtt_ms"]
    assert judge_metric(rtt, t.limit("sound", "rtt_ms"), 60).margin == pytest.approx(40)
    assert judge_metric(rtt, t.limit("sound", "rtt_ms"), 450).margin == pytest.approx(-50)


def test_settings_override_a_limit_and_refuse_an_inconsistent_pair():
    s = Settings()
    s.set("thresholds.video_upload_mbps_good", 1.5)
    s.set("thresholds.sound_rtt_ms_good", 500.0)  # above its fail limit (400): refused
    t = thresholds_from_settings(s)
    assert t.limit("video", "upload_mbps").good == 1.5
    assert t.limit("video", "upload_mbps").source.startswith("settings")
    assert t.limit("sound", "rtt_ms").good == 100
    assert len(t.notes) == 1 and "sound delay" in t.notes[0] and "above the fail limit" in t.notes[0]


def test_moving_both_limits_of_a_pair_at_once_is_checked_after_both():
    s = Settings()
    s.set("thresholds.sound_rtt_ms_good", 500.0)
    s.set("thresholds.sound_rtt_ms_fail", 800.0)
    t = thresholds_from_settings(s)
    assert (t.limit("sound", "rtt_ms").good, t.limit("sound", "rtt_ms").fail) == (500, 800)
    assert t.notes == ()


def test_profile_overrides_apply_and_settings_win_over_them():
    profile = OrganisationProfile(id="test", name="Test", thresholds={"video_upload_mbps_good": 2.0,
                                                                      "whiteboard_download_mbps_good": 4.0})
    s = Settings()
    s.set("thresholds.video_upload_mbps_good", 1.2)
    t = thresholds_from_settings(s, profile)
    assert t.limit("video", "upload_mbps").good == 1.2
    assert t.limit("whiteboard", "download_mbps").good == 4.0
    assert "organisation profile 'test'" in t.limit("whiteboard", "download_mbps").source


def test_threshold_options_are_in_the_settings_schema_with_ranges_and_line_numbers():
    s = parse_settings("[thresholds]\nvideo_upload_mbps_good = -1\nsound_loss_pct_fail = 140\n"
                       "video_jitter_ms_good = 12\nvideo_uplaod_mbps_good = 2\n")
    problems = {p.key: p for p in s.problems}
    assert problems["thresholds.video_upload_mbps_good"].line == 2
    assert "between 0 and 10000" in problems["thresholds.video_upload_mbps_good"].message
    assert "between 0 and 100" in problems["thresholds.sound_loss_pct_fail"].message
    typo = problems["thresholds.video_uplaod_mbps_good"]
    assert typo.hint == "did you mean 'thresholds.video_upload_mbps_good'?"
    assert s["thresholds.video_jitter_ms_good"] == 12.0
    assert thresholds_from_settings(s).limit("video", "jitter_ms").good == 12.0


def test_with_overrides_refuses_unknown_keys_and_bad_values():
    t = default_thresholds().with_overrides({"video_speed_good": 1, "sound_rtt_ms_good": math.nan,
                                             "sound_jitter_ms_fail": "high"}, "test")
    assert len(t.notes) == 3
    assert t.limits == default_thresholds().limits


def _data():
    import tomllib

    from connectcheck.core import paths
    return tomllib.loads(paths.resource_path("thresholds.toml").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d["limits"]["video"].pop("loss_pct"), "loss_pct: missing"),
    (lambda d: d["limits"]["video"]["loss_pct"].update(good=9.0), "above the fail limit"),
    (lambda d: d["limits"]["sound"]["download_mbps"].update(good=0.01), "below the fail limit"),
    (lambda d: d["limits"]["sound"]["rtt_ms"].update(fail=-5), "must be between"),
    (lambda d: d["limits"]["sound"]["rtt_ms"].pop("source"), "source is missing"),
    (lambda d: d["metrics"]["rtt_ms"].update(better="smaller"), "better must be"),
    (lambda d: d["limits"]["sound"].update(speed={"good": 1, "fail": 0, "source": "x"}), "unknown metrics"),
    (lambda d: d.pop("activities"), "[activities] is missing"),
])
def test_broken_data_files_are_refused_with_the_place(mutate, message):
    data = _data()
    mutate(data)
    with pytest.raises(ThresholdsError, match=message.replace("[", r"\[")):
        parse_thresholds(data)


def test_unreadable_file(tmp_path):
    bad = tmp_path / "thresholds.toml"
    bad.write_text("[metrics\n")
    with pytest.raises(ThresholdsError, match="cannot be read"):
        load_thresholds(bad)
