"""How fast the tray icon appears and how much memory the idle app holds.

Run from the repository root (needs Debian's ``xvfb``, ``trayer`` and ``x11-utils``)::

    python -m benchmarks.ui [--runs 5] [--idle-s 10] [--out benchmarks/results/ui.md]

Each run starts a virtual screen with a tray host (trayer), then the real app as start at login
runs it (``python -m connectcheck.ui --autostart``, private settings, data and log folders), and
times from the moment the process is started until its icon is embedded in the tray, as the X
server sees it (``xwininfo``: a window of class connectcheck inside trayer's panel). The app then
sits idle for ``--idle-s`` seconds and its resident memory (RSS) is read; the status window is
opened (a second start brings it forward) and the RSS read again. Targets: icon ≤ 2 s, idle
memory ≤ 150 MB.

It runs under several ``XDG_CURRENT_DESKTOP`` values because Qt chooses its platform theme from
it, and on GTK desktops (XFCE, Cinnamon, MATE) that theme loads GTK 3 into the process. The
machine has 2 cores and others' work may run at the same time: the load average is printed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psutil

DISPLAY = ":79"
ICON_LINE = re.compile(
    r'"connectcheck": \("connectcheck" "connectcheck"\)\s+(\d+)x(\d+)\+-?\d+\+-?\d+\s+\+(-?\d+)\+(-?\d+)'
)
BAR_HEIGHT = 28
SCREEN = "1280x800x24"
ROWS = (
    ("tray icon visible after launch (s)", "icon_s", "≤ 2"),
    ("idle memory, tray only (MB RSS)", "idle_mb", "≤ 150"),
    ("memory with the status window open (MB RSS)", "window_mb", ""),
)


def icon_in_tray() -> bool:
    """The app's tray window, embedded in the bar at the top of the screen (small and at y < bar)."""
    tree = subprocess.run(
        ["xwininfo", "-display", DISPLAY, "-root", "-tree"], capture_output=True, text=True, check=False
    ).stdout
    for m in ICON_LINE.finditer(tree):
        width, height, _x, y = (int(v) for v in m.groups())
        if width <= 48 and height <= 48 and 0 <= y < BAR_HEIGHT:
            return True
    return False


def private_env(base: Path, desktop: str, display: str = DISPLAY) -> dict[str, str]:
    """The app's environment on the virtual screen: X11, the desktop named, private folders in ``base``."""
    env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb", XDG_CURRENT_DESKTOP=desktop)
    env.pop("QT_QPA_PLATFORMTHEME", None)  # as on a tutor's desktop: the app chooses
    for name in ("CONFIG", "DATA", "CACHE", "LOG"):
        (base / name.lower()).mkdir(parents=True, exist_ok=True)
        env[f"CONNECTCHECK_{name}_DIR"] = str(base / name.lower())
    return env


def stop(proc: subprocess.Popen) -> None:
    """Terminate a helper process and wait for it (killed if it will not end)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def virtual_desktop(env: dict[str, str], *, display: str = DISPLAY, screen: str = SCREEN,
                    bar_height: int = BAR_HEIGHT, trayer_args: Sequence[str] = ()) -> Iterator[None]:
    """Xvfb on ``display`` with trayer as the tray, a bar across the top of the screen (``env``
    must point DISPLAY at ``display``); both stopped afterwards. Shared by this benchmark, the
    screenshots tool and the installer build's tray check."""
    with ExitStack() as stack:
        xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", screen, "-nolisten", "tcp"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stack.callback(stop, xvfb)
        time.sleep(1.0)
        tray = subprocess.Popen(
            ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request", "--heighttype",
             "pixel", "--height", str(bar_height), "--SetDockType", "true", *trayer_args],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        stack.callback(stop, tray)
        time.sleep(1.0)
        yield


def one_run(idle_s: float, desktop: str) -> dict[str, float]:
    base = Path(tempfile.mkdtemp(prefix="connectcheck-bench-"))
    env = private_env(base, desktop)
    try:
        with virtual_desktop(env), ExitStack() as stack:
            t0 = time.monotonic()
            app = subprocess.Popen(
                [sys.executable, "-m", "connectcheck.ui", "--autostart"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            stack.callback(stop, app)
            visible = None
            while time.monotonic() - t0 < 20:
                if icon_in_tray():
                    visible = time.monotonic() - t0
                    break
                time.sleep(0.01)
            time.sleep(idle_s)
            idle_rss = psutil.Process(app.pid).memory_info().rss / 1e6
            subprocess.run([sys.executable, "-m", "connectcheck.ui"], env=env, timeout=30, check=True)
            time.sleep(2.0)
            window_rss = psutil.Process(app.pid).memory_info().rss / 1e6
            subprocess.run([sys.executable, "-m", "connectcheck.ui", "--quit"], env=env, timeout=30,
                           check=True)
            app.wait(15)
            return {
                "icon_s": visible if visible is not None else float("nan"),
                "idle_mb": idle_rss,
                "window_mb": window_rss,
            }
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle-s", type=float, default=10.0)
    parser.add_argument(
        "--desktop",
        action="append",
        help="XDG_CURRENT_DESKTOP to run under (repeatable; default: KDE and XFCE, i.e. Qt "
        "without and with its GTK3 theme)",
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    for tool in ("Xvfb", "trayer", "xwininfo"):
        if shutil.which(tool) is None:
            print(
                f"benchmarks.ui: {tool} is missing (apt-get install -y xvfb trayer x11-utils)",
                file=sys.stderr,
            )
            return 2
    load = os.getloadavg()
    lines = [
        "# UI: start-up time and memory",
        "",
        f"{args.runs} runs per desktop, {time.strftime('%Y-%m-%d %H:%M')}, load average at the start "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 cores, shared with other work: numbers are noisy).",
        "",
        "| desktop | measure | median | worst | target |",
        "|---|---|---|---|---|",
    ]
    for desktop in args.desktop or ["GNOME", "KDE", "XFCE"]:
        runs = []
        for n in range(args.runs):
            run = one_run(args.idle_s, desktop)
            runs.append(run)
            print(
                f"{desktop} run {n + 1}: icon in the tray after {run['icon_s']:.2f} s, "
                f"idle {run['idle_mb']:.0f} MB, with the window open {run['window_mb']:.0f} MB",
                flush=True,
            )
        for label, key, target in ROWS:
            values = [r[key] for r in runs]
            lines.append(
                f"| {desktop} | {label} | {statistics.median(values):.2f} | {max(values):.2f} | {target} |"
            )
    lines += [
        "",
        "Notes:",
        "",
        "- The icon time runs from starting the process (Python, Qt, the app's modules) to the X server "
        "showing the icon embedded in the tray.",
        "- GNOME and XFCE make Qt load its GTK 3 theme. GTK then sets up OpenGL, which here maps Mesa's "
        "software renderer (libLLVM, about 50 MB); the app turns GTK's OpenGL off (GDK_GL=disable, it "
        "draws nothing with it), without which idle memory was 175 MB on those desktops.",
        "- Memory is the resident set of the one process; it has not run a check yet (the measuring "
        "code is loaded at start).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
