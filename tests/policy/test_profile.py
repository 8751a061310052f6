import pytest

from connectcheck.policy.profile import ProfileError, available_profiles, load_profile


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
