"""What is in force: the profile the settings name (or why not), and the thresholds of both."""

from connectcheck.assess.thresholds import default_thresholds
from connectcheck.config.settings import defaults
from connectcheck.config.startup import in_force, profile_or_problem


def test_the_profile_and_its_thresholds_are_in_force():
    settings = defaults()
    settings.set("organisation.profile", "westcountry-sen")
    got = in_force(settings)
    assert got.profile is not None and got.profile.id == "westcountry-sen"
    assert got.problems == ()
    assert got.thresholds.limits.keys() == default_thresholds().limits.keys()


def test_a_profile_that_cannot_be_used_is_a_problem_and_the_app_carries_on():
    settings = defaults()
    settings.set("organisation.profile", "no-such-organisation")
    profile, problem = profile_or_problem(settings)
    assert profile is None and "no-such-organisation" in problem and "carries on without it" in problem
    got = in_force(settings)
    assert got.profile is None and got.problems == (problem,)
    assert got.thresholds == default_thresholds()
