"""What is in force, resolved once: the settings, the organisation profile they name (or the
reason it could not be used), and the thresholds both give.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectcheck.assess.thresholds import (
    BOUNDS,
    SETTINGS_SECTION,
    Thresholds,
    default_thresholds,
    setting_key,
)
from connectcheck.config.profile import OrganisationProfile, ProfileError, load_profile
from connectcheck.config.settings import Settings


def thresholds_from_settings(
    settings: Settings, profile: OrganisationProfile | None = None
) -> Thresholds:
    """The thresholds in force: the bundled defaults, then the profile's overrides, then the
    settings file's.

    A setting left at its default does not override the profile (the settings table cannot tell
    "not set" from "set to the default value"). Refused overrides are listed in ``notes``.
    """
    base = default_thresholds()
    if profile is not None and profile.thresholds:
        base = base.with_overrides(profile.thresholds, f"organisation profile {profile.id!r}")
    defaults = default_thresholds()
    changed = {}
    for (activity, metric), limit in defaults.limits.items():
        for bound in BOUNDS:
            key = setting_key(activity, metric, bound)
            value = settings[f"{SETTINGS_SECTION}.{key}"]
            if value != getattr(limit, bound):
                changed[key] = value
    return base.with_overrides(changed, "settings") if changed else base


def profile_or_problem(settings: Settings) -> tuple[OrganisationProfile | None, str | None]:
    """The organisation profile the settings name, or None and why it could not be used (the app
    carries on without it)."""
    try:
        return load_profile(settings["organisation.profile"]), None
    except ProfileError as exc:
        return None, f"The organisation profile could not be used: {exc}. connectcheck carries on without it."


@dataclass(frozen=True)
class InForce:
    """The settings, the profile and the thresholds in force, and what went wrong finding them."""

    settings: Settings
    profile: OrganisationProfile | None
    thresholds: Thresholds
    problems: tuple[str, ...] = ()


def in_force(settings: Settings) -> InForce:
    """Resolve once what the settings put in force: their profile, then the thresholds of both."""
    profile, problem = profile_or_problem(settings)
    thresholds = thresholds_from_settings(settings, profile)
    return InForce(settings, profile, thresholds, (problem,) if problem else ())
