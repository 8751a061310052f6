"""Gathering a report, and the report of one check (a monitored lesson's is in ``lesson.py``).

Each section is gathered on its own (qutebrowser's crash report habit): a section that fails is
recorded in ``report.parts`` with what went wrong, shown in its place, and the rest still comes
out. The verdicts, thresholds and advice are the ones ``assess/`` gives; nothing is judged here
in another way. The report comes out masked (``redact.py``): there is no unmasked report to
forget to mask.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from connectcheck import __version__
from connectcheck.assess import assess_check
from connectcheck.assess.advice import programs as merged_programs
from connectcheck.assess.cause import check_cause
from connectcheck.assess.thresholds import Thresholds
from connectcheck.config.profile import OrganisationProfile
from connectcheck.config.settings import Settings
from connectcheck.config.startup import profile_or_problem, thresholds_from_settings
from connectcheck.core.model import (
    Assessment,
    BrowserUsage,
    CheckResult,
    LocalFindings,
    Status,
    WifiInfo,
    worst_state,
)
from connectcheck.core.words import (
    CATEGORY_WORDS,
    KIND_WORDS,
    OS_WORDS,
    OVERALL_TONE,
    OVERALL_WORDS,
    answer,
    call_words,
    join_words,
    number,
    quantity,
    time_words,
)
from connectcheck.report.model import (
    STATES,
    ActivityLine,
    AdviceRow,
    AdviceSection,
    Fact,
    Headline,
    LimitCell,
    MeasurementRow,
    Measurements,
    Part,
    ProgramRow,
    Programs,
    Report,
)
from connectcheck.report.redact import Identity, cut_command_lines, redact_report, redactor_for

T = TypeVar("T")

PROGRAM_ROWS = 8


@dataclass(frozen=True)
class SystemInfo:
    """What the report says about this computer beyond the check: OS and version, cores."""

    os_name: str = ""
    os_version: str = ""
    cores: int | None = None
    python: str = ""

    @classmethod
    def discover(cls) -> SystemInfo:
        system = platform.system()
        version = platform.release()
        if system == "Linux":
            try:
                pretty = platform.freedesktop_os_release().get("PRETTY_NAME", "")
            except OSError:
                pretty = ""
            version = f"{pretty}, kernel {version}" if pretty else f"kernel {version}"
        elif system == "Darwin":
            system, version = "macOS", platform.mac_ver()[0]
        elif system == "Windows":
            version = f"{platform.release()} (build {platform.version()})"
        return cls(system, version, os.cpu_count(), platform.python_version())


def _profile(settings: Settings) -> OrganisationProfile | None:
    return profile_or_problem(settings)[0]


def _describe(exc: BaseException) -> str:
    return f"this part could not be put together ({type(exc).__name__}: {exc})"


class Builder:
    """One report being gathered: settings, thresholds and the parts' outcomes."""

    def __init__(
        self,
        settings: Settings,
        system: SystemInfo | None,
        now: datetime | None,
        identity: Identity | None,
        checks: Sequence[CheckResult],
    ) -> None:
        self.settings = settings
        self.identity = identity or Identity.discover()
        ssids = [c.local.wifi.ssid for c in checks if c.local and c.local.wifi and c.local.wifi.ssid]
        self.redactor = redactor_for(settings, self.identity, ssids)
        self.profile = _profile(settings)
        self.thresholds = thresholds_from_settings(settings, self.profile)
        self.system = system or SystemInfo.discover()
        label = settings["report.tutor_label"].strip()
        self.report = Report(
            created_at=(now or datetime.now().astimezone()).isoformat(timespec="seconds"),
            app_version=__version__,
            tutor_label=label or None,
            organisation=self.profile.name if self.profile else None,
        )

    def gather(self, name: str, build: Callable[[], T | None], empty: str | None = None) -> T | None:
        """Run one section's builder; a failure is recorded in place and the report carries on."""
        try:
            value = build()
        except Exception as exc:  # a section that fails must not stop the others
            self.report.parts[name] = Part(status="error", error=_describe(exc))
            return None
        self.report.parts[name] = Part(status="ok") if value is not None else Part(status="empty", note=empty)
        return value

    def assessment(self, result: CheckResult) -> Assessment:
        return result.assessment or assess_check(result, thresholds=self.thresholds)

    def without_command_lines(self, result: CheckResult) -> CheckResult:
        """A copy of a check whose programs keep only their names. Advice carries the program it
        names as data (``Advice.program``), so a sentence quoting a program that had to be cut
        quotes the cut name instead: nothing is judged again."""
        cut = cut_command_lines(result, self.redactor)
        if result.assessment is not None and cut.assessment is not None:
            for found, shown in zip(result.assessment.advice, cut.assessment.advice, strict=True):
                if found.program and shown.program and shown.program != found.program:
                    shown.action = shown.action.replace(found.program, shown.program)
                    shown.evidence = shown.evidence.replace(found.program, shown.program)
        return cut

    def finish(self) -> Report:
        r = self.report
        try:
            r.time_zone = time_zone(r.started_at)
        except ValueError:
            r.time_zone = ""
        return redact_report(r, self.redactor)


# --- when ---------------------------------------------------------------------------------------------


def time_zone(iso: str) -> str:
    """The time zone in words: its name where this computer knows it, and the offset ("GMT (UTC+00:00)")."""
    when = datetime.fromisoformat(iso)
    offset = when.utcoffset()
    if offset is None:
        return "local time (no time zone recorded)"
    sign, seconds = ("+" if offset >= timedelta(0) else "-"), abs(int(offset.total_seconds()))
    utc = f"UTC{sign}{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"
    local = when.astimezone()
    name = local.tzname() if local.utcoffset() == offset else None
    return f"{name} ({utc})" if name and name != utc and not name.startswith(("UTC", "+", "-")) else utc


def duration(seconds: float) -> str:
    """A length of time in words: "40 s", "6 min", "1 h 05 min"."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


# --- sections shared by checks and lessons ------------------------------------------------------------------


def worst(states: Sequence[str]) -> str:
    return worst_state(states).value


def measurement_rows(
    assessment: Assessment, thresholds: Thresholds, values: dict[str, float | None]
) -> list[MeasurementRow]:
    """One row per thresholded metric: the value and each activity's limits and state, as judged."""
    rows = []
    for key, metric in thresholds.metrics.items():
        value = values.get(key)
        cells = [
            LimitCell(activity=v.activity, state=m.state, good=m.good, fail=m.fail,
                      value=m.value if m.value is not None and m.value != value else None)
            for v in assessment.verdicts
            for m in v.metrics
            if m.metric == key
        ]
        rows.append(
            MeasurementRow(
                metric=key,
                label=metric.label,
                unit=metric.unit,
                higher_is_better=metric.higher_is_better,
                value=value,
                state=worst([c.state for c in cells]),
                limits=cells,
            )
        )
    return rows


def check_measurements(
    result: CheckResult, assessment: Assessment, thresholds: Thresholds, source: str
) -> Measurements:
    values = {k: getattr(result.summary, k, None) for k in thresholds.metrics}
    notes = []
    if result.summary.udp_ok is False:
        notes.append(
            "The call route over UDP got no answer: sound and video would go through a slower relay."
        )
    if result.summary.platform_reachable is False:
        notes.append("The lesson platform could not be reached.")
    if result.summary.call_loss_pct is not None:
        notes.append(
            "Sound is judged on the call-like stream (packets paced like a call's sound): its round trip, "
            f"jitter and the packets lost or too late for a jitter buffer: {call_words(result.call)}."
        )
    return Measurements(source=source, rows=measurement_rows(assessment, thresholds, values), notes=notes)


def program_rows(local: LocalFindings) -> list[ProgramRow]:
    """The programs using the connection, one row per app (the advice's own merging), busiest first."""
    return [
        ProgramRow(
            name=p.name,
            category=CATEGORY_WORDS.get(p.category or ""),
            down_mbps=p.down_mbps,
            up_mbps=p.up_mbps,
            rate_source=p.rate_source if p.rate_source in ("measured", "estimate") else "none",
        )
        for p in merged_programs(local)
    ][:PROGRAM_ROWS]


def _browser(b: BrowserUsage) -> str:
    traffic = (
        ""
        if b.down_mbps is None and b.up_mbps is None
        else f", {quantity(b.down_mbps or 0.0, 'Mbit/s')} down and {quantity(b.up_mbps or 0.0, 'Mbit/s')} up"
    )
    return f"{b.app}: {b.processes} processes, {b.content_processes} page processes{traffic}"


def local_programs(local: LocalFindings, source: str) -> Programs:
    out = Programs(
        source=source,
        window_s=local.window_s,
        rows=program_rows(local),
        browsers=[_browser(b) for b in local.browsers],
        unattributed_down_mbps=local.unattributed_down_mbps,
        unattributed_up_mbps=local.unattributed_up_mbps,
        unattributed_programs=list(local.unattributed_programs),
        notes=list(local.notes),
    )
    if local.system is not None:
        out.busiest_cpu = [
            ProgramRow(name=p.app or p.name, cpu_pct=p.cpu_pct, memory_mb=p.memory_mb)
            for p in local.system.busiest
        ]
    if local.status is not Status.OK and local.error:
        out.notes.insert(0, local.error)
    return out


def advice_section(assessment: Assessment, source: str) -> AdviceSection:
    return AdviceSection(
        source=source,
        advice=[AdviceRow(a.rank, a.action, a.evidence) for a in assessment.advice],
        rechecks=list(assessment.changes),
    )


def _wifi(w: WifiInfo) -> str:
    if w.status is not Status.OK:
        return w.error or "not known"
    if w.connected is False:
        return w.error or "switched on but not connected"  # the error says when it is switched off
    parts = [
        quantity(w.signal_dbm, "dBm") if w.signal_dbm is not None else "",
        f"signal {quantity(w.signal_pct, '%')}" if w.signal_pct is not None else "",
        f"{w.frequency_mhz / 1000:.1f} GHz" if w.frequency_mhz else "",
        f"link {quantity(w.link_rate_mbps, 'Mbit/s')}" if w.link_rate_mbps is not None else "",
    ]
    return ", ".join(p for p in parts if p) or "signal not known"


def _load_facts(local: LocalFindings, cores: int | None) -> list[Fact]:
    out = []
    s = local.system
    if s is not None and s.cpu_pct is not None:
        count = len(s.cpu_pct_per_core) or cores
        out.append(
            Fact(
                "cpu", "Processor load", quantity(s.cpu_pct, "%") + (f" over {count} cores" if count else "")
            )
        )
    if s is not None and s.memory_used_pct is not None:
        free = f", {s.memory_available_mb / 1024:.1f} GB free" if s.memory_available_mb is not None else ""
        out.append(Fact("memory", "Memory", f"{quantity(s.memory_used_pct, '%')} in use{free}"))
    if s is not None and s.battery_pct is not None:
        how = {True: ", on battery", False: ", plugged in", None: ""}[s.on_battery]
        out.append(
            Fact(
                "battery",
                "Battery",
                quantity(s.battery_pct, "%") + how + (", power saver on" if s.power_saver else ""),
            )
        )
    return out


def _network_facts(local: LocalFindings) -> list[Fact]:
    out = [Fact("connection_type", "Connection", KIND_WORDS.get(local.connection_type or "", "not known"))]
    if local.wifi is not None:
        out.append(Fact("wifi_signal", "Wi-Fi signal", _wifi(local.wifi)))
        if local.wifi.ssid:
            out.append(Fact("wifi_network", "Wi-Fi network", local.wifi.ssid))
    cards = [
        f"{u.name} ({KIND_WORDS.get(u.kind, u.kind)}{', default route' if u.is_default else ''})"
        for u in local.interfaces
        if u.kind != "loopback"
    ]
    if cards:
        out.append(Fact("interfaces", "Network cards", join_words(cards)))
    return out


def _speed_facts(result: CheckResult) -> list[Fact]:
    out = []
    done = [b for b in result.bandwidth if b.engine or b.server]
    if result.engine or done:
        engine = result.engine or done[0].engine
        words = {
            "adaptive": "connectcheck's own multi-stream engine",
            "classic": "speedtest-cli's own transfer",
        }
        streams = max((b.streams for b in result.bandwidth), default=0)
        out.append(
            Fact(
                "speed_engine",
                "Speed test",
                words.get(engine, engine) + (f", {streams} parallel connections" if streams else ""),
            )
        )
    servers = []
    for b in result.bandwidth:
        s = b.server
        if s is None:
            continue
        where = ", ".join(
            x
            for x in (
                f"{number(s.distance_km)} km" if s.distance_km is not None else "",
                f"{quantity(s.latency_ms, 'ms')} away" if s.latency_ms is not None else "",
            )
            if x
        )
        text = (
            f"{s.name or s.host or s.url} ({s.source}, {s.protocol}{', ' + where if where else ''}) {s.url}"
        )
        if text not in servers:
            servers.append(text)
    if servers:
        out.append(Fact("speed_servers", "Speed server", "; ".join(servers)))
    if result.provider:
        named = f"{result.provider} (as the speed service named it)"
        out.append(Fact("provider", "Internet provider", named))
    if result.summary.latency_target:
        out.append(Fact("latency_target", "Round trips measured to", result.summary.latency_target))
    urls = [e.url for e in result.reachability]
    if urls:
        out.append(Fact("platform", "Lesson platform checked", ", ".join(urls)))
    return out


def computer_facts(check: CheckResult | None, system: SystemInfo, identity_facts: list[Fact]) -> list[Fact]:
    """OS and version, connection, Wi-Fi, load, app version, speed engine and servers."""
    os_name = (
        OS_WORDS.get(check.local.os, system.os_name)
        if check and check.local and check.local.os
        else system.os_name
    )
    out = [
        Fact("os", "Operating system", f"{os_name} ({system.os_version})" if system.os_version else os_name),
        Fact("app_version", "connectcheck version", (check.app_version if check else "") or __version__),
    ]
    if system.python:
        out.append(Fact("python", "Python", system.python))
    out += identity_facts
    if check is not None and check.local is not None:
        out += _network_facts(check.local) + _load_facts(check.local, system.cores)
    if check is not None:
        out += _speed_facts(check)
        used = (
            f"{check.bytes_used / 1e6:.1f} MB"
            if check.bytes_used >= 100_000
            else f"{check.bytes_used / 1e3:.0f} kB"
        )
        out.append(
            Fact(
                "check",
                "The check",
                f"{check.kind.value} check, took {check.duration_s:.1f} s, used {used} of data",
            )
        )
    return out


def identity_facts(settings: Settings, identity: Identity) -> list[Fact]:
    """The computer's and the user's names, only when the user chose to show them."""
    out = []
    if settings["report.include_host_name"] and identity.host_names:
        out.append(Fact("host_name", "Computer name", identity.host_names[0]))
    if settings["report.include_user_name"] and identity.user_names:
        out.append(Fact("user_name", "User name", identity.user_names[0]))
    return out


# --- a check ----------------------------------------------------------------------------------------------


def _check_headline(result: CheckResult, assessment: Assessment, thresholds: Thresholds,
                    cause: str | None = None) -> Headline:
    overall = assessment.overall if assessment.overall in OVERALL_WORDS else "unknown"
    failing = {v.activity for v in assessment.verdicts if v.state == "fail"}
    tone, words = OVERALL_TONE[overall], answer(overall, failing, cause)
    if overall == "limited" and failing - {"video"}:
        tone = "fail"  # "Not ready as it is", like the red cards and the tray icon
    sentence = assessment.sentence
    if result.status is Status.CANCELLED:
        sentence += " (The check was cancelled before it finished.)"
    activities = [
        ActivityLine(
            activity=v.activity,
            label=_label(thresholds, v.activity),
            state=v.state if v.state in STATES else "unknown",
            sentence=v.sentence,
        )
        for v in assessment.verdicts
    ]
    return Headline(state=tone, verdict=words, sentence=sentence, activities=activities)


def _label(thresholds: Thresholds, activity: str) -> str:
    a = thresholds.activities.get(activity)
    return a.label if a else activity.capitalize()


def _ended(result: CheckResult) -> str | None:
    try:
        end = datetime.fromisoformat(result.started_at) + timedelta(seconds=result.duration_s)
    except ValueError:
        return None
    return end.isoformat(timespec="seconds")


def build_check_report(
    result: CheckResult,
    settings: Settings,
    *,
    identity: Identity | None = None,
    system: SystemInfo | None = None,
    now: datetime | None = None,
) -> Report:
    """The report of one check, masked as the settings ask."""
    b = Builder(settings, system, now, identity, [result])
    result = b.without_command_lines(result)
    r = b.report
    r.kind, r.started_at, r.ended_at, r.checks = "check", result.started_at, _ended(result), [result]
    r.provider = result.provider
    assessment = b.gather("assessment", lambda: b.assessment(result))
    if assessment is not None:
        cause = b.gather("cause", lambda: check_cause(result, assessment))
        r.headline = (
            b.gather("headline", lambda: _check_headline(result, assessment, b.thresholds,
                                                         cause.key if cause else None)) or r.headline
        )
        r.headline.cause = cause
        r.measurements = b.gather(
            "measurements",
            lambda: check_measurements(
                result, assessment, b.thresholds, f"The check of {time_words(result.started_at)}"
            ),
        )
        r.advice = b.gather(
            "advice", lambda: advice_section(assessment, "What connectcheck advised after the check")
        )
    r.programs = b.gather(
        "programs",
        lambda: local_programs(result.local, "During the check") if result.local else None,
        empty="This computer's programs were not looked at in this check.",
    )
    r.computer = (
        b.gather("computer", lambda: computer_facts(result, b.system, identity_facts(settings, b.identity)))
        or []
    )
    return b.finish()


