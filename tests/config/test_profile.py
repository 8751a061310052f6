import pytest

from connectcheck.config.profile import ProfileError, available_profiles, load_profile


def test_bundled_profile_loads():
    assert "westcountry-sen" in available_profiles()
    p = load_profile("westcountry-sen")
    assert p.name == "Westcountry SEN"
    assert all(u.startswith("https://") for u in p.platform_urls)


@pytest.mark.parametrize("name", ["", "../settings", "nope", ".hidden"])
def test_bad_profile_names_are_refused(name):
    with pytest.raises(ProfileError):
        load_profile(name)


def test_unknown_profile_lists_the_known_ones():
    with pytest.raises(ProfileError, match="westcountry-sen"):
        load_profile("nope")


def test_bundled_profile_has_the_procedure_fields():
    from connectcheck.config.profile import load_profile

    p = load_profile("westcountry-sen")
    assert p.support_email == ""  # not known: the app asks the tutor once
    assert "main desk" in p.practice_phone_note and "practice door" in p.practice_phone_note
    assert p.calendar_url.startswith("https://")
    assert p.thresholds == {}


def test_profile_threshold_overrides_are_checked():
    from connectcheck.config.profile import profile_from_data

    overrides = {"video_upload_mbps_good": 2, "sound_rtt_ms_fail": 300}
    p = profile_from_data("x", {"name": "X", "thresholds": overrides})
    assert p.thresholds == {"video_upload_mbps_good": 2.0, "sound_rtt_ms_fail": 300.0}
    for bad, message in [
        ({"video_speed_good": 1}, "is not a threshold"),
        ({"sound_loss_pct_fail": 140}, "must be between 0 and 100"),
        ({"video_upload_mbps_good": "fast"}, "must be a number"),
        ({"sound_rtt_ms_good": 450}, "above the fail limit"),
        ("strict", "must be a table"),
    ]:
        with pytest.raises(ProfileError, match=message):
            profile_from_data("x", {"name": "X", "thresholds": bad})


def test_profile_fields_keep_their_types():
    from connectcheck.config.profile import profile_from_data

    with pytest.raises(ProfileError, match="calendar_url has the wrong type"):
        profile_from_data("x", {"name": "X", "calendar_url": 3})
