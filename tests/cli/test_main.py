"""`connectcheck check` as a user runs it, against servers the tests start."""

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connectcheck.cli import main
from connectcheck.cli.common import EXIT_CANCELLED, EXIT_OK, EXIT_USAGE
from tests.lab.endpoints import WebServer, make_pki
from tests.lab.speed_server import LabSpeedServer
from tests.lab.stun_server import StunServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def lab(pki):
    with StunServer() as stun, WebServer(cert=pki.cert, key=pki.key) as web, LabSpeedServer() as speed:
        yield stun, web, speed


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def base_args(lab, pki):
    stun, web, speed = lab
    return ["--stun", stun.address, "--platform", web.url("/"), "--ca-file", str(pki.ca_file),
            "--set", "latency.probes=10", "--set", "latency.interval_ms=20"]


def test_full_check_json_carries_the_documented_fields(lab, pki):
    stun, web, speed = lab
    code, out, err = run(["check", "--json", "--source", "org", "--speed-server", speed.librespeed_url,
                          "--set", "speed.time_limit_s=2", *base_args(lab, pki)])
    assert code == EXIT_OK, err
    data = json.loads(out)
    for key in ("schema_version", "started_at", "duration_s", "bytes_used", "engine", "sections",
                "reachability", "dns", "assessment"):
        assert key in data
    for key in ("download_mbps", "upload_mbps", "loaded_rtt_ms_download", "loaded_rtt_ms_upload", "rpm",
                "dns_ms", "rtt_ms", "jitter_ms", "loss_pct"):
        assert key in data["summary"]
    assert data["summary"]["download_mbps"] > 0
    for item in data["latency"]:
        for key in ("rtt_ms_median", "rtt_ms_p90", "jitter_ms", "loss_pct", "samples"):
            assert key in item
    for name, section in data["sections"].items():
        assert set(section) == {"status", "error", "duration_s"}, name
    assert data["bandwidth"][0]["server"]["url"] == speed.librespeed_url


def test_text_summary_has_units_verdicts_and_advice(lab, pki):
    code, out, err = run(["check", "--quick", *base_args(lab, pki)])
    assert code == EXIT_OK, err
    assert "Connection: online" in out
    assert " ms" in out and " %" in out
    assert "SOUND" in out and "VIDEO" in out and "WHITEBOARD" in out
    assert "What to do now" in out


def test_a_re_check_says_what_changed_since_the_previous_one(lab, pki):
    assert run(["check", "--quick", *base_args(lab, pki)])[0] == EXIT_OK
    stun, web, speed = lab
    args = base_args(lab, pki)
    args[args.index(web.url("/"))] = "https://127.0.0.1:1/"  # the platform is gone now
    code, out, err = run(["check", "--quick", "--json", *args])
    assert code == EXIT_OK
    changes = json.loads(out)["assessment"]["changes"]
    assert any("failing" in line for line in changes), changes


@pytest.mark.parametrize(
    "argv, message",
    [
        (["check", "--stun", "no-port"], "--stun: 'no-port' is not valid: write it as host:port"),
        (["check", "--platform", "ftp://x"], "--platform: 'ftp://x' is not valid"),
        (["check", "--set", "latency.probes=1"], "--set latency.probes: must be between 5 and 2000"),
        (["check", "--set", "nonsense=1"], "expected KEY=VALUE with a known key"),
        (["check", "--config", "/no/such/file.toml"], "--config: there is no file"),
        (["check", "--ca-file", "/no/such/ca.pem"], "--ca-file: there is no file"),
        (["check", "--report", "r.txt"], "--report: r.txt: a report's file name must end in .html"),
    ],
)
def test_bad_arguments_say_why_and_exit_2(argv, message):
    code, out, err = run(argv)
    assert code == EXIT_USAGE
    assert message in err
    assert out == ""


def test_a_broken_settings_file_is_reported_and_the_check_still_runs(lab, pki, tmp_path):
    config = tmp_path / "settings.toml"
    config.write_text("[latency]\nprobes = 'lots'\n[speed]\nstreams = 99\n")
    code, out, err = run(["check", "--quick", "--config", str(config), *base_args(lab, pki)])
    assert code == EXIT_OK
    assert "line 2: latency.probes must be a number" in err
    assert "line 4: speed.streams must be between 1 and 16" in err
    assert "Connection: online" in out
    assert config.read_text() == "[latency]\nprobes = 'lots'\n[speed]\nstreams = 99\n"


def test_help_lists_every_subcommand():
    with pytest.raises(SystemExit) as exit_:
        run(["--help"])
    assert exit_.value.code == 0


def test_every_subcommand_is_registered():
    from connectcheck.cli import build_parser

    parser = build_parser()
    names = set(parser._subparsers._group_actions[0].choices)
    assert {"check", "top", "monitor", "history", "report"} <= names


def test_check_writes_a_report_when_asked(lab, pki, tmp_path):
    target = tmp_path / "report.json"
    code, out, err = run(["check", "--quick", "--report", str(target), *base_args(lab, pki)])
    assert code == EXIT_OK, err
    assert f"Report written to {target}" in err
    from connectcheck.report import load_report

    assert load_report(target).kind == "check"


def test_check_is_kept_in_the_history(lab, pki):
    from connectcheck.config.settings import Settings
    from connectcheck.history import History

    assert run(["check", "--quick", *base_args(lab, pki)])[0] == EXIT_OK
    history = History.from_settings(Settings())
    try:
        assert len(history.checks()) == 1
    finally:
        history.close()


def test_a_report_that_cannot_be_written_is_a_clear_failure(lab, pki, tmp_path):
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("x")  # nobody, not even root, can write inside a file
    code, out, err = run(["check", "--quick", "--report", str(not_a_folder / "r.html"), *base_args(lab, pki)])
    assert code == 1
    assert "the report was not saved" in err
    assert "Connection: online" in out


def test_ctrl_c_cancels_cleanly_and_prints_what_was_measured(lab, pki, tmp_path):
    stun, web, speed = lab
    speed.set_fault("garbage.php", "stall-body")  # the download hangs: only the cancel can end it soon
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "connectcheck", "check", "--source", "org",
         "--speed-server", speed.librespeed_url,
         "--set", "speed.time_limit_s=30", "--set", "check.full_time_limit_s=120",
         "--set", "speed.data_limit_mb=5000", *base_args(lab, pki)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )
    time.sleep(3.0)  # the idle phase takes about a second: this is well into the download
    proc.send_signal(signal.SIGINT)
    sent = time.monotonic()
    out, err = proc.communicate(timeout=10)
    assert time.monotonic() - sent < 2.0
    assert proc.returncode == EXIT_CANCELLED, err
    assert "[check cancelled]" in out
    assert "round trip (idle)" in out


def test_qt_that_cannot_load_is_told_with_the_packages(monkeypatch):
    from connectcheck import cli
    from connectcheck.ui import syslibs

    monkeypatch.setattr(syslibs, "make_finder",
                        lambda env=None: lambda so: None if so == "libGL.so.1" else so)
    said = cli.qt_import_problem(ImportError("libGL.so.1: cannot open shared object file"))
    assert said.startswith("its window cannot start: Qt could not be loaded (libGL.so.1: cannot open")
    assert "sudo apt install libgl1;" in said and "sudo dnf install libglvnd-glx." in said


def test_a_speed_server_that_stalls_mid_transfer_is_not_measured_and_never_cannot_go_ahead(lab, pki):
    stun, web, speed = lab
    speed.faults["garbage.php"] = "stall-after"
    code, out, err = run(["check", "--source", "org", "--speed-server", speed.librespeed_url,
                          "--set", "speed.time_limit_s=5", *base_args(lab, pki)])
    assert code == EXIT_OK, err
    assert "CANNOT GO AHEAD" not in out and "0.0 Mbit/s" not in out
    section = out.split("\nSpeed (")[1]
    row = next(line for line in section.splitlines() if line.strip().startswith("download"))
    assert row.split()[1:5] == ["not", "measured", "could", "not"], out
    code, out, err = run(["check", "--json", "--source", "org", "--speed-server", speed.librespeed_url,
                          "--set", "speed.time_limit_s=5", *base_args(lab, pki)])
    data = json.loads(out)
    down = next(b for b in data["bandwidth"] if b["direction"] == "download")
    assert down["rate_mbps"] is None and down["status"] == "error"
    assert data["summary"]["download_mbps"] is None and data["assessment"]["overall"] != "cannot"


def test_a_speed_server_sending_10_mib_for_every_request_moves_no_more_than_the_cap(lab, pki):
    stun, web, speed = lab
    speed.faults["garbage.php"] = "oversize"
    code, out, err = run(["check", "--json", "--source", "org", "--speed-server", speed.librespeed_url,
                          "--set", "speed.data_limit_mb=20", "--set", "speed.time_limit_s=3",
                          *base_args(lab, pki)])
    assert code == EXIT_OK, err
    data = json.loads(out)
    time.sleep(0.3)
    assert data["bytes_used"] <= 20_000_000 and speed.stats.bytes_sent <= 20_000_000
    assert data["summary"]["download_mbps"] is None
