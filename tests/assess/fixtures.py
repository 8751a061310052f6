"""Realistic check results for the assess tests: what a tutor's computer and line give."""

from __future__ import annotations

from connectcheck.core.model import (
    BrowserUsage,
    CheckKind,
    CheckResult,
    Connectivity,
    LocalFindings,
    ProcessUsage,
    ReachabilityResult,
    Summary,
    SystemLoad,
    WifiInfo,
)


def good_summary(**changes) -> Summary:
    """A healthy home line: 38/9 Mbit/s, 24 ms, little jitter, no loss, mild bufferbloat."""
    values = dict(rtt_ms=24.0, jitter_ms=2.1, loss_pct=0.0, download_mbps=38.0, upload_mbps=9.2,
                  rtt_increase_ms=12.0, platform_reachable=True, udp_ok=True, dns_ms=18.0)
    values.update(changes)
    return Summary(**values)


def check(kind=CheckKind.FULL, connectivity=Connectivity.ONLINE, local=None, reach=(),
          **summary) -> CheckResult:
    r = CheckResult(kind=kind, started_at="2024-10-24T16:05:00+01:00", connectivity=connectivity,
                    summary=good_summary(**summary), local=local)
    r.reachability = [ReachabilityResult(url=u, reachable=ok) for u, ok in reach]
    return r


def quick_check(**summary) -> CheckResult:
    values = dict(download_mbps=None, upload_mbps=None, rtt_increase_ms=None)
    values.update(summary)
    return check(kind=CheckKind.QUICK, **values)


def offline_check() -> CheckResult:
    empty = {k: None for k in ("rtt_ms", "jitter_ms", "loss_pct", "download_mbps", "upload_mbps",
                               "rtt_increase_ms", "dns_ms")}
    return check(connectivity=Connectivity.OFFLINE, platform_reachable=False, udp_ok=False,
                 reach=[("https://westcountrysen.com/", False), ("https://bitpaper.io/", False)], **empty)


def program(app, category, down=None, up=None, source="measured", name=None, pid=None, advice_key=None):
    return ProcessUsage(name=name or app.lower(), pid=pid, app=app, category=category, advice_key=advice_key,
                        down_mbps=down, up_mbps=up, rate_source=source if down is not None or up is not None
                        else "none")


def local(processes=(), hungry=(), browsers=(), wifi=None, cpu=20.0, memory=55.0, connection="ethernet",
          unattributed=(0.1, 0.05)) -> LocalFindings:
    return LocalFindings(os="linux", backend="sock_diag", window_s=3.0, connection_type=connection,
                         processes=list(processes), hungry_apps=list(hungry), browsers=list(browsers),
                         unattributed_down_mbps=unattributed[0], unattributed_up_mbps=unattributed[1],
                         wifi=wifi, system=SystemLoad(cpu_pct=cpu, memory_used_pct=memory))


def browser(app, processes=6, content=4, down=None, up=None) -> BrowserUsage:
    return BrowserUsage(app=app, processes=processes, content_processes=content, down_mbps=down, up_mbps=up)


def weak_wifi() -> WifiInfo:
    return WifiInfo(interface="wlan0", signal_dbm=-78.0, signal_pct=30.0, link_rate_mbps=12.0)
