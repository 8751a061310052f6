"""The likely cause of the trouble, with its evidence, for the client manager who decides where
the fault was.

For a check, the cause follows the advice the check gave (``assess/``): the advice is already
ranked by how strongly the measurements point at each culprit, so the first piece of advice that
names a cause is the likely cause and the others are "also" factors. Two findings have no advice
of their own and are read from the verdicts: the line too slow for the lesson, and a line that
is unsteady while nothing here explains it. A queue on the line while this computer is quiet
(round trips that swing far above their floor during the idle measurement) points at another
device at home.

For a monitored lesson, the samples taken while a verdict was weak or failing are compared with
the rest: no answers at all (no connection; on the line when the home router still answered), one
program busy on this computer (named, with its rate), other devices using the line by the router's
own counters, the home router slow, jittery or lossy to reach beside the same bursts (the Wi-Fi),
or the router reached cleanly while the media path was troubled (the line). Only when the router
was not measured at all are round trips far above the lesson's own floor while this computer was
quiet read as someone else at home (the older inference, said as "probably"). Checks run during
the lesson add what samples cannot see (Wi-Fi signal, the load of the computer, the line's speed).
"""

from __future__ import annotations

import functools
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectcheck.assess.advice import crowding_words, facts, program_rate, programs, wifi_crowding
from connectcheck.assess.thresholds import default_thresholds
from connectcheck.core.files import read_bundled_toml
from connectcheck.core.model import (
    Advice,
    Assessment,
    Cause,
    CheckResult,
    Connectivity,
    LatencyResult,
    LessonRecord,
    LinkEvidence,
    MonitorSample,
    Status,
    worst_state,
)
from connectcheck.core.words import join_words, number, parse_time, quantity

FILE_NAME = "causes.toml"
# key: (lowest, highest) allowed; the meaning of each is in resources/causes.toml
LIMIT_RANGES = {
    "quiet_mbps": (0.0, 1000.0),
    "queue_ms": (1.0, 10_000.0),
    "busy_program_mbps": (0.0, 1000.0),
    "lost_pct": (1.0, 100.0),
    "min_share": (0.0, 1.0),
    "hop_rtt_ms": (0.1, 1000.0),
    "hop_jitter_ms": (0.1, 1000.0),
    "hop_loss_pct": (0.1, 100.0),
    "hop_queue_ms": (1.0, 10_000.0),
    "others_mbps": (0.0, 1000.0),
    "lesson_mbps": (0.0, 1000.0),
    "starved_share": (0.0, 1.0),
}


class CauseLimitsError(ValueError):
    """The cause limits file is missing, broken or out of range."""


@dataclass(frozen=True)
class CauseLimits:
    """The limits by which causes are read (``resources/causes.toml``)."""

    quiet_mbps: float  # this computer moving less than this (down + up) counts as quiet
    queue_ms: float  # round trips this far above their floor show a queue on the line
    busy_program_mbps: float  # a program moving at least this much can be what slowed the lesson
    lost_pct: float  # a sample with every probe lost: no connection at that moment
    min_share: float  # share of the troubled samples the main finding must explain
    hop_rtt_ms: float  # the home router this slow to reach points at the Wi-Fi (or cable)
    hop_jitter_ms: float
    hop_loss_pct: float
    hop_queue_ms: float  # the router's round trip growing this much under load: the Wi-Fi is the bottleneck
    others_mbps: float  # other devices moving this much by the router's counters
    lesson_mbps: float  # a lesson receiving this much when it ran smoothly had a call to carry
    starved_share: float  # receiving this share of that or less while troubled: the line is too slow


def parse_cause_limits(data: dict[str, Any], where: str = FILE_NAME) -> CauseLimits:
    """Check the parsed file and build the limits; raises CauseLimitsError naming the key."""
    table = data.get("limits")
    if not isinstance(table, dict):
        raise CauseLimitsError(f"{where}: needs a [limits] table")
    if extra := set(table) - set(LIMIT_RANGES):
        raise CauseLimitsError(f"{where} [limits]: unknown keys {sorted(extra)}")
    values = {}
    for key, (low, high) in LIMIT_RANGES.items():
        value = table.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CauseLimitsError(f"{where} [limits]: {key} must be a number")
        if not low <= value <= high:
            raise CauseLimitsError(f"{where} [limits]: {key} = {value} is outside {low}..{high}")
        values[key] = float(value)
    return CauseLimits(**values)


def load_cause_limits(path: Path | None = None) -> CauseLimits:
    """Read a cause limits file (the bundled one by default); raises CauseLimitsError."""
    data, path = read_bundled_toml(FILE_NAME, "cause limits", CauseLimitsError, path)
    return parse_cause_limits(data, path.name)


@functools.cache
def cause_limits() -> CauseLimits:
    """The bundled cause limits, read once."""
    return load_cause_limits()


TITLES = {
    "no_connection": "No connection at all",
    "platform_unreachable": "The lesson platform could not be reached",
    "other_program": "Another program on this computer",
    "others_at_home": "Someone else on the home network",
    "weak_wifi": "Weak Wi-Fi",
    "computer_overloaded": "This computer is overloaded",
    "line_too_slow": "The home line is too slow for the lesson",
    "line_unsteady": "The internet line itself is unsteady",
    "network_blocks_udp": "This network blocks the route calls take",
    "no_fault": "No fault found",
    "unclear": "No single cause stands out",
}
# Advice keys (resources/advice.toml) that name a cause.
ADVICE_CAUSES = {
    "offline": "no_connection",
    "platform_unreachable": "platform_unreachable",
    "pause_streaming": "other_program",
    "pause_game_launcher": "other_program",
    "pause_cloud_sync": "other_program",
    "pause_updates": "other_program",
    "close_torrent": "other_program",
    "close_call_app": "other_program",
    "pause_program": "other_program",
    "unnamed_traffic": "other_program",
    "others_at_home": "others_at_home",
    "weak_wifi": "weak_wifi",
    "wifi_path": "weak_wifi",
    "computer_busy": "computer_overloaded",
    "udp_blocked": "network_blocks_udp",
}
SPEED = ("download_mbps", "upload_mbps")
STEADINESS = ("rtt_ms", "jitter_ms", "loss_pct")
BAD = ("degraded", "fail")


def _cause(key: str, sentence: str, evidence: Sequence[str] = (), program: str | None = None) -> Cause:
    return Cause(
        key=key, title=TITLES[key], sentence=sentence, evidence=[e for e in evidence if e], program=program
    )


# --- a check ------------------------------------------------------------------------------------------


def _bad_metrics(assessment: Assessment, keys: Sequence[str]) -> list[str]:
    """Each metric in ``keys`` that is weak or fails, against the limit of the first activity it troubles:
    "upload 0.8 Mbit/s (video needs at least 2.5 Mbit/s)"."""
    out: dict[str, str] = {}
    for v in assessment.verdicts:
        for m in v.metrics:
            if m.metric in keys and m.state in BAD and m.metric not in out and m.value is not None:
                label, unit = LABELS.get(m.metric, (m.metric, ""))
                need = (
                    ""
                    if m.good is None
                    else f" ({v.activity} needs {'at least' if m.metric in SPEED else 'at most'} "
                    f"{quantity(m.good, unit)})"
                )
                out[m.metric] = f"{label} {quantity(m.value, unit)}{need}"
    return list(out.values())


LABELS = {
    "download_mbps": ("download", "Mbit/s"),
    "upload_mbps": ("upload", "Mbit/s"),
    "rtt_ms": ("round trip", "ms"),
    "jitter_ms": ("jitter", "ms"),
    "loss_pct": ("packet loss", "%"),
}


def _from_advice(item: Advice, result: CheckResult) -> Cause:
    key = ADVICE_CAUSES[item.key]
    if key == "other_program" and item.program:
        rate = (
            next((program_rate(p) for p in programs(result.local) if p.name == item.program), None)
            if result.local
            else None
        )
        using = f" at {quantity(rate, 'Mbit/s')}" if rate is not None else ""
        sentence = f"{item.program} was using the connection{using} while the lesson needed it."
        return _cause(key, sentence, [item.evidence], program=item.program)
    return _cause(key, item.evidence or item.action, [])


def primary_latency(result: CheckResult) -> LatencyResult | None:
    """The latency measurement the summary's numbers come from (the media path)."""
    return next(
        (x for x in result.latency if f"{x.method} {x.target}" == result.summary.latency_target), None
    )


def _queue_while_quiet(result: CheckResult, assessment: Assessment) -> str | None:
    """Round trips swinging far above their floor during the idle measurement while this computer
    moved almost nothing. Another device at home does that, but so do a jittery Wi-Fi and an
    unsteady line: without the router's counters it is a hint for the "also" list, never the cause."""
    x = primary_latency(result)
    traffic = facts(result, assessment.verdicts, assessment.overall).get("local.traffic_mbps")
    if x is None or x.rtt_ms_min is None or x.rtt_ms_p90 is None or traffic is None:
        return None
    rise = x.rtt_ms_p90 - x.rtt_ms_min
    if rise < cause_limits().queue_ms or traffic >= cause_limits().quiet_mbps:
        return None
    return (
        f"Someone else on the home network cannot be ruled out — round trips rose from "
        f"{quantity(x.rtt_ms_min, 'ms')} to {quantity(x.rtt_ms_p90, 'ms')} while this computer moved only "
        f"{quantity(traffic, 'Mbit/s')}, and the home router's own counters could not be read."
    )


# --- where on the path ----------------------------------------------------------------------------

CAUSE_LINKS = {
    "platform_unreachable": "platform",
    "other_program": "computer",
    "computer_overloaded": "computer",
    "others_at_home": "router",
    "weak_wifi": "wifi",
    "network_blocks_udp": "router",
    "line_too_slow": "line",
    "line_unsteady": "line",
}


def _round_trip_words(rtt_ms: float | None, jitter_ms: float | None, loss_pct: float | None) -> str:
    """'22 ms, varies 12 ms, 4 % lost', leaving out what was not measured."""
    parts = [quantity(rtt_ms, "ms")] if rtt_ms is not None else []
    if jitter_ms is not None:
        parts.append(f"varies {quantity(jitter_ms, 'ms')}")
    if loss_pct is not None:
        parts.append(f"{number(loss_pct)} % lost")
    return ", ".join(parts)


def _hop_figure(x: LatencyResult) -> str:
    return _round_trip_words(x.rtt_ms_median, x.jitter_ms, x.loss_pct)


def wifi_trouble(result: CheckResult) -> list[str]:
    """What the home router's round trips say against the Wi-Fi (empty: clean, or not measured)."""
    hop, limits = result.first_hop, cause_limits()
    if hop is None or hop.status is not Status.OK or hop.idle is None or not hop.idle.samples:
        return []
    x, out = hop.idle, []
    if x.rtt_ms_median is not None and x.rtt_ms_median > limits.hop_rtt_ms:
        out.append(f"the home router takes {quantity(x.rtt_ms_median, 'ms')} to answer "
                   f"(more than {quantity(limits.hop_rtt_ms, 'ms')})")
    if x.jitter_ms is not None and x.jitter_ms > limits.hop_jitter_ms:
        out.append(f"its answers vary by {quantity(x.jitter_ms, 'ms')} (jitter)")
    if x.loss_pct is not None and x.loss_pct > limits.hop_loss_pct:
        out.append(f"{number(x.loss_pct)} % of the probes to it were lost")
    for direction, loaded in sorted(hop.loaded.items()):
        if loaded.rtt_increase_ms is not None and loaded.rtt_increase_ms >= limits.hop_queue_ms:
            out.append(f"under load ({direction}) the way to the router slowed by "
                       f"{quantity(loaded.rtt_increase_ms, 'ms')}: the Wi-Fi is the bottleneck")
    return out


WAN_SIDE_WORDS = {
    "cgnat": ("Carrier-grade NAT — the provider shares one internet address among many homes (the home "
              "router's internet side has an address in 100.64.0.0/10). Calls usually still work, but may "
              "have to go through a relay server, which adds delay; if calls are often unsteady, ask the "
              "provider for a public IPv4 address."),
    "private": ("Two routers in a row — the home router's internet side has a private address, so "
                "another router (or the provider's own NAT) sits in front of it. Calls may have to go "
                "through a relay server, which adds delay; if the other router is yours, set one of the "
                "two to bridge (modem) mode."),
    "public": "The home router has a public internet address of its own (no carrier-grade NAT).",
}


_RELAY = ("so direct connections between two homes often fail and calls go through a relay server, which "
          "adds delay.")
NAT_WORDS = {
    "endpoint_independent": ("This network keeps one address for calls whatever the server (an "
                             "endpoint-independent NAT): calls can connect directly."),
    "address_dependent": ("Calls may need a relay — this network gives calls a new address for every "
                          f"server address they talk to (an address-dependent NAT), {_RELAY}"),
    "address_and_port_dependent": ("Calls may need a relay — this network gives calls a new address for "
                                   f"every server they talk to (a 'symmetric' NAT), {_RELAY}"),
    "dependent": ("Calls may need a relay — this network gives calls a different address for different "
                  f"servers (its NAT is not endpoint-independent), {_RELAY}"),
}
NO_NAT_WORDS = "The call test servers saw this computer's own address: no NAT on the way."
CGNAT_MAPPING_WORDS = ("Carrier-grade NAT — the call test servers saw an address in the provider's shared "
                       "space (100.64.0.0/10): calls may have to go through a relay server, which adds "
                       "delay.")


def nat_words(result: CheckResult) -> str | None:
    """What the NAT mapping test found, and what it means for calls (None: not told)."""
    nat = result.nat
    if nat is None or nat.status is not Status.OK:
        return None
    if nat.nat is False:
        return NO_NAT_WORDS
    if nat.cgnat and not (result.router is not None and result.router.wan_side == "cgnat"):
        return CGNAT_MAPPING_WORDS
    return NAT_WORDS.get(nat.behaviour or "")


def wan_side_words(result: CheckResult) -> str | None:
    """What the router's internet-side address means for calls, in plain words (None: not told)."""
    side = result.router.wan_side if result.router is not None else None
    return WAN_SIDE_WORDS.get(side) if side else None


def _hop_clean(result: CheckResult) -> bool:
    hop = result.first_hop
    measured = bool(hop and hop.status is Status.OK and hop.idle and hop.idle.samples)
    return measured and not wifi_trouble(result)


def _platform_down(result: CheckResult) -> bool:
    """Every web endpoint of the platform failed (one failing among others, or under loss, is not
    the platform being down), or its names could not be looked up."""
    web = [e for e in result.reachability if not e.url.startswith("stun:")]
    if not web or any(e.reachable for e in web):
        return False
    lossy = (result.summary.loss_pct or 0.0) >= 1.0
    if lossy and all(e.status is Status.TIMEOUT for e in web):
        return False  # a probe lost on a lossy line: the line's trouble, not the platform's
    return True


def _line_queue(result: CheckResult, assessment: Assessment) -> str | None:
    """The delay rising under load (this check's own transfer fills the queue) while the router stays
    quick to reach: the line's queue ("bufferbloat"), never someone else's traffic."""
    increase = result.summary.rtt_increase_ms
    bad = [m for v in assessment.verdicts for m in v.metrics
           if m.metric == "rtt_increase_ms" and m.state in BAD]
    if increase is None or not bad or wifi_trouble(result):
        return None
    return (f"when the line is busy (also with this check's own speed test) its delay rises by "
            f"{quantity(increase, 'ms')}: the queue on the line fills")


def path_links(result: CheckResult, assessment: Assessment, cause_key: str,
               program: str | None = None) -> list[LinkEvidence]:
    """What was measured on each of the five links, and what could not be had."""
    summary = result.summary
    f = facts(result, assessment.verdicts, assessment.overall)
    computer = LinkEvidence("computer")
    if not f.get("local.available"):
        computer.evidence.append("this computer's programs could not be looked at")
    else:
        traffic = f.get("local.traffic_mbps")
        computer.state = "good"
        computer.figure = "" if traffic is None else f"{quantity(traffic, 'Mbit/s')} used here"
        rate = next((program_rate(p) for p in programs(result.local) if p.name == program), None) \
            if program and result.local else None
        if program:
            computer.figure = f"{program} {quantity(rate, 'Mbit/s')}" if rate is not None else program
    wifi = LinkEvidence("wifi")
    hop = result.first_hop
    if hop is None:
        wifi.evidence.append("the home router was not measured")
    elif hop.status is not Status.OK or hop.idle is None or not hop.idle.samples:
        wifi.evidence.append(hop.error or "the home router could not be measured")
    else:
        trouble = wifi_trouble(result)
        wifi.state = "degraded" if trouble else "good"
        wifi.figure = _hop_figure(hop.idle)
        wifi.evidence = trouble or [f"the home router answers in {_hop_figure(hop.idle)} ({hop.method})"]
    local = result.local
    if local is not None and local.wifi is not None and local.wifi.signal_pct is not None:
        wifi.evidence.append(f"Wi-Fi signal {number(local.wifi.signal_pct)} %")
    if (crowd := wifi_crowding(local)) is not None:
        wifi.evidence.append(crowding_words(crowd))
    elif local is not None and local.wifi is not None and local.wifi.neighbours is not None \
            and local.wifi.neighbours.error:
        wifi.evidence.append(local.wifi.neighbours.error)
    router = LinkEvidence("router")
    counters = result.router
    others = f.get("router.others_mbps")
    if others is not None:
        router.state = "degraded" if others >= cause_limits().others_mbps else "good"
        router.figure = f"others at home {quantity(others, 'Mbit/s')}"
        router.evidence.append(f"the router counted {quantity(others, 'Mbit/s')} used by other devices")
    elif counters is not None and counters.error:
        router.evidence.append(counters.error)
    elif counters is None:
        router.evidence.append("the router's counters were not read")
    if hop is not None and hop.status is Status.OK and router.state == "unknown":
        router.state, router.figure = "good", "answers"
    if (mapping := nat_words(result)) is not None:
        router.evidence.append(mapping)
    if (nat := wan_side_words(result)) is not None:
        router.evidence.append(nat)
        if result.router is not None and result.router.wan_side == "cgnat" and router.state == "good":
            router.figure = f"{router.figure}, carrier-grade NAT" if router.figure != "answers" else \
                "carrier-grade NAT"
    if summary.udp_ok is False and result.connectivity is not Connectivity.OFFLINE:
        router.state, router.figure = "fail", "blocks calls (UDP)"
        router.evidence.append("the call test over UDP got no answer while web connections worked")
    line = LinkEvidence("line")
    slow, unsteady = _bad_metrics(assessment, SPEED), _bad_metrics(assessment, STEADINESS)
    queue = _line_queue(result, assessment)
    if result.connectivity is Connectivity.OFFLINE:
        line.state, line.figure = "fail", "nothing answers"
    elif slow or (unsteady and not wifi_trouble(result)) or queue:
        line.state = "fail" if any(m.state == "fail" for v in assessment.verdicts for m in v.metrics
                                   if m.metric in (*SPEED, *STEADINESS)) else "degraded"
        line.evidence = [*slow, *([] if wifi_trouble(result) else unsteady), *([queue] if queue else [])]
        line.figure = (slow or unsteady or [queue or ""])[0].split(" (")[0]  # the figure, not the limit
    elif summary.rtt_ms is not None:
        line.state = "good"
        down = "" if summary.download_mbps is None else f", down {quantity(summary.download_mbps, 'Mbit/s')}"
        line.figure = f"{quantity(summary.rtt_ms, 'ms')}{down}"
    platform = LinkEvidence("platform")
    web = [e for e in result.reachability if not e.url.startswith("stun:")]
    if web:
        reached = sum(e.reachable for e in web)
        platform.state = "fail" if _platform_down(result) else ("good" if reached == len(web) else "degraded")
        platform.figure = f"{reached} of {len(web)} reached"
        platform.evidence = [f"{e.url}: {e.error}" for e in web if not e.reachable and e.error]
    links = [computer, wifi, router, line, platform]
    broken = broken_link(cause_key, result)
    for link in links:
        if link.link == broken and link.state in ("good", "unknown"):
            link.state = "degraded"
    return links


def broken_link(key: str, result: CheckResult) -> str:
    """The link a cause lies on ("" for no fault or an unclear one)."""
    if key == "no_connection":
        hop = result.first_hop
        return "line" if hop is not None and hop.status is Status.OK else "wifi"
    return CAUSE_LINKS.get(key, "")


def check_cause(result: CheckResult, assessment: Assessment) -> Cause:
    """The likely cause for one check, with what was measured on each link of the path."""
    cause = _check_cause(result, assessment)
    cause.broken = broken_link(cause.key, result)
    cause.links = path_links(result, assessment, cause.key, cause.program)
    return cause


def _check_cause(result: CheckResult, assessment: Assessment) -> Cause:
    found = [
        _from_advice(a, result)
        for a in sorted(assessment.advice, key=lambda a: a.rank)
        if a.key in ADVICE_CAUSES
    ]
    if not _platform_down(result) and result.connectivity is not Connectivity.OFFLINE:
        found = [c for c in found if c.key != "platform_unreachable"]
    slow = _bad_metrics(assessment, SPEED)
    unsteady = _bad_metrics(assessment, STEADINESS)
    wifi = wifi_trouble(result)
    blocking = {"no_connection", "platform_unreachable", "network_blocks_udp", "other_program"}
    if wifi:
        at = next((i for i, c in enumerate(found) if c.key not in blocking), len(found))
        found = [c for c in found if c.key != "weak_wifi"]
        found.insert(min(at, len(found)), _cause(
            "weak_wifi", "The way from this computer to the home router is slow, jittery or lossy: the "
            "Wi-Fi (or the cable) inside the home is the weak link.", wifi))
    line: list[Cause] = []
    queue = _line_queue(result, assessment)
    # A busy processor does not explain trouble beyond a router this computer reaches cleanly
    # (it would slow those probes too): then the line comes first and the load is "also".
    busy_only = bool(found) and all(c.key == "computer_overloaded" for c in found) and _hop_clean(result)
    if (unsteady or queue) and (not found or busy_only):
        # (losses and jitter on the line also make its measured speed low: they come first)
        clean = ["the home router answers cleanly, so the trouble is beyond it"] if _hop_clean(result) else []
        line.append(
            _cause(
                "line_unsteady",
                "Round trips, jitter or losses are beyond the lesson's limits while "
                "nothing on this computer or at home explains it: the line or the provider's "
                "network is unsteady.",
                [*unsteady, *([queue] if queue else []), *clean],
            )
        )
    if slow and not any(c.key in ("other_program", "others_at_home") for c in found):
        # (a program or another device using the line also makes the measured speed low)
        line.append(
            _cause("line_too_slow", "The line's measured speed is below what the lesson needs.", slow)
        )
    found = [*line, *found] if busy_only else [*found, *line]
    if not found:
        quiet = _cause("no_fault", "Every measurement is within the lesson's limits.") \
            if assessment.overall == "ready" else _cause("unclear", assessment.sentence)
        _nat_also(quiet, result)
        return quiet
    first = found[0]
    first.also = [_also(c) for c in _distinct(found[1:], first)]
    told = result.router is not None and result.router.status is Status.OK
    hint = None if told else _queue_while_quiet(result, assessment)
    if hint and first.key not in ("others_at_home", "other_program", "no_connection"):
        first.also.append(hint)
    _nat_also(first, result)
    return first


def _nat_also(cause: Cause, result: CheckResult) -> None:
    """Carrier-grade NAT, or two routers in a row, as a factor for calls."""
    side = result.router.wan_side if result.router is not None else None
    if side in ("cgnat", "private") and (words := wan_side_words(result)):
        cause.also.append(words)
    mapping = nat_words(result)
    if mapping is not None and mapping.startswith(("Calls may need a relay", "Carrier-grade")):
        cause.also.append(mapping)


def _also(c: Cause) -> str:
    """Another factor in one line: its title, its finding and the numbers behind it."""
    return "; ".join([f"{c.title} — {c.sentence.rstrip('.')}", *c.evidence]) + "."


def _distinct(causes: list[Cause], first: Cause) -> list[Cause]:
    seen = {(first.key, first.program)}
    out = []
    for c in causes:
        if (c.key, c.program) not in seen:
            seen.add((c.key, c.program))
            out.append(c)
    return out


# --- a monitored lesson ----------------------------------------------------------------------------


def clock(s: MonitorSample) -> str:
    """The time of day of a sample, "16:20"."""
    moment = parse_time(s.at)
    return f"{moment:%H:%M}" if moment else f"{s.t_s / 60:.0f} min in"


def spans(
    samples: Sequence[MonitorSample], test: Callable[[MonitorSample], bool], gap_s: float = 60.0
) -> list[str]:
    """The stretches of samples that pass ``test`` ("16:20–16:24"); stretches less than ``gap_s``
    apart count as one (a state that flickers is one episode for the reader)."""
    runs: list[list[MonitorSample]] = []
    for s in samples:
        if not test(s):
            continue
        if runs and s.t_s - runs[-1][-1].t_s <= gap_s:
            runs[-1].append(s)
        else:
            runs.append([s])
    out = []
    for r in runs:
        first, last = clock(r[0]), clock(r[-1])
        out.append(first if first == last else f"{first}–{last}")
    return out


def sample_interval(lesson: LessonRecord) -> float:
    """Seconds each sample stands for: the monitor's interval, else the samples' own spacing."""
    if lesson.interval_s and lesson.interval_s > 0:
        return lesson.interval_s
    gaps = [b.t_s - a.t_s for a, b in zip(lesson.samples, lesson.samples[1:], strict=False) if b.t_s > a.t_s]
    return statistics.median(gaps) if gaps else 5.0


def troubled(s: MonitorSample) -> bool:
    """Whether any activity was weak or failing in this sample."""
    return any(state in BAD for state in s.states.values())


def _lost(s: MonitorSample) -> bool:
    return s.probes > 0 and s.loss_pct is not None and s.loss_pct >= cause_limits().lost_pct


def _traffic(s: MonitorSample) -> float | None:
    return None if s.down_mbps is None and s.up_mbps is None else (s.down_mbps or 0.0) + (s.up_mbps or 0.0)


class _Lesson:
    """The lesson's samples sorted into what most likely troubled each one.

    The baseline is the lesson itself when it ran smoothly: the lowest round trips it had, the
    traffic this computer had (the lesson's own call), and the rate each program had then.
    """

    def __init__(self, lesson: LessonRecord) -> None:
        self.lesson = lesson
        self.step = sample_interval(lesson)
        calm = [s for s in lesson.samples if not troubled(s) and not _lost(s)]
        rtts = sorted(s.rtt_ms for s in lesson.samples if s.rtt_ms is not None)
        self.floor = rtts[len(rtts) // 10] if rtts else None
        self.calm_traffic = statistics.median([t for s in calm if (t := _traffic(s)) is not None] or [0.0])
        self.calm_down = statistics.median([s.down_mbps for s in calm if s.down_mbps is not None] or [0.0])
        # A program's rate over every calm sample: where it was not the busiest it counts as idle, so
        # that a moment or two of calm while it ran does not make its rate the baseline.
        names = {s.top_program for s in calm if s.top_program}
        self.calm_rates = {
            name: statistics.median((s.top_program_mbps or 0.0) if s.top_program == name else 0.0
                                    for s in calm)
            for name in names
        }
        bad = [s for s in lesson.samples if troubled(s) or _lost(s)]
        self.hop_measured = any(_hop_answered(s) for s in lesson.samples)
        # The router's losses over all the troubled samples (one burst of ten says 0 or 10 %).
        sent = sum(s.hop_probes for s in bad if s.hop_probes and s.hop_loss_pct is not None)
        lost = sum(s.hop_probes * (s.hop_loss_pct or 0.0) / 100 for s in bad if s.hop_probes)
        self.hop_loss = 100.0 * lost / sent if sent else None
        self.hop_lossy = self.hop_loss is not None and self.hop_loss > cause_limits().hop_loss_pct

    def busy_program(self, s: MonitorSample) -> bool:
        rate = s.top_program_mbps or 0.0
        return (
            bool(s.top_program)
            and rate >= cause_limits().busy_program_mbps
            and rate >= 2 * self.calm_rates.get(s.top_program or "", 0.0)
        )

    def queue_while_quiet(self, s: MonitorSample) -> bool:
        traffic = _traffic(s)
        return (
            self.floor is not None
            and s.rtt_ms is not None
            and traffic is not None
            and s.rtt_ms - self.floor >= cause_limits().queue_ms
            and traffic <= self.calm_traffic + cause_limits().quiet_mbps
        )

    def starved(self, s: MonitorSample) -> bool:
        """The lesson's own download fell well below what it was when the lesson ran smoothly,
        with no program here busier than then: the line no longer carries the lesson."""
        limits = cause_limits()
        return (
            self.calm_down >= limits.lesson_mbps
            and s.down_mbps is not None
            and s.down_mbps <= limits.starved_share * self.calm_down
            and not self.busy_program(s)
        )

    def hop_trouble(self, s: MonitorSample) -> list[str]:
        """What the probes to the home router beside this sample's burst say against the Wi-Fi."""
        if not _hop_answered(s):
            return []
        limits, out = cause_limits(), []
        if s.hop_rtt_ms is not None and s.hop_rtt_ms > limits.hop_rtt_ms:
            out.append(f"the home router took {quantity(s.hop_rtt_ms, 'ms')} to answer")
        if s.hop_jitter_ms is not None and s.hop_jitter_ms > limits.hop_jitter_ms:
            out.append(f"its answers varied by {quantity(s.hop_jitter_ms, 'ms')}")
        if self.hop_lossy and (s.hop_loss_pct or 0.0) > 0:
            out.append(f"{number(s.hop_loss_pct or 0.0)} % of the probes to it were lost")
        return out

    def reason(self, s: MonitorSample) -> str | None:
        """What most likely troubled this sample: a cause key ("other_program:<name>"), or None."""
        if _lost(s):
            return "no_connection"
        if s.names_ok is False:  # the call route answers by address; the browser needs the names
            return "platform_unreachable"
        if s.udp_ok is False:  # the calls' own route blocked: nothing further along explains it
            return "network_blocks_udp"
        if self.busy_program(s):
            return f"other_program:{s.top_program}"
        if s.others_mbps is not None and s.others_mbps >= cause_limits().others_mbps:
            return "others_at_home"
        if self.hop_trouble(s) or (self.hop_lossy and _hop_answered(s)):
            return "weak_wifi"
        if _hop_answered(s) and self.starved(s):
            return "line_too_slow"  # the router reached cleanly, the lesson's own traffic does not fit
        if _hop_answered(s):
            return "line_unsteady"  # the router reached cleanly beside a troubled burst
        if self.hop_measured:
            return None  # the router did not answer this once: no side taken
        if self.queue_while_quiet(s):
            return "others_at_home"
        return None

    def cause(self, reason: str, samples: list[MonitorSample]) -> Cause:
        when = join_words(spans(self.lesson.samples, lambda s: self.reason(s) == reason)[:4])
        lasted = _duration(len(samples) * self.step)
        if reason == "no_connection":
            router = sum(_hop_answered(s) for s in samples)
            return _cause(
                reason,
                f"Nothing answered for {lasted} during the lesson ({when}).",
                [f"every probe was lost in {len(samples)} samples",
                 f"the home router still answered in {router} of them: the line was down"
                 if router else ("the home router did not answer either" if self.hop_measured else "")],
            )
        if reason == "platform_unreachable":
            media = [s for s in samples if s.rtt_ms is not None]
            hop = [s for s in samples if _hop_answered(s)]
            return _cause(
                reason,
                f"The lesson platform's address could not be looked up for {lasted} ({when}) while the "
                "internet still answered: the network's name service (a filter on it, or the home "
                "router's DNS) no longer gives the platform, so the browser cannot reach it.",
                [f"the platform's names were not found in {len(samples)} samples",
                 f"the call route still answered by address: {_figures(media)}" if media else "",
                 f"the home router answered in {_figures(hop, hop=True)}" if hop else ""],
            )
        if reason == "network_blocks_udp":
            return _cause(
                reason,
                "The network stopped letting the lesson's call through its usual route (UDP) while "
                f"connections to the platform still worked ({when}): calls then go through a slower relay, "
                "or not at all.",
                [f"no STUN server answered over UDP in {len(samples)} samples",
                 "the platform still answered over TCP" if any(not _lost(s) for s in samples) else ""],
            )
        if reason == "weak_wifi":
            hop = _figures(samples, hop=True)
            return _cause(
                reason,
                "The way from this computer to the home router was slow, jittery or lossy while the lesson "
                f"was troubled: the Wi-Fi (or the cable) inside the home was the weak link ({when}).",
                [f"the home router answered in {hop} then", *self._calm_hop(),
                 *([f"{number(self.hop_loss or 0.0)} % of the probes to the router were lost while the "
                    "lesson was troubled"] if self.hop_lossy else [])],
            )
        if reason == "line_too_slow":
            received = statistics.median(s.down_mbps or 0.0 for s in samples)
            others = [s.others_mbps for s in samples if s.others_mbps is not None]
            return _cause(
                reason,
                "The line stopped carrying the lesson's own call: this computer received about "
                f"{quantity(received, 'Mbit/s')}, against {quantity(self.calm_down, 'Mbit/s')} when the "
                f"lesson ran smoothly, while the home router answered cleanly ({when}). The line (or the "
                "provider's network at this hour) is too slow for the lesson.",
                [f"this computer received {quantity(received, 'Mbit/s')} then, "
                 f"{quantity(self.calm_down, 'Mbit/s')} when the lesson ran smoothly",
                 f"the lesson's connection: {_figures(samples)}",
                 f"the home router meanwhile: {_figures(samples, hop=True)}",
                 f"the router counted {quantity(statistics.median(others), 'Mbit/s')} used by other devices"
                 if others else "the router's counters were not read, so other devices were not ruled out"],
            )
        if reason == "line_unsteady":
            return _cause(
                reason,
                "The home router answered cleanly while the lesson's connection was troubled: the line or "
                f"the provider's network was unsteady ({when}).",
                [f"the lesson's connection: {_figures(samples)}",
                 f"the home router meanwhile: {_figures(samples, hop=True)}"],
            )
        if reason == "others_at_home" and any(s.others_mbps is not None for s in samples):
            others = statistics.median(s.others_mbps for s in samples if s.others_mbps is not None)
            return _cause(
                reason,
                f"Other devices at home were using about {quantity(others, 'Mbit/s')} of the line while the "
                f"lesson was troubled ({when}).",
                [f"the home router counted {quantity(others, 'Mbit/s')} used by other devices then"],
            )
        if reason == "others_at_home":
            typical = statistics.median(s.rtt_ms for s in samples if s.rtt_ms is not None)
            used = statistics.median(t for s in samples if (t := _traffic(s)) is not None)
            return _cause(
                reason,
                "Round trips rose far above their usual level while this computer was no busier "
                f"than usual: another device at home was probably using the line ({when}).",
                [
                    f"round trip about {quantity(typical, 'ms')} then, {quantity(self.floor or 0.0, 'ms')} "
                    f"at best during the lesson",
                    f"this computer moved about {quantity(used, 'Mbit/s')} then, "
                    f"{quantity(self.calm_traffic, 'Mbit/s')} when the lesson ran smoothly",
                ],
            )
        name = reason.split(":", 1)[1]
        rate = statistics.median(s.top_program_mbps or 0.0 for s in samples)
        calm = self.calm_rates.get(name)
        return _cause(
            "other_program",
            f"{name} was using the connection at about {quantity(rate, 'Mbit/s')} "
            f"while the lesson was troubled ({when}).",
            [
                f"{name} was the busiest program for {lasted} of the trouble",
                f"about {quantity(calm, 'Mbit/s')} when the lesson ran smoothly"
                if calm is not None and calm >= 0.05
                else f"{name} was not busy when the lesson ran smoothly",
            ],
            program=name,
        )


    def _calm_hop(self) -> list[str]:
        calm = [s for s in self.lesson.samples if not troubled(s) and _hop_answered(s)]
        return [f"{_figures(calm, hop=True)} when the lesson ran smoothly"] if calm else []

    def links(self, key: str, samples: list[MonitorSample], program: str | None) -> list[LinkEvidence]:
        """What was measured on each link during ``samples`` (the trouble, or the whole lesson)."""
        limits = cause_limits()
        computer = LinkEvidence("computer")
        traffic = [t for s in samples if (t := _traffic(s)) is not None]
        if traffic:
            computer.state = "good"
            computer.figure = f"{quantity(statistics.median(traffic), 'Mbit/s')} used here"
            if program:
                rates = [s.top_program_mbps or 0.0 for s in samples if s.top_program == program]
                rate = statistics.median(rates or [0.0])
                computer.figure = f"{program} {quantity(rate, 'Mbit/s')}"
        else:
            computer.evidence.append("this computer's programs could not be looked at")
        wifi = LinkEvidence("wifi")
        hop = [s for s in samples if _hop_answered(s)]
        if hop:
            trouble = [t for s in hop for t in self.hop_trouble(s)]
            wifi.state = "degraded" if trouble or (self.hop_lossy and key == "weak_wifi") else "good"
            wifi.figure = _figures(hop, hop=True)
            wifi.evidence = [f"the home router answered in {wifi.figure} ({hop[0].hop_method})"]
        else:
            wifi.evidence.append("the home router was not measured during the lesson" if not self.hop_measured
                                 else "the home router did not answer then")
        router = LinkEvidence("router")
        others = [s.others_mbps for s in samples if s.others_mbps is not None]
        if others:
            used = statistics.median(others)
            router.state = "degraded" if used >= limits.others_mbps else "good"
            router.figure = f"others at home {quantity(used, 'Mbit/s')}"
            router.evidence.append(f"the router counted {quantity(used, 'Mbit/s')} used by other devices")
        else:
            router.evidence.append("the router's counters were not read")
            if hop:
                router.state, router.figure = "good", "answers"
        if sum(s.udp_ok is False or s.method == "tcp" for s in samples) > len(samples) / 2:
            router.state, router.figure = "fail", "blocks calls (UDP)"
            router.evidence.append("the call test over UDP got no answer; connections to the platform did")
        line = LinkEvidence("line")
        media = [s for s in samples if s.rtt_ms is not None or _lost(s)]
        if media:
            worst = worst_state(v for s in samples for v in s.states.values()).value
            on_line = key in ("line_unsteady", "line_too_slow") or (key == "no_connection" and bool(hop))
            line.figure = "nothing answers" if all(_lost(s) for s in media) else _figures(media)
            line.evidence.append(f"the lesson's connection: {line.figure}")
            beyond = [s.rtt_ms - (s.hop_rtt_ms or 0.0) for s in hop if s.rtt_ms is not None]
            if on_line or worst == "good":
                line.state = worst
            elif beyond:  # the trouble lies elsewhere: what the line itself adds beyond the router
                added = max(0.0, statistics.median(beyond))
                good = default_thresholds().limit("sound", "rtt_ms").good
                line.state = "good" if added <= good else "degraded"
                line.figure = f"{quantity(added, 'ms')} beyond the router"
                line.evidence.append(f"the round trip beyond the home router: {quantity(added, 'ms')}")
            else:
                line.evidence.insert(0, "the line could not be told apart from the way to the router "
                                        "(the router was not measured)")
        platform = LinkEvidence("platform")
        tcp = [s for s in samples if s.method == "tcp"]
        unnamed = sum(s.names_ok is False for s in samples)
        if unnamed:
            platform.state, platform.figure = "fail", "its address not found"
            platform.evidence.append(f"the platform's names could not be looked up in {unnamed} of "
                                     f"{len(samples)} samples")
        elif tcp:
            answered = sum(not _lost(s) for s in tcp)
            platform.state = "good" if answered == len(tcp) else ("fail" if not answered else "degraded")
            platform.figure = f"answered {answered} of {len(tcp)} times"
        else:
            platform.evidence.append("monitoring measures the call route, not the platform's own pages")
        links = [computer, wifi, router, line, platform]
        broken = _lesson_broken(key, samples)
        for link in links:
            if link.link == broken and link.state in ("good", "unknown"):
                link.state = "degraded"
        return links


def _hop_answered(s: MonitorSample) -> bool:
    return s.hop_probes > 0 and s.hop_rtt_ms is not None


def _figures(samples: Sequence[MonitorSample], hop: bool = False) -> str:
    """Median round trip, median jitter and the share of probes lost, over ``samples``."""
    rtt = [v for s in samples if (v := s.hop_rtt_ms if hop else s.rtt_ms) is not None]
    jit = [v for s in samples if (v := s.hop_jitter_ms if hop else s.jitter_ms) is not None]
    sent = sum(s.hop_probes if hop else s.probes for s in samples)
    lost = sum((s.hop_probes if hop else s.probes) * ((s.hop_loss_pct if hop else s.loss_pct) or 0.0) / 100
               for s in samples)
    return _round_trip_words(statistics.median(rtt) if rtt else None, statistics.median(jit) if jit else None,
                             100.0 * lost / sent if sent else None)


def _lesson_broken(key: str, samples: Sequence[MonitorSample]) -> str:
    if key == "no_connection":
        return "line" if any(_hop_answered(s) for s in samples) else "wifi"
    return CAUSE_LINKS.get(key, "")


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def lesson_cause(lesson: LessonRecord, check: CheckResult | None, assessment: Assessment | None) -> Cause:
    """The likely cause for a monitored lesson: from its samples, helped by a check run during it."""
    view = _Lesson(lesson)
    bad = [s for s in lesson.samples if troubled(s) or _lost(s)]
    groups: dict[str, list[MonitorSample]] = {}
    for s in bad:
        if (reason := view.reason(s)) is not None:
            groups.setdefault(reason, []).append(s)
    ranked = sorted(groups.items(), key=lambda g: -len(g[1]))
    found = []
    for reason, samples in ranked:
        c = view.cause(reason, samples)
        c.broken = _lesson_broken(c.key, samples)
        c.links = view.links(c.key, samples, c.program)
        found.append(c)
    from_check = check_cause(check, assessment) if check is not None and assessment is not None else None
    if from_check is not None and from_check.key not in ("no_fault", "unclear"):
        found.append(from_check)
    if not bad and not any(a.state in BAD for a in lesson.alerts):
        cause = _cause("no_fault", "No lasting problem was recorded during the lesson.")
        cause.also = [_also(c) for c in found]
        cause.links = view.links("no_fault", lesson.samples, None)
        return cause
    weak_lead = bool(ranked) and len(ranked[0][1]) < cause_limits().min_share * len(bad)
    if not found or (weak_lead and from_check is None):
        cause = _cause("unclear", _unclear_lesson(bad))
        cause.also = [_also(c) for c in found]
        cause.links = view.links("unclear", bad, None)
        return cause
    first = found[0]
    first.also = [_also(c) for c in _distinct(found[1:], first)]
    if from_check is not None and from_check is not first:
        first.also += [a for a in from_check.also if a not in first.also]
    return first


def _unclear_lesson(bad: list[MonitorSample]) -> str:
    losses = [s.loss_pct for s in bad if s.loss_pct is not None]
    jitters = [s.jitter_ms for s in bad if s.jitter_ms is not None]
    parts = []
    if losses:
        parts.append(f"lost data up to {number(max(losses))} %")
    if jitters:
        parts.append(f"delay varying by up to {number(max(jitters))} ms")
    seen = f" ({join_words(parts)})" if parts else ""
    return (
        f"The connection was troubled{seen}, but neither this computer nor the measurements point at "
        "one cause."
    )
