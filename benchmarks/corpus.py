"""How many of the real outputs in ``tests/local/corpus`` the parsers read as a person reads them.

Run from the repository root::

    python -m benchmarks.corpus [--before REV] [--out FILE.md]

Every sample of ``tests/local/corpus/INDEX.toml`` is parsed by the lowest-level parser of its command
(``parse_netsh``, ``parse_system_profiler``, ``parse_iw_link``, nmcli's field splitter, ``parse_nettop``,
``parse_pmset``, ``parse_route_print``, ``parse_powercfg``) and what it reads is compared, field by
field, with the sample's ``reads`` (what a person reads from the output). Three counts:

1. The real outputs (origin "captured" or "kept"), each decoded from its bytes as ``run_command``
   decodes them, read by today's parsers and, with ``--before REV``, by the parsers of that commit
   (the code before issue 15: ``3d6ff4e``), given the same text.
2. The same outputs in the code page netsh writes when piped (the "derived" samples): today
   ``decode_output`` with the OEM code page, before ``text=True``, which decoded with the ANSI
   code page (cp1252 on a Western Windows, cp936 Chinese, cp932 Japanese).
3. Issue 15's nettop interval: two real-shaped readings with a time column, 1,000 B in and 500 B out
   moved between them; what ``NettopMeter`` books.

For the Wi-Fi parsers the fields compared are the ones connectcheck keeps: state, interface, SSID,
signal %, RSSI (dBm), one link rate (transmit, else receive) and the frequency (from channel and
band). The receive rate, when a transmit rate is there, is not kept and not compared.

The parsers of an older commit are run in a child Python with that commit's ``src`` (``git archive``)
first on its path; only texts go in and readings come out, as JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "local" / "corpus"
REAL = ("captured", "kept")
WIFI_COMMANDS = ("netsh wlan show interfaces", "system_profiler SPAirPortDataType -json", "iw dev IFACE link")
WIFI_FIELDS = ("interface", "ssid", "signal_pct", "rssi_dbm", "link_rate_mbps", "frequency_mhz")
# What Python's text=True decoded netsh's output with: the ANSI code page of that Windows.
ANSI = {"cp850": "cp1252", "cp936": "cp936", "cp932": "cp932"}
# Issue 15's interval: the two readings of the corpus, the pid and what moved between them.
INTERVAL = (
    "nettop/time-column_portly.txt",
    "nettop/time-column_portly_second-reading.derived.txt",
    20859,
    (1_000, 500),
)


def load_index() -> list[dict]:
    return tomllib.loads((CORPUS / "INDEX.toml").read_text(encoding="utf-8"))["sample"]


# --- the child: readings of texts by whatever connectcheck is first on sys.path ---------------------------


def _wifi_reading(info: object, wifi: object) -> dict:
    if info is None:
        return {"state": "no wifi"}
    status, error = info.status.name, info.error or ""
    if status == "UNAVAILABLE" and "Location" in error:
        state = "refused"
    elif status == "ERROR" and error == getattr(wifi, "NETSH_NOT_UNDERSTOOD", object()):
        state = "not understood"
    elif status != "OK":
        state = f"error: {error}"
    elif info.connected is False:
        state = "off" if error == getattr(wifi, "WIFI_OFF", object()) else "not connected"
    elif info.connected is True:
        state = "connected"
    else:
        state = "connection not known"
    reading = {"state": state}
    reading.update({f: getattr(info, f) for f in WIFI_FIELDS if f != "rssi_dbm"})
    reading["rssi_dbm"] = info.signal_dbm
    return reading


def read_texts(jobs: list[dict]) -> list[object]:
    """Each job ({"command", "text"}) read by the parser of its command."""
    from connectcheck.local import macos, wifi, windows

    readings: list[object] = []
    for job in jobs:
        command, text = job["command"], job["text"]
        if command == "netsh wlan show interfaces":
            readings.append(_wifi_reading(wifi.parse_netsh(text), wifi))
        elif command.startswith("system_profiler"):
            readings.append(_wifi_reading(wifi.parse_system_profiler(text), wifi))
        elif command.startswith("iw "):
            readings.append(_wifi_reading(wifi.parse_iw_link(text, "wlp1s0"), wifi))
        elif command.startswith("nmcli"):
            readings.append([wifi._nmcli_fields(line) for line in text.splitlines() if line.strip()])
        elif command.startswith("nettop"):
            readings.append([[r.name, r.pid, r.bytes_in, r.bytes_out] for r in macos.parse_nettop(text)])
        elif command == "pmset -g":
            readings.append(macos.parse_pmset(text))
        elif command.startswith("route print"):
            readings.append(windows.parse_route_print(text))
        elif command.startswith("powercfg"):
            readings.append(windows.parse_powercfg(text))
        else:
            raise ValueError(f"no parser for {command!r}")
    return readings


def meter_interval(first: str, second: str) -> dict[str, list[int]]:
    """What NettopMeter books between two readings: pid → [down, up]."""
    from connectcheck.local.commands import CommandResult
    from connectcheck.local.macos import NettopMeter

    texts = [first, second]

    def run(argv: list[str], **_: object) -> CommandResult:
        return CommandResult(list(argv), texts.pop(0) if len(texts) > 1 else texts[0], "", 0)

    meter = NettopMeter(run)
    meter.read()
    return {str(pid): [f.down_bytes, f.up_bytes] for pid, f in meter.read().items()}


def child_main(src: str) -> None:
    sys.path.insert(0, src)
    import connectcheck

    if not Path(connectcheck.__file__).resolve().is_relative_to(Path(src).resolve()):
        raise SystemExit(f"connectcheck was imported from {connectcheck.__file__}, not from {src}")
    request = json.load(sys.stdin)
    json.dump(
        {"readings": read_texts(request["jobs"]), "interval": meter_interval(*request["interval"])},
        sys.stdout,
    )


# --- the parent: texts, expectations, comparison ---------------------------------------------------------


def expected(sample: dict, by_file: dict[str, dict]) -> dict:
    return sample["reads"] if "reads" in sample else by_file[sample["derived_from"]]["reads"]


def differences(sample: dict, reads: dict, reading: object) -> list[str]:
    """The fields read otherwise than a person reads them ([] when all are right)."""
    command = sample["command"]
    wrong: list[str] = []

    def compare(field: str, want: object, got: object) -> None:
        if want == got:
            return
        if isinstance(want, list) and isinstance(got, list) and len(want) == len(got) and want:
            bad = [(w, g) for w, g in zip(want, got, strict=True) if w != g]
            wrong.append(f"{field}: {len(bad)} of {len(want)} wrong, e.g. {bad[0][1]!r}, not {bad[0][0]!r}")
        else:
            wrong.append(f"{field}: {got!r}, not {want!r}")

    if command in WIFI_COMMANDS:
        assert isinstance(reading, dict)
        compare("state", reads["state"], reading["state"])
        if reads["state"] in ("not connected", "off"):
            compare("interface", reads.get("interface"), reading.get("interface"))
        elif reads["state"] == "connected" and reading["state"] == "connected":
            want = dict(reads, link_rate_mbps=reads.get("tx_mbps", reads.get("rx_mbps")))
            for field in WIFI_FIELDS:
                compare(field, want.get(field), reading.get(field))
    elif command.startswith("nmcli"):
        ssid_at, in_use_at = (2, 0) if command.startswith("nmcli -t") else (1, 15)
        compare("ssids", reads["ssids"], [r[ssid_at] for r in reading])
        compare("in use", [reads["in_use"]], [r for r in reading if r[in_use_at] == "*"])
    elif command.startswith("nettop"):
        want = [[r["name"], r["pid"], r["bytes_in"], r["bytes_out"]] for r in reads["rows"]]
        compare("rows", want, reading)
    elif command == "pmset -g":
        compare("low_power", {True: True, False: False, "not known": None}[reads["low_power"]], reading)
    elif command.startswith("route print"):
        compare("defaults", reads["defaults"], reading)
    elif command.startswith("powercfg"):
        compare("power_saver_plan", reads["power_saver_plan"], reading)
    return wrong


def decoded_now(sample: dict) -> str:
    from connectcheck.local.commands import decode_output

    return decode_output((CORPUS / sample["file"]).read_bytes(), sample["encoding"])


def decoded_before(sample: dict) -> str:
    """What run_command's text=True made of a code-page sample on that Windows (its ANSI code page)."""
    text = (CORPUS / sample["file"]).read_bytes().decode(ANSI[sample["encoding"]], errors="replace")
    return text.replace("\r\n", "\n")


def run_parsers(jobs: list[dict], src: Path | None) -> dict:
    """Readings by today's parsers (src None) or by those in ``src``, in a child Python."""
    interval = [(CORPUS / name).read_text(encoding="utf-8") for name in INTERVAL[:2]]
    if src is None:
        return {"readings": read_texts(jobs), "interval": meter_interval(*interval)}
    child = subprocess.run(
        [sys.executable, "-m", "benchmarks.corpus", "--child", str(src)],
        input=json.dumps({"jobs": jobs, "interval": interval}),
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        check=False,
    )
    if child.returncode != 0:
        raise SystemExit(f"the parsers of {src} failed:\n{child.stderr}")
    return json.loads(child.stdout)


def source_of(rev: str, into: Path) -> Path:
    """The src folder of a commit, unpacked (git archive) into a folder."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", rev, "src"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    tar_path = into / "src.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def measure(samples: list[dict], before: str | None) -> dict:
    by_file = {s["file"]: s for s in samples}
    real = [s for s in samples if s["origin"] in REAL]
    coded = [s for s in samples if s["origin"] == "derived" and s["encoding"] in ANSI]
    jobs_now = [{"command": s["command"], "text": decoded_now(s)} for s in real + coded]
    runs = {"now": run_parsers(jobs_now, None)}
    if before:
        jobs_before = [{"command": s["command"], "text": decoded_now(s)} for s in real]
        jobs_before += [{"command": s["command"], "text": decoded_before(s)} for s in coded]
        with tempfile.TemporaryDirectory() as tmp:
            runs["before"] = run_parsers(jobs_before, source_of(before, Path(tmp)))
    results: dict = {"real": real, "coded": coded, "runs": {}}
    for name, run in runs.items():
        rows = [
            (s, differences(s, expected(s, by_file), reading))
            for s, reading in zip(real + coded, run["readings"], strict=True)
        ]
        results["runs"][name] = {"rows": rows, "interval": run["interval"]}
    return results


def _label(sample: dict) -> str:
    return sample.get("language", "—")


def report(results: dict, before: str | None, seconds: float) -> str:
    real, coded, runs = results["real"], results["coded"], results["runs"]
    names = ["now"] + (["before"] if before else [])
    heading = {"now": "today", "before": f"before ({before})"}
    lines = [
        "## The real-output corpus (tests/local/corpus): outputs read as a person reads them",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} in {seconds:.1f} s by `python -m benchmarks.corpus"
        + (f" --before {before}`" if before else "`")
        + ". Numbers, not pass/fail: tests/local/test_corpus.py is the test.",
        "",
    ]
    n_captured = sum(s["origin"] == "captured" for s in real)
    for name in names:
        rows = runs[name]["rows"]
        ok_real = sum(not wrong for s, wrong in rows if s in real)
        ok_captured = sum(not wrong for s, wrong in rows if s in real and s["origin"] == "captured")
        ok_coded = sum(not wrong for s, wrong in rows if s in coded)
        lines.append(
            f"- **{heading[name]}**: **{ok_real} of {len(real)}** real outputs read correctly "
            f"({ok_captured} of {n_captured} said by their source to be captured, "
            f"{ok_real - ok_captured} of {len(real) - n_captured} kept in other projects' tests without "
            f"saying so); **{ok_coded} of {len(coded)}** netsh outputs in the console's code page decoded "
            "and read correctly."
        )
    lines += ["", "### Each output", ""]
    lines.append("| output | command | language | origin | " + " | ".join(heading[n] for n in names) + " |")
    lines.append("|:--|:--|:-:|:-:|" + "|".join(":--" for _ in names) + "|")
    for i, sample in enumerate(real + coded):
        cells = []
        for name in names:
            wrong = runs[name]["rows"][i][1]
            cells.append("right" if not wrong else "wrong: " + "; ".join(wrong).replace("|", "\\|"))
        lines.append(
            f"| {sample['file']} | `{sample['command']}` | {_label(sample)} | {sample['origin']} | "
            + " | ".join(cells)
            + " |"
        )
    first, second, pid, (down, up) = INTERVAL
    lines += [
        "",
        "### Issue 15's nettop interval (rows with a leading time column)",
        "",
        f"Between {first} and {second}, process {pid} moved {down:,} B in and {up:,} B out.",
        "",
        "| parsers | booked down B | booked up B |",
        "|:--|--:|--:|",
    ]
    for name in names:
        booked = runs[name]["interval"].get(str(pid), [0, 0])
        lines.append(f"| {heading[name]} | {booked[0]:,} | {booked[1]:,} |")
    lines += [
        "",
        "### Reading these numbers",
        "",
        "- Both columns read the same text for the real outputs (the parsers alone are compared); the "
        "code-page rows differ in decoding too (before: the ANSI code page, as `text=True` did).",
        "- 'kept' outputs are in other projects' tests or docs whose source does not say they were "
        "captured (tests/local/corpus/INDEX.toml); they may have been edited or typed there.",
        "- What is not here: the Windows power mode and Energy Saver (read from the registry and "
        "GetSystemPowerStatus, tested only with stand-ins), and any display language of Windows without "
        "a real output in the corpus (Dutch, Polish, Portuguese of Portugal among them).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", metavar="REV", help="also read with the parsers of this commit")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "corpus.md")
    parser.add_argument("--child", metavar="SRC", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.child)
        return
    start = time.monotonic()
    results = measure(load_index(), args.before)
    text = report(results, args.before, time.monotonic() - start)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
