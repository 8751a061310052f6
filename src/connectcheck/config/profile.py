"""Organisation profiles: ``resources/organisations/<id>.toml``.

A profile says who the tutor works for and what that organisation uses: its support address,
its lesson platform (addresses and STUN servers to check), its speed server, a note about the
phone tutors may use for sound at the practice, the link to its lesson calendar, and any
thresholds it wants stricter or looser than connectcheck's defaults (flat keys, as in the
settings file: ``[thresholds] video_upload_mbps_good = 2.0``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field

from connectcheck.assess.thresholds import default_thresholds
from connectcheck.core import paths


class ProfileError(ValueError):
    """A profile is missing or cannot be read."""


@dataclass
class OrganisationProfile:
    id: str
    name: str
    support_email: str = ""
    platform_urls: list[str] = field(default_factory=list)
    speed_server_url: str = ""
    stun_servers: list[str] = field(default_factory=list)
    practice_phone_note: str = ""  # how to get and return the practice's phone for sound
    calendar_url: str = ""  # where tutors edit a lesson (for rearranging)
    thresholds: dict[str, float] = field(default_factory=dict)  # flat keys, see assess.thresholds


_FIELDS = {
    "name": str,
    "support_email": str,
    "platform_urls": list,
    "speed_server_url": str,
    "stun_servers": list,
    "practice_phone_note": str,
    "calendar_url": str,
}


def _threshold_overrides(profile_id: str, value: object) -> dict[str, float]:
    """The profile's [thresholds] table, checked like the settings' overrides."""
    where = f"organisation profile {profile_id!r}: [thresholds]"
    if not isinstance(value, dict):
        raise ProfileError(f"{where} must be a table")
    checked = default_thresholds().with_overrides(value, where)
    if checked.notes:
        raise ProfileError(checked.notes[0])
    return {k: float(v) for k, v in value.items()}


def available_profiles() -> list[str]:
    folder = paths.resource_path("organisations")
    return sorted(p.stem for p in folder.glob("*.toml"))


def load_profile(profile_id: str) -> OrganisationProfile:
    """Read a bundled organisation profile; raises ProfileError with a clear message."""
    if not profile_id or "/" in profile_id or "\\" in profile_id or profile_id.startswith("."):
        raise ProfileError(f"{profile_id!r} is not a profile name")
    path = paths.resource_path("organisations", f"{profile_id}.toml")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        known = ", ".join(available_profiles()) or "none"
        raise ProfileError(f"there is no organisation profile {profile_id!r} (known: {known})") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"the organisation profile {profile_id!r} cannot be read: {exc}") from None
    return profile_from_data(profile_id, data)


def profile_from_data(profile_id: str, data: dict[str, object]) -> OrganisationProfile:
    """Check a profile's parsed TOML and build it; raises ProfileError with a clear message."""
    values: dict[str, object] = {}
    for key, typ in _FIELDS.items():
        if key not in data:
            continue
        value = data[key]
        if not isinstance(value, typ) or (typ is list and not all(isinstance(v, str) for v in value)):
            raise ProfileError(f"organisation profile {profile_id!r}: {key} has the wrong type")
        values[key] = value
    if "thresholds" in data:
        values["thresholds"] = _threshold_overrides(profile_id, data["thresholds"])
    if "name" not in values:
        raise ProfileError(f"organisation profile {profile_id!r} has no name")
    return OrganisationProfile(id=profile_id, **values)
