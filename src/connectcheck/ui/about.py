"""About connectcheck: what it is, its version, where its files are (the log first: support
may ask for it), and the licences of what it is built with, read from each component's own
package metadata and licence file (the installers carry them: installer/bundle.datas)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from connectcheck import __version__
from connectcheck.config.settings import default_path
from connectcheck.core import paths
from connectcheck.ui import desktop, icons, style

# what connectcheck is built with: (distribution, what it does here); Qt's own licence is PySide6's
COMPONENTS = (
    ("PySide6-Essentials", "Qt for Python: the windows, the tray icon, the charts and the PDF"),
    ("shiboken6", "the binding between Python and Qt"),
    ("psutil", "which programs use the connection, and how busy the computer is"),
    ("speedtest-cli", "the speedtest.net servers for the speed test"),
    ("platformdirs", "where settings, history and logs are kept"),
)


@dataclass(frozen=True)
class Component:
    name: str
    version: str
    use: str
    licence: str  # its name, as its package states it
    text: str | None  # the licence file the package carries; None when it carries none


def _licence_name(meta: metadata.PackageMetadata) -> str:
    for field in ("License-Expression", "License"):
        value = (meta.get(field) or "").strip()
        if value and len(value) < 100 and "\n" not in value:
            return value
    classifiers = [c.split(" :: ")[-1] for c in meta.get_all("Classifier") or []
                   if c.startswith("License ::")]
    return ", ".join(classifiers) or "not stated in its package"


def _licence_text(dist: metadata.Distribution) -> str | None:
    for file in dist.files or ():
        if file.name.upper().startswith(("LICEN", "COPYING")):
            try:
                return file.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError):
                continue
    return None


def components() -> list[Component]:
    """Each component's version and licence from its installed package; one that is not found
    says so (a build without its metadata)."""
    out = []
    for name, use in COMPONENTS:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            out.append(Component(name, "", use, "not found in this build", None))
            continue
        out.append(Component(name, dist.version, use, _licence_name(dist.metadata), _licence_text(dist)))
    return out


def licences_text() -> str:
    """The licences as plain text, for the About window."""
    lines = [
        f"connectcheck {__version__}: proprietary, © the organisation that gave it to you.",
        f"Qt {qVersion()}: used under the GNU LGPL version 3 through PySide6 (below); its source is at "
        "https://download.qt.io/official_releases/qt/.",
        f"Python {sys.version.split()[0]}: Python Software Foundation License.",
        "",
    ]
    for c in components():
        lines.append(f"{c.name} {c.version}".strip() + f" ({c.use}): {c.licence}")
    for c in components():
        if c.text:
            lines += ["", f"——— {c.name}: licence text ———", c.text]
    return "\n".join(lines)


class AboutDialog(QDialog):
    def __init__(self, log_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About connectcheck")
        self.setWindowIcon(icons.app_icon())
        self.setMinimumWidth(560)
        logo = QLabel()
        logo.setPixmap(icons.render(icons.icon_file("app"), 64))
        logo.setAccessibleName("connectcheck logo")
        title = QLabel(f"connectcheck {__version__}")
        title.setFont(style.scaled_font(self, 1.4, bold=True))
        intro = style.label(
            "Checks whether this computer's connection is good enough for an online lesson, "
            "says what to do when it is not, and helps you tell support."
        )
        files = QFormLayout()
        files.addRow("Log file:", style.label(str(log_path)))
        files.addRow("Settings:", style.label(str(default_path())))
        files.addRow("History and last check:", style.label(str(paths.data_dir())))
        files.addRow(
            "Built with:",
            style.label(f"Python {sys.version.split()[0]}, Qt {qVersion()} (PySide6 {pyside_version})"),
        )
        licences_title = QLabel("Licences")
        licences_title.setProperty("role", "section")
        self.licences = QPlainTextEdit(licences_text())
        self.licences.setReadOnly(True)
        self.licences.setAccessibleName("Licences")
        self.licences.setMinimumHeight(150)
        open_logs = QPushButton("Open the log folder")
        open_logs.clicked.connect(lambda: desktop.open_folder(log_path.parent))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.addButton(open_logs, QDialogButtonBox.ButtonRole.ActionRole)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(style.MARGIN, style.MARGIN, style.MARGIN, style.MARGIN)
        layout.setSpacing(style.SPACING)
        layout.addWidget(logo, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addLayout(files)
        layout.addWidget(licences_title)
        layout.addWidget(self.licences, 1)
        layout.addWidget(buttons)
