"""What the UI tests share: the app built with a scripted dialog answerer, check results in every
state, a fast fake probe for lesson monitoring, and the lab's loopback servers for real checks."""

from __future__ import annotations

import functools
import threading
from datetime import timedelta

import pytest
from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QDesktopServices

from connectcheck.assess import assess_check
from connectcheck.assess.lesson import Burst
from connectcheck.config.settings import Settings
from connectcheck.core.words import parse_time
from connectcheck.history import History
from connectcheck.monitor import Monitor, MonitorOptions
from connectcheck.ui import style
from connectcheck.ui.app import App
from connectcheck.ui.desktop import Prompts
from connectcheck.ui.signals import emit
from connectcheck.ui.worker import SyncWorker
from tests.assess import fixtures
from tests.lab.endpoints import WebServer
from tests.lab.speed_server import LabSpeedServer
from tests.lab.stun_server import StunServer


@pytest.fixture(autouse=True)
def _app(qapp):
    """Every UI test has the QApplication (pixmaps and widgets need it), in the light theme with
    the app's style sheet, as the app sets it up."""
    style.apply_theme(qapp, "light")
    return qapp


class ScriptedPrompts(Prompts):
    """Answers the app's dialogs from lists, and records what it asked and told."""

    def __init__(self) -> None:
        self.paths: list = []
        self.folders: list = []
        self.texts: list = []
        self.asked: list[tuple[str, str]] = []
        self.informed: list[tuple[str, str, bool]] = []

    def save_path(self, parent, title, suggested, filters):
        self.asked.append(("save_path", str(suggested)))
        return self.paths.pop(0) if self.paths else None

    def folder(self, parent, title, start):
        self.asked.append(("folder", str(start)))
        return self.folders.pop(0) if self.folders else None

    def text(self, parent, title, label, value=""):
        self.asked.append(("text", label))
        return self.texts.pop(0) if self.texts else None

    def inform(self, parent, title, text, *, warning=False):
        self.informed.append((title, text, warning))


class UrlRecorder(QObject):
    """Takes the links the app hands to the desktop (QDesktopServices' own URL handler hook)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    @Slot("QUrl")
    def handle(self, url) -> None:
        self.urls.append(bytes(url.toEncoded().data()).decode("ascii"))


@pytest.fixture
def opened_urls():
    recorder = UrlRecorder()
    for scheme in ("mailto", "file", "https", "http"):
        QDesktopServices.setUrlHandler(scheme, recorder, "handle")
    yield recorder.urls
    for scheme in ("mailto", "file", "https", "http"):
        QDesktopServices.unsetUrlHandler(scheme)


# --- results in every state (assessed by the real assess code) ---------------------------------------


def assessed(result):
    result.assessment = assess_check(result)
    return result


def good_result():
    return assessed(
        fixtures.check(
            local=fixtures.local(processes=[fixtures.program("Chrome", "browser", down=0.8, up=0.1)])
        )
    )


def degraded_result():
    return assessed(
        fixtures.check(
            upload_mbps=1.2,
            jitter_ms=22,
            local=fixtures.local(
                processes=[
                    fixtures.program("Steam", "game_launcher", down=18.2, up=0.3, advice_key="pause_download")
                ],
                wifi=fixtures.weak_wifi(),
                connection="wifi",
            ),
        )
    )


def failing_result():
    return assessed(fixtures.check(upload_mbps=0.2, loss_pct=6.0, rtt_ms=450))


def offline_result():
    return assessed(fixtures.offline_check())


def quick_result():
    return assessed(fixtures.quick_check())


# --- the lab's servers on 127.0.0.1 -----------------------------------------------------------------


@pytest.fixture
def stun():
    with StunServer() as server:
        yield server


@pytest.fixture
def web():
    with WebServer() as server:
        yield server


@pytest.fixture
def speed():
    with LabSpeedServer() as server:
        yield server


def lab_settings(tmp_path, stun, web, speed=None) -> Settings:
    """Settings that point every probe at the test's own loopback servers, and keep checks short."""
    s = Settings(path=tmp_path / "settings.toml")
    s.values.update(
        {
            "network.stun_servers": [stun.address],
            "network.platform_urls": [web.url("/")],
            "network.icmp": False,
            "latency.probes": 10,
            "latency.interval_ms": 20,
            "latency.timeout_ms": 500,
            "check.quick_time_limit_s": 3.0,
            "check.full_time_limit_s": 12.0,
            "speed.source": "org",
            "speed.time_limit_s": 2.0,
            "speed.org_server_url": speed.librespeed_url if speed else web.url("/"),
        }
    )
    return s


# --- monitoring with a fast fake probe --------------------------------------------------------------


class ScriptedProbe:
    """A media-path probe that answers from a script of round trips, at once (no network)."""

    def __init__(self, rtts: list[float | None]) -> None:
        self.rtts = rtts
        self.lock = threading.Lock()
        self.calls = 0

    def set(self, rtts: list[float | None]) -> None:
        with self.lock:
            self.rtts = rtts

    def __call__(self, cancel: threading.Event) -> Burst:
        with self.lock:
            self.calls += 1
            return Burst(rtt_ms_samples=list(self.rtts), method="stun", target="127.0.0.1:3478", udp_ok=True)


def fast_monitor_options(settings, profile) -> MonitorOptions:
    return MonitorOptions(interval_s=0.05, probes=5, alert_after_s=0.25, alert_gap_s=0.5, local=False)


def fast_monitor(probe: ScriptedProbe):
    return functools.partial(Monitor, probe=probe)


# --- the app ------------------------------------------------------------------------------------------


@pytest.fixture
def make_app(qtbot, tmp_path):
    apps = []

    def make(settings: Settings | None = None, *, worker=None, history="default", **kwargs) -> App:
        kwargs.setdefault("check_on_open", False)  # no check against public hosts
        if history == "default":
            history = History(tmp_path / "history.sqlite3")
        app = App(
            settings or Settings(path=tmp_path / "settings.toml"),
            log_path=tmp_path / "connectcheck.log",
            worker=worker or SyncWorker(),
            prompts=ScriptedPrompts(),
            history=history,
            **kwargs,
        )
        qtbot.addWidget(app.status)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.quit()


def show_result(app: App, result, age_s: float = 60.0) -> None:
    """Show ``result`` as the last check, made ``age_s`` seconds ago (the fixtures' checks are
    dated 2024: the controller's clock is set to match)."""
    app.controller.last_result = result
    started = parse_time(result.started_at) if result is not None else None
    if started is not None:
        app.controller.clock = lambda: started + timedelta(seconds=age_s)
    emit(app.controller.changed)
