"""The system libraries Qt needs on Linux, which of them this computer lacks, and what to install.

The list is data (``resources/linux/libraries.tsv``: soname, Debian package, Fedora package,
group), read here by the app, by ``.ci/doctor`` (which loads this file by its path, so it imports
nothing but the standard library) and by ``installer/linux/install.sh`` (with awk). A test compares
the list with what ``ldd`` says Qt's files load.
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

# The groups a window needs, by the display it opens on (Qt falls back to X11 when its Wayland
# plugin cannot load, so on Wayland nothing is missing for sure until both fail).
WINDOW_GROUPS = ("qt", "x11")
_SONAME = re.compile(r"^lib(?P<name>.+?)\.so(\.\d+)*$")
_DEFAULT_DIRS = ("/lib", "/usr/lib", "/lib64", "/usr/lib64", "/usr/local/lib")

# The files of PySide6 (globs under its folder) that the app loads on Linux: the Qt modules it
# imports, the window plugins (X11, Wayland, offscreen) and what they load. What these link to
# outside PySide6 is what the list must hold.
QT_FILES = (
    "Qt{Core,Gui,Widgets,Svg,PrintSupport,Network}.abi3.so",
    "libpyside6.abi3.so*",
    "Qt/lib/libQt6{Core,Gui,Widgets,Svg,PrintSupport,Network,DBus,XcbQpa,WaylandClient}.so.6",
    "Qt/plugins/platforms/lib{qxcb,qwayland,qoffscreen}.so",
    "Qt/plugins/platformthemes/libqxdgdesktopportal.so",
    "Qt/plugins/{imageformats/libqsvg,iconengines/libqsvgicon}.so",
    "Qt/plugins/platforminputcontexts/lib{compose,ibus}platforminputcontextplugin.so",
    "Qt/plugins/wayland-shell-integration/lib{xdg-shell,wl-shell-plugin}.so",
    "Qt/plugins/wayland-decoration-client/*.so",
)
# Libraries PySide6 ships (or that only the plugins it does not load need): never the system's.
_OWN = re.compile(r"^lib(Qt6|pyside6|shiboken6|icu)")


@dataclass(frozen=True)
class Library:
    """One system library: its soname, the packages that bring it, and what needs it."""

    soname: str
    debian: str
    fedora: str
    group: str

    @property
    def name(self) -> str:
        """The name ``ctypes.util.find_library`` takes ("xcb-cursor" for libxcb-cursor.so.0)."""
        m = _SONAME.match(self.soname)
        return m.group("name") if m else self.soname


def libraries_file() -> Path:
    """``resources/linux/libraries.tsv`` wherever the app's resources are."""
    # imported here: .ci/doctor loads this file on its own, before the package can be imported,
    # and always passes the list's path
    from connectcheck.core.paths import resource_path

    return resource_path("linux", "libraries.tsv")


def read_libraries(path: Path | None = None) -> list[Library]:
    """The libraries of the list, in its order (the most often missing first)."""
    rows = []
    for line in (path or libraries_file()).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 4:
            raise ValueError(f"libraries.tsv: not 4 tab-separated fields: {line!r}")
        rows.append(Library(*(f.strip() for f in fields)))
    return rows


def _ld_so_conf_dirs(conf: Path = Path("/etc/ld.so.conf")) -> list[str]:
    dirs: list[str] = []
    try:
        lines = conf.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return dirs
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line.startswith("include "):
            for inc in sorted(glob.glob(line.split(None, 1)[1])):
                dirs += _ld_so_conf_dirs(Path(inc))
        elif line:
            dirs.append(line)
    return dirs


def _linker_cache() -> set[str]:
    """The sonames the dynamic linker's cache knows (``ldconfig -p``), or none if it cannot say."""
    for ldconfig in ("/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig"):
        try:
            out = subprocess.run([ldconfig, "-p"], capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            continue
        if out.returncode == 0:
            return {line.split()[0] for line in out.stdout.splitlines()[1:] if line.strip()}
    return set()


def search_dirs(env: Mapping[str, str] | None = None, extra: Iterable[str] = ()) -> list[str]:
    """Where the dynamic linker looks, plus the folders of Qt's own libraries (``extra``)."""
    env = os.environ if env is None else env
    dirs = [d for d in env.get("LD_LIBRARY_PATH", "").split(":") if d]
    dirs += list(extra) + _ld_so_conf_dirs() + list(_DEFAULT_DIRS)
    dirs += glob.glob("/lib/*-linux-gnu") + glob.glob("/usr/lib/*-linux-gnu")
    return list(dict.fromkeys(dirs))


def qt_library_dirs() -> list[str]:
    """The folders that hold the libraries PySide6 (or a frozen build) ships itself."""
    dirs = []
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        dirs += [frozen, os.path.join(frozen, "PySide6", "Qt", "lib")]
    for entry in sys.path:
        lib = os.path.join(entry or ".", "PySide6", "Qt", "lib")
        if os.path.isdir(lib):
            dirs.append(lib)
    return dirs


def make_finder(env: Mapping[str, str] | None = None) -> Callable[[str], str | None]:
    """A ``find(soname)`` that answers from the linker's cache and its folders (one look each)."""
    cache = _linker_cache()
    dirs = search_dirs(env, qt_library_dirs())

    def find(soname: str) -> str | None:
        if soname in cache:
            return soname
        for d in dirs:
            if os.path.exists(os.path.join(d, soname)):
                return os.path.join(d, soname)
        return None

    return find


def _braces(pattern: str) -> list[str]:
    m = re.search(r"\{([^{}]*)\}", pattern)
    if not m:
        return [pattern]
    head, tail = pattern[: m.start()], pattern[m.end():]
    return [x for alt in m.group(1).split(",") for x in _braces(head + alt + tail)]


def qt_files(pyside_dir: Path) -> list[Path]:
    """The PySide6 files of :data:`QT_FILES` present in this PySide6 folder."""
    found: list[Path] = []
    for pattern in QT_FILES:
        for each in _braces(pattern):
            found += sorted(Path(p) for p in glob.glob(str(pyside_dir / each)))
    return found


def ldd_needs(files: Iterable[Path], pyside_dir: Path) -> dict[str, str | None]:
    """soname → where ``ldd`` finds it (None: not found), for what these files load from the system.

    Libraries found inside PySide6's folder, or of Qt's own names, are left out.
    """
    needs: dict[str, str | None] = {}
    inside = str(pyside_dir.resolve())
    for path in files:
        out = subprocess.run(["ldd", str(path)], capture_output=True, text=True, timeout=30, check=False)
        for line in out.stdout.splitlines():
            if "=>" not in line:
                continue
            soname, _, where = (part.strip() for part in line.partition("=>"))
            target = where.split(" (")[0].strip()
            if _OWN.match(soname) or target.startswith(inside) or os.path.realpath(target).startswith(inside):
                continue
            needs[soname] = None if target == "not found" else target
    return needs


def missing(libraries: Iterable[Library], groups: Iterable[str],
            find: Callable[[str], str | None] | None = None) -> list[Library]:
    """The libraries of these groups that this computer does not have."""
    wanted = set(groups)
    find = find or make_finder()
    return [lib for lib in libraries if lib.group in wanted and find(lib.soname) is None]


def install_hint(libs: Iterable[Library]) -> str:
    """One sentence: the commands that install these libraries on Debian/Ubuntu and on Fedora."""
    libs = list(libs)
    debian = " ".join(dict.fromkeys(lib.debian for lib in libs))
    fedora = " ".join(dict.fromkeys(lib.fedora for lib in libs))
    return f"on Debian and Ubuntu: sudo apt install {debian}; on Fedora: sudo dnf install {fedora}"


def window_problem(find_library: Callable[[str], str | None] | None = None,
                   libraries: list[Library] | None = None) -> str | None:
    """What stops Qt opening a window on X11 here, in words with the packages to install, or None.

    ``find_library`` takes a library's short name ("xcb-cursor"), as ``ctypes.util.find_library``.
    """
    libraries = read_libraries() if libraries is None else libraries
    if find_library is None:
        find = make_finder()
    else:
        names = {lib.soname: lib.name for lib in libraries}

        def find(soname: str) -> str | None:
            return find_library(names[soname])
    lacking = missing(libraries, WINDOW_GROUPS, find)
    if not lacking:
        return None
    which = ", ".join(lib.soname for lib in lacking[:6])
    if len(lacking) > 6:
        which += f" and {len(lacking) - 6} more"
    return (f"connectcheck's window needs system libraries that are not installed ({which}). "
            f"To install them, {install_hint(lacking)}.")
