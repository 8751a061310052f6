"""Verdicts: from a check's numbers to "will sound, video and the whiteboard work?".

Each metric is judged against the activity's limits (good / degraded / fail, or unknown when it
was not measured). An activity takes the worst state among its known metrics; when nothing
known is wrong but something was not measured, it is "unknown", never "good", and its sentence
says what was measured and what was not. Two conditions override the numbers: no connection at
all, and a lesson platform that cannot be reached. Blocked UDP makes sound and video at best
degraded, since they then go through a relay over TCP.
"""

from __future__ import annotations

from collections.abc import Sequence

from connectcheck.assess.mos import estimate_mos
from connectcheck.assess.thresholds import Activity, Limit, Metric, Thresholds
from connectcheck.core.model import (
    ActivityVerdict,
    CheckResult,
    Connectivity,
    MetricVerdict,
    ReachabilityResult,
    Summary,
    worst_state,
)
from connectcheck.core.words import PROBLEM_WORDS, join_words, number_beside, quantity

CONNECTIVITY = "connectivity"  # pseudo-metrics: value 1.0 = yes, 0.0 = no
PLATFORM = "platform_reachable"
UDP = "udp_ok"
MEDIA = ("sound", "video")  # the activities that travel over UDP when they can
MAX_REASONS = 2  # deciding metrics named in one sentence


def judge_metric(metric: Metric, limit: Limit, value: float | None) -> MetricVerdict:
    """One metric against one activity's limits, with the margin to the limit that decided."""
    out = MetricVerdict(metric=metric.key, state="unknown", value=value, good=limit.good, fail=limit.fail)
    if value is None:
        return out
    sign = 1 if metric.higher_is_better else -1
    to_good = sign * (value - limit.good)
    to_fail = sign * (value - limit.fail)
    if to_good > 0 or (to_good == 0 and metric.good_inclusive):
        out.state, out.margin = "good", to_good
    elif to_fail >= 0:
        out.state, out.margin = "degraded", to_good
    else:
        out.state, out.margin = "fail", to_fail
    out.margin = round(out.margin, 3)
    return out


def blocker(summary: Summary, connectivity: Connectivity,
            reachability: Sequence[ReachabilityResult] = ()) -> tuple[str, str] | None:
    """What stops every activity whatever the numbers: (pseudo-metric, reason in plain words)."""
    if connectivity is Connectivity.OFFLINE:
        return CONNECTIVITY, "there is no internet connection"
    if summary.platform_reachable is False:
        return PLATFORM, f"the lesson platform ({unreachable_hosts(reachability)}) could not be reached"
    return None


def unreachable_hosts(reachability: Sequence[ReachabilityResult]) -> str:
    """The platform addresses that could not be reached, for a sentence."""
    names = [r.url.split("://", 1)[-1].rstrip("/") for r in reachability
             if not r.reachable and not r.url.startswith("stun:")]
    return join_words(names) or "its address"


def _need(metric: Metric, limit: Limit, subject: str) -> str:
    if metric.higher_is_better:
        return f"{subject} needs {quantity(limit.good, metric.unit, limit=True)}"
    bound = quantity(limit.good, metric.unit, limit=True)
    return f"{subject} needs {bound} or less" if metric.good_inclusive else f"{subject} needs under {bound}"


def _reason(v: MetricVerdict, thresholds: Thresholds, activity: Activity, alone: bool) -> str:
    if v.metric == UDP:
        return "this network blocks the direct route calls take (UDP), so it goes through a slower relay"
    metric = thresholds.metrics[v.metric]
    assert v.value is not None
    limit = thresholds.limit(activity.key, v.metric)
    have = f"your {metric.label} is {number_beside(v.value, limit.good)} {metric.unit}"
    need = _need(metric, limit, activity.subject)
    return f"{have} and {need}" if alone else f"{have} ({need})"


def _sentence(activity: Activity, state: str, verdicts: list[MetricVerdict], thresholds: Thresholds) -> str:
    unknown = [thresholds.metrics[v.metric].label for v in verdicts if v.state == "unknown"]
    not_measured = f"{join_words(unknown)} {'was' if len(unknown) == 1 else 'were'} not measured"
    if state == "good":
        return f"{activity.label} {activity.effects['good']}."
    if state == "unknown":
        known = [thresholds.metrics[v.metric].label for v in verdicts if v.state == "good"]
        if not known:
            return f"{activity.label} could not be judged: nothing it depends on was measured."
        verb = "is" if len(known) == 1 else "are"
        return f"{activity.label} looks fine so far ({join_words(known)} {verb} good), but {not_measured}."
    deciding = [v for v in verdicts if v.state == state]
    reasons = [_reason(v, thresholds, activity, len(deciding) == 1) for v in deciding[:MAX_REASONS]]
    for v in deciding[MAX_REASONS:]:  # named without its number, never "1 more figure"
        metric = thresholds.metrics.get(v.metric)
        if metric is not None:
            reasons.append(f"your {metric.label} is too {'low' if metric.higher_is_better else 'high'}")
    text = f"{activity.label} {activity.effects[state]}: {join_words(reasons)}"
    return text + (f" ({not_measured})." if unknown else ".")


def call_values(s: Summary) -> dict[str, float]:
    """What the call-like stream measured, as the sound verdict reads it: a call's round trip,
    its jitter, and its loss counting the packets too late for the jitter buffer. Figures the
    stream did not give stay the idle ones."""
    found = {"rtt_ms": s.call_rtt_ms, "jitter_ms": s.call_jitter_ms, "loss_pct": s.call_loss_pct}
    return {k: v for k, v in found.items() if v is not None}


def judge_activity(summary: Summary, connectivity: Connectivity, activity: Activity, thresholds: Thresholds,
                   reachability: Sequence[ReachabilityResult] = ()) -> ActivityVerdict:
    """The verdict for one activity from a summary of measurements and the connectivity they were
    taken with (``reachability`` names the platform addresses that failed): state, deciding
    metrics and one plain sentence. Sound reads the call-like stream's figures where it ran."""
    s = summary
    values = {k: getattr(s, k) for k in thresholds.metrics}
    if activity.key == "sound":
        values.update(call_values(s))
    metrics = [judge_metric(m, thresholds.limit(activity.key, k), values[k])
               for k, m in thresholds.metrics.items()]
    mos = (estimate_mos(values.get("rtt_ms"), values.get("jitter_ms"), values.get("loss_pct"))
           if activity.key == "sound" else None)
    stop = blocker(s, connectivity, reachability)
    if stop is not None:
        pseudo = MetricVerdict(metric=stop[0], state="fail", value=0.0)
        sentence = f"{activity.label} will not work: {stop[1]}."
        return ActivityVerdict(activity.key, "fail", sentence, [pseudo], metrics, mos)
    extra = []
    if activity.key in MEDIA and s.udp_ok is False:
        extra.append(MetricVerdict(metric=UDP, state="degraded", value=0.0))
    state = worst_state([v.state for v in metrics + extra]).value
    if state == "good" and any(v.state == "unknown" for v in metrics):
        state = "unknown"
    judged = extra + metrics
    deciding = [v for v in judged if v.state == state]
    sentence = _sentence(activity, state, judged, thresholds)
    return ActivityVerdict(activity.key, state, sentence, deciding, metrics, mos)


def plain_sentence(verdict: ActivityVerdict, thresholds: Thresholds) -> str:
    """The verdict's sentence without figures, for the tutor's first look ("Sound will probably break
    up or drop out: everything arrives late and some of what is sent gets lost."); the sentence with
    the figures stays in ``verdict.sentence``. Good, unknown and blocked verdicts have no figures."""
    activity = thresholds.activities.get(verdict.activity)
    if activity is None or verdict.state not in ("degraded", "fail"):
        return verdict.sentence
    problems = [PROBLEM_WORDS[v.metric] for v in verdict.deciding if v.metric in PROBLEM_WORDS]
    if not problems or any(v.metric in (CONNECTIVITY, PLATFORM) for v in verdict.deciding):
        return verdict.sentence
    return f"{activity.label} {activity.effects[verdict.state]}: {join_words(problems)}."


def judge_activities(summary: Summary, connectivity: Connectivity, thresholds: Thresholds,
                     reachability: Sequence[ReachabilityResult] = ()) -> list[ActivityVerdict]:
    """The verdicts of every activity (see :func:`judge_activity`)."""
    return [judge_activity(summary, connectivity, a, thresholds, reachability)
            for a in thresholds.activities.values()]


def judge_check(result: CheckResult, thresholds: Thresholds) -> list[ActivityVerdict]:
    """The verdicts of every activity for a whole check."""
    return judge_activities(result.summary, result.connectivity, thresholds, result.reachability)


def overall(result: CheckResult, verdicts: list[ActivityVerdict], thresholds: Thresholds) -> tuple[str, str]:
    """The overall state of the lesson ("ready" | "limited" | "cannot" | "unknown") and its line."""
    stop = blocker(result.summary, result.connectivity, result.reachability)
    if stop is not None:
        return "cannot", f"The lesson cannot go ahead online: {stop[1]}."
    by = {v.activity: v.state for v in verdicts}
    acts = thresholds.activities
    if result.connectivity is Connectivity.UNKNOWN and all(s == "unknown" for s in by.values()):
        return "unknown", "The check stopped before it could tell anything: run it again."
    if all(s == "good" for s in by.values()):
        return "ready", "Ready for the lesson: sound, video and the whiteboard should all work."
    failing = [k for k, s in by.items() if s == "fail"]
    shaky = [acts[k].subject for k, s in by.items() if s == "degraded"]
    if {"sound", "whiteboard"} <= set(failing):
        return "cannot", ("The lesson cannot go ahead online: neither sound nor the whiteboard will work. "
                          "Follow the organisation's steps for a lesson that cannot go on.")
    careful = f"{join_words(shaky)} may not be smooth" if shaky else ""
    if failing:  # the line goes with the headline (core/words.answer): what fails, then what to do
        return "limited", _with_failures(set(failing), careful)
    if shaky:
        return "limited", f"Can go ahead, with care: {careful}."
    missing = {m.metric for v in verdicts for m in v.metrics if m.state == "unknown"}
    unknown = [m.label for k, m in thresholds.metrics.items() if k in missing]
    return "unknown", (f"Nothing wrong found so far, but {join_words(unknown)} "
                       f"{'was' if len(unknown) == 1 else 'were'} not measured: run a full check to be sure.")


def _with_failures(failing: set[str], careful: str) -> str:
    """The overall line when one or two of sound, video and the whiteboard fail (not sound and the
    whiteboard together: that is "cannot"), in the policy's order: typing first, then a phone."""
    cameras = ", with the cameras off" if "video" in failing else ""
    if "sound" in failing:
        text = ("Sound will not work well over this connection: carry on by typing on the whiteboard"
                f"{cameras}, and use a phone for sound if you can")
    elif "whiteboard" in failing:
        text = ("The whiteboard will not work well over this connection: the lesson can only go on "
                f"by voice{cameras}")
    else:
        text = "Video will not work well over this connection: turn the cameras off"
    return text + (f" ({careful})." if careful else ".")
