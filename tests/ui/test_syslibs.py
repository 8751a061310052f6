"""The list of system libraries Qt needs on Linux, checked against what Qt's files really load."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from connectcheck.ui import syslibs

LINUX_LDD = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("ldd") is None,
    reason="ldd reads Linux libraries only",
)


def _pyside_dir() -> Path:
    import PySide6

    return Path(PySide6.__file__).resolve().parent


def test_the_list_is_well_formed():
    libs = syslibs.read_libraries()
    assert len(libs) == len({lib.soname for lib in libs})
    assert {lib.group for lib in libs} <= {"base", "qt", "x11", "wayland"}
    assert all(lib.soname.startswith("lib") and ".so" in lib.soname for lib in libs)
    assert all(lib.debian and lib.fedora for lib in libs)
    assert libs[0].soname == "libxcb-cursor.so.0"  # the one most often missing comes first


@LINUX_LDD
def test_the_list_holds_every_system_library_qt_loads():
    """What ldd says the app's Qt files link to outside PySide6 (found or not) is all in the list."""
    pyside = _pyside_dir()
    files = syslibs.qt_files(pyside)
    assert any(f.name == "libqxcb.so" for f in files) and any(f.name == "libQt6XcbQpa.so.6" for f in files)
    needs = syslibs.ldd_needs(files, pyside)
    assert "libxcb-icccm.so.4" in needs and "libc.so.6" in needs
    listed = {lib.soname for lib in syslibs.read_libraries()}
    assert sorted(set(needs) - listed) == []


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg (Debian, Ubuntu) names the package of a file")
def test_debian_package_names_are_those_dpkg_gives():
    finder = syslibs.make_finder()
    found = {lib.soname: (lib.debian, finder(lib.soname)) for lib in syslibs.read_libraries()}
    paths = {soname: path for soname, (_, path) in found.items() if path and path.startswith("/")}
    paths.update({soname: f"*/{soname}" for soname, (_, path) in found.items() if path == soname})
    out = subprocess.run(["dpkg", "-S", *paths.values()], capture_output=True, text=True, check=False).stdout
    owner = {}
    for line in out.splitlines():
        package, _, path = line.partition(": ")
        owner.setdefault(Path(path).name, package.split(":")[0].split(",")[0])
    checked = {soname: owner[soname] for soname in paths if soname in owner}
    assert len(checked) >= 30  # most of them are installed here
    assert {s: found[s][0] for s in checked} == checked


def test_missing_libraries_are_named_with_their_packages_once():
    libs = syslibs.read_libraries()
    absent = {"libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-shape.so.0", "libxcb-xkb.so.1"}
    lacking = syslibs.missing(libs, syslibs.WINDOW_GROUPS, lambda so: None if so in absent else so)
    assert [lib.soname for lib in lacking] == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1",
                                                "libxcb-shape.so.0", "libxcb-xkb.so.1"]
    hint = syslibs.install_hint(lacking)
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xkb1" in hint
    assert "sudo dnf install xcb-util-wm xcb-util-keysyms libxcb" in hint
    # two libraries of one Fedora package: named once
    assert hint.count("libxcb ") + hint.endswith("libxcb") == 1


def test_the_window_problem_names_the_packages():
    problem = syslibs.window_problem(lambda name: None if name in ("xcb-icccm", "xcb-keysyms") else name)
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1" in problem
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1;" in problem
    assert syslibs.window_problem(lambda name: name) is None
    # libraries of the Wayland plugin are not asked for before an X11 window
    assert syslibs.window_problem(lambda name: None if name.startswith("wayland") else name) is None


def test_a_library_in_qt_s_own_folder_or_on_ld_library_path_counts_as_present(tmp_path):
    (tmp_path / "libcc-test-only.so.4").write_bytes(b"")
    find = syslibs.make_finder({"LD_LIBRARY_PATH": str(tmp_path)})
    assert find("libcc-test-only.so.4") == str(tmp_path / "libcc-test-only.so.4")
    assert find("libnothing-here.so.9") is None


def test_brace_patterns():
    assert syslibs._braces("a{b,c}d{e,f}") == ["abde", "abdf", "acde", "acdf"]
    assert syslibs._braces("plain") == ["plain"]


def test_the_readme_installs_the_x11_group():
    """README's one-line apt-get and dnf commands hold every package of the X11 group."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    libs = [lib for lib in syslibs.read_libraries() if lib.group == "x11"]
    apt = next(line for line in readme.splitlines() if line.startswith("sudo apt-get install -y libxcb"))
    dnf = next(line for line in readme.splitlines() if line.startswith("sudo dnf install -y xcb"))
    assert apt.split()[4:] == list(dict.fromkeys(lib.debian for lib in libs))
    assert dnf.split()[4:] == list(dict.fromkeys(lib.fedora for lib in libs))
