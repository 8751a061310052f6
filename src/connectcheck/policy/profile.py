"""Organisation profiles: ``resources/organisations/<id>.toml``."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field

from connectcheck import paths


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


_FIELDS = {
    "name": str,
    "support_email": str,
    "platform_urls": list,
    "speed_server_url": str,
    "stun_servers": list,
}


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
    values = {}
    for key, typ in _FIELDS.items():
        if key not in data:
            continue
        value = data[key]
        if not isinstance(value, typ) or (typ is list and not all(isinstance(v, str) for v in value)):
            raise ProfileError(f"organisation profile {profile_id!r}: {key} has the wrong type")
        values[key] = value
    if "name" not in values:
        raise ProfileError(f"organisation profile {profile_id!r} has no name")
    return OrganisationProfile(id=profile_id, **values)
