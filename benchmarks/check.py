"""The whole check over emulated home links: how long it takes, what it measures, what it costs.

Run from the repository root, as root (it builds the network lab)::

    python -m benchmarks.check [--links 5/1,10/2,20/5,50/10] [--rtt 30] [--out benchmarks/results/check.md]

For each link (down/up Mbit/s, ``--rtt`` ms round trip, a 100 ms queue as in a bloated home
router) it runs, with the default settings:

* a quick check (latency, jitter, loss, DNS, platform, this computer): wall time;
* a full check with connectcheck's own engine against the organisation-style (LibreSpeed)
  server: wall time, download and upload against the TCP goodput ceiling, latency under load,
  data used;
* a full check with the ``classic`` engine (speedtest-cli's own transfer, against the lab's
  speedtest.net emulation, server found by speedtest-cli as on a tutor's machine): the same.

Results are printed as Markdown and written to ``--out``. Numbers, not pass/fail: the targets
of issue 2 are a full check ≤ 15 s at ≥ 5 Mbit/s, a quick check ≤ 5 s, rates within ±10 % of
the ceiling, data used reported and bounded by the cap.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.lab.netlab import LinkSpec, NetLab, lab_available
from tests.lab.services import start_services

from connectcheck.check import CheckOptions, run_check
from connectcheck.config.settings import Settings
from connectcheck.core.model import CheckKind, CheckResult


@dataclass
class Run:
    label: str
    spec: LinkSpec
    wall_s: float
    result: CheckResult

    def rate(self, direction: str) -> tuple[float | None, float | None]:
        value = getattr(self.result.summary, f"{direction}_mbps")
        ceiling = self.spec.goodput_ceiling_mbps(direction)
        if value is None or not ceiling:
            return value, None
        return value, 100.0 * (value - ceiling) / ceiling


def options(kind: CheckKind, services, engine: str = "auto") -> CheckOptions:
    o = CheckOptions.from_settings(Settings(), None, kind)
    o.stun_servers = [services.stun]
    o.platform_urls = [services.platform_url]
    o.ca_file = o.speed.ca_file = services.ca_file
    o.speed.cache_hours = 0  # every run searches, as the first check of the day does
    if engine == "classic":
        o.speed.engine, o.speed.source = "classic", "speedtest"
        o.speed.speedtest_base_url = services.speed_url.rstrip("/")
    else:
        o.speed.source, o.speed.server_url = "org", services.speed_url
    return o


def timed(label: str, spec: LinkSpec, o: CheckOptions) -> Run:
    started = time.monotonic()
    result = run_check(o)
    return Run(label, spec, time.monotonic() - started, result)


def fmt(value: float | None, unit: str = "", digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}{unit}"


def table(runs: list[Run]) -> str:
    head = ("| link (down/up, RTT) | check | wall time | download (err vs ceiling) | upload (err) "
            "| idle RTT | added under load (down/up) | data used | sections not ok |")
    lines = [head, "|" + "---|" * 9]
    for r in runs:
        s = r.result.summary
        down, derr = r.rate("download")
        up, uerr = r.rate("upload")
        loaded = [b.loaded.rtt_increase_ms if b.loaded else None for b in r.result.bandwidth]
        bad = [f"{k}: {v.status.value}" for k, v in r.result.sections.items()
               if v.status.value not in ("ok", "skipped")]
        lines.append(
            f"| {r.spec.down_mbit:g}/{r.spec.up_mbit:g} Mbit/s, {r.spec.rtt_ms:g} ms | {r.label} "
            f"| {r.wall_s:.1f} s | {fmt(down, ' Mbit/s', 2)} ({fmt(derr, ' %')}) | {fmt(up, ' Mbit/s', 2)} "
            f"({fmt(uerr, ' %')}) | {fmt(s.rtt_ms, ' ms')} | "
            f"{' / '.join(fmt(x, ' ms', 0) for x in loaded) or '–'} | {r.result.bytes_used / 1e6:.1f} MB "
            f"| {', '.join(bad) or '–'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--links", default="5/1,10/2,20/5,50/10")
    parser.add_argument("--rtt", type=float, default=30.0)
    parser.add_argument("--no-classic", action="store_true", help="skip speedtest-cli's engine")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/check.md"))
    args = parser.parse_args(argv)
    ok, why = lab_available(delay=True)
    if not ok:
        print(f"cannot build the lab: {why}", file=sys.stderr)
        return 2
    runs: list[Run] = []
    for link in args.links.split(","):
        down, up = (float(x) for x in link.split("/"))
        spec = LinkSpec(down_mbit=down, up_mbit=up, rtt_ms=args.rtt, queue_ms=100, seed=1)
        with tempfile.TemporaryDirectory() as folder, NetLab(spec) as lab:
            services = start_services(lab, Path(folder))
            runs.append(timed("quick", spec, options(CheckKind.QUICK, services)))
            runs.append(timed("full", spec, options(CheckKind.FULL, services)))
            if not args.no_classic:
                runs.append(timed("full, classic", spec, options(CheckKind.FULL, services, "classic")))
            for r in runs[-3:]:
                print(table([r]).splitlines()[-1], flush=True)
    text = (f"# The whole check over emulated links\n\nLoad average before/after: see the run. Machine: "
            f"{os.cpu_count()} cores. Default settings (full check: "
            f"{Settings()['speed.time_limit_s']:g} s cap per direction, "
            f"{Settings()['speed.data_limit_mb']:g} MB data cap; quick: "
            f"{Settings()['latency.probes']} probes per target).\n\n{table(runs)}\n\n"
            f"Load average after the run: {os.getloadavg()[0]:.2f}\n")
    print()
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
