"""A check result as aligned plain text for the terminal, units on every number."""

from __future__ import annotations

import os
import re
import textwrap
import threading
import time
from collections.abc import Sequence
from typing import TextIO

from connectcheck.core.model import (
    ActivityVerdict,
    Assessment,
    BandwidthResult,
    BrowserUsage,
    CheckResult,
    Connectivity,
    LessonAlert,
    LocalFindings,
    MonitorSample,
    ProcessUsage,
    Status,
    WifiInfo,
)
from connectcheck.core.words import (
    CATEGORY_WORDS,
    KIND_WORDS,
    NOT_KNOWN,
    OS_WORDS,
    call_words,
    clean,
    clock,
    join_words,
    mbps,
    megabytes,
    ms,
    number,
    pct,
    printable,
    quantity,
    short_answer,
    stamp,
)
from connectcheck.local.base import LocalBackend
from connectcheck.local.sampler import STEP_S, LocalSampler

_CONNECTIVITY = {
    Connectivity.ONLINE: "online",
    Connectivity.LIMITED: "partly reachable",
    Connectivity.OFFLINE: "NO CONNECTION",
    Connectivity.UNKNOWN: "unknown (the check did not get far enough)",
}




def _mbps(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f} Mbit/s" if value >= 1 else f"{value:.2f} Mbit/s"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} %"


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.0f} kB"




def _bandwidth_line(b: BandwidthResult) -> list[str]:
    if b.status is not Status.OK:
        failed = "not measured" if (b.error or "").startswith("could not be measured") else "failed"
        return [b.direction, failed, b.error or b.status.value, "", ""]
    loaded = ""
    if b.loaded and b.loaded.rtt_ms_median is not None:
        loaded = f"{ms(b.loaded.rtt_ms_median)} under load"
        if b.loaded.rtt_increase_ms is not None:
            loaded += f" (+{ms(b.loaded.rtt_increase_ms)}, {b.loaded.rpm:.0f} RPM)"
    return [b.direction, _mbps(b.rate_mbps), loaded, f"{b.duration_s:.1f} s", _megabytes(b.bytes_transferred)]


def format_check(result: CheckResult) -> str:
    r = result
    s = r.summary
    lines = [
        f"connectcheck {r.kind.value} check — {stamp(r.started_at, zone=True)} (took {r.duration_s:.1f} s)",
        f"Connection: {_CONNECTIVITY[r.connectivity]}"
        + ("   [check cancelled]" if r.status is Status.CANCELLED else ""),
        "",
        "Headline",
    ]
    pooled = r.call is not None and s.latency_target == f"stun {r.call.target}"
    lines += table([
        ["round trip (idle)", ms(s.rtt_ms), f"via {s.latency_target}" if s.latency_target else ""],
        ["jitter", ms(s.jitter_ms), ""],
        ["packet loss", _pct(s.loss_pct), "idle probes and the call's packets" if pooled else ""],
        ["download", _mbps(s.download_mbps), ""],
        ["upload", _mbps(s.upload_mbps), ""],
        ["added delay under load", ms(s.rtt_increase_ms), f"{s.rpm:.0f} RPM" if s.rpm else ""],
        ["name lookup (DNS)", ms(s.dns_ms), ""],
    ])
    if r.call is not None or "call" in r.sections:
        rate = f"{r.call.packets_per_s} packets a second" if r.call else "call-sized packets"
        lines += ["", f"Call-like stream (what the lesson's sound meets: {rate} over STUN)",
                  f"  {call_words(r.call, r.sections.get('call'))}"]
    if r.latency:
        lines += ["", "Latency"]
        rows = [["target", "method", "median", "p90", "jitter", "loss", "answered"]]
        for x in r.latency:
            rows.append([x.target, x.method.upper(), ms(x.rtt_ms_median), ms(x.rtt_ms_p90), ms(x.jitter_ms),
                         _pct(x.loss_pct), f"{x.samples}/{x.samples_sent}"])
        lines += table(rows)
        lines += [f"  {x.target} ({x.method}): {x.error}" for x in r.latency
                  if x.error and x.status is not Status.OK]
    if r.dns:
        lines += ["", "Name lookups"]
        lines += table([[d.host, ms(d.dns_ms) if d.status is Status.OK else (d.error or d.status.value)]
                         for d in r.dns])
    if r.reachability:
        lines += ["", "Lesson platform"]
        for e in r.reachability:
            steps = " · ".join(
                f"{st.name.upper()} {ms(st.duration_ms) if st.status is Status.OK else st.status.value}"
                + (f" ({st.detail})" if st.detail else "")
                for st in e.steps
            )
            lines.append(f"  {e.url}: {'reachable' if e.reachable else 'NOT reachable'}")
            if steps:
                lines.append(f"      {steps}")
            if e.error and not e.reachable:
                lines.append(f"      {e.error}")
            if e.note:
                lines.append(f"      {e.note}")
    if r.bandwidth:
        server = next((b.server for b in r.bandwidth if b.server), None)
        where = f", server {server.name or server.url} ({server.source})" if server else ""
        lines += ["", f"Speed (engine {r.engine}{where})"]
        lines += table([_bandwidth_line(b) for b in r.bandwidth])
        # a rate measured despite trouble (some connections failed, the server stalled) says so
        lines += [f"  {b.direction}: {b.error}" for b in r.bandwidth if b.status is Status.OK and b.error]
    if r.speed_servers_tried and (not r.bandwidth or any(b.status is not Status.OK for b in r.bandwidth)):
        lines += ["", "Speed servers tried"] + [f"  {line}" for line in r.speed_servers_tried]
    problems = [(name, sec) for name, sec in r.sections.items()
                if sec.status is not Status.OK and (sec.status is not Status.SKIPPED or sec.error)]
    if problems:
        lines += ["", "Parts that did not complete"]
        lines += [f"  {name}: {sec.status.value}" + (f" — {sec.error}" if sec.error else "")
                  for name, sec in problems]
    if r.notes:
        lines += ["", "Notes"] + [f"  {n}" for n in r.notes]
    lines += ["", f"Data used: {_megabytes(r.bytes_used)}"]
    return printable("\n".join(lines))


def format_check_full(result: CheckResult) -> str:
    """A check as ``connectcheck check`` prints it: the numbers, this computer, the verdicts."""

    text = format_check(result) + "\n"
    if result.local is not None:
        text += "\n" + format_local(result.local) + "\n"
    if result.assessment is not None:
        text += "\n" + printable(format_assessment(result.assessment)) + "\n"
    return text




WIDTH = 100


LIGHTS = {"good": "[ OK ]", "degraded": "[WEAK]", "fail": "[FAIL]", "unknown": "[ ?? ]"}


_UNIT_SPACE = re.compile(r"(?<=\d) (?=Mbit/s|ms|%|dBm|/ 5)")


_KEEP = "\x00"  # stands for a space that must not become a line break (between a number and its unit)


def _wrap(text: str, first: str, rest: str) -> list[str]:
    lines = textwrap.wrap(_UNIT_SPACE.sub(_KEEP, text), WIDTH, initial_indent=first, subsequent_indent=rest,
                          break_on_hyphens=False) or [first.rstrip()]
    return [line.replace(_KEEP, " ") for line in lines]


def _verdict_lines(v: ActivityVerdict, width: int) -> list[str]:
    head = f"  {v.activity.upper():<{width}}  {LIGHTS.get(v.state, v.state)}  "
    text = v.sentence
    if v.mos is not None:
        text += f" Call quality on a quiet line: {v.mos:.1f} / 5."
    return _wrap(text, head, " " * len(head))


def format_assessment(assessment: Assessment) -> str:
    """The verdicts and advice as aligned plain text for the terminal."""
    a = assessment
    lines = ["Verdict"]
    width = max((len(v.activity) for v in a.verdicts), default=0)
    for v in a.verdicts:
        lines += _verdict_lines(v, width)
    failing = {v.activity for v in a.verdicts if v.state == "fail"}
    lines += [""] + _wrap(a.sentence, f"Overall: {short_answer(a.overall, failing).upper()} — ", "  ")
    if a.advice:
        lines += ["", "What to do now"]
        for item in a.advice:
            mark = f"  {item.rank}. "
            lines += _wrap(item.action, mark, " " * len(mark))
            if item.evidence:
                lines += _wrap(f"Why: {item.evidence}", " " * len(mark), " " * (len(mark) + 5))
    if a.changes:
        lines += ["", "Since the last check"]
        for change in a.changes:
            lines += _wrap(change, "  - ", "    ")
    return "\n".join(lines) + "\n"


CLEAR = "\x1b[H\x1b[J"  # cursor home, clear to the end of the screen


def table(rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    """Rows as aligned lines: the first column left-aligned, the others right-aligned."""
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        (
            indent
            + "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        ).rstrip()
        for row in rows
    ]


def _program(p: ProcessUsage) -> str:
    name = clean(p.name)
    label = f"{clean(p.app)} ({name})" if p.app and p.app.casefold() != name.casefold() else name
    return f"{label} [{p.pid}]" if p.pid is not None else label


def _estimate(p: ProcessUsage, value: float | None) -> str:
    text = mbps(value)
    return f"~{text}" if p.rate_source == "estimate" and value is not None else text


def _programs(f: LocalFindings) -> list[str]:
    rows = [["program", "down", "up", "connections", "CPU"]]
    for p in f.processes:
        rows.append(
            [
                _program(p),
                _estimate(p, p.down_mbps),
                _estimate(p, p.up_mbps),
                str(p.connections),
                pct(p.cpu_pct),
            ]
        )
    if f.unattributed_down_mbps is not None or f.unattributed_up_mbps is not None:
        rows.append(
            ["not traced to a program", mbps(f.unattributed_down_mbps), mbps(f.unattributed_up_mbps), "", ""]
        )
    lines = ["Programs using the network" + (f" (over {number(f.window_s)} s)" if f.window_s else "")]
    if len(rows) == 1:
        rates = f.sections.get("rates")
        return lines + [f"  {rates.error if rates and rates.error else 'none measured'}"]
    lines += table(rows)
    if f.unattributed_programs:
        lines.append(
            f"  it may come from programs with call or streaming (UDP) traffic: "
            f"{join_words([clean(n) for n in f.unattributed_programs])}"
        )
    if any(p.rate_source == "estimate" for p in f.processes):
        lines.append("  ~ an estimate: this system does not count each program's traffic")
    return lines


def _apps(f: LocalFindings) -> list[str]:
    grouped: dict[str, list[ProcessUsage]] = {}
    for p in f.hungry_apps:
        grouped.setdefault(p.app or p.name, []).append(p)
    if not grouped:
        return ["Known bandwidth-hungry programs: none running"]
    rows = []
    for app, procs in grouped.items():
        rated = [p for p in procs if p.down_mbps is not None]
        rate = (
            (
                f"{_estimate(rated[0], sum(p.down_mbps or 0.0 for p in rated))} down, "
                f"{_estimate(rated[0], sum(p.up_mbps or 0.0 for p in rated))} up"
            )
            if rated
            else "rate not known"
        )
        count = f"{len(procs)} process" + ("es" if len(procs) > 1 else "")
        rows.append(
            [clean(app), CATEGORY_WORDS.get(procs[0].category or "", procs[0].category or ""), count, rate]
        )
    return ["Known bandwidth-hungry programs running"] + table(rows)


def _browser_row(b: BrowserUsage) -> list[str]:
    traffic = NOT_KNOWN if b.down_mbps is None else f"{mbps(b.down_mbps)} down, {mbps(b.up_mbps)} up"
    return [
        clean(b.app),
        f"{b.processes} processes",
        f"{b.content_processes} page processes",
        f"CPU {pct(b.cpu_pct)}",
        f"memory {megabytes(b.memory_mb)}",
        traffic,
    ]


def _browsers(f: LocalFindings) -> list[str]:
    if not f.browsers:
        return ["Browsers: none running"]
    lines = ["Browsers (page processes are a load indication, not a tab count)"]
    lines += table([_browser_row(b) for b in f.browsers])
    if len(f.browsers) > 1:
        lines.append(f"  {len(f.browsers)} browsers are open: the lesson needs only the whiteboard's.")
    return lines


def _wifi_text(w: WifiInfo) -> str:
    if w.status is not Status.OK:
        return w.error or w.status.value
    if w.connected is False:
        return w.error or "not connected"  # e.g. "Wi-Fi is turned off."
    parts = [
        quantity(w.signal_dbm, "dBm") if w.signal_dbm is not None else "",
        f"signal {pct(w.signal_pct)}" if w.signal_pct is not None else "",
        f"link {mbps(w.link_rate_mbps)}" if w.link_rate_mbps is not None else "",
        f"{w.frequency_mhz / 1000:.1f} GHz" if w.frequency_mhz else "",
    ]
    text = ", ".join(p for p in parts if p) or "signal not known"
    return text + (f" ({w.error})" if w.error else "")


def _network(f: LocalFindings) -> list[str]:
    default = next((u.name for u in f.interfaces if u.is_default), None)
    kind = KIND_WORDS.get(f.connection_type or "", "not known")
    lines = [f"Connection: {kind}" + (f" via {clean(default)}" if default else "")]
    if f.wifi is not None:
        lines.append(f"Wi-Fi: {_wifi_text(f.wifi)}")
    rows = [
        [
            clean(u.name),
            KIND_WORDS.get(u.kind, u.kind),
            "default" if u.is_default else "",
            f"{mbps(u.down_mbps)} down",
            f"{mbps(u.up_mbps)} up",
            f"link {mbps(u.link_mbps)}" if u.link_mbps else "",
        ]
        for u in f.interfaces
    ]
    return lines + (["Network cards"] + table(rows) if rows else [])


def _system(f: LocalFindings) -> list[str]:
    s = f.system
    if s is None:
        return []
    cores = ", ".join(pct(c) for c in s.cpu_pct_per_core)
    lines = [
        "This computer",
        f"  processor {pct(s.cpu_pct)} busy" + (f" (per core: {cores})" if cores else ""),
        f"  memory {pct(s.memory_used_pct)} in use, {megabytes(s.memory_available_mb)} available",
    ]
    if s.battery_pct is not None:
        lines.append(f"  battery {pct(s.battery_pct)}" + (", on battery" if s.on_battery else ", plugged in"))
    if s.power_saver is not None:
        lines.append(f"  power saver {'on' if s.power_saver else 'off'}")
    if s.busiest:
        lines.append("  busiest: " + ", ".join(f"{_program(p)} {pct(p.cpu_pct)}" for p in s.busiest))
    return lines


def format_local(findings: LocalFindings) -> str:
    """The findings as aligned plain text (names escaped for the terminal)."""
    f = findings
    how = {"sock_diag": "measured", "nettop": "measured", "estimate": "estimated"}.get(f.backend, f.backend)
    head = f"On this computer ({OS_WORDS.get(f.os, f.os)}, programs' traffic {how})"
    if f.status is not Status.OK:
        head += f" — {f.error or f.status.value}"
    lines = [head, ""]
    for block in (_programs(f), _apps(f), _browsers(f), _network(f), _system(f)):
        if block:
            lines += block + [""]
    problems = [
        f"  {name}: {s.error}"
        for name, s in f.sections.items()
        if s.status in (Status.ERROR, Status.TIMEOUT, Status.UNAVAILABLE) and s.error
    ]
    if problems:
        lines += ["Could not tell"] + problems + [""]
    if f.notes:
        lines += ["Notes"] + [f"  {n}" for n in f.notes]
    return "\n".join(lines).rstrip() + "\n"


def run_top(
    out: TextIO,
    *,
    interval_s: float = 2.0,
    iterations: int | None = None,
    cancel: threading.Event | None = None,
    backend: LocalBackend | None = None,
) -> int:
    """``connectcheck top``: the findings every ``interval_s`` seconds until cancelled or Ctrl-C.

    On a terminal the screen is redrawn in place; into a pipe or file each sample is appended
    with its time. ``iterations`` counts samples with rates (None: until stopped). Returns 0, or
    1 when this computer cannot be sampled at all.
    """
    cancel = cancel if cancel is not None else threading.Event()
    tty = hasattr(out, "isatty") and out.isatty()
    try:
        sampler = LocalSampler(interval_s=interval_s, backend=backend, exclude_pids={os.getpid()})
        _show(out, sampler.sample(cancel), tty, "measuring: the rates come in a moment")
        done = 0
        while (iterations is None or done < iterations) and not cancel.is_set():
            end = time.monotonic() + interval_s
            while (left := end - time.monotonic()) > 0 and not cancel.wait(min(STEP_S, left)):
                sampler.step()
            if cancel.is_set():
                break
            _show(out, sampler.sample(cancel), tty, "Ctrl-C to stop")
            done += 1
    except KeyboardInterrupt:
        out.write("\n")
    except BrokenPipeError:
        return 0
    except Exception as exc:  # the sampler could not even start: say so, do not show a traceback
        out.write(f"connectcheck top: this computer could not be sampled ({exc})\n")
        return 1
    return 0


def _show(out: TextIO, findings: LocalFindings, tty: bool, hint: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    text = f"connectcheck top — {stamp} — {hint}\n\n{format_local(findings)}"
    out.write(CLEAR + text if tty else text + "\n")
    out.flush()


# --- a monitored lesson, line by line ------------------------------------------------------------


def count_of(n: int, word: str) -> str:
    """"1 sample", "3 samples"."""
    return f"{n} {word}" + ("" if n == 1 else "s")


def _elapsed(t_s: float) -> str:
    minutes, seconds = divmod(int(t_s), 60)
    return f"+{minutes}:{seconds:02d}"


def sample_line(sample: MonitorSample) -> str:
    """One sample as a line: time, round trip, jitter, loss, traffic, busiest program, states."""
    s = sample
    parts = [f"{clock(s.at, seconds=True)}  {_elapsed(s.t_s):>6}", f"RTT {ms(s.rtt_ms)}",
             f"jitter {ms(s.jitter_ms)}",
             f"loss {pct(s.loss_pct)} (recent {pct(s.window_loss_pct)})"]
    if s.down_mbps is not None:
        parts.append(f"traffic down {mbps(s.down_mbps)} up {mbps(s.up_mbps)}")
    if s.top_program:
        parts.append(f"top {clean(s.top_program)} {mbps(s.top_program_mbps)}")
    parts.append(" ".join(f"{a} {LIGHTS.get(st, st)}" for a, st in s.states.items()))
    line = "  ".join(parts)
    return line + (f"  ({s.error})" if s.error else "")


def alert_line(alert: LessonAlert) -> str:
    tag = "BETTER" if alert.state == "good" else "ALERT "
    return printable(f"{clock(alert.at, seconds=True)}  {_elapsed(alert.t_s):>6}  {tag}  {alert.message}")
