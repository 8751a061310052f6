"""Screenshots of the tray app as a person sees it: under Xvfb with a real tray host (trayer).

    python -m tools.screenshots [OUT_DIR]        (from the repository root; default /tmp/connectcheck-shots)
    CONNECTCHECK_SHOTS=light-1x,dark-2x python -m tools.screenshots    (only those looks)

Needs Debian's ``xvfb`` and ``trayer`` (``apt-get install -y xvfb trayer``); the screen grabs
use ImageMagick's ``import`` when it is there, else Qt's own grab of the X screen. It starts a
virtual screen with a tray on a dark bar, runs the real app in it (private settings, data and log
folders; no network beyond test servers on 127.0.0.1), once per look: the light and the dark
theme on a 1366×768 screen, and both on a 2560×1440 screen at 2× scaling, each in its own
folder (``light-1x``, ``dark-1x``, ``light-2x``, ``dark-2x``), and saves in each:

* ``tray-<state>.png``: the tray area, zoomed, in each state of the icon; ``tray-menu.png``;
* ``status-<state>.png``: the status window not checked yet, good, degraded, failing, offline,
  during a real check against loopback servers, and while monitoring a lesson;
* ``status-details.png``: the failing check with "Details" open (the figures and what they mean);
* ``guide-<n>.png``: the guide, step by step, and ``guide-calendar.png``, its date picker's calendar;
  ``settings-<tab>.png``, ``history.png``, ``about.png``.

The check results shown are assessed by the real verdict code from realistic numbers (the ones
the assess tests use); the "checking" and "monitoring" windows come from a real check and a real
monitor against servers started here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.ui import private_env, virtual_desktop

DISPLAY = ":77"
LOOKS = (  # folder, theme, screen, Qt scale factor
    ("light-1x", "light", "1366x768x24", "1"),
    ("dark-1x", "dark", "1366x768x24", "1"),
    ("light-2x", "light", "2560x1440x24", "2"),
    ("dark-2x", "dark", "2560x1440x24", "2"),
)


def outer(out: Path) -> int:
    for tool in ("Xvfb", "trayer"):
        if shutil.which(tool) is None:
            print(f"screenshots: {tool} is missing (apt-get install -y xvfb trayer)", file=sys.stderr)
            return 2
    worst = 0
    wanted = [w for w in os.environ.get("CONNECTCHECK_SHOTS", "").split(",") if w]  # e.g. "light-1x"
    for folder, theme, screen, scale in LOOKS:
        if wanted and folder not in wanted:
            continue
        (out / folder).mkdir(parents=True, exist_ok=True)
        private = Path(tempfile.mkdtemp(prefix="connectcheck-shots-"))
        env = private_env(private, "XFCE", display=DISPLAY)
        env.update(CONNECTCHECK_THEME=theme, QT_SCALE_FACTOR=scale)
        desktop = virtual_desktop(
            env, display=DISPLAY, screen=screen,
            trayer_args=("--transparent", "true", "--alpha", "0", "--tint", "0x2b2f36", "--expand", "true"),
        )
        try:
            with desktop:
                code = subprocess.run(
                    [sys.executable, "-m", "tools.screenshots", "--inner", str(out / folder)], env=env,
                    timeout=300,
                ).returncode
                worst = max(worst, code)
        finally:
            shutil.rmtree(private, ignore_errors=True)
    return worst


def inner(out: Path) -> int:
    from datetime import datetime, timedelta

    from PySide6.QtCore import QPoint
    from tests.lab.endpoints import WebServer
    from tests.lab.speed_server import LabSpeedServer
    from tests.lab.stun_server import StunServer
    from tests.ui.conftest import (
        ScriptedPrompts,
        degraded_result,
        failing_result,
        good_result,
        offline_result,
    )

    from connectcheck.config.settings import Settings
    from connectcheck.core.words import parse_time
    from connectcheck.monitor import MonitorOptions
    from connectcheck.ui import app as app_module
    from connectcheck.ui.signals import emit

    qt = app_module.make_application()

    def settle(seconds: float = 0.3) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            qt.processEvents()
            time.sleep(0.02)

    def grab_screen(name: str, geometry: str | None = None, zoom: int = 1) -> None:
        settle()
        if shutil.which("import") is None:  # Qt's own grab of the X screen
            x = y = 0
            w = h = -1
            if geometry:
                size, x, y = geometry.split("+")[0], int(geometry.split("+")[1]), int(geometry.split("+")[2])
                w, h = (int(v) for v in size.split("x"))
            picture = qt.primaryScreen().grabWindow(0, x, y, w, h)
            if zoom > 1:
                picture = picture.scaled(picture.width() * zoom, picture.height() * zoom)
            picture.save(str(out / name))
            return
        args = ["import", "-display", DISPLAY, "-window", "root"]
        if geometry:
            args += ["-crop", geometry]
        if zoom > 1:
            args += ["-filter", "point", "-resize", f"{zoom * 100}%"]
        subprocess.run([*args, str(out / name)], check=True)

    def grab(widget: object, name: str) -> None:
        settle()
        widget.grab().save(str(out / name))  # type: ignore[attr-defined]

    with StunServer() as stun, WebServer() as web, LabSpeedServer() as speed:
        settings = Settings(path=Path(os.environ["CONNECTCHECK_CONFIG_DIR"]) / "settings.toml")
        settings.values.update(
            {
                "network.stun_servers": [stun.address],
                "network.platform_urls": [web.url("/")],
                "network.icmp": False,
                "speed.source": "org",
                "speed.org_server_url": speed.librespeed_url,
                "speed.time_limit_s": 6.0,
                "monitor.interval_s": 2.0,
                "app.asked_support_address": True,
                "app.asked_start_at_login": True,
            }
        )

        def monitor_options(s: Settings, profile: object) -> MonitorOptions:
            options = MonitorOptions.from_settings(s, profile)  # type: ignore[arg-type]
            options.interval_s = 0.5
            return options

        history, messages = app_module.open_history(settings)
        app = app_module.App(
            settings,
            log_path=Path(os.environ["CONNECTCHECK_LOG_DIR"]) / "connectcheck.log",
            prompts=ScriptedPrompts(),
            history=history,
            problems=messages,
            monitor_options=monitor_options,
            check_on_open=False,  # the results shown are staged
        )
        app.start()
        settle(1.5)
        if not app.tray.visible:
            print("screenshots: the tray did not come up; window shots only", file=sys.stderr)
        screen = qt.primaryScreen().geometry()
        tray_box = f"64x28+{screen.width() - 64}+0"
        window = app.status
        window.move(40, 60)

        def show(result: object, name: str, age_s: float = 60.0) -> None:
            app.controller.last_result = result  # type: ignore[assignment]
            started = parse_time(result.started_at) if result is not None else None  # type: ignore[attr-defined]
            if started is not None:
                app.controller.clock = lambda: started + timedelta(seconds=age_s)
            emit(app.controller.changed)
            window.bring_forward()
            grab(window, f"status-{name}.png")
            grab_screen(f"tray-{name}.png", tray_box, zoom=3)

        show(None, "unchecked")
        show(good_result(), "good")
        show(degraded_result(), "degraded")
        show(failing_result(), "failing")
        window.details_button.setChecked(True)  # the figures, each with what it means
        window.tiles["jitter_ms"].setFocus()
        settle(0.3)
        window.scroll.ensureWidgetVisible(window.details, 0, 0)
        grab(window, "status-details.png")
        window.details_button.setChecked(False)
        window.scroll.verticalScrollBar().setValue(0)
        show(offline_result(), "offline")
        show(good_result(), "old", age_s=6 * 86_400)
        app.controller.clock = lambda: datetime.now().astimezone()
        app.actions["check"].trigger()  # a real full check against the loopback servers
        grab_screen("tray-checking.png", tray_box, zoom=3)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (
            app.controller.progress and app.controller.progress.phase == "download"
        ):
            settle(0.1)
        grab(window, "status-checking.png")
        while app.controller.checking and time.monotonic() < deadline + 20:
            settle(0.2)
        grab(window, "status-after-real-check.png")
        app.actions["monitor"].trigger()
        settle(6)
        grab(window, "status-monitoring.png")
        grab_screen("tray-monitoring.png", tray_box, zoom=3)
        app.tray.menu.popup(QPoint(screen.width() - 300, 30))
        grab_screen("tray-menu.png", f"440x420+{screen.width() - 440}+0")
        app.tray.menu.hide()
        app.actions["monitor"].trigger()
        settle(1)

        guide = app.open_guide()
        guide.move(60, 60)
        answers = [
            "No, neither",
            "No, still not working",
            "No, the lesson cannot go on like this",
            "At home or somewhere else",
            "No",
            "Yes, I have room",
            "Yes",
            "This is the day we agreed",
            "Next",
            "Next",
            "Next",
        ]
        grab(guide, "guide-01.png")
        for n, answer in enumerate(answers, start=2):
            button = next((b for b in guide._buttons() if b.text() == answer), None)  # type: ignore[attr-defined]
            if button is None:
                break
            button.click()
            grab(guide, f"guide-{n:02d}.png")
            picker = guide.date_edit  # type: ignore[attr-defined]
            if picker is not None and not any(p.name.startswith("guide-calendar") for p in out.iterdir()):
                calendar = picker.calendarWidget()
                calendar.setCurrentPage(picker.date().year(), picker.date().month())
                calendar.resize(calendar.sizeHint())
                grab(calendar, "guide-calendar.png")  # the 7 days bold, the others struck through
        guide.close()
        settings_dialog = app.open_settings()
        for i in range(settings_dialog.tabs.count()):  # type: ignore[attr-defined]
            settings_dialog.tabs.setCurrentIndex(i)  # type: ignore[attr-defined]
            grab(settings_dialog, f"settings-{i + 1}.png")
        settings_dialog.close()
        for key, name in (("history", "history.png"), ("about", "about.png")):
            opened = getattr(app, f"open_{key}")()
            grab(opened, name)
            opened.close()
        app.quit()
        print(f"screenshots: {len(list(out.glob('*.png')))} images in {out} ({datetime.now():%H:%M:%S})")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--inner":
        sys.exit(inner(Path(sys.argv[2])))
    sys.exit(outer(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/connectcheck-shots")))
