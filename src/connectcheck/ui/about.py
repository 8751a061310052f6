"""About connectcheck: what it is, its version, and where its files are (the log first: support
may ask for it)."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from connectcheck import __version__
from connectcheck.config.settings import default_path
from connectcheck.core import paths
from connectcheck.ui import desktop, icons, style


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
        layout.addWidget(buttons)
