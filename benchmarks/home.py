"""Issue 14's targets, measured in the home lab (tests/lab/homelab.py). Run as root from the
repository root::

    python -m benchmarks.home [--out benchmarks/results/home.md] [--parts hop,router,time,matrix]

* hop: the first hop's round trip, jitter and loss (ICMP and DNS) against what the Wi-Fi segment
  is configured to (600 probes 20 ms apart, as tests/lab/test_home.py);
* router: other devices' rate from the router's IGD counters against what the second device's
  card really moved over the same time;
* time: a full and a quick check with the home evidence on and off (3 runs each);
* matrix: the cause the report gives for each fault of tests/lab/matrix.py;
* lesson: a monitored lesson (`connectcheck monitor`) with each fault of tests/lab/matrix.py's
  LESSON_FAULTS starting midway, and the cause `connectcheck report export` gives;
* lesson_router: other devices' rate in a monitored lesson (the router's counters read once a
  sample) against what the second device's card really moved while it downloaded.

Numbers, not pass/fail; the load of the machine is printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.lab.homelab import GW_WAN_IF, HomeLab, WifiSpec
from tests.lab.matrix import FAULTS, LESSON_FAULTS, run_fault, run_lesson
from tests.lab.netlab import LinkSpec
from tests.lab.services import start_services

HOP = """
import json, threading
from connectcheck.probes.firsthop import measure_first_hop
from connectcheck.core.model import to_dict
hop = measure_first_hop("10.77.3.1", count=600, interval_s=0.02, time_limit_s=30, cancel=threading.Event(),
                        icmp_allowed={icmp})
print(json.dumps(to_dict(hop)))
"""
ROUTER = """
import json, threading
from connectcheck.probes.igd import measure_router
from connectcheck.core.model import to_dict
print(json.dumps(to_dict(measure_router(gateway="10.77.3.1", cancel=threading.Event(), window_s=3.0))))
"""
WIFI = [WifiSpec(), WifiSpec(rtt_ms=10, jitter_ms=2), WifiSpec(rtt_ms=20, jitter_ms=5, loss_pct=3),
        WifiSpec(rtt_ms=40, jitter_ms=10, loss_pct=5)]


def load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def hop_part(lines: list[str]) -> None:
    lines += ["## First hop against the Wi-Fi segment (600 probes, 20 ms apart)", "",
              "| Wi-Fi rtt / jitter / loss | method | expected RTT | median | jitter | loss | load |",
              "|---|---|---|---|---|---|---|"]
    for wifi in WIFI:
        with HomeLab(LinkSpec(rtt_ms=20), wifi, ping_allowed=True) as lab:
            lab.spawn([sys.executable, "-m", "tests.lab.gateway", "--host", lab.gateway_ip], ns="gateway")
            time.sleep(0.5)
            for icmp in ("True", "False"):
                hop = json.loads(lab.pc_python(HOP.format(icmp=icmp)))
                x = hop["idle"]
                spec = f"{wifi.rtt_ms:g} / {wifi.jitter_ms:g} / {wifi.loss_pct:g} %"
                lines.append(f"| {spec} | {hop['method']} | {wifi.expected_rtt_ms():.2f} | "
                             f"{x['rtt_ms_median']:.2f} | {x['jitter_ms']:.2f} | {x['loss_pct']:.2f} % | "
                             f"{load()} |")
                print(lines[-1], flush=True)
    lines.append("")


def router_part(lines: list[str]) -> None:
    lines += ["## Other devices' rate from the router's counters", "",
              "Router: the lab IGD as a plain UPnP router (GetTotalBytes*) and as a FRITZ!Box "
              "(GetAddonInfos, 64-bit counters; its 32-bit ones go round during the reading).", "",
              "| router | line down | second device really moved | router says (household) | difference "
              "| load |",
              "|---|---|---|---|---|---|"]
    for variant, down in [(v, d) for v in ("honest", "fritz") for d in (8.0, 20.0, 50.0)]:
        with HomeLab(LinkSpec(down_mbit=down, up_mbit=5)) as lab:
            lab.spawn([sys.executable, "-m", "tests.lab.igd_server", "--host", lab.gateway_ip, "--wan",
                       GW_WAN_IF, "--variant", variant, "--line-down-mbit", str(down), "--line-up-mbit", "5"],
                      ns="gateway")
            lab.spawn([sys.executable, "-m", "tests.lab.tcp_reference", "serve"])
            lab.wait_port(5201)
            bulk = lab.spawn([sys.executable, "-m", "tests.lab.tcp_reference", "run", "--host", lab.server_ip,
                              "--direction", "download", "--streams", "4", "--duration", "12"], ns="device")
            time.sleep(3)
            t0, b0 = time.monotonic(), lab.device_bytes()[0]
            router = json.loads(lab.pc_python(ROUTER))
            t1, b1 = time.monotonic(), lab.device_bytes()[0]
            bulk.wait(30)
        truth = (b1 - b0) * 8 / (t1 - t0) / 1e6
        said = router["down_mbps"]
        name = "FRITZ!Box-style" if variant == "fritz" else "plain UPnP"
        lines.append(f"| {name} | {down:g} Mbit/s | {truth:.2f} Mbit/s | {said:.2f} Mbit/s | "
                     f"{(said - truth) / truth * 100:+.1f} % | {load()} |")
        print(lines[-1], flush=True)
    lines.append("")


def _check(lab: HomeLab, args: list[str], quick: bool, evidence: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "CONNECTCHECK_HOME_ROUTER"}
    if not evidence:
        env["CONNECTCHECK_HOME_ROUTER"] = "off"
    argv = [sys.executable, "-m", "connectcheck", "check", "--json", *(["--quick"] if quick else []), *args]
    proc = lab.spawn(argv, ns="pc", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, _ = proc.communicate(timeout=120)
    return json.loads(out)


def time_part(lines: list[str]) -> None:
    lines += ["## What the home evidence costs a check (3 runs each, clean 20/5 Mbit/s line)", "",
              "| check | evidence off: duration | evidence on: duration | difference | load |",
              "|---|---|---|---|---|"]
    clean = LinkSpec(down_mbit=20, up_mbit=5, rtt_ms=20, queue_ms=15)
    with tempfile.TemporaryDirectory() as folder, HomeLab(clean) as lab:
        lab.spawn([sys.executable, "-m", "tests.lab.gateway", "--host", lab.gateway_ip, "--http-port", "80"],
                  ns="gateway")
        lab.spawn([sys.executable, "-m", "tests.lab.igd_server", "--host", lab.gateway_ip, "--wan",
                   GW_WAN_IF], ns="gateway")
        services = start_services(lab, Path(folder))
        for quick in (True, False):
            off = [_check(lab, services.check_args(), quick, False)["duration_s"] for _ in range(3)]
            on = [_check(lab, services.check_args(), quick, True)["duration_s"] for _ in range(3)]
            lines.append(f"| {'quick' if quick else 'full'} | {', '.join(f'{x:.2f}' for x in off)} s | "
                         f"{', '.join(f'{x:.2f}' for x in on)} s | "
                         f"{statistics.median(on) - statistics.median(off):+.2f} s (medians) | {load()} |")
            print(lines[-1], flush=True)
    lines.append("")


def matrix_part(lines: list[str]) -> None:
    lines += ["## The matrix: the report's likely cause (connectcheck check --json --report)", "",
              "| fault | truth | report says | link | check took | load |", "|---|---|---|---|---|---|"]
    right = 0
    for fault in FAULTS:
        with tempfile.TemporaryDirectory() as folder:
            o = run_fault(fault, Path(folder))
        right += o.cause == fault.expected and o.broken == fault.expected_link
        lines.append(f"| {fault.name} | {fault.expected} | {o.cause} | {o.broken or '–'} | "
                     f"{o.duration_s:.1f} s | {load()} |")
        print(lines[-1], flush=True)
    lines += ["", f"Right: {right} of {len(FAULTS)}.", ""]


def lesson_part(lines: list[str]) -> None:
    lines += ["## Monitored lessons, the fault starting 20 s in (connectcheck monitor, report export)", "",
              "| fault | truth | report says | link | samples | load |", "|---|---|---|---|---|---|"]
    right = 0
    for fault in LESSON_FAULTS:
        with tempfile.TemporaryDirectory() as folder:
            o = run_lesson(fault, Path(folder))
        right += o.cause == fault.expected and o.broken == fault.expected_link
        lines.append(f"| {fault.name} | {fault.expected} / {fault.expected_link} | {o.cause} | "
                     f"{o.broken or '–'} | {len(o.samples)} | {load()} |")
        print(lines[-1], flush=True)
    lines += ["", f"Right: {right} of {len(LESSON_FAULTS)}.", ""]


def lesson_router_part(lines: list[str]) -> None:
    lines += ["## Other devices' rate in a monitored lesson (router counters once a sample, 2 s apart)", "",
              "| line down | second device really moved | samples say (median) | difference | samples "
              "| load |", "|---|---|---|---|---|---|"]
    env = {k: v for k, v in os.environ.items() if k != "CONNECTCHECK_HOME_ROUTER"}
    gw = "10.77.3.1"
    for down in (8.0, 20.0):
        with tempfile.TemporaryDirectory() as folder, HomeLab(LinkSpec(down_mbit=down, up_mbit=5)) as lab:
            lab.spawn([sys.executable, "-m", "tests.lab.gateway", "--host", gw, "--http-port", "80"],
                      ns="gateway")
            lab.spawn([sys.executable, "-m", "tests.lab.igd_server", "--host", gw, "--wan", GW_WAN_IF,
                       "--line-down-mbit", str(down), "--line-up-mbit", "5"], ns="gateway")
            services = start_services(lab, Path(folder))
            lab.spawn([sys.executable, "-m", "tests.lab.tcp_reference", "serve"])
            lab.wait_port(5201)
            argv = [sys.executable, "-m", "connectcheck", "monitor", "--json", "--minutes", "0.75", "--stun",
                    services.stun, "--platform", services.platform_url, "--set", "monitor.interval_s=2"]
            spawned = time.monotonic()
            monitor = lab.spawn(argv, ns="pc", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
            time.sleep(6)
            bulk = lab.spawn([sys.executable, "-m", "tests.lab.tcp_reference", "run", "--host", lab.server_ip,
                              "--direction", "download", "--streams", "4", "--duration", "30"], ns="device")
            time.sleep(4)  # the transfer at full rate
            t0, b0 = time.monotonic(), lab.device_bytes()[0]
            time.sleep(20)
            t1, b1 = time.monotonic(), lab.device_bytes()[0]
            bulk.wait(60)
            out, _ = monitor.communicate(timeout=120)
        samples = [x for x in map(json.loads, out.splitlines()) if x.get("type") == "sample"]
        # lesson time runs from about when the monitor was started; each sample's counters cover
        # the 2 s before it, so the window starts 2 s late
        inside = [x["others_mbps"] for x in samples if x.get("others_mbps") is not None
                  and t0 - spawned + 2 <= x["t_s"] <= t1 - spawned]
        truth = (b1 - b0) * 8 / (t1 - t0) / 1e6
        said = statistics.median(inside) if inside else float("nan")
        lines.append(f"| {down:g} Mbit/s | {truth:.2f} Mbit/s | {said:.2f} Mbit/s | "
                     f"{(said - truth) / truth * 100:+.1f} % | {len(inside)} | {load()} |")
        print(lines[-1], flush=True)
    lines.append("")


PARTS = {"hop": hop_part, "router": router_part, "time": time_part, "matrix": matrix_part,
         "lesson": lesson_part, "lesson_router": lesson_router_part}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/home.md")
    parser.add_argument("--parts", default=",".join(PARTS))
    args = parser.parse_args(argv)
    lines = ["# Home evidence (issue 14)", "", f"Measured {time.strftime('%Y-%m-%d %H:%M')}, "
             f"{os.cpu_count()} cores, load at start {load()}.", ""]
    for part in args.parts.split(","):
        PARTS[part](lines)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
