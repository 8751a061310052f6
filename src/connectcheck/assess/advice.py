"""Advice: the rules of ``resources/advice.toml`` matched against a check, ranked, with evidence.

The engine knows nothing of the situations themselves: it computes *facts* from the check
(verdict states, measured values, what this computer is doing) and *words* to fill the texts
(program names, rates, the Wi-Fi signal), and the data file says which facts make which advice.
The file is checked when it is read: every fact, every word and every field must be known, so a
typo fails loudly in the tests rather than silently never firing.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectcheck.assess.thresholds import Thresholds, default_thresholds
from connectcheck.assess.verdicts import unreachable_hosts
from connectcheck.core.files import read_bundled_toml
from connectcheck.core.model import (
    ActivityVerdict,
    Advice,
    CheckResult,
    Connectivity,
    LocalFindings,
    ProcessUsage,
    Status,
)
from connectcheck.core.words import join_words, quantity

FILE_NAME = "advice.toml"
ANY_CATEGORY = "*"
BROWSER = "browser"

# Facts a rule can test, besides state.<activity>, metric.<metric> (the worst state of that
# metric over the activities, "unknown" counting as worse than "good") and value.<metric>.
FACTS = (
    "overall", "check.kind", "offline", "platform_unreachable", "udp_blocked",
    "local.available", "local.traffic_mbps", "local.unattributed_mbps", "connection_type",
    "wifi.signal_pct", "wifi.signal_dbm", "cpu.pct", "memory.used_pct",
    "browsers.count", "browsers.content_processes", "router.others_mbps",
    "first_hop.rtt_ms", "first_hop.jitter_ms", "first_hop.loss_pct", "first_hop.queue_ms",
    "wifi.band_ghz", "wifi.overlapping",
)
# Words a text can use; the per-program ones only in rules with for_each = "program".
WORDS = (
    "platform_hosts", "browsers", "browser_count", "browser_details", "content_processes",
    "unattributed", "busiest", "cpu", "memory", "added_delay", "local_traffic", "signal",
    "sound_sentence", "video_sentence", "whiteboard_sentence", "overall_sentence", "others_rate",
    "hop_figure", "crowding",
)
PROGRAM_WORDS = ("program", "category", "using", "moved")
OPERATORS = {"lt": float.__lt__, "le": float.__le__, "gt": float.__gt__, "ge": float.__ge__}
RULE_FIELDS = {"key", "score", "action", "evidence", "when", "when_any", "unless", "after_any", "for_each",
               "categories", "min_mbps", "score_per_mbps", "score_max", "score_unmeasured"}
NOT_KNOWN = "not known"


class AdviceRulesError(ValueError):
    """The advice rules file is wrong (an installation or editing mistake)."""


@dataclass(frozen=True)
class Rule:
    key: str
    score: float
    action: str
    evidence: str = ""
    when: Mapping[str, Any] = field(default_factory=dict)
    when_any: Mapping[str, Any] = field(default_factory=dict)
    unless: Mapping[str, Any] = field(default_factory=dict)
    after_any: tuple[str, ...] = ()
    per_program: bool = False
    categories: tuple[str, ...] = ()
    min_mbps: float = 0.0
    score_per_mbps: float = 0.0
    score_max: float | None = None
    score_unmeasured: float | None = None  # None: programs without a measured rate are not named


@dataclass(frozen=True)
class AdviceRules:
    rules: tuple[Rule, ...]
    categories: Mapping[str, str]  # catalogue category -> words for a sentence


# --- reading and checking the rules ---------------------------------------------------------------


def _known_facts(thresholds: Thresholds) -> set[str]:
    facts = set(FACTS)
    facts |= {f"state.{a}" for a in thresholds.activities}
    facts |= {f"{kind}.{m}" for kind in ("metric", "value") for m in thresholds.metrics}
    return facts


def _check_conditions(conditions: Any, facts: set[str], where: str) -> Mapping[str, Any]:
    if not isinstance(conditions, dict):
        raise AdviceRulesError(f"{where}: conditions must be a table")
    for fact, expected in conditions.items():
        if fact not in facts:
            raise AdviceRulesError(f"{where}: unknown fact {fact!r}")
        if isinstance(expected, dict) and (not expected or set(expected) - set(OPERATORS)):
            raise AdviceRulesError(f"{where}: {fact} compares with {sorted(expected)}; use lt, le, gt, ge")
    return conditions


def _check_text(text: Any, words: set[str], where: str) -> str:
    if not isinstance(text, str):
        raise AdviceRulesError(f"{where}: must be text")
    try:
        used = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise AdviceRulesError(f"{where}: {exc}") from None
    if unknown := used - words:
        raise AdviceRulesError(f"{where}: unknown words {sorted(unknown)}")
    return text


def _rule(data: Any, facts: set[str], index: int) -> Rule:
    where = f"{FILE_NAME} rule {index + 1}"
    if not isinstance(data, dict) or not isinstance(data.get("key"), str):
        raise AdviceRulesError(f"{where}: needs a key")
    where = f"{FILE_NAME} rule {data['key']!r}"
    if unknown := set(data) - RULE_FIELDS:
        raise AdviceRulesError(f"{where}: unknown fields {sorted(unknown)}")
    per_program = data.get("for_each") == "program"
    if "for_each" in data and not per_program:
        raise AdviceRulesError(f"{where}: for_each can only be \"program\"")
    words = set(WORDS) | (set(PROGRAM_WORDS) if per_program else set())
    numbers = {}
    for name in ("score", "min_mbps", "score_per_mbps", "score_max", "score_unmeasured"):
        value = data.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise AdviceRulesError(f"{where}: {name} must be a number")
        if value is not None:
            numbers[name] = float(value)
    if "score" not in numbers:
        raise AdviceRulesError(f"{where}: needs a score")
    categories = data.get("categories", [])
    if per_program != bool(categories):
        raise AdviceRulesError(f"{where}: program rules need categories, other rules none")
    return Rule(
        key=data["key"], action=_check_text(data.get("action"), words, f"{where} action"),
        evidence=_check_text(data.get("evidence", ""), words, f"{where} evidence"),
        when=_check_conditions(data.get("when", {}), facts, f"{where} when"),
        when_any=_check_conditions(data.get("when_any", {}), facts, f"{where} when_any"),
        unless=_check_conditions(data.get("unless", {}), facts, f"{where} unless"),
        after_any=tuple(data.get("after_any", ())), per_program=per_program,
        categories=tuple(categories), **numbers,
    )


def parse_rules(data: Mapping[str, Any], thresholds: Thresholds) -> AdviceRules:
    """Build and check the rules from the parsed data file; raises AdviceRulesError."""
    facts = _known_facts(thresholds)
    raw = data.get("rules")
    if not isinstance(raw, list) or not raw:
        raise AdviceRulesError(f"{FILE_NAME}: no [[rules]]")
    rules = tuple(_rule(r, facts, i) for i, r in enumerate(raw))
    keys = [r.key for r in rules]
    if len(set(keys)) != len(keys):
        raise AdviceRulesError(f"{FILE_NAME}: two rules share a key")
    for r in rules:
        if missing := set(r.after_any) - set(keys):
            raise AdviceRulesError(f"{FILE_NAME} rule {r.key!r}: after_any names unknown rules "
                                   f"{sorted(missing)}")
    categories = data.get("categories", {})
    if not isinstance(categories, dict) or not all(isinstance(v, str) for v in categories.values()):
        raise AdviceRulesError(f"{FILE_NAME}: [categories] must map names to words")
    return AdviceRules(rules, categories)


def load_rules(path: Path | None = None, thresholds: Thresholds | None = None) -> AdviceRules:
    """Read an advice rules file (the bundled one by default); raises AdviceRulesError."""
    data, path = read_bundled_toml(FILE_NAME, "advice rules", AdviceRulesError, path)
    return parse_rules(data, thresholds or default_thresholds())


@functools.cache
def default_rules() -> AdviceRules:
    return load_rules()


# --- facts and words from a check -------------------------------------------------------------


def program_rate(p: ProcessUsage) -> float | None:
    """A program's download plus upload rate, or None when it could not be measured."""
    if p.rate_source == "none" or (p.down_mbps is None and p.up_mbps is None):
        return None
    return (p.down_mbps or 0.0) + (p.up_mbps or 0.0)


def _add(a: float | None, b: float | None) -> float | None:
    return None if a is None and b is None else (a or 0.0) + (b or 0.0)


def programs(local: LocalFindings) -> list[ProcessUsage]:
    """The programs on this computer, one entry per app (its processes' rates added up).

    ``processes`` and ``hungry_apps`` may name the same process; each process counts once.
    """
    by_process: dict[tuple[int | None, str], ProcessUsage] = {}
    for p in local.processes + local.hungry_apps:
        key = (p.pid, p.name)
        if key not in by_process or (program_rate(p) or -1.0) > (program_rate(by_process[key]) or -1.0):
            by_process[key] = p
    merged: dict[str, ProcessUsage] = {}
    trust = {"none": 0, "estimate": 1, "measured": 2}
    for p in by_process.values():
        name = p.app or p.name
        m = merged.setdefault(name, ProcessUsage(name=name, app=name, category=p.category,
                                                 advice_key=p.advice_key))
        m.category = m.category or p.category
        m.advice_key = m.advice_key or p.advice_key
        if program_rate(p) is not None:
            m.down_mbps, m.up_mbps = _add(m.down_mbps, p.down_mbps), _add(m.up_mbps, p.up_mbps)
            m.rate_source = max(m.rate_source, p.rate_source, key=lambda s: trust.get(s, 0))
    return sorted(merged.values(), key=lambda p: -(program_rate(p) or 0.0))


def _local_traffic(local: LocalFindings) -> float | None:
    rates = [r for p in programs(local) if (r := program_rate(p)) is not None]
    rates += [x for x in (local.unattributed_down_mbps, local.unattributed_up_mbps) if x is not None]
    return sum(rates) if rates else None


def others_mbps(result: CheckResult) -> float | None:
    """What other devices at home moved (down + up) by the router's own counters, minus this
    computer's traffic (None: the router did not tell, or this computer's traffic is not known)."""
    r = result.router
    if r is None or r.status is not Status.OK or r.others_down_mbps is None or r.others_up_mbps is None:
        return None
    return round(r.others_down_mbps + r.others_up_mbps, 3)


def first_hop_facts(result: CheckResult) -> dict[str, float | None]:
    """The home router's round trip, jitter and loss while idle, and how much its round trip grew
    under load (None each when the router was not measured)."""
    hop = result.first_hop
    idle = hop.idle if hop is not None and hop.status is Status.OK else None
    if idle is None or not idle.samples:
        return {"first_hop.rtt_ms": None, "first_hop.jitter_ms": None, "first_hop.loss_pct": None,
                "first_hop.queue_ms": None}
    growth = [x.rtt_increase_ms for x in hop.loaded.values() if x.rtt_increase_ms is not None]
    return {"first_hop.rtt_ms": idle.rtt_ms_median, "first_hop.jitter_ms": idle.jitter_ms,
            "first_hop.loss_pct": idle.loss_pct, "first_hop.queue_ms": max(growth) if growth else None}


OVERLAP_CHANNELS = 4  # 2.4 GHz channels are 5 MHz apart and 20 MHz wide: within 4 of each other they overlap


@dataclass(frozen=True)
class Crowding:
    """How crowded this computer's Wi-Fi channel is, from the networks around (their names never kept)."""

    band_ghz: float
    channel: int
    same: int  # other radios on the very channel
    overlapping: int  # other radios on it or overlapping it (2.4 GHz: within 4 channels; else = same)
    heard: int  # other radios heard at all


def channel_of(frequency_mhz: float | None) -> tuple[float, int] | None:
    """(band, channel) of a Wi-Fi frequency; None when it is not one."""
    if not frequency_mhz:
        return None
    mhz = round(frequency_mhz)
    if mhz == 2484:
        return 2.4, 14
    if 2412 <= mhz <= 2472 and (mhz - 2407) % 5 == 0:
        return 2.4, (mhz - 2407) // 5
    if 5160 <= mhz <= 5885 and mhz % 5 == 0:
        return 5.0, (mhz - 5000) // 5
    if 5955 <= mhz <= 7115 and (mhz - 5950) % 5 == 0:
        return 6.0, (mhz - 5950) // 5
    return None


def wifi_crowding(local: LocalFindings | None) -> Crowding | None:
    """The networks around this computer's channel (None: not connected, or nothing was heard)."""
    wifi = local.wifi if local is not None else None
    around = wifi.neighbours if wifi is not None else None
    own = channel_of(wifi.frequency_mhz) if wifi is not None else None
    if around is None or around.status is not Status.OK or own is None or not wifi or not wifi.connected:
        return None
    band, channel = own
    others = [h for h in around.heard if not h.in_use and h.channel is not None and h.band_ghz is not None]
    if around.own_listed:  # the scan lists this computer's own radio too: one on its channel is it
        mine = next((h for h in others if h.band_ghz == band and h.channel == channel), None)
        others = [h for h in others if h is not mine]
    same = sum(1 for h in others if h.band_ghz == band and h.channel == channel)
    reach = OVERLAP_CHANNELS if band < 3 else 0
    overlapping = sum(1 for h in others if h.band_ghz == band and abs((h.channel or 0) - channel) <= reach)
    return Crowding(band, channel, same, overlapping, len(others))


def crowding_words(c: Crowding) -> str:
    """ "5 other Wi-Fi networks nearby use or overlap channel 6 (2.4 GHz), 2 of them on it exactly"."""
    band = f"{c.band_ghz:g} GHz"

    def networks(n: int, verb: str) -> str:
        return f"{n} other Wi-Fi network{'s' if n != 1 else ''} nearby {verb}{'s' if n == 1 else ''}"

    if c.band_ghz < 3:
        return (f"{networks(c.overlapping, 'use')} or overlap channel {c.channel} ({band}), "
                f"{c.same} of them on it exactly")
    return f"{networks(c.same, 'use')} channel {c.channel} ({band})"


def _usable(local: LocalFindings | None) -> LocalFindings | None:
    return local if local is not None and local.status is Status.OK else None


def facts(result: CheckResult, verdicts: list[ActivityVerdict], overall: str) -> dict[str, Any]:
    """Everything a rule can test, from the check and its verdicts (None: not known)."""
    s = result.summary
    out: dict[str, Any] = {
        "overall": overall, "check.kind": result.kind.value,
        "offline": result.connectivity is Connectivity.OFFLINE,
        "platform_unreachable": s.platform_reachable is False, "udp_blocked": s.udp_ok is False,
        "router.others_mbps": others_mbps(result),
        **first_hop_facts(result),
    }
    rank = ("good", "unknown", "degraded", "fail")
    for v in verdicts:
        out[f"state.{v.activity}"] = v.state
        for m in v.metrics:
            out[f"value.{m.metric}"] = m.value
            worst = out.get(f"metric.{m.metric}", "good")
            out[f"metric.{m.metric}"] = max(worst, m.state, key=rank.index)
    local = _usable(result.local)
    out["local.available"] = local is not None
    if local is None:
        return out
    wifi, system = local.wifi, local.system
    out |= {
        "local.traffic_mbps": _local_traffic(local),
        "local.unattributed_mbps": _add(local.unattributed_down_mbps, local.unattributed_up_mbps),
        "connection_type": local.connection_type,
        "wifi.signal_pct": wifi.signal_pct if wifi else None,
        "wifi.signal_dbm": wifi.signal_dbm if wifi else None,
        "wifi.band_ghz": (crowd := wifi_crowding(local)) and crowd.band_ghz,
        "wifi.overlapping": crowd.overlapping if crowd else None,
        "cpu.pct": system.cpu_pct if system else None,
        "memory.used_pct": system.memory_used_pct if system else None,
        "browsers.count": len(local.browsers),
        "browsers.content_processes": max((b.content_processes for b in local.browsers), default=None),
    }
    return out


def _mbps(value: float | None) -> str:
    return NOT_KNOWN if value is None else quantity(value, "Mbit/s")


def _pct(value: float | None) -> str:
    return NOT_KNOWN if value is None else quantity(value, "%")


def _signal(local: LocalFindings) -> str:
    w = local.wifi
    parts = [quantity(w.signal_dbm, "dBm") if w and w.signal_dbm is not None else "",
             quantity(w.signal_pct, "%") if w and w.signal_pct is not None else ""]
    return ", ".join(p for p in parts if p) or NOT_KNOWN


def _browser_detail(b: Any) -> str:
    rate = _add(b.down_mbps, b.up_mbps)
    return f"{b.app} ({b.processes} processes" + (f", {_mbps(rate)})" if rate is not None else ")")


def words(result: CheckResult, verdicts: list[ActivityVerdict], overall_sentence: str) -> dict[str, str]:
    """Every word a rule's text can use, filled from the check ("not known" when missing)."""
    s = result.summary
    out = {k: NOT_KNOWN for k in WORDS}
    out |= {f"{v.activity}_sentence": v.sentence for v in verdicts}
    out["overall_sentence"] = overall_sentence
    out["platform_hosts"] = unreachable_hosts(result.reachability)
    if s.rtt_increase_ms is not None:
        out["added_delay"] = quantity(s.rtt_increase_ms, "ms")
    if (others := others_mbps(result)) is not None:
        out["others_rate"] = quantity(others, "Mbit/s")
    hop = first_hop_facts(result)
    if hop["first_hop.rtt_ms"] is not None:
        parts = [quantity(hop["first_hop.rtt_ms"], "ms")]
        if hop["first_hop.jitter_ms"] is not None:
            parts.append(f"varying by {quantity(hop['first_hop.jitter_ms'], 'ms')}")
        if hop["first_hop.loss_pct"] is not None:
            parts.append(f"{quantity(hop['first_hop.loss_pct'], '%')} lost")
        if hop["first_hop.queue_ms"] is not None:
            parts.append(f"{quantity(hop['first_hop.queue_ms'], 'ms')} more under load")
        out["hop_figure"] = ", ".join(parts)
    if (crowd := wifi_crowding(_usable(result.local))) is not None:
        out["crowding"] = crowding_words(crowd)
    local = _usable(result.local)
    if local is None:
        return out
    busiest = local.system.busiest if local.system else []
    out |= {
        "browsers": join_words([b.app for b in local.browsers]),
        "browser_count": str(len(local.browsers)),
        "browser_details": join_words([_browser_detail(b) for b in local.browsers]),
        "content_processes": str(max((b.content_processes for b in local.browsers), default=0)),
        "unattributed": _mbps(_add(local.unattributed_down_mbps, local.unattributed_up_mbps)),
        "busiest": join_words([p.app or p.name for p in busiest[:3]]) or "those you do not need",
        "cpu": _pct(local.system.cpu_pct if local.system else None),
        "memory": _pct(local.system.memory_used_pct if local.system else None),
        "local_traffic": _mbps(_local_traffic(local)),
        "signal": _signal(local),
    }
    return out


def _program_words(p: ProcessUsage, categories: Mapping[str, str]) -> dict[str, str]:
    rate = program_rate(p)
    flows = f"{_mbps(p.down_mbps or 0.0)} down and {_mbps(p.up_mbps or 0.0)} up"
    if rate is None:
        using = "it is running and may be using the connection"
        moved = "was running (this computer cannot tell how much it uses)"
    elif p.rate_source == "estimate":
        using = f"it seems to be using about {_mbps(rate)} (an estimate)"
        moved = f"seemed to move about {flows}"
    else:
        using, moved = f"it is using {_mbps(rate)}", f"was moving {flows}"
    return {"program": p.app or p.name, "category": categories.get(p.category or "", "program"),
            "using": using, "moved": moved}


# --- matching ------------------------------------------------------------------------------------------


def _holds(value: Any, expected: Any) -> bool:
    if isinstance(expected, dict):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return all(OPERATORS[op](float(value), float(limit)) for op, limit in expected.items())
    if isinstance(expected, list):
        return value in expected
    return value == expected and value is not None


def rule_applies(rule: Rule, known: Mapping[str, Any], fired: set[str]) -> bool:
    """Whether the rule's conditions hold for these facts, given the rules that already fired."""
    if not all(_holds(known.get(f), e) for f, e in rule.when.items()):
        return False
    if rule.when_any and not any(_holds(known.get(f), e) for f, e in rule.when_any.items()):
        return False
    if any(_holds(known.get(f), e) for f, e in rule.unless.items()):
        return False
    return not rule.after_any or bool(fired & set(rule.after_any))


def _owner(p: ProcessUsage, rules: tuple[Rule, ...]) -> Rule | None:
    """The program rule a program belongs to: by advice key, then category, then "*"."""
    program_rules = [r for r in rules if r.per_program]
    for test in (lambda r: r.key == p.advice_key, lambda r: p.category in r.categories,
                 lambda r: ANY_CATEGORY in r.categories and p.category != BROWSER):
        for r in program_rules:
            if test(r):
                return r
    return None


def _program_score(rule: Rule, p: ProcessUsage) -> float | None:
    rate = program_rate(p)
    if rate is None:
        return rule.score_unmeasured
    if rate < rule.min_mbps:
        return None
    score = rule.score + rule.score_per_mbps * rate
    return min(score, rule.score_max) if rule.score_max is not None else score


def advise(result: CheckResult, verdicts: list[ActivityVerdict], overall: str, overall_sentence: str,
           rules: AdviceRules | None = None) -> list[Advice]:
    """The advice for this check, ranked: 1 is what to do first."""
    rules = rules or default_rules()
    known = facts(result, verdicts, overall)
    text = words(result, verdicts, overall_sentence)
    local = _usable(result.local)
    found = programs(local) if local else []
    scored: list[tuple[float, int, Advice]] = []
    fired: set[str] = set()
    # Rules with after_any look at the others' results, so they come second.
    ordered = sorted(enumerate(rules.rules), key=lambda item: bool(item[1].after_any))
    for index, rule in ordered:
        if not rule_applies(rule, known, fired):
            continue
        if not rule.per_program:
            scored.append((rule.score, index, Advice(rule.key, 0, rule.action.format_map(text),
                                                     rule.evidence.format_map(text))))
            fired.add(rule.key)
            continue
        for p in found:
            score = _program_score(rule, p) if _owner(p, rules.rules) is rule else None
            if score is None:
                continue
            w = text | _program_words(p, rules.categories)
            scored.append((score, index, Advice(rule.key, 0, rule.action.format_map(w),
                                                rule.evidence.format_map(w), program=w["program"])))
            fired.add(rule.key)
    scored.sort(key=lambda item: (-item[0], item[1]))
    for rank, (_, _, item) in enumerate(scored, 1):
        item.rank = rank
    return [item for _, _, item in scored]
