"""A check result as aligned plain text for the terminal, units on every number."""

from __future__ import annotations

from datetime import datetime

from connectcheck.model import BandwidthResult, CheckResult, Connectivity, Status

_CONNECTIVITY = {
    Connectivity.ONLINE: "online",
    Connectivity.LIMITED: "partly reachable",
    Connectivity.OFFLINE: "NO CONNECTION",
    Connectivity.UNKNOWN: "unknown (the check did not get far enough)",
}


def ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f} ms" if value >= 100 else f"{value:.1f} ms"


def mbps(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f} Mbit/s" if value >= 1 else f"{value:.2f} Mbit/s"


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} %"


def megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.0f} kB"


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        cells = [c.ljust(w) if i == 0 else c.rjust(w)
                 for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        out.append((indent + "  ".join(cells)).rstrip())
    return out


def _when(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).strftime("%d %b %Y %H:%M %Z").strip()
    except ValueError:
        return iso


def _bandwidth_line(b: BandwidthResult) -> list[str]:
    if b.status is not Status.OK:
        return [b.direction, "failed", b.error or b.status.value, "", ""]
    loaded = ""
    if b.loaded and b.loaded.rtt_ms_median is not None:
        loaded = f"{ms(b.loaded.rtt_ms_median)} under load"
        if b.loaded.rtt_increase_ms is not None:
            loaded += f" (+{ms(b.loaded.rtt_increase_ms)}, {b.loaded.rpm:.0f} RPM)"
    return [b.direction, mbps(b.rate_mbps), loaded, f"{b.duration_s:.1f} s", megabytes(b.bytes_transferred)]


def format_check(result: CheckResult) -> str:
    r = result
    s = r.summary
    lines = [
        f"connectcheck {r.kind.value} check — {_when(r.started_at)} (took {r.duration_s:.1f} s)",
        f"Connection: {_CONNECTIVITY[r.connectivity]}"
        + ("   [check cancelled]" if r.status is Status.CANCELLED else ""),
        "",
        "Headline",
    ]
    lines += _table([
        ["round trip (idle)", ms(s.rtt_ms), f"via {s.latency_target}" if s.latency_target else ""],
        ["jitter", ms(s.jitter_ms), ""],
        ["packet loss", pct(s.loss_pct), ""],
        ["download", mbps(s.download_mbps), ""],
        ["upload", mbps(s.upload_mbps), ""],
        ["added delay under load", ms(s.rtt_increase_ms), f"{s.rpm:.0f} RPM" if s.rpm else ""],
        ["name lookup (DNS)", ms(s.dns_ms), ""],
    ])
    if r.latency:
        lines += ["", "Latency"]
        rows = [["target", "method", "median", "p90", "jitter", "loss", "answered"]]
        for x in r.latency:
            rows.append([x.target, x.method.upper(), ms(x.rtt_ms_median), ms(x.rtt_ms_p90), ms(x.jitter_ms),
                         pct(x.loss_pct), f"{x.samples}/{x.samples_sent}"])
        lines += _table(rows)
        lines += [f"  {x.target} ({x.method}): {x.error}" for x in r.latency
                  if x.error and x.status is not Status.OK]
    if r.dns:
        lines += ["", "Name lookups"]
        lines += _table([[d.host, ms(d.dns_ms) if d.status is Status.OK else (d.error or d.status.value)]
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
        lines += _table([_bandwidth_line(b) for b in r.bandwidth])
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
    lines += ["", f"Data used: {megabytes(r.bytes_used)}"]
    return printable("\n".join(lines))


def format_check_full(result: CheckResult) -> str:
    """A check as ``connectcheck check`` prints it: the numbers, this computer, the verdicts."""
    from connectcheck.assess import format_assessment
    from connectcheck.local import format_local

    text = format_check(result) + "\n"
    if result.local is not None:
        text += "\n" + format_local(result.local) + "\n"
    if result.assessment is not None:
        text += "\n" + printable(format_assessment(result.assessment)) + "\n"
    return text


def printable(text: str) -> str:
    """Replace control characters (a server's text could carry terminal escape sequences)."""
    return "".join(c if c == "\n" or c.isprintable() else "\ufffd" for c in text)
