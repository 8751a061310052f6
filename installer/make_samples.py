"""Make the sample data the app ships (``resources/samples/``) with the real code over the network lab.

    sudo .venv/bin/python installer/make_samples.py        (from the repository root; about 4 minutes)

``connectcheck --smoke-test`` builds its reports from these files, so they must be what the app
really produces, not hand-written. Over an emulated home line (20/5 Mbit/s, 30 ms, a bloated
100 ms router queue; see ``tests/lab/``) this script:

* runs ``connectcheck check --json`` (the real command line, a full check) with every probe pointed
  at the lab's servers: ``check.json``;
* monitors a lesson of about three minutes with the tray app's code (``Monitor`` and the history):
  quiet at first, then someone else at home starts streaming (a 4-stream download through the
  same line) and the tutor runs a full check in the middle of it (kept with the lesson, as the
  tray app does), then the stream ends and the line recovers: ``lesson.json``, in the form of
  ``connectcheck history lesson ID --json``.

Both are then made tutor-neutral: this machine's user name, host name and home folder are
replaced (see :func:`neutral`), the lesson gets a neutral label. Needs root (the lab builds
network namespaces); nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "resources" / "samples"
QUIET_S = 50.0  # the lesson starts on a quiet line
LOAD_S = 75.0  # then someone else at home streams for this long
CHECK_AFTER_S = 25.0  # the tutor checks this long into the trouble
RECOVER_S = 45.0  # and the lesson goes on after the stream ended (a recovery alert needs 20 s)
LABEL = "Sample lesson"
NEUTRAL_USER, NEUTRAL_HOST, NEUTRAL_HOME = "tutor", "tutor-laptop", "/home/tutor"


def neutral(data: Any, replacements: dict[str, str]) -> Any:
    """A copy of JSON data with every string's identifying parts replaced (longest first)."""
    if isinstance(data, dict):
        return {k: neutral(v, replacements) for k, v in data.items()}
    if isinstance(data, list):
        return [neutral(v, replacements) for v in data]
    if isinstance(data, str):
        for old in sorted(replacements, key=len, reverse=True):
            data = data.replace(old, replacements[old])
    return data


def identity_replacements() -> dict[str, str]:
    """This machine's user, host and home folder, and what replaces them."""
    from connectcheck.report.redact import Identity

    found = Identity.discover()
    out = {h: NEUTRAL_HOST for h in found.host_names if len(h) > 2}
    out.update({h: NEUTRAL_HOME for h in found.home_folders if len(h) > 1})
    # a user name is replaced only where it stands alone ("root" is also part of words)
    out.update({f"/{u}/": f"/{NEUTRAL_USER}/" for u in found.user_names})
    return out


def private_env(folder: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    for name in ("CONFIG", "DATA", "CACHE", "LOG"):
        (folder / name.lower()).mkdir(parents=True, exist_ok=True)
        env[f"CONNECTCHECK_{name}_DIR"] = str(folder / name.lower())
    return env


def cli_check(services: Any, folder: Path) -> dict:
    """``connectcheck check --json`` against the lab's servers, as a tutor's command line runs it."""
    argv = [sys.executable, "-m", "connectcheck", "check", "--json", *services.check_args()]
    done = subprocess.run(argv, env=private_env(folder), capture_output=True, text=True, timeout=120,
                          check=True)
    return json.loads(done.stdout)


def monitored_lesson(lab: Any, services: Any) -> dict:
    """A lesson monitored by the tray app's code, with trouble in the middle and a check during it."""
    from benchmarks.check import options as lab_check_options
    from tests.lab.tcp_reference import BulkLoad

    from connectcheck.check import run_check
    from connectcheck.config.settings import Settings
    from connectcheck.core import model
    from connectcheck.core.model import CheckKind
    from connectcheck.history import History
    from connectcheck.monitor import Monitor, MonitorOptions

    settings = Settings()
    options = MonitorOptions.from_settings(settings, None)
    options.stun_servers, options.platform_urls = [services.stun], [services.platform_url]
    history = History.from_settings(settings)
    monitor = Monitor(options=options, history=history,
                      on_sample=lambda s: print(f"  sample +{s.t_s:5.1f} s  RTT {s.rtt_ms} ms  {s.states}"),
                      on_alert=lambda a: print(f"  alert  +{a.t_s:5.1f} s  {a.message}"))
    lesson_id = monitor.start(LABEL)
    time.sleep(QUIET_S)
    print("someone else at home starts streaming")
    load = BulkLoad(lab.server_ip, direction="download", streams=4, duration_s=LOAD_S + 30)
    load.start()
    time.sleep(CHECK_AFTER_S)
    print("the tutor runs a check")
    result = run_check(lab_check_options(CheckKind.FULL, services), cancel=threading.Event())
    history.add_check(result, lesson_id)
    time.sleep(max(0.0, LOAD_S - CHECK_AFTER_S - result.duration_s))
    load.stop()
    print("the stream has ended")
    time.sleep(RECOVER_S)
    monitor.stop()
    record = history.lesson(lesson_id)
    history.close()
    return model.to_dict(record)


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from tests.lab.netlab import LinkSpec, NetLab, lab_available
    from tests.lab.services import start_services

    ok, why = lab_available(delay=True)
    if not ok:
        print(f"make_samples: the network lab cannot be built here: {why}", file=sys.stderr)
        return 2
    spec = LinkSpec(down_mbit=20, up_mbit=5, rtt_ms=30, jitter_ms=2, queue_ms=100, seed=7)
    with tempfile.TemporaryDirectory() as tmp, NetLab(spec) as lab:
        folder = Path(tmp)
        services = start_services(lab, folder / "pki")
        lab.spawn([sys.executable, "-m", "tests.lab.tcp_reference", "serve"])
        lab.wait_port(5201)
        for name, value in private_env(folder / "lesson").items():
            if name.startswith("CONNECTCHECK_"):
                os.environ[name] = value
        print("a full check with connectcheck's command line")
        check = cli_check(services, folder / "check")
        print("a monitored lesson")
        lesson = monitored_lesson(lab, services)
    replacements = identity_replacements()
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in (("check.json", check), ("lesson.json", lesson)):
        text = json.dumps(neutral(data, replacements), indent=2, ensure_ascii=False) + "\n"
        (OUT / name).write_text(text, encoding="utf-8")
        print(f"wrote {OUT / name} ({len(text) // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
