"""The command line: ``connectcheck check`` and the other headless subcommands."""

from __future__ import annotations

import argparse
import sys
import threading
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from connectcheck import __version__, model
from connectcheck.model import CheckKind, Status
from connectcheck.policy.profile import OrganisationProfile, ProfileError, load_profile
from connectcheck.probes.base import Progress
from connectcheck.settings import OPTIONS, Settings, load_settings, validate_value
from connectcheck.textsummary import printable

EXIT_OK = 0
EXIT_USAGE = 2  # the command line was wrong
EXIT_CANCELLED = 130  # interrupted by the user (Ctrl-C)


class UsageError(Exception):
    """A command-line value that cannot be used; the message says why."""


def _parse_override(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or key not in OPTIONS:
        raise UsageError(f"--set {text!r}: expected KEY=VALUE with a known key (e.g. latency.probes=200)")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # a bare word is taken as text
    return key, value


def _apply(settings: Settings, key: str, value: Any, flag: str) -> None:
    converted, problem = validate_value(OPTIONS[key], value)
    if problem:
        raise UsageError(f"{flag}: {problem}")
    settings.values[key] = converted


def build_settings(args: argparse.Namespace, err: TextIO) -> Settings:
    """Settings from the file (problems reported, never fatal) with command-line overrides."""
    settings = load_settings(Path(args.config) if args.config else None)
    if args.config and not Path(args.config).exists():
        raise UsageError(f"--config: there is no file {args.config}")
    if settings.problems:
        print(settings.problems_text(), file=err)
    for text in args.set or []:
        key, value = _parse_override(text)
        _apply(settings, key, value, f"--set {key}")
    if args.stun:
        _apply(settings, "network.stun_servers", args.stun, "--stun")
    if args.platform:
        _apply(settings, "network.platform_urls", args.platform, "--platform")
    if args.engine:
        _apply(settings, "speed.engine", args.engine, "--engine")
    if args.source:
        _apply(settings, "speed.source", args.source, "--source")
    if args.speed_server:
        _apply(settings, "speed.server_url", args.speed_server, "--speed-server")
    return settings


def _profile(settings: Settings, err: TextIO) -> OrganisationProfile | None:
    try:
        return load_profile(settings["organisation.profile"])
    except ProfileError as exc:
        print(f"connectcheck: {exc}; carrying on without it", file=err)
        return None


class _ProgressLine:
    """One self-updating progress line on a terminal; silent when stderr is not a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.lock = threading.Lock()

    def __call__(self, p: Progress) -> None:
        if not self.enabled:
            return
        with self.lock:
            bar = "#" * int(p.fraction * 20)
            self.stream.write(f"\r[{bar:<20}] {p.fraction * 100:3.0f}%  {p.message[:50]:<50}")
            self.stream.flush()

    def clear(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 80 + "\r")
            self.stream.flush()


def cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from connectcheck import lastcheck
    from connectcheck.assess import format_assessment
    from connectcheck.check import CheckOptions, run_check
    from connectcheck.local import format_local
    from connectcheck.textsummary import format_check

    settings = build_settings(args, err)
    kind = CheckKind.QUICK if args.quick else CheckKind.FULL
    options = CheckOptions.from_settings(settings, _profile(settings, err), kind)
    if options.thresholds is not None and options.thresholds.notes:
        print("\n".join(options.thresholds.notes), file=err)
    previous = lastcheck.load_recent()
    if args.ca_file:
        if not Path(args.ca_file).is_file():
            raise UsageError(f"--ca-file: there is no file {args.ca_file}")
        options.ca_file = options.speed.ca_file = args.ca_file
    cancel = threading.Event()
    line = _ProgressLine(err)
    box: dict[str, Any] = {}
    finished = threading.Event()  # not Thread.join: an interrupted join can wrongly report the thread ended

    def work() -> None:
        try:
            box["result"] = run_check(options, cancel=cancel, progress=line, previous=previous)
        finally:
            finished.set()

    threading.Thread(target=work, name="check", daemon=True).start()
    try:
        while not finished.wait(0.2):
            pass
    except KeyboardInterrupt:
        cancel.set()
        line.clear()
        print("Cancelling…", file=err)
        finished.wait(5.0)
    line.clear()
    result = box.get("result")
    if result is None:
        print("connectcheck: the check did not stop in time after cancelling", file=err)
        return EXIT_CANCELLED
    if args.json:
        out.write(model.dumps(result) + "\n")
    else:
        out.write(format_check(result) + "\n")
        if result.local is not None:
            out.write("\n" + format_local(result.local) + "\n")
        if result.assessment is not None:
            out.write("\n" + printable(format_assessment(result.assessment)) + "\n")
    if result.status is Status.OK:
        try:
            lastcheck.save_last(result)
        except OSError as exc:
            print(f"connectcheck: could not keep this check for the next comparison: {exc}", file=err)
    if result.status is Status.CANCELLED:
        return EXIT_CANCELLED
    return EXIT_OK


def cmd_top(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from connectcheck.local import run_top

    return run_top(out, interval_s=args.interval, iterations=args.count)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="connectcheck",
        description="Checks whether this connection is good enough for an online lesson.",
    )
    parser.add_argument("--version", action="version", version=f"connectcheck {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = sub.add_parser("check", help="measure the connection now and print the result",
                           description="Measure latency, jitter, loss, DNS, the lesson platform and "
                                       "(unless --quick) download, upload and latency under load.")
    check.add_argument("--quick", action="store_true",
                       help="latency, jitter, loss, DNS and the platform only (a few seconds; no speed test)")
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    check.add_argument("--engine", choices=("auto", "classic"),
                       help="auto: connectcheck's own engine; classic: speedtest-cli's own transfer")
    check.add_argument("--source", choices=("auto", "speedtest", "org", "cloudflare"),
                       help="where the speed server comes from (or the protocol of --speed-server)")
    check.add_argument("--speed-server", metavar="URL", help="use this speed server instead of searching")
    check.add_argument("--stun", metavar="HOST:PORT", action="append",
                       help="STUN server for latency over UDP (repeat for several; replaces the settings)")
    check.add_argument("--platform", metavar="URL", action="append",
                       help="lesson platform address to check (https://, wss://, stun:host:port; repeatable)")
    check.add_argument("--config", metavar="FILE", help="read settings from this file")
    check.add_argument("--set", metavar="KEY=VALUE", action="append",
                       help="override one setting for this run, e.g. --set latency.probes=200")
    check.add_argument("--ca-file", metavar="FILE",
                       help="also trust the certificate authority in this PEM file (private servers)")
    check.set_defaults(func=cmd_check)

    top = sub.add_parser("top", help="show live which programs use the connection (Ctrl-C to stop)",
                         description="Which programs on this computer use the connection, refreshed live, "
                                     "with the Wi-Fi signal and the load of the computer.")
    top.add_argument("--interval", type=float, default=2.0, metavar="SECONDS",
                     help="seconds between two refreshes (default 2)")
    top.add_argument("--count", type=int, metavar="N", help="stop after N refreshes")
    top.set_defaults(func=cmd_top)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(out)
        return EXIT_OK
    try:
        return args.func(args, out, err)
    except UsageError as exc:
        print(f"connectcheck: {exc}", file=err)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
