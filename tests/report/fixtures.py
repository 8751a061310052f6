"""Lessons and checks as a tutor's evening gives them, for the report tests and the look-at script.

The monitored lesson is built sample by sample like the monitor records it (every 5 s, states
judged with the real thresholds), with the failed-lesson guide walked through the real procedure.
The checks come from ``tests.assess.fixtures`` (realistic home lines) with the assessment the
real ``assess`` gives.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from connectcheck.assess import assess_check
from connectcheck.assess.thresholds import default_thresholds
from connectcheck.assess.verdicts import judge_metric
from connectcheck.config.profile import load_profile
from connectcheck.core.model import (
    BandwidthResult,
    CheckResult,
    DnsResult,
    InterfaceUsage,
    LatencyResult,
    LessonAlert,
    LessonRecord,
    MonitorSample,
    ReachabilityResult,
    ReachStep,
    Section,
    SpeedServer,
    Status,
    WifiInfo,
)
from connectcheck.policy.procedure import Procedure
from tests.assess.fixtures import browser, check, local, program

START = datetime.fromisoformat("2024-10-24T16:00:00+01:00")
STEP_S = 5.0
ORDER = ("good", "degraded", "fail")


def _state(activity: str, rtt: float | None, jitter: float | None, loss: float | None) -> str:
    t = default_thresholds()
    states = [
        judge_metric(t.metrics[k], t.limit(activity, k), v).state
        for k, v in (("rtt_ms", rtt), ("jitter_ms", jitter), ("loss_pct", loss))
    ]
    known = [s for s in states if s in ORDER]
    return max(known, key=ORDER.index) if known else "unknown"


def assessed(result: CheckResult) -> CheckResult:
    result.assessment = assess_check(result)
    return result


def detailed(result: CheckResult, ssid: str | None = None, host_address: str = "192.168.1.23") -> CheckResult:
    """A check with the details a real one carries: latency targets, DNS, the platform, speed."""
    s = result.summary
    result.app_version = "0.1.0"
    result.duration_s = 21.7
    result.engine = "adaptive"
    result.bytes_used = 61_400_000
    result.summary.latency_target = "stun stun.example.org:3478"
    result.latency = [
        LatencyResult(
            target="stun.example.org:3478",
            method="stun",
            address="203.0.113.7",
            samples_sent=50,
            samples=50,
            loss_pct=s.loss_pct,
            rtt_ms_min=(s.rtt_ms or 20) * 0.85,
            rtt_ms_median=s.rtt_ms,
            rtt_ms_p90=(s.rtt_ms or 20) * 1.2,
            jitter_ms=s.jitter_ms,
        ),
        LatencyResult(
            target="https://westcountrysen.com/",
            method="tcp",
            address="2001:db8:4:5::17",
            samples_sent=50,
            samples=49,
            loss_pct=2.0,
            rtt_ms_median=(s.rtt_ms or 20) + 3,
            rtt_ms_p90=(s.rtt_ms or 20) + 9,
            jitter_ms=s.jitter_ms,
        ),
    ]
    result.dns = [
        DnsResult(host="westcountrysen.com", dns_ms=s.dns_ms, addresses=["198.51.100.20"]),
        DnsResult(host="bitpaper.io", dns_ms=s.dns_ms, addresses=["198.51.100.44"]),
    ]
    result.reachability = [
        ReachabilityResult(
            url=u,
            reachable=True,
            http_status=200,
            steps=[
                ReachStep("dns", Status.OK, 18.0),
                ReachStep("tcp", Status.OK, 24.0),
                ReachStep("tls", Status.OK, 51.0, "TLS 1.3"),
                ReachStep("http", Status.OK, 80.0, "HTTP 200"),
            ],
        )
        for u in ("https://westcountrysen.com/", "https://bitpaper.io/")
    ]
    server = SpeedServer(
        source="speedtest",
        protocol="speedtest",
        url="http://speed.example.net:8080/",
        name="Exeter — Example Broadband",
        host="speed.example.net",
        distance_km=14.2,
        latency_ms=11.0,
    )
    result.bandwidth = [
        BandwidthResult(
            direction=d,
            engine="adaptive",
            server=server,
            rate_mbps=rate,
            bytes_transferred=int((rate or 1) * 6e6 / 8),
            duration_s=6.0,
            streams=4,
            stop_reason="stable",
        )
        for d, rate in (("download", s.download_mbps), ("upload", s.upload_mbps))
    ]
    result.sections = {
        "latency": Section(Status.OK),
        "dns": Section(Status.OK),
        "reachability": Section(Status.OK),
        "download": Section(Status.OK),
        "upload": Section(Status.OK),
        "local": Section(Status.OK),
    }
    if result.local is not None:
        result.local.interfaces = [
            InterfaceUsage(
                name="wlp3s0" if ssid else "enp2s0",
                kind="wifi" if ssid else "ethernet",
                is_default=True,
                down_mbps=s.download_mbps,
                up_mbps=s.upload_mbps,
            )
        ]
        result.notes.append(f"this computer's address on the home network is {host_address}")
    return result


def steam_check(
    at: datetime = START + timedelta(minutes=14), ssid: str | None = None, wifi: WifiInfo | None = None
) -> CheckResult:
    """Steam downloading on a 20/5 line: the lesson stutters."""
    found = local(
        processes=[
            program("Steam", "game_launcher", down=17.6, up=0.4, name="steamwebhelper"),
            program("Google Chrome", "browser", down=2.2, up=1.1, name="chrome"),
        ],
        browsers=[browser("Google Chrome", processes=14, content=9, down=2.2, up=1.1)],
        wifi=wifi,
        connection="wifi" if wifi else "ethernet",
    )
    r = check(
        local=found,
        download_mbps=2.4,
        upload_mbps=4.6,
        rtt_ms=148.0,
        jitter_ms=26.0,
        loss_pct=1.6,
        rtt_increase_ms=140.0,
    )
    r.started_at = at.isoformat()
    return assessed(detailed(r, ssid))


def calm_check(at: datetime = START + timedelta(minutes=21)) -> CheckResult:
    found = local(
        processes=[program("Google Chrome", "browser", down=2.1, up=1.0, name="chrome")],
        browsers=[browser("Google Chrome", processes=14, content=9, down=2.1, up=1.0)],
    )
    r = check(
        local=found,
        download_mbps=19.2,
        upload_mbps=4.8,
        rtt_ms=24.0,
        jitter_ms=2.2,
        loss_pct=0.0,
        rtt_increase_ms=22.0,
    )
    r.started_at = at.isoformat()
    return detailed(r)


def abandoned_procedure(lesson_start: datetime = START) -> Procedure:
    """The guide walked to a rearranged lesson, through the real procedure."""
    clock = iter(lesson_start + timedelta(minutes=46, seconds=20 * i) for i in range(100))
    p = Procedure(
        profile=load_profile("westcountry-sen"), lesson_start=lesson_start, clock=lambda: next(clock)
    )
    for answer in (
        "no",
        "no",
        "no",
        "elsewhere",
        "no",
        "yes",
        "yes",
        (lesson_start.date() + timedelta(days=5)).isoformat(),
        "next",
        "next",
        "next",
    ):
        p.answer(answer)
    return p


HOLD = 4  # samples (20 s) a new state must hold before the tutor is told
GAP_S = 120.0  # least time between two alerts about the same activity getting worse
WORDS = {"good": "is working well again", "degraded": "may break up at times", "fail": "is failing"}


def _alerts(
    samples: list[MonitorSample],
    alerts: list[LessonAlert],
    shown: dict[str, str],
    last_alert: dict[str, float],
) -> None:
    """Alerts as the monitor raises them: a state that held for 20 s, worse ones no more often than
    every 2 minutes per activity, and the recovery once things are good again for 20 s."""
    recent = samples[-HOLD:]
    if len(recent) < HOLD:
        return
    now = recent[-1]
    for activity, before in shown.items():
        states = [s.states[activity] for s in recent]
        held = min(states, key=ORDER.index)  # the best state of the stretch: what surely held
        worse = ORDER.index(held) > ORDER.index(before)
        better = held == "good" and before != "good"
        if worse and now.t_s - last_alert.get(activity, -GAP_S) < GAP_S:
            continue
        if worse or better:
            alerts.append(
                LessonAlert(
                    at=now.at,
                    t_s=now.t_s,
                    activity=activity,
                    state=held,
                    previous=before,
                    message=f"{activity.capitalize()} {WORDS[held]}.",
                )
            )
            shown[activity] = held
            if worse:
                last_alert[activity] = now.t_s


EPISODES = {  # what troubles the lesson, and when (minutes from its start)
    "steam": (12, 20),  # Steam downloads on this computer
    "others": (35, 41),  # someone else at home streams: round trips rise, this computer is as busy as before
    "drop": (44, 45),  # the connection drops
}


def troubled_lesson(
    minutes: int = 55,
    seed: int = 7,
    with_checks: bool = True,
    with_procedure: bool = True,
    episodes: tuple[str, ...] = ("steam", "others", "drop"),
) -> LessonRecord:
    """A 55-minute lesson: calm, then Steam downloads (12–20 min), calm again, then someone at home
    streams (35–41 min) and the connection drops for a minute (44–45 min)."""
    spans = {name: EPISODES[name] for name in episodes}

    def during(name: str, minute: float) -> bool:
        return name in spans and spans[name][0] <= minute < spans[name][1]

    rng = random.Random(seed)
    samples, alerts = [], []
    shown = {a: "good" for a in ("sound", "video", "whiteboard")}
    last_alert: dict[str, float] = {}
    for i in range(int(minutes * 60 / STEP_S)):
        t = i * STEP_S
        minute = t / 60
        rtt, jitter, loss = 22 + rng.random() * 6, 1.5 + rng.random() * 2, 0.0
        down, up, top, top_rate = 2.0 + rng.random() * 0.6, 1.0 + rng.random() * 0.3, "Google Chrome", None
        if during("steam", minute):
            rtt, jitter, loss = (
                120 + rng.random() * 70,
                18 + rng.random() * 15,
                rng.choice((0.0, 0.0, 2.0, 4.0)),
            )
            top, top_rate = "Steam", 16 + rng.random() * 3
            down += top_rate
        elif during("others", minute):
            rtt, jitter, loss = 95 + rng.random() * 60, 14 + rng.random() * 14, rng.choice((0.0, 0.0, 2.0))
        elif during("drop", minute):
            rtt, jitter, loss, down, up = None, None, 100.0, 0.0, 0.0
        top_rate = top_rate if top_rate is not None else down + up
        states = {a: _state(a, rtt, jitter, loss) for a in shown}
        at = (START + timedelta(seconds=t)).isoformat()
        samples.append(
            MonitorSample(
                at=at,
                t_s=t,
                rtt_ms=rtt,
                jitter_ms=jitter,
                loss_pct=loss,
                probes=10,
                down_mbps=round(down, 2),
                up_mbps=round(up, 2),
                top_program=top,
                top_program_mbps=round(top_rate, 2),
                states=states,
            )
        )
        _alerts(samples, alerts, shown, last_alert)
    lesson = LessonRecord(
        id=12,
        started_at=START.isoformat(),
        ended_at=(START + timedelta(minutes=minutes)).isoformat(),
        label="Maths with Sam",
        interval_s=STEP_S,
        samples=samples,
        alerts=alerts,
    )
    if with_checks:
        lesson.checks = [steam_check(), assessed(calm_check())]
    if with_procedure:
        lesson.procedure = abandoned_procedure().record
    return lesson
