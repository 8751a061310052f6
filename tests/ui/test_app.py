"""Starting and living: one instance, problems shown once the app is up, the log, and a calm
message instead of a silent death."""

import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

import connectcheck.ui.app as app_module
from connectcheck.config.settings import load_settings
from connectcheck.core import paths
from connectcheck.ui import logs, single
from connectcheck.ui.worker import Worker

ENV_KEYS = (
    "CONNECTCHECK_CONFIG_DIR",
    "CONNECTCHECK_DATA_DIR",
    "CONNECTCHECK_CACHE_DIR",
    "CONNECTCHECK_LOG_DIR",
)


def child_env(**extra):
    env = {k: os.environ[k] for k in ENV_KEYS}
    env.update(
        QT_QPA_PLATFORM="offscreen",
        PATH=os.environ.get("PATH", "/usr/bin:/bin"),
        PYTHONPATH=os.pathsep.join(sys.path),
        **extra,
    )
    return env


def start(*args, **extra_env):
    return subprocess.Popen(
        [sys.executable, "-m", "connectcheck.ui", *args],
        env=child_env(**extra_env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def log_text():
    path = paths.log_dir() / logs.LOG_NAME
    return path.read_text(encoding="utf-8") if path.exists() else ""


def wait_for(predicate, timeout_s):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def start_again(*args, **extra_env):
    """A later start of the app (``--quit`` or none), run to its end."""
    return subprocess.run(
        [sys.executable, "-m", "connectcheck.ui", *args],
        env=child_env(**extra_env),
        capture_output=True,
        text=True,
        timeout=30,
    )


@contextmanager
def running(**extra_env):
    """The app started in a child process and listening; killed afterwards if still running."""
    first = start(**extra_env)
    try:
        assert wait_for(_listening, 30), log_text()
        yield first
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()


def test_a_second_start_brings_the_first_forward_and_quit_ends_it():
    with running() as first:
        assert start_again().returncode == 0
        assert wait_for(lambda: "another start sent 'show'" in log_text(), 10)
        assert first.poll() is None  # still running, and alone
        assert start_again("--quit").returncode == 0
        assert first.wait(15) == 0
        assert "connectcheck stopped" in log_text()


def test_what_qt_says_while_it_shuts_down_does_not_crash_the_app():
    """Qt's plugin messages (QT_DEBUG_PLUGINS) come while Qt tears down, after the app has stopped:
    they once went to the log's Python handler and killed the process with a segmentation fault."""
    chatty = {"QT_DEBUG_PLUGINS": "1"}
    with running(**chatty) as first:
        last = start_again("--quit", **chatty)
        assert last.returncode == 0, last.stderr[-2000:]
        assert first.wait(15) == 0
        assert "connectcheck stopped" in log_text()


def _listening():
    from PySide6.QtNetwork import QLocalSocket

    sock = QLocalSocket()
    sock.connectToServer(single.server_name())
    ok = sock.waitForConnected(200)
    sock.abort()
    return ok


def test_quit_when_nothing_runs_says_so_quietly():
    out = start_again("--quit")
    assert out.returncode == 0
    assert out.stdout == out.stderr == ""


def test_single_instance_in_process(qtbot):
    name = f"connectcheck-test-{os.getpid()}"
    first = single.SingleInstance(name)
    assert first.listen()
    second = single.SingleInstance(name)
    assert not second.listen()
    words = []
    first.command.connect(words.append)
    sent = []
    thread = threading.Thread(target=lambda: sent.append(single.send(single.SHOW, name)))
    thread.start()
    qtbot.waitUntil(lambda: words == ["show"], timeout=3000)
    thread.join(3)
    assert sent == [True]
    first.close()
    assert single.send(single.SHOW, name, timeout_ms=300) is False


STRESS = """
import os, socket, sys, time
from PySide6.QtWidgets import QApplication
from connectcheck.ui import single
app = QApplication([])
for i in range(int(sys.argv[1])):
    instance = single.SingleInstance(f"connectcheck-stress-{os.getpid()}-{i}")
    assert instance.listen()
    words = []
    instance.command.connect(words.append)
    with socket.socket(socket.AF_UNIX) as client:
        client.connect(instance.server.fullServerName())
        client.sendall(b"show\\n")
        end = time.monotonic() + 3
        while not words and time.monotonic() < end:
            app.processEvents()
            time.sleep(0.0005)
        assert words == ["show"], (i, words)
    instance.close()
    del instance
    app.processEvents()
print("ok")
"""


@pytest.mark.skipif(sys.platform == "win32", reason="the client side uses a Unix socket")
def test_instances_made_and_destroyed_with_connections_do_not_crash():
    """A connection's socket pending deletion when its instance is destroyed once crashed the process
    within a few hundred connections (in a child process here, so that a crash fails one test)."""
    done = subprocess.run([sys.executable, "-c", STRESS, "300"], env=child_env(), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
    assert "deleted directly" not in done.stderr


def test_a_start_that_says_nothing_or_nonsense_is_forgotten(qtbot, caplog):
    name = f"connectcheck-test-quiet-{os.getpid()}"
    instance = single.SingleInstance(name)
    assert instance.listen()
    words = []
    instance.command.connect(words.append)
    import socket

    with socket.socket(socket.AF_UNIX) as quiet, socket.socket(socket.AF_UNIX) as odd:
        quiet.connect(instance.server.fullServerName())
        odd.connect(instance.server.fullServerName())
        odd.sendall(b"<script>" * 20 + b"\n")
        qtbot.waitUntil(lambda: "ignored an unknown word" in caplog.text, timeout=3000)
        quiet.close()
        qtbot.waitUntil(lambda: not instance._clients, timeout=3000)
    assert words == []
    assert single.send(single.SHOW, name)
    qtbot.waitUntil(lambda: words == ["show"], timeout=3000)
    instance.close()


def test_settings_problems_are_shown_once_the_app_is_up(make_app, qtbot, monkeypatch):
    monkeypatch.setattr(app_module, "TRAY_WAIT_S", 0.1)
    path = paths.config_dir() / "settings.toml"
    path.write_text('[latency]\nprobes = "many"\n[monitor]\ninterval_s = 1\n', encoding="utf-8")
    app = make_app(load_settings())
    assert not app.status.problem_banner.isVisible()
    app.start()
    qtbot.waitUntil(lambda: app.status.problem_banner.isVisible(), timeout=3000)
    text = app.status.problem_banner.text.text()
    assert "line 2: latency.probes must be a number" in text
    assert "line 4: monitor.interval_s must be between 2 and 60" in text
    assert "Open settings" in [b.text() for b in app.status.problem_banner._extra]
    assert path.read_text(encoding="utf-8").startswith("[latency]")  # the user's file is untouched


def test_a_damaged_history_is_moved_aside_and_said(make_app, qtbot, monkeypatch, tmp_path):
    monkeypatch.setattr(app_module, "TRAY_WAIT_S", 0.1)
    path = paths.data_dir() / "history.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    history, messages = app_module.open_history(load_settings())
    assert messages and "It was kept as history.sqlite3.corrupt-" in messages[0]
    app = make_app(history=history, problems=messages)
    app.start()
    qtbot.waitUntil(lambda: app.status.problem_banner.isVisible(), timeout=3000)
    assert messages[0] in app.status.problem_banner.text.text()
    window = app.open_history()
    assert window.banner.isVisible() and window.banner.text.text() == history.recovered
    assert [p.name for p in path.parent.iterdir() if ".corrupt-" in p.name]


def test_an_uncaught_error_is_logged_and_shown_calmly(make_app, tmp_path, caplog):
    app = make_app()
    try:
        raise RuntimeError("the disk said no")
    except RuntimeError as exc:
        with caplog.at_level(logging.ERROR):
            app.crash.handle(type(exc), exc, exc.__traceback__)
    title, text, warning = app.prompts.informed[-1]
    assert warning and "Something went wrong inside connectcheck (RuntimeError: the disk said no)" in text
    assert str(tmp_path / "connectcheck.log") in text
    assert "Traceback" in caplog.text and "the disk said no" in caplog.text


def test_an_error_in_another_thread_reaches_the_window(make_app, qtbot):
    app = make_app(worker=Worker())
    app.crash.install()
    try:
        thread = threading.Thread(target=lambda: 1 / 0, name="broken")
        thread.start()
        thread.join()
        qtbot.waitUntil(lambda: bool(app.prompts.informed), timeout=3000)
    finally:
        app.crash.uninstall()
    assert "ZeroDivisionError" in app.prompts.informed[-1][1]


def test_failed_background_work_is_shown_calmly(make_app, qtbot):
    app = make_app(worker=Worker())
    app.worker.run(lambda cancel: {}["missing"])
    qtbot.waitUntil(lambda: bool(app.prompts.informed), timeout=3000)
    assert "KeyError" in app.prompts.informed[-1][1]


SCRIPT = textwrap.dedent("""
    import logging, sys
    sys.stderr = None  # a windowed build: no console at all
    from PySide6.QtCore import qWarning
    from PySide6.QtWidgets import QApplication
    from connectcheck.ui import logs
    path = logs.setup_logging()
    app = QApplication([])
    qWarning("a warning from Qt itself")
    logging.getLogger("test").warning("a warning from Python")
    kinds = sorted(type(h).__name__ for h in logging.getLogger().handlers)
    print(kinds, file=sys.stdout)
""")


def test_the_log_file_gets_qt_warnings_and_there_is_no_console_handler_without_a_console():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=child_env(), capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['RotatingFileHandler']"
    text = log_text()
    assert "WARNING MainThread qt: a warning from Qt itself" in text
    assert "a warning from Python" in text


def test_an_unwritable_log_folder_does_not_stop_the_app(tmp_path):
    blocked = tmp_path / "log-is-a-file"
    blocked.write_text("not a folder")
    env = child_env()
    env["CONNECTCHECK_LOG_DIR"] = str(blocked)
    env["TMPDIR"] = str(tmp_path)  # the fallback goes to the temporary folder: this test's own
    script = "from connectcheck.ui import logs; print(logs.setup_logging())"
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    path = out.stdout.strip()
    assert path.startswith(str(tmp_path)) and path.endswith(".log") and not path.startswith(str(blocked))
    assert "starting" in Path(path).read_text(encoding="utf-8")


def test_start_at_login_is_renewed_at_each_start(make_app, tmp_path, monkeypatch):
    from connectcheck.config.settings import Settings

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    settings = Settings(path=tmp_path / "settings.toml")
    settings.values["app.start_at_login"] = True
    app = make_app(settings)
    app.start()
    assert (tmp_path / "xdg" / "autostart" / "connectcheck.desktop").is_file()


def test_start_at_login_is_offered_once_at_the_first_start(make_app, tmp_path, monkeypatch, qtbot):
    from connectcheck.config.settings import Settings, load_settings

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    desktop = tmp_path / "xdg" / "autostart" / "connectcheck.desktop"
    path = tmp_path / "settings.toml"
    app = make_app(Settings(path=path))
    app.start()
    banner = app.status.offer_banner
    qtbot.waitUntil(lambda: banner.isVisibleTo(app.status), timeout=5000)  # once the tray is placed
    assert "Start it at login?" in banner.text.text()
    [yes] = [b for b in banner._extra if b.text() == "Start at login"]
    yes.click()
    assert desktop.is_file()
    saved = load_settings(path)
    assert saved["app.start_at_login"] is True and saved["app.asked_start_at_login"] is True
    assert banner.text.text().startswith("Done: connectcheck will start when you log in")
    later = make_app(load_settings(path))
    later.start()
    qtbot.waitUntil(lambda: later.status.tray_banner.isVisibleTo(later.status), timeout=5000)  # no tray: up
    assert not later.status.offer_banner.isVisibleTo(later.status)  # asked once
    desktop.unlink()
    fresh = make_app(Settings(path=tmp_path / "other.toml"))
    fresh.start()
    qtbot.waitUntil(lambda: fresh.status.offer_banner.isVisibleTo(fresh.status), timeout=5000)
    [no] = [b for b in fresh.status.offer_banner._extra if b.text() == "Not now"]
    no.click()
    assert not desktop.exists() and load_settings(tmp_path / "other.toml")["app.asked_start_at_login"] is True
    assert "will not start at login" in fresh.status.offer_banner.text.text()
    at_login = make_app(Settings(path=tmp_path / "third.toml"), at_login=True)
    at_login._up()  # as when the tray comes up at login
    assert not at_login.status.offer_banner.isVisibleTo(at_login.status)  # never while starting at login


def test_an_error_in_a_slot_is_shown_calmly(make_app, qtbot):
    from PySide6.QtCore import QTimer

    app = make_app()
    app.crash.install()
    try:
        QTimer.singleShot(0, lambda: [][1])
        qtbot.waitUntil(lambda: bool(app.prompts.informed), timeout=3000)
    finally:
        app.crash.uninstall()
    assert "IndexError" in app.prompts.informed[-1][1]


@pytest.mark.parametrize(
    "env, found, expected",
    [
        ({}, "libxcb-cursor.so.0", "There is no desktop here"),
        ({"DISPLAY": ":0"}, None, "sudo apt install libxcb-cursor0"),
        ({"DISPLAY": ":0"}, "libxcb-cursor.so.0", None),
        ({"WAYLAND_DISPLAY": "wayland-0"}, None, None),
        ({"QT_QPA_PLATFORM": "offscreen"}, None, None),
    ],
)
def test_a_missing_desktop_is_told_before_qt_aborts(env, found, expected):
    from connectcheck.ui.app import display_problem

    problem = display_problem(env, "linux", lambda name: found)
    assert (problem is None) if expected is None else (expected in problem)
    assert display_problem({}, "win32", lambda name: None) is None


@pytest.mark.parametrize("kind", ["history", "settings", "guide", "about"])
def test_every_window_opens_whole_on_the_screen(make_app, kind):
    """A window taller than the screen's free area (History is 620 px; the test screen is 800×600)
    is made to fit and placed with its title bar inside: nothing opens below the edge."""
    app = make_app()
    window = {"history": app.open_history, "settings": app.open_settings, "guide": app.open_guide,
              "about": app.open_about}[kind]()
    room = window.screen().availableGeometry()
    top_with_title = window.geometry().top() - 40
    assert room.contains(window.geometry()) and top_with_title >= room.top(), (room, window.geometry())


def test_about_lists_each_component_with_its_licence_from_its_package(make_app):
    from connectcheck.ui.about import COMPONENTS, components

    app = make_app()
    about = app.open_about()
    text = about.licences.toPlainText()
    found = {c.name: c for c in components()}
    assert set(found) == {name for name, _ in COMPONENTS}
    for c in found.values():
        assert c.version and c.licence != "not found in this build"
        assert f"{c.name} {c.version} ({c.use}): {c.licence}" in text
    assert "LGPL" in found["PySide6-Essentials"].licence and "GNU LGPL version 3" in text
    assert found["psutil"].licence == "BSD-3-Clause" and found["psutil"].text
    assert found["psutil"].text.splitlines()[0] in text  # the licence file itself, not only its name
    assert about.licences.isReadOnly() and about.licences.isVisibleTo(about)


def test_the_history_list_says_not_ready_like_the_window(make_app, qtbot):
    from tests.ui.conftest import failing_result

    app = make_app()
    result = failing_result()
    assert result.assessment.overall == "limited"  # can go ahead only with limits: sound fails
    app.controller.history.add_check(result)
    window = app.open_history()
    qtbot.waitUntil(lambda: window.checks.topLevelItemCount() == 1, timeout=3000)
    assert window.checks.topLevelItem(0).text(2) == "Not ready"
