"""What the frozen build holds and what is pruned from it: read by ``connectcheck.spec`` (PyInstaller),
``build.py`` and the tests, so that the lists live in one place.

The build is a folder (not one file: it starts faster and antivirus programs flag it less) with
two programs sharing one set of libraries: ``connectcheck`` (windowed: the tray app, and what start
at login runs) and ``connectcheck-cli`` (a console program for the command line; on Windows a
windowed program cannot print).

PyInstaller only collects the Qt modules the code imports, with the plugins and translations its
hooks attach to them. :data:`PRUNE_RULES` then removes what connectcheck never uses; a library that
only removed files needed goes too (:func:`prune` follows the links between binaries), and each
rule's saving is measured and written next to the build.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "installer"
BUILD = ROOT / "build" / "installer"  # icons, defines.iss, pruning figures (build/ is not in git)
DIST = ROOT / "dist"  # the folder build, the archive, the Windows installer
ENTRY = ROOT / "src" / "connectcheck" / "__main__.py"  # both programs run connectcheck.cli.main
RUNTIME_HOOK = HERE / "rthook.py"
APP = "connectcheck"  # the windowed program (the tray app); also the build folder's name
CLI = "connectcheck-cli"  # the console program
BUNDLE_ID = "org.connectcheck.app"
QUIT_FLAG = "--quit"  # what installers run to close the running app (one of cli.APP_FLAGS)
RESOURCES_DEST = "connectcheck/resources"  # where paths.resource_dir() looks in a frozen build
# Debug symbols are removed on Linux (a Python built from source carries 30 MB of them). Not on
# macOS, where stripping breaks the signatures of Qt's frameworks, nor on Windows (PyInstaller advises
# against it).
STRIP = sys.platform.startswith("linux")

# Modules never bundled even if something imports them: Qt modules connectcheck does not use
# (QML/Quick, Designer, SQL, Help, Test, OpenGL, XML...), and Python's GUI toolkit and tooling.
EXCLUDED_MODULES = tuple(
    [f"PySide6.{m}" for m in (
        "QtQml", "QtQuick", "QtQuickWidgets", "QtQuickControls2", "QtQuickTest", "QtQuick3D",
        "QtDesigner", "QtUiTools", "QtHelp", "QtSql", "QtTest", "QtOpenGL", "QtOpenGLWidgets",
        "QtSvgWidgets", "QtXml", "QtConcurrent", "QtPrintSupport", "QtWebEngineCore",
        "QtWebEngineWidgets", "QtWebEngineQuick", "QtWebChannel", "QtWebSockets", "QtMultimedia",
        "QtMultimediaWidgets", "QtSpatialAudio", "QtTextToSpeech", "Qt3DCore", "Qt3DRender",
        "QtCharts", "QtDataVisualization", "QtGraphs", "QtPdf", "QtPdfWidgets", "QtBluetooth",
        "QtPositioning", "QtLocation", "QtSensors", "QtSerialPort", "QtSerialBus", "QtNfc",
        "QtRemoteObjects", "QtScxml", "QtStateMachine", "QtHttpServer", "QtNetworkAuth",
        "QtAxContainer",
    )]
    + ["tkinter", "_tkinter", "unittest", "pydoc", "doctest", "lib2to3", "idlelib", "ensurepip",
       "venv", "pip", "setuptools", "pkg_resources", "distutils", "PyInstaller"]
)


@dataclass(frozen=True)
class Rule:
    """Files to leave out: bundled paths (forward slashes, any case) that match ``drop`` and not ``keep``."""

    name: str
    why: str
    drop: tuple[str, ...]
    keep: tuple[str, ...] = ()

    def matches(self, dest: str) -> bool:
        path = dest.replace("\\", "/").lower()
        return any(fnmatch.fnmatchcase(path, p) for p in self.drop) and not any(
            fnmatch.fnmatchcase(path, p) for p in self.keep
        )


PRUNE_RULES: tuple[Rule, ...] = (
    Rule("Qt translations", "connectcheck is in English and loads no Qt translation",
         ("*/translations/*.qm",)),
    Rule("GTK 3 theme (Linux)",
         "it loads the build machine's GTK into the app (20 MB, and a GTK that may not match the "
         "tutor's); the portal theme kept gives the desktop's own file dialogs",
         ("*/plugins/platformthemes/*gtk3*",)),
    Rule("display plugins for devices without a desktop",
         "eglfs, linuxfb, VNC, minimal, Direct2D...: the app runs on X11, Wayland, Windows or macOS "
         "(offscreen is kept for the smoke test)",
         ("*/plugins/platforms/*", "*/plugins/egldeviceintegrations/*"),
         ("*/plugins/platforms/*qxcb*", "*/plugins/platforms/*qwayland*", "*/plugins/platforms/*qoffscreen*",
          "*/plugins/platforms/*qwindows*", "*/plugins/platforms/*qcocoa*")),
    Rule("image formats other than SVG",
         "the app's images are SVG, drawn by QtSvg; theme icons are SVG or built-in PNG",
         ("*/plugins/imageformats/*",), ("*/plugins/imageformats/*qsvg*",)),
    Rule("touch and evdev input plugins", "for devices without a window system",
         ("*/plugins/generic/*",)),
    Rule("QtNetwork's TLS backends",
         "QtNetwork only carries the local socket of the single instance; HTTPS goes through Python",
         ("*/plugins/tls/*",)),
    Rule("network information backends", "the app measures the network itself",
         ("*/plugins/networkinformation/*",)),
    Rule("OpenGL for X11 windows", "nothing is drawn with OpenGL (widgets paint in software)",
         ("*/plugins/xcbglintegrations/*",)),
    Rule("Wayland extras for compositors and embedded shells (Linux)",
         "on Wayland the app's windows paint in software into shared memory and reach the desktop "
         "through xdg-shell: the OpenGL buffer integrations (wayland-egl, and the server buffers a Qt "
         "compositor offers) and the IVI, fullscreen and Qt shells are never loaded",
         ("*/plugins/wayland-graphics-integration-client/*", "*/plugins/wayland-shell-integration/*"),
         ("*/plugins/wayland-shell-integration/*xdg-shell*",
          "*/plugins/wayland-shell-integration/*wl-shell*")),
    Rule("libraries the Linux desktop provides (D-Bus, fontconfig, FreeType)",
         "they must be the system's own: a bundled fontconfig warns about the newer configuration files "
         "it cannot read, and a bundled libdbus brings systemd's libraries with it; every desktop has them",
         ("libdbus-1.so*", "libfontconfig.so*", "libfreetype.so*")),
    Rule("software OpenGL and Direct3D compiler (Windows)", "nothing is drawn with OpenGL or Qt Quick",
         ("*opengl32sw.dll", "*d3dcompiler_*.dll")),
)


def info_plist(version: str) -> dict[str, object]:
    """The macOS ``Info.plist`` entries beyond PyInstaller's own: a menu bar app, no Dock icon."""
    return {
        "CFBundleName": APP,
        "CFBundleDisplayName": APP,
        "CFBundleShortVersionString": version,
        "CFBundleVersion": version,
        "LSUIElement": True,  # lives in the menu bar only: no Dock icon, no menu of its own
        "LSBackgroundOnly": False,  # it has windows (status, guide, settings)
        "NSHighResolutionCapable": True,
    }


def iss_defines(version: str) -> str:
    """``defines.iss`` for the Windows installer script: the values it must share with the app,
    taken from the app's own code (the Run value of start at login, the data folder's name)."""
    from connectcheck.core import paths
    from connectcheck.ui import autostart

    values = {
        "AppName": paths.APP_NAME,
        "AppVersion": version,
        "AppExe": f"{APP}.exe",
        "CliExe": f"{CLI}.exe",
        "RunKey": autostart.RUN_KEY,
        "RunValue": autostart.APP_ID,
        "AutostartFlag": autostart.AUTOSTART_FLAG,
        "QuitFlag": QUIT_FLAG,
        "DataFolder": paths.APP_NAME,  # platformdirs: %LOCALAPPDATA%\connectcheck holds all of it
    }
    for name, value in values.items():
        if '"' in value or not value:
            raise ValueError(f"{name} {value!r} cannot be written into defines.iss")
    lines = ["; Written by installer/build.py from connectcheck's code: do not edit."]
    return "\n".join([*lines, *(f'#define {k} "{v}"' for k, v in values.items())]) + "\n"


def datas(profile: Path | None = None) -> list[tuple[str, str]]:
    """(source, folder in the build) of the data files: resources, connectcheck's metadata (its
    version: without it the frozen app would call itself 0.0.0+unknown), the metadata with the
    licence files of what it is built with (About shows them; ui/about.COMPONENTS), and the
    organisation profile the installer carries (:func:`carried_profile`), if one is given."""
    from PyInstaller.utils.hooks import copy_metadata

    from connectcheck.ui.about import COMPONENTS

    found = [item for name, _use in COMPONENTS for item in copy_metadata(name)]
    carried = carried_profile(profile) if profile is not None else []
    return [(str(ROOT / "resources"), RESOURCES_DEST), *copy_metadata("connectcheck"), *found, *carried]


class ProfileRefused(ValueError):
    """The profile given to the build cannot be carried; the message says why."""


def carried_profile(profile: Path, build: Path | None = None) -> list[tuple[str, str]]:
    """The data entries that make the build carry an organisation profile: the file itself in
    ``resources/organisations`` and the marker naming it the default (config/settings
    ``carried_profile_id``). The profile must read as one and hold a support address, so that the
    installed app never has to ask the tutor for it."""
    import tomllib

    from connectcheck.config.profile import ProfileError, profile_from_data
    from connectcheck.config.settings import CARRIED_PROFILE, is_valid_address

    profile_id = profile.stem
    try:
        loaded = profile_from_data(profile_id, tomllib.loads(profile.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ProfileError) as exc:
        raise ProfileRefused(f"the profile {profile} cannot be read: {exc}") from None
    if not is_valid_address(loaded.support_email.strip()):
        raise ProfileRefused(f"the profile {profile} has no support address (support_email = "
                             '"name@example.org"): the installed app would have to ask the tutor for it')
    marker_dir = (build or BUILD) / "carried-profile"
    marker_dir.mkdir(parents=True, exist_ok=True)
    marker = marker_dir / CARRIED_PROFILE
    marker.write_text(profile_id + "\n", encoding="utf-8")
    dest = f"{RESOURCES_DEST}/organisations"
    return [(str(profile.resolve()), dest), (str(marker), dest)]


# --- pruning ---------------------------------------------------------------------------------------------

Entry = tuple[str, str, str]  # PyInstaller's TOC entry: (path in the build, source path, type)
ImportsFn = Callable[[str], Iterable[str]]


@dataclass
class Saving:
    """What one rule removed: the files it matched and the libraries only they needed."""

    rule: str
    why: str
    files: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    bytes: int = 0


def _key(path: str) -> str:
    return os.path.basename(path.replace("\\", "/")).lower()


def _framework(dest: str) -> str | None:
    """``.../QtDBus.framework/`` for a path inside a macOS framework."""
    at = dest.find(".framework/")
    return dest[: at + len(".framework/")] if at >= 0 else None


def _size(entry: Entry) -> int:
    try:
        return os.path.getsize(entry[1]) if entry[2] != "SYMLINK" else 0
    except OSError:
        return 0


def _linked_imports(src: str) -> list[str]:
    """The names of the libraries a binary itself is linked against (not their own links: on Linux
    PyInstaller asks ``ldd``, which lists the whole chain, so the ELF file is read with ``readelf``)."""
    if sys.platform.startswith("linux"):
        done = subprocess.run(["readelf", "-d", "-W", src], capture_output=True, text=True, check=False)
        return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", done.stdout)
    from PyInstaller.depend.bindepend import get_imports

    try:
        return [name for name, _path in get_imports(src)]
    except Exception:  # not a binary PyInstaller can read: it links nothing we know of
        return []


class _Graph:
    """Which bundled library each binary links against, by file name."""

    def __init__(self, binaries: list[Entry], imports: ImportsFn) -> None:
        self.by_name = {_key(e[0]): e for e in binaries if e[2] != "SYMLINK"}
        self.imports = imports
        self._deps: dict[str, set[str]] = {}

    def deps(self, entry: Entry) -> set[str]:
        if entry[0] not in self._deps:
            names = {_key(n) for n in self.imports(entry[1])}
            self._deps[entry[0]] = {self.by_name[n][0] for n in names if n in self.by_name}
        return self._deps[entry[0]]

    def closure(self, starts: Iterable[Entry], avoid: set[str]) -> set[str]:
        """The binaries reachable from ``starts`` by links, not passing through ``avoid``."""
        seen: set[str] = set()
        todo = list(starts)
        while todo:
            entry = todo.pop()
            if entry[0] in seen:
                continue
            seen.add(entry[0])
            todo += [self.by_name[_key(d)] for d in self.deps(entry) if d not in seen and d not in avoid]
        return seen


def prune(binaries: list[Entry], datas: list[Entry], rules: tuple[Rule, ...] = PRUNE_RULES,
          imports: ImportsFn = _linked_imports) -> tuple[list[Entry], list[Entry], list[Saving]]:
    """The binaries and data files without what the rules drop, and what each rule saved.

    After each rule, a shared library that a dropped file linked, and that nothing kept links any
    more (directly or through other libraries), goes too, so the saving counts the whole chain (a
    plugin and the system libraries only it used). A library no dropped file linked stays whatever
    links it (Python's own, those ctypes loads by name). Links (``SYMLINK``) to removed files and
    the rest of a removed macOS framework go with them.
    """
    graph = _Graph(binaries, imports)
    kept_bins = list(binaries)
    kept_datas = list(datas)
    savings = []
    for rule in rules:
        saving = Saving(rule.name, rule.why)
        dropped = [e for e in kept_bins + kept_datas if e[2] != "SYMLINK" and rule.matches(e[0])]
        gone = {e[0] for e in dropped}
        removed = {e[0] for e in binaries} - {e[0] for e in kept_bins}  # by the rules before
        candidates = graph.closure((e for e in dropped if e in kept_bins), removed) - gone
        roots = [e for e in kept_bins if e[0] not in gone | candidates and e[2] != "SYMLINK"]
        needed = graph.closure(roots, removed | gone)
        orphans = [graph.by_name[_key(d)] for d in candidates - needed]
        gone |= {e[0] for e in orphans}
        frameworks = {f for f in map(_framework, gone) if f}
        gone |= {e[0] for e in kept_bins + kept_datas if _framework(e[0]) in frameworks}
        saving.files = sorted(e[0] for e in dropped)
        saving.orphans = sorted(e[0] for e in orphans)
        saving.bytes = sum(_size(e) for e in kept_bins + kept_datas if e[0] in gone)
        kept_bins = [e for e in kept_bins if e[0] not in gone and not (e[2] == "SYMLINK" and e[1] in gone)]
        kept_datas = [e for e in kept_datas if e[0] not in gone and not (e[2] == "SYMLINK" and e[1] in gone)]
        savings.append(saving)
    return kept_bins, kept_datas, savings


def write_savings(savings: list[Saving], collected: list[Entry], kept: list[Entry], path: Path) -> None:
    """The pruning's figures as JSON for ``build.py``: what PyInstaller collected, what each rule
    removed, and what was kept (to measure what stripping saved)."""
    data = {
        "collected_bytes": sum(_size(e) for e in collected),
        "rules": [vars(s) for s in savings],
        "kept": [list(e) for e in kept],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
