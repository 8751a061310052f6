"""Build the folder build with PyInstaller, package it, and prove the frozen program works.

    .venv/bin/pip install -e '.[build]'
    .venv/bin/python installer/build.py [--tray] [--out FILE] [--profile ORG.toml]

On Linux (what CI runs, about a minute):

1. PyInstaller with ``installer/connectcheck.spec``: ``dist/connectcheck/`` (timed);
2. the archive ``dist/connectcheck-<version>-linux-<machine>.tar.gz``: the folder build, the desktop
   entry, its icons and ``install.sh``;
3. the archive unpacked into a temporary folder (what a tutor gets), and from there, with no Python
   of the build machine in reach:
   * ``connectcheck-cli --smoke-test`` and ``connectcheck --smoke-test`` (fails on a non-zero exit or
     any output on the error stream), and the start time of the bare program (``--version``);
   * ``check --quick --json`` and a short full check against the lab's servers on 127.0.0.1 (a STUN
     server, an HTTPS "platform" with the lab's own CA, a speed server): the frozen program measures;
   * ``install.sh`` into a temporary home folder, then ``install.sh --uninstall --purge``;
   * with ``--tray``: the time until the tray icon shows under Xvfb with trayer, per desktop, and
     what the frozen app logged meanwhile (Debian: ``apt-get install xvfb trayer x11-utils``);
   * with ``--wayland``: the app on a headless weston (Qt's Wayland platform; no tray there, so its
     window), quitting cleanly and logging nothing the app from source does not (``apt-get install weston``);
4. the figures (sizes, what each pruning rule saved, times) printed, and written to ``--out``.

On Windows it also writes ``build/installer/defines.iss`` for Inno Setup; on macOS it builds
``dist/connectcheck.app``. Both run the smoke test and the checks on the folder build. Exit code 0
when everything passed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import bundle

sys.path.insert(0, str(bundle.ROOT))  # the lab's servers (tests/lab), the virtual desktop (benchmarks/ui.py)
from benchmarks.ui import stop

ROOT = bundle.ROOT
DIST = bundle.DIST
WORK = ROOT / "build" / "pyinstaller"
SPEC = bundle.HERE / "connectcheck.spec"
LINUX = sys.platform.startswith("linux")
EXE = ".exe" if sys.platform.startswith("win") else ""
START_RUNS = 5
MB = 1e6


class BuildError(Exception):
    """A step of the build or of its checks failed; the message says which and why."""


@dataclass
class Figures:
    """What is measured along the way, as (label, value) rows, and the pruning table."""

    rows: list[tuple[str, str]] = field(default_factory=list)
    pruning: list[str] = field(default_factory=list)

    def add(self, label: str, value: str) -> None:
        print(f"  {label}: {value}", flush=True)
        self.rows.append((label, value))


def mb(n: float) -> str:
    return f"{n / MB:.1f} MB ({n / 2**20:.1f} MiB)"


def folder_size(path: Path) -> tuple[int, int]:
    """Bytes and files under ``path`` (links count as nothing, as on disk)."""
    total = files = 0
    for item in path.rglob("*"):
        if item.is_file() and not item.is_symlink():
            total += item.stat().st_size
            files += 1
    return total, files


def program_version() -> str:
    from importlib.metadata import version

    return version("connectcheck")


# --- building ---------------------------------------------------------------------------------------------


def run_pyinstaller(fig: Figures) -> Path:
    """The folder build (and on macOS the .app); returns the folder holding the programs."""
    log = bundle.BUILD / "pyinstaller.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as out:
        done = subprocess.run(
            [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--distpath", str(DIST),
             "--workpath", str(WORK), str(SPEC)],
            stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, check=False)
    if done.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-25:]
        raise BuildError("PyInstaller failed (whole log in {}):\n{}".format(log, "\n".join(tail)))
    fig.add("build time (PyInstaller, --clean)", f"{time.monotonic() - started:.1f} s")
    folder = DIST / bundle.APP
    size, files = folder_size(folder)
    fig.add("folder build", f"{mb(size)}, {files} files")
    if sys.platform == "darwin":
        app = DIST / f"{bundle.APP}.app"
        fig.add(".app bundle", mb(folder_size(app)[0]))
        return app / "Contents" / "MacOS"
    return folder


def pruning_figures(fig: Figures, folder: Path) -> None:
    """What PyInstaller collected, what each rule took out, and what stripping saved."""
    data = json.loads((bundle.BUILD / "pruning.json").read_text(encoding="utf-8"))
    import PySide6

    wheel = folder_size(Path(PySide6.__file__).parent)[0]
    fig.add("PySide6-Essentials as installed (for comparison)", mb(wheel))
    fig.add("libraries and data PyInstaller collected (before pruning)", mb(data["collected_bytes"]))
    fig.pruning = ["| pruned | files | libraries only they needed | saved |", "|---|---|---|---|"]
    for rule in data["rules"]:
        orphans = ", ".join(Path(o).name for o in rule["orphans"]) or "–"
        saved = f"{rule['bytes'] / MB:.2f} MB"
        fig.pruning.append(f"| {rule['rule']} | {len(rule['files'])} | {orphans} | {saved} |")
    pruned = sum(r["bytes"] for r in data["rules"])
    fig.pruning.append(f"| **all rules** | | | **{pruned / MB:.1f} MB** |")
    internal = folder / "_internal"
    before = after = 0
    for dest, src, kind in data["kept"]:
        built = internal / dest
        if kind in ("BINARY", "EXTENSION") and built.is_file() and not built.is_symlink():
            before += os.path.getsize(src)
            after += built.stat().st_size
    if before > after:
        fig.add("debug symbols stripped from the binaries", mb(before - after))


def make_archive(fig: Figures, folder: Path, version: str) -> Path:
    """The Linux archive: the folder build with the desktop entry, its icons and install.sh."""
    name = f"{bundle.APP}-{version}-linux-{platform.machine()}"
    archive = DIST / f"{name}.tar.gz"
    started = time.monotonic()
    with tarfile.open(archive, "w:gz", compresslevel=6) as tar:
        tar.add(folder, arcname=name)
        for source, target in ((bundle.HERE / "linux" / "install.sh", "install.sh"),
                               (bundle.HERE / "linux" / f"{bundle.APP}.desktop", f"{bundle.APP}.desktop"),
                               (bundle.BUILD / "icons" / "hicolor", "icons/hicolor")):
            tar.add(source, arcname=f"{name}/{target}")
    fig.add("archive (.tar.gz)", f"{archive.name}: {mb(archive.stat().st_size)}, "
                                 f"made in {time.monotonic() - started:.1f} s")
    return archive


def unpack(archive: Path, into: Path) -> Path:
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "tar_filter"):  # Python 3.11.4 and later
            tar.extractall(into, filter="tar")
        else:
            tar.extractall(into)  # our own archive, just written
        top = tar.getnames()[0].split("/")[0]
    return into / top


# --- running the frozen programs ----------------------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that points at the build machine's Python."""
    drop = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "QT_PLUGIN_PATH", "QT_QPA_PLATFORM")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("CONNECTCHECK_")}
    env.update(extra)
    return env


def run_frozen(argv: list[str], *, env: dict[str, str] | None = None, timeout: float = 120,
               cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=env or clean_env(), capture_output=True, text=True, timeout=timeout,
                          cwd=cwd or tempfile.gettempdir(), check=False)


def smoke_tests(fig: Figures, folder: Path, carried: str | None = None) -> None:
    """Both programs' smoke tests; with ``carried`` (the profile given with --profile), each must say
    it runs with that profile and knows the support address, in a fresh home with no settings."""
    for program in (bundle.CLI, bundle.APP):
        with tempfile.TemporaryDirectory(prefix="connectcheck-home-") as home:
            env = clean_env(HOME=home, XDG_CONFIG_HOME=str(Path(home) / ".config"),
                            XDG_DATA_HOME=str(Path(home) / ".local" / "share"),
                            APPDATA=str(Path(home) / "AppData" / "Roaming"),
                            LOCALAPPDATA=str(Path(home) / "AppData" / "Local")) if carried else None
            started = time.monotonic()
            done = run_frozen([str(folder / f"{program}{EXE}"), "--smoke-test"], env=env)
            took = time.monotonic() - started
        if done.returncode != 0 or done.stderr.strip():
            raise BuildError(f"{program} --smoke-test failed (exit {done.returncode}):\n"
                             f"{done.stdout}{done.stderr}")
        print("\n".join(f"    {line}" for line in done.stdout.splitlines()))
        fig.add(f"{program} --smoke-test", f"passed, {took:.2f} s from start to exit")
        if carried is not None:
            said = f"(profile {carried}, support address known)"
            if said not in done.stdout:
                raise BuildError(f"{program} does not run with the carried profile: no {said!r} in\n"
                                 f"{done.stdout}")
            fig.add(f"{program}: the carried profile", f"{carried} is the default, its support address known")


def start_time(fig: Figures, folder: Path) -> None:
    """The bare start of the frozen program (Python, the command line's modules), median of a few."""
    times = []
    for _ in range(START_RUNS):
        started = time.monotonic()
        done = run_frozen([str(folder / f"{bundle.CLI}{EXE}"), "--version"])
        times.append(time.monotonic() - started)
        if done.returncode != 0:
            raise BuildError(f"{bundle.CLI} --version failed: {done.stderr}")
    fig.add("start of the frozen program (--version)",
            f"median {statistics.median(times):.2f} s, worst {max(times):.2f} s ({START_RUNS} runs)")


@contextmanager
def lab_servers(folder: Path) -> Iterator[dict[str, str]]:
    """The lab's STUN, HTTPS and speed servers on 127.0.0.1 (``tests/lab``), for the frozen checks."""
    from tests.lab.endpoints import WebServer, make_pki
    from tests.lab.speed_server import LabSpeedServer
    from tests.lab.stun_server import StunServer

    pki = make_pki(folder / "pki")
    with ExitStack() as stack:
        stun = stack.enter_context(StunServer())
        web = stack.enter_context(WebServer(cert=pki.cert, key=pki.key))
        speed = stack.enter_context(LabSpeedServer())
        yield {"stun": stun.address, "platform": web.url("/"), "ca_file": str(pki.ca_file),
               "speed": speed.librespeed_url}


def frozen_check(folder: Path, servers: dict[str, str], home: Path, full: bool) -> dict:
    argv = [str(folder / f"{bundle.CLI}{EXE}"), "check", "--json", "--stun", servers["stun"],
            "--platform", servers["platform"], "--ca-file", servers["ca_file"]]
    argv += (["--source", "org", "--speed-server", servers["speed"], "--set", "speed.time_limit_s=2",
              "--set", "speed.data_limit_mb=60"] if full else ["--quick"])
    folders = ("CONFIG", "DATA", "CACHE", "LOG")  # private: the build never touches the user's own
    env = clean_env(**{f"CONNECTCHECK_{n}_DIR": str(home / n.lower()) for n in folders})
    done = run_frozen(argv, env=env)
    if done.returncode != 0:
        raise BuildError(f"the frozen check failed (exit {done.returncode}): {done.stderr}")
    result = json.loads(done.stdout)
    s = result["summary"]
    problems = [what for what, bad in (
        ("it did not run to the end", result["status"] != "ok"),
        ("no verdicts", not (result.get("assessment") or {}).get("verdicts")),
        ("no round trip over UDP", s["rtt_ms"] is None or not s["udp_ok"]),
        ("the HTTPS platform was not reached", not s["platform_reachable"]),
        ("no download or upload rate", full and not (s["download_mbps"] and s["upload_mbps"])),
    ) if bad]
    if problems:
        raise BuildError(f"the frozen {'full' if full else 'quick'} check: {'; '.join(problems)}")
    return result


def lab_checks(fig: Figures, folder: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp, lab_servers(Path(tmp)) as servers:
        quick = frozen_check(folder, servers, Path(tmp) / "quick", full=False)
        s = quick["summary"]
        fig.add("frozen check --quick --json (127.0.0.1 servers)",
                f"{quick['duration_s']:.1f} s, RTT {s['rtt_ms']:.2f} ms over {s['latency_target']}, "
                f"HTTPS platform reached (the lab's CA), verdicts given")
        full = frozen_check(folder, servers, Path(tmp) / "full", full=True)
        s = full["summary"]
        fig.add("frozen full check (127.0.0.1, 2 s per direction)",
                f"{full['duration_s']:.1f} s, download {s['download_mbps']:.0f} Mbit/s, "
                f"upload {s['upload_mbps']:.0f} Mbit/s (loopback), {full['bytes_used'] / MB:.0f} MB moved")


def install_script(fig: Figures, unpacked: Path) -> None:
    """install.sh into a temporary home folder, the installed program started, then uninstalled."""
    with tempfile.TemporaryDirectory() as home:
        env = clean_env(HOME=home)
        for key in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
            env.pop(key, None)
        done = run_frozen(["sh", str(unpacked / "install.sh")], env=env)
        installed = Path(home) / ".local" / "bin" / bundle.APP
        entry = Path(home) / ".local" / "share" / "applications" / f"{bundle.APP}.desktop"
        if done.returncode != 0 or not installed.exists() or not entry.is_file():
            raise BuildError(f"install.sh failed: {done.stdout}{done.stderr}")
        program = Path(home) / ".local" / "opt" / bundle.APP / bundle.APP
        if f"Exec={program}" not in entry.read_text(encoding="utf-8"):
            raise BuildError(f"install.sh wrote a menu entry that does not start {program}")
        version = run_frozen([str(installed), "--version"], env=env)
        if version.returncode != 0:
            raise BuildError(f"the installed program does not start: {version.stderr}")
        done = run_frozen(["sh", str(unpacked / "install.sh"), "--uninstall", "--purge"], env=env)
        left = [p for p in (installed, entry, program.parent) if p.exists() or p.is_symlink()]
        if done.returncode != 0 or left:
            raise BuildError(f"install.sh --uninstall left {left}: {done.stdout}{done.stderr}")
    fig.add("install.sh", "installed into a fresh home folder, started, uninstalled")


def tray_times(fig: Figures, folder: Path) -> None:
    """Time until the tray icon shows under Xvfb with trayer, as start at login starts the app, for
    the frozen app and the app from source; the frozen one must log nothing the other does not."""
    missing = [t for t in ("Xvfb", "trayer", "xwininfo") if shutil.which(t) is None]
    if missing:
        fig.add("tray icon time", f"not measured: {', '.join(missing)} missing "
                                  "(apt-get install xvfb trayer x11-utils)")
        return
    for desktop in ("KDE", "XFCE", "GNOME"):
        frozen_and_source(fig, folder, lambda program, d=desktop: tray_run(program, d),
                          f"tray icon shown after start at login, {desktop} (Xvfb, trayer)",
                          f"the frozen tray app under {desktop}", "no tray icon")


def wayland_times(fig: Figures, folder: Path) -> None:
    """The app on a Wayland desktop (weston, headless): it must start, open its window (weston has no
    tray), quit when asked and log nothing the app from source does not. Proves that the Wayland
    plugins the pruning kept are enough."""
    if shutil.which("weston") is None:
        fig.add("on Wayland (weston)", "not tried: weston missing (apt-get install weston)")
        return
    frozen_and_source(fig, folder, wayland_run,
                      "window shown on Wayland (weston, no tray: after the 3 s wait for one)",
                      "the frozen app on Wayland", "no window")


RunFn = Callable[[list[str]], tuple[float | None, list[str]]]


def frozen_and_source(fig: Figures, folder: Path, run: RunFn, label: str, what: str, unseen: str) -> None:
    """``run`` the frozen app and the app from source: the figure is both times; the build fails when
    the frozen one never showed (``unseen``) or logged anything the app from source does not."""
    frozen, frozen_said = run([str(folder / bundle.APP)])
    source, source_said = run([sys.executable, "-m", "connectcheck.ui"])
    extra = [m for m in frozen_said if m not in source_said]
    fig.add(label, f"frozen {_seconds(frozen)}, from source {_seconds(source)}; the frozen app logged "
                   + ("nothing the app from source does not" if not extra else "; ".join(extra)))
    if frozen is None or extra:
        raise BuildError(f"{what}: " + (unseen if frozen is None else f"it logged {'; '.join(extra)}"))


def what_it_said(log: Path, out: bytes, err: bytes) -> list[str]:
    """The warnings and errors in the app's log (without time stamps) and every line it printed."""
    said = [line.split(": ", 1)[-1] for line in log.read_text(encoding="utf-8").splitlines()
            if " WARNING " in line or " ERROR " in line] if log.exists() else []
    said += [line for line in (out + err).decode(errors="replace").splitlines() if line.strip()]
    return list(dict.fromkeys(said))


def wayland_run(program: list[str]) -> tuple[float | None, list[str]]:
    """Start ``program`` on a headless weston with Qt's Wayland platform; the time until it opens its
    window, and the warnings and errors it logged or printed. Raises when it does not quit cleanly."""
    with tempfile.TemporaryDirectory() as base, ExitStack() as stack:
        runtime = Path(base) / "run"
        runtime.mkdir(mode=0o700)
        env = clean_env(XDG_RUNTIME_DIR=str(runtime), WAYLAND_DISPLAY="connectcheck-build",
                        QT_QPA_PLATFORM="wayland", XDG_SESSION_TYPE="wayland")
        env.pop("DISPLAY", None)
        for name in ("CONFIG", "DATA", "CACHE", "LOG"):
            env[f"CONNECTCHECK_{name}_DIR"] = str(Path(base) / name.lower())
        weston = subprocess.Popen(["weston", "--backend=headless-backend.so", "--socket=connectcheck-build",
                                   "--idle-time=0"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stack.callback(stop, weston)
        socket = runtime / "connectcheck-build"
        end = time.monotonic() + 10
        while not socket.exists() and time.monotonic() < end:
            time.sleep(0.05)
        if not socket.exists():
            raise BuildError("weston did not start")
        log = Path(env["CONNECTCHECK_LOG_DIR"]) / "connectcheck.log"
        started = time.monotonic()
        app = subprocess.Popen(program, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stack.callback(stop, app)
        shown = None
        while time.monotonic() - started < 20 and shown is None and app.poll() is None:
            if log.exists() and "opens as a normal window" in log.read_text(encoding="utf-8"):
                shown = time.monotonic() - started
            time.sleep(0.02)
        quit_ = subprocess.run([*program, "--quit"], env=env, timeout=30, check=False, capture_output=True)
        out, err = app.communicate(timeout=15)
        if app.returncode != 0 or quit_.returncode != 0:
            raise BuildError(f"{program[-1]} on Wayland: exit {app.returncode}, --quit exit "
                             f"{quit_.returncode}\n{err.decode(errors='replace')[-2000:]}")
        return shown, what_it_said(log, out, err)


def _seconds(value: float | None) -> str:
    return f"{value:.2f} s" if value is not None else "not within 20 s"


def tray_run(program: list[str], desktop: str) -> tuple[float | None, list[str]]:
    """Start ``program --autostart`` on a virtual screen with a tray; the time until its icon shows,
    and the warnings and errors it logged or printed (without time stamps)."""
    from benchmarks.ui import icon_in_tray, private_env, virtual_desktop

    with tempfile.TemporaryDirectory() as base, ExitStack() as stack:
        env = private_env(Path(base), desktop)
        stack.enter_context(virtual_desktop(env))
        started = time.monotonic()
        app = subprocess.Popen([*program, "--autostart"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stack.callback(stop, app)
        shown = None
        while time.monotonic() - started < 20 and shown is None:
            shown = time.monotonic() - started if icon_in_tray() else None
            time.sleep(0.01)
        subprocess.run([*program, "--quit"], env=env, timeout=30, check=False, capture_output=True)
        out, err = app.communicate(timeout=15)
        log = Path(env["CONNECTCHECK_LOG_DIR"]) / "connectcheck.log"
        return shown, what_it_said(log, out, err)



# ------------------------------------------------------------------------------------------------------------


def write_figures(fig: Figures, path: Path, version: str) -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    import PyInstaller

    lines = [
        "# The installer build: size, start time, what was pruned",
        "",
        f"connectcheck {version}, {platform.platform(terse=True)}, Python {platform.python_version()}, "
        f"PyInstaller {PyInstaller.__version__}; {time.strftime('%Y-%m-%d %H:%M')}, load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} cores, shared: times are noisy). "
        "Written by `installer/build.py`.",
        "",
        "| measure | value |",
        "|---|---|",
        *(f"| {label} | {value} |" for label, value in fig.rows),
        "",
        "What PyInstaller collected and each rule of `installer/bundle.py` removed (sizes before "
        "stripping; a library goes with a rule when only the files it removed linked to it):",
        "",
        *fig.pruning,
        "",
    ]
    text = "\n".join(lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tray", action="store_true",
                        help="also time the tray icon under Xvfb with trayer (Linux)")
    parser.add_argument("--wayland", action="store_true",
                        help="also run the app on a headless weston, Qt's Wayland platform (Linux)")
    parser.add_argument("--out", type=Path, default=bundle.BUILD / "figures.md",
                        help="where to write the figures (default build/installer/figures.md)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="an organisation profile (NAME.toml, with its support address) for the "
                             "build to carry as the default, so the app never asks for the address")
    args = parser.parse_args()
    if args.profile is not None:
        try:
            bundle.carried_profile(args.profile)  # refused now, with the reason, not mid-build
        except bundle.ProfileRefused as exc:
            print(f"build.py: {exc}", file=sys.stderr)
            return 2
        os.environ["CONNECTCHECK_PROFILE"] = str(args.profile.resolve())  # read by the spec
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        print("build.py: PyInstaller is missing: .venv/bin/pip install -e '.[build]'", file=sys.stderr)
        return 2
    version = program_version()
    fig = Figures()
    bundle.BUILD.mkdir(parents=True, exist_ok=True)
    (bundle.BUILD / "defines.iss").write_text(bundle.iss_defines(version), encoding="utf-8")
    try:
        print("building with PyInstaller...", flush=True)
        folder = run_pyinstaller(fig)
        pruning_figures(fig, DIST / bundle.APP)
        with tempfile.TemporaryDirectory(prefix="connectcheck-build-") as tmp:
            if LINUX:
                folder = unpack(make_archive(fig, folder, version), Path(tmp))
                print(f"checking the unpacked archive in {folder}...", flush=True)
            smoke_tests(fig, folder, args.profile.stem if args.profile is not None else None)
            start_time(fig, folder)
            lab_checks(fig, folder)
            if LINUX:
                install_script(fig, folder)
                if args.tray:
                    tray_times(fig, folder)
                if args.wayland:
                    wayland_times(fig, folder)
    except BuildError as exc:
        print(f"build.py: {exc}", file=sys.stderr)
        return 1
    print()
    print(write_figures(fig, args.out, version))
    if sys.platform.startswith("win"):
        print(f"next: iscc {bundle.HERE / 'windows' / 'connectcheck.iss'}")
    elif sys.platform == "darwin":
        print(f"next: {bundle.HERE / 'macos' / 'sign-and-notarise.sh'} (see installer/README.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
