"""Thresholds: the limits that turn measurements into verdicts, read from ``resources/thresholds.toml``.

The data file holds, for each activity (sound, video, whiteboard) and each metric, the limit for
"good", the limit beyond which the metric "fails", and the published source of both. Overrides
come from the settings file and from the organisation profile, both written as flat keys
(``video_upload_mbps_good = 2.0``) so that they fit one ``[thresholds]`` table. Every override is
checked: within the metric's range, and good not worse than fail.
"""

from __future__ import annotations

import functools
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from connectcheck.core import paths

FILE_NAME = "thresholds.toml"
SETTINGS_SECTION = "thresholds"
BOUNDS = ("good", "fail")


class ThresholdsError(ValueError):
    """The thresholds data file is missing or wrong (an installation or editing mistake)."""


@dataclass(frozen=True)
class Metric:
    """One measured metric: how to show it and which way is better."""

    key: str  # a Summary field name
    label: str
    unit: str
    higher_is_better: bool
    good_inclusive: bool  # is a value exactly at the good limit still good?
    min: float
    max: float
    change_step: float  # smallest change a re-check reports


@dataclass(frozen=True)
class Activity:
    """One activity of a lesson and what each state means for it, in plain words."""

    key: str
    label: str
    subject: str  # "… and {subject} needs 2.5"
    means: str  # how the lesson can go on while this works: "by voice"
    effects: Mapping[str, str]  # state -> "will probably freeze", …


@dataclass(frozen=True)
class Limit:
    good: float
    fail: float
    source: str = ""


@dataclass(frozen=True)
class Thresholds:
    """All limits, with the metric and activity descriptions they need.

    ``notes`` holds the overrides that were refused while building it, in plain words.
    """

    metrics: Mapping[str, Metric]
    activities: Mapping[str, Activity]
    limits: Mapping[tuple[str, str], Limit]  # (activity, metric) -> limit
    notes: tuple[str, ...] = field(default=())

    def limit(self, activity: str, metric: str) -> Limit:
        return self.limits[(activity, metric)]

    def with_overrides(self, overrides: Mapping[str, float], origin: str) -> Thresholds:
        """A copy with flat-key overrides applied; refused ones are added to ``notes``.

        A pair (good, fail) is checked after both of its overrides are applied, so that moving
        both limits at once works whatever the order.
        """
        notes = list(self.notes)
        limits = dict(self.limits)
        pending: dict[tuple[str, str], dict[str, float]] = {}
        for key, value in overrides.items():
            parsed = parse_setting_key(key, self)
            if parsed is None:
                notes.append(f"{origin}: {key!r} is not a threshold")
                continue
            activity, metric, bound = parsed
            if problem := check_value(self.metrics[metric], value):
                notes.append(f"{origin}: {key} {problem}")
                continue
            pending.setdefault((activity, metric), {})[bound] = float(value)
        for pair, changes in pending.items():
            new = replace(limits[pair], **changes)
            if problem := check_pair(self.metrics[pair[1]], new.good, new.fail):
                notes.append(f"{origin}: {pair[0]} {self.metrics[pair[1]].label}: {problem}; "
                             f"kept {_num(limits[pair].good)} / {_num(limits[pair].fail)}")
                continue
            limits[pair] = replace(new, source=f"{origin} (default: {limits[pair].source})")
        return replace(self, limits=limits, notes=tuple(notes))


def setting_key(activity: str, metric: str, bound: str) -> str:
    """The flat key of one limit in the ``[thresholds]`` table, e.g. ``video_upload_mbps_good``."""
    return f"{activity}_{metric}_{bound}"


def parse_setting_key(key: str, thresholds: Thresholds) -> tuple[str, str, str] | None:
    """(activity, metric, bound) for a flat key, or None when it names no limit."""
    for activity in thresholds.activities:
        for metric in thresholds.metrics:
            for bound in BOUNDS:
                if key == setting_key(activity, metric, bound):
                    return activity, metric, bound
    return None


def check_value(metric: Metric, value: Any) -> str | None:
    """Why a single limit value is unusable for this metric, or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return f"must be a number, not {value!r}"
    if not metric.min <= value <= metric.max:
        return f"must be between {_num(metric.min)} and {_num(metric.max)} {metric.unit}, not {_num(value)}"
    return None


def check_pair(metric: Metric, good: float, fail: float) -> str | None:
    """Why a (good, fail) pair is inconsistent, or None: good must not be worse than fail."""
    if metric.higher_is_better and good < fail:
        return f"the good limit ({_num(good)} {metric.unit}) is below the fail limit ({_num(fail)})"
    if not metric.higher_is_better and good > fail:
        return f"the good limit ({_num(good)} {metric.unit}) is above the fail limit ({_num(fail)})"
    return None


def _num(value: float) -> str:
    return f"{value:g}"


# --- reading the data file ----------------------------------------------------------------------


def _table(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict) or not value:
        raise ThresholdsError(f"{where}: [{key}] is missing or empty")
    return value


def _field(table: Mapping[str, Any], name: str, typ: type | tuple[type, ...], where: str) -> Any:
    value = table.get(name)
    if isinstance(value, bool) and typ is not bool or not isinstance(value, typ):
        raise ThresholdsError(f"{where}: {name} is missing or has the wrong type")
    return float(value) if typ == (int, float) else value


def _metric(key: str, t: Mapping[str, Any], where: str) -> Metric:
    better = _field(t, "better", str, where)
    if better not in ("higher", "lower"):
        raise ThresholdsError(f"{where}: better must be \"higher\" or \"lower\"")
    num = (int, float)
    return Metric(key, _field(t, "label", str, where), _field(t, "unit", str, where), better == "higher",
                  _field(t, "good_inclusive", bool, where), _field(t, "min", num, where),
                  _field(t, "max", num, where), _field(t, "change_step", num, where))


def _activity(key: str, t: Mapping[str, Any], where: str) -> Activity:
    effects = {state: _field(t, state, str, where) for state in ("good", "degraded", "fail")}
    return Activity(key, _field(t, "label", str, where), _field(t, "subject", str, where),
                    _field(t, "means", str, where), effects)


def parse_thresholds(data: Mapping[str, Any], where: str = FILE_NAME) -> Thresholds:
    """Build and validate Thresholds from the parsed data file; raises ThresholdsError."""
    metrics = {k: _metric(k, v, f"{where} [metrics.{k}]")
               for k, v in _table(data, "metrics", where).items()}
    activities = {k: _activity(k, v, f"{where} [activities.{k}]")
                  for k, v in _table(data, "activities", where).items()}
    limits_data = _table(data, "limits", where)
    limits: dict[tuple[str, str], Limit] = {}
    for activity in activities:
        row = _table(limits_data, activity, f"{where} [limits]")
        for metric in metrics:
            here = f"{where} [limits.{activity}] {metric}"
            cell = row.get(metric)
            if not isinstance(cell, dict):
                raise ThresholdsError(f"{here}: missing")
            good, fail = (_field(cell, b, (int, float), here) for b in BOUNDS)
            for value in (good, fail):
                if problem := check_value(metrics[metric], value):
                    raise ThresholdsError(f"{here}: {problem}")
            if problem := check_pair(metrics[metric], good, fail):
                raise ThresholdsError(f"{here}: {problem}")
            limits[(activity, metric)] = Limit(good, fail, _field(cell, "source", str, here))
        if extra := set(row) - set(metrics):
            raise ThresholdsError(f"{where} [limits.{activity}]: unknown metrics {sorted(extra)}")
    return Thresholds(metrics, activities, limits)


def load_thresholds(path: Path | None = None) -> Thresholds:
    """Read a thresholds file (the bundled one by default); raises ThresholdsError."""
    path = path or paths.resource_path(FILE_NAME)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ThresholdsError(f"the thresholds file {path} cannot be read: {exc}") from None
    return parse_thresholds(data, str(path.name))


@functools.cache
def default_thresholds() -> Thresholds:
    """The bundled thresholds, read once."""
    return load_thresholds()


