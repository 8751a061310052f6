"""What goes into the frozen build (installer/bundle.py, read by the spec): the pruning rules and
the link-following that takes a removed plugin's own libraries with it, the excluded modules, the
data files, and where the frozen app looks for its resources."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import types
from pathlib import Path

import bundle
import PySide6
import pytest

import connectcheck
from connectcheck import cli
from connectcheck.core import paths

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "connectcheck"
QT = Path(PySide6.__file__).parent


def _entry(dest, kind="BINARY"):
    return (dest, f"/src/{dest}", kind)


def _links(graph):
    return lambda src: graph.get(src.removeprefix("/src/"), [])


# --- following links -----------------------------------------------------------------------------------


def test_a_library_only_a_dropped_plugin_needed_goes_with_it():
    binaries = [_entry("plugins/platformthemes/libqgtk3.so"), _entry("libgtk-3.so.0"),
                _entry("libcairo.so.2"), _entry("libglib-2.0.so.0"), _entry("lib/libQt6Core.so.6"),
                _entry("QtCore.abi3.so", "EXTENSION")]
    graph = {"plugins/platformthemes/libqgtk3.so": ["libgtk-3.so.0", "libQt6Core.so.6"],
             "libgtk-3.so.0": ["libcairo.so.2", "libglib-2.0.so.0"],
             "lib/libQt6Core.so.6": ["libglib-2.0.so.0"], "QtCore.abi3.so": ["libQt6Core.so.6"]}
    rule = bundle.Rule("gtk", "why", ("*/platformthemes/*gtk3*",))
    kept, _, (saving,) = bundle.prune(binaries, [], (rule,), _links(graph))
    # Qt's core library is still linked by Python's binding, and needs glib
    assert [e[0] for e in kept] == ["libglib-2.0.so.0", "lib/libQt6Core.so.6", "QtCore.abi3.so"]
    assert saving.files == ["plugins/platformthemes/libqgtk3.so"]
    assert saving.orphans == ["libcairo.so.2", "libgtk-3.so.0"]


def test_a_library_kept_alive_only_by_a_removed_one_goes_too():
    """A later rule's orphans: a library still linked, but only by one an earlier rule removed."""
    binaries = [_entry("plugins/a/one.so"), _entry("plugins/b/two.so"), _entry("libshared.so"),
                _entry("libdeep.so")]
    graph = {"plugins/a/one.so": ["libshared.so"], "libshared.so": ["libdeep.so"],
             "plugins/b/two.so": ["libdeep.so"]}
    rules = (bundle.Rule("a", "", ("plugins/a/*",)), bundle.Rule("b", "", ("plugins/b/*",)))
    kept, _, savings = bundle.prune(binaries, [], rules, _links(graph))
    assert kept == []
    assert [s.orphans for s in savings] == [["libshared.so"], ["libdeep.so"]]


def test_libraries_no_removed_file_linked_are_never_taken_for_orphans():
    """Python's own library and what ctypes loads by name are linked by nothing, and stay."""
    binaries = [_entry("libpython3.11.so.1.0"), _entry("plugins/x/gone.so"), _entry("libffi.so.8")]
    rule = bundle.Rule("x", "", ("plugins/x/*",))
    kept, _, _ = bundle.prune(binaries, [], (rule,), _links({}))
    assert [e[0] for e in kept] == ["libpython3.11.so.1.0", "libffi.so.8"]


def test_links_to_removed_files_and_the_rest_of_a_removed_framework_go_too():
    binaries = [_entry("Qt/lib/QtOpenGL.framework/Versions/A/QtOpenGL"), _entry("plugins/gl/x.dylib"),
                ("QtOpenGL", "Qt/lib/QtOpenGL.framework/Versions/A/QtOpenGL", "SYMLINK")]
    datas = [_entry("Qt/lib/QtOpenGL.framework/Resources/Info.plist", "DATA"),
             _entry("PySide6/translations/qt_de.qm", "DATA")]
    graph = {"plugins/gl/x.dylib": ["@rpath/QtOpenGL.framework/Versions/A/QtOpenGL"]}
    rules = (bundle.Rule("gl", "", ("plugins/gl/*",)), bundle.Rule("tr", "", ("*/translations/*.qm",)))
    kept_bins, kept_datas, savings = bundle.prune(binaries, datas, rules, _links(graph))
    assert kept_bins == [] and kept_datas == []
    assert savings[1].files == ["PySide6/translations/qt_de.qm"]


def test_readelf_gives_a_binarys_own_links_only():
    if not sys.platform.startswith("linux") or shutil.which("readelf") is None:
        pytest.skip("readelf (binutils) reads Linux binaries only")
    links = bundle._linked_imports(str(QT / "Qt" / "plugins" / "platforms" / "libqxcb.so"))
    assert "libQt6XcbQpa.so.6" in links
    assert "libicudata.so.73" not in links  # a link of a link (ldd would list it)


# --- the rules -----------------------------------------------------------------------------------------


def _matched(dest: str) -> list[str]:
    return [r.name for r in bundle.PRUNE_RULES if r.matches(dest)]


@pytest.mark.parametrize("dest", [
    "PySide6/Qt/plugins/platforms/libqxcb.so", "PySide6/Qt/plugins/platforms/libqwayland.so",
    "PySide6/Qt/plugins/platforms/libqoffscreen.so", "PySide6/plugins/platforms/qwindows.dll",
    "PySide6/Qt/plugins/platforms/libqcocoa.dylib", "PySide6/Qt/plugins/imageformats/libqsvg.so",
    "PySide6/Qt/plugins/iconengines/libqsvgicon.so",
    "PySide6/Qt/plugins/platformthemes/libqxdgdesktopportal.so",
    "PySide6/Qt/plugins/platforminputcontexts/libcomposeplatforminputcontextplugin.so",
    "PySide6/plugins/styles/qmodernwindowsstyle.dll",
    "PySide6/Qt/plugins/wayland-shell-integration/libxdg-shell.so",
    "PySide6/Qt/plugins/wayland-decoration-client/libadwaita.so",
    "PySide6/Qt/lib/libQt6Svg.so.6", "PySide6/Qt/lib/libQt6Widgets.so.6", "PySide6/Qt/lib/libQt6Network.so.6",
    "PySide6/Qt/lib/libQt6DBus.so.6", "PySide6/Qt/lib/libQt6XcbQpa.so.6", "libxcb-cursor.so.0",
    "connectcheck/resources/icons/good.svg",
])
def test_what_the_app_needs_is_never_pruned(dest):
    assert _matched(dest) == []


@pytest.mark.parametrize("dest", [
    "PySide6/Qt/translations/qtbase_de.qm", "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
    "PySide6/Qt/plugins/platforms/libqeglfs.so", "PySide6/plugins/platforms/qdirect2d.dll",
    "PySide6/Qt/plugins/imageformats/libqjpeg.so", "PySide6/Qt/plugins/tls/libqopensslbackend.so",
    "PySide6/opengl32sw.dll", "libfontconfig.so.1", "libdbus-1.so.3",
    "PySide6/Qt/plugins/wayland-graphics-integration-client/libqt-plugin-wayland-egl.so",
    "PySide6/Qt/plugins/wayland-shell-integration/libivi-shell.so",
])
def test_what_the_app_does_not_use_is_pruned(dest):
    assert len(_matched(dest)) == 1


def test_every_rule_says_why():
    for rule in bundle.PRUNE_RULES:
        assert rule.name and rule.why and rule.drop


def test_the_installed_qt_still_has_what_the_app_needs_after_pruning():
    """Against the PySide6 actually installed: every platform and image plugin the rules keep exists."""
    plugins = QT / "Qt" / "plugins" if (QT / "Qt" / "plugins").is_dir() else QT / "plugins"
    kept = [p.name for p in plugins.rglob("*") if p.is_file()
            and not _matched("PySide6/" + p.relative_to(QT).as_posix())]
    assert any("qoffscreen" in n for n in kept), "the smoke test needs the offscreen platform"
    assert any("qsvgicon" in n for n in kept) and any("qsvg." in n or "qsvg" in n for n in kept)
    native = {"linux": "qxcb", "win32": "qwindows", "darwin": "qcocoa"}.get(sys.platform)
    if native:
        assert any(native in n for n in kept)


# --- modules and data ----------------------------------------------------------------------------------


def _imported_modules() -> set[str]:
    names = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
    return names


def test_no_excluded_module_is_imported_by_the_app():
    imported = _imported_modules()
    clashes = [m for m in bundle.EXCLUDED_MODULES
               if any(i == m or i.startswith(m + ".") for i in imported)]
    assert clashes == []
    assert {"PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "PySide6.QtSvg"} <= imported


def test_the_subcommands_are_plain_imports_pyinstaller_sees():
    """No module of the command line is loaded by name, so the build needs no hidden imports."""
    assert all(isinstance(m, types.ModuleType) for m in cli.COMMAND_MODULES)
    assert "hiddenimports" not in (ROOT / "installer" / "connectcheck.spec").read_text(encoding="utf-8")
    tree = ast.parse((SRC / "cli" / "__init__.py").read_text(encoding="utf-8"))
    plain = {f"{n.module}.{a.name}" for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names}
    assert {m.__name__ for m in cli.COMMAND_MODULES} <= plain


def test_the_quit_flag_is_one_the_app_takes():
    assert bundle.QUIT_FLAG in cli.APP_FLAGS


def test_the_resources_land_where_the_frozen_app_looks(tmp_path, monkeypatch):
    target = tmp_path / bundle.RESOURCES_DEST
    target.parent.mkdir(parents=True)
    target.symlink_to(ROOT / "resources", target_is_directory=True)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert paths.resource_dir() == target
    assert (paths.resource_path("samples", "check.json")).is_file()


def test_the_data_files_are_the_resources_and_the_version():
    pytest.importorskip("PyInstaller", reason="the build extra is not installed (pip install -e '.[build]')")
    datas = bundle.datas()
    assert (str(ROOT / "resources"), bundle.RESOURCES_DEST) in datas
    assert any(dest.startswith("connectcheck-") and dest.endswith(".dist-info") for _src, dest in datas)


def test_the_spec_builds_from_these_lists():
    spec = (ROOT / "installer" / "connectcheck.spec").read_text(encoding="utf-8")
    compile(spec, "connectcheck.spec", "exec")
    for name in ("bundle.EXCLUDED_MODULES", "bundle.RUNTIME_HOOK", "bundle.datas(",
                 "bundle.prune(", "bundle.ENTRY", "bundle.info_plist("):
        assert name in spec
    assert bundle.ENTRY.is_file() and bundle.RUNTIME_HOOK.is_file()
    assert Path(connectcheck.__file__).parent / "__main__.py" == bundle.ENTRY


def test_the_macos_bundle_lives_in_the_menu_bar_only():
    plist = bundle.info_plist("1.2.3")
    assert plist["LSUIElement"] is True and plist["LSBackgroundOnly"] is False
    assert plist["CFBundleShortVersionString"] == "1.2.3"


def test_the_menu_bar_icons_are_monochrome_templates():
    """macOS tints a template image itself: only black and transparency may be in it."""
    import re

    folder = ROOT / "resources" / "icons" / "template"
    icons = sorted(folder.glob("*.svg"))
    assert icons
    for icon in icons:
        text = icon.read_text(encoding="utf-8")
        colours = set(re.findall(r'(?:fill|stroke|stop-color|color)\s*[:=]\s*"?\s*([#\w]+)', text))
        assert colours <= {"#000000", "#000", "black", "none"}, icon.name


def test_the_build_carries_the_components_licence_files():
    pytest.importorskip("PyInstaller", reason="the build extra is not installed (pip install -e '.[build]')")
    from connectcheck.ui.about import COMPONENTS

    folders = {dest for _src, dest in bundle.datas()}
    for name, _use in COMPONENTS:
        stem = name.lower().replace("-", "_")
        assert any(d.lower().startswith(stem + "-") and d.endswith(".dist-info") for d in folders), name
    psutil = next(src for src, dest in bundle.datas() if dest.startswith("psutil-"))
    assert (Path(psutil) / "LICENSE").is_file()


def carried_build(tmp_path, monkeypatch, profile_text: str, name: str = "acme-tutors"):
    """A frozen build's resources as PyInstaller lays them out, with the profile carried."""
    profile = tmp_path / f"{name}.toml"
    profile.write_text(profile_text, encoding="utf-8")
    entries = bundle.carried_profile(profile, build=tmp_path / "build")
    frozen = tmp_path / "frozen"
    shutil.copytree(ROOT / "resources", frozen / bundle.RESOURCES_DEST)
    for source, dest in entries:
        shutil.copy(source, frozen / dest)
    monkeypatch.setattr(sys, "_MEIPASS", str(frozen), raising=False)
    return frozen


ACME = '''name = "Acme Tutors"
support_email = "help@acme-tutors.example"
platform_urls = ["https://lessons.acme-tutors.example/"]
'''


def test_the_installer_carries_a_profile_with_the_support_address(tmp_path, monkeypatch):
    """A build made with --profile has it as the default: the app knows the support address from
    the first start and never asks (the exporter's ask returns it without a question)."""
    from connectcheck.config.profile import load_profile
    from connectcheck.config.settings import Settings, carried_profile_id
    from connectcheck.config.startup import profile_or_problem
    from connectcheck.policy.support import support_address

    carried_build(tmp_path, monkeypatch, ACME)
    assert paths.resource_dir() == tmp_path / "frozen" / bundle.RESOURCES_DEST
    assert carried_profile_id() == "acme-tutors"
    settings = Settings(path=tmp_path / "settings.toml")
    assert settings["organisation.profile"] == "acme-tutors"
    profile, problem = profile_or_problem(settings)
    assert problem is None and profile == load_profile("acme-tutors")
    assert support_address(profile, settings["organisation.support_email"]) == "help@acme-tutors.example"


def test_a_build_without_a_profile_keeps_the_bundled_default(tmp_path, monkeypatch):
    from connectcheck.config.settings import OPTIONS, Settings, carried_profile_id

    frozen = tmp_path / "frozen"
    shutil.copytree(ROOT / "resources", frozen / bundle.RESOURCES_DEST)
    monkeypatch.setattr(sys, "_MEIPASS", str(frozen), raising=False)
    assert carried_profile_id() is None
    assert Settings()["organisation.profile"] == OPTIONS["organisation.profile"].default


@pytest.mark.parametrize(("text", "words"), [
    (ACME.replace("help@acme-tutors.example", ""), "has no support address"),
    (ACME.replace("help@acme-tutors.example", "help at acme"), "has no support address"),
    ("name = ", "cannot be read"),
])
def test_a_profile_the_app_could_not_use_is_refused_before_the_build(tmp_path, text, words):
    profile = tmp_path / "acme.toml"
    profile.write_text(text, encoding="utf-8")
    with pytest.raises(bundle.ProfileRefused, match=words):
        bundle.carried_profile(profile, build=tmp_path / "build")
    assert not (tmp_path / "build" / "carried-profile").exists()  # nothing written for the build


def test_build_refuses_a_profile_without_an_address_at_once(tmp_path):
    profile = tmp_path / "acme.toml"
    profile.write_text(ACME.replace("help@acme-tutors.example", ""), encoding="utf-8")
    done = subprocess.run([sys.executable, str(ROOT / "installer" / "build.py"), "--profile", str(profile)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 2 and "has no support address" in done.stderr
