"""Open reports…: the support desk's page over a folder of reports, from the tray.

The user picks a folder (saved e-mail attachments, say); the page (``report/dashboard``) is built
off the GUI thread while a progress window counts the files read and offers Cancel, then opens in
the browser. It is written into the folder itself, beside the reports it links to, or, when that
folder cannot be written, into connectcheck's cache folder (its links then lead back to the
folder). Files that could not be read are listed on the page; the user is told how many.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl
from PySide6.QtWidgets import QProgressDialog

from connectcheck.core.paths import cache_dir
from connectcheck.core.tasks import Cancelled, Progress
from connectcheck.report import default_folder
from connectcheck.report.dashboard import OUTPUT_NAME, Dashboard, build_dashboard, group_note
from connectcheck.ui import desktop
from connectcheck.ui.controller import Controller
from connectcheck.ui.desktop import Prompts

log = logging.getLogger(__name__)

TITLE = "Open reports"


def page_path(folder: Path) -> Path:
    """Where the page over ``folder`` is written: in it when it can be written, else in the cache."""
    if os.access(folder, os.W_OK):
        return folder / OUTPUT_NAME
    return cache_dir() / OUTPUT_NAME


class ReportsPage:
    """The "Open reports…" command (the tray menu and the status window)."""

    def __init__(self, controller: Controller, prompts: Prompts) -> None:
        self.controller = controller
        self.prompts = prompts
        self.dialog: QProgressDialog | None = None
        self.job: Any = None

    def open_reports(self, parent: Any = None) -> None:
        """Ask for a folder of reports, build the page in the background, open it in the browser."""
        if self.job is not None and self.job.running:
            if self.dialog is not None:
                self.dialog.raise_()
            return
        folder = self.prompts.folder(parent, "Open reports: the folder of saved reports",
                                     default_folder(self.controller.settings))
        if folder is None:
            return
        target = page_path(folder)
        dialog = QProgressDialog("Looking for reports…", "Cancel", 0, 1000, parent)
        dialog.setWindowTitle(TITLE)
        dialog.setWindowModality(Qt.WindowModality.NonModal)
        dialog.setMinimumDuration(500)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        self.dialog = dialog
        worker = self.controller.worker
        show = worker.to_gui(self._progress)

        def work(cancel: Any) -> Dashboard:
            target.parent.mkdir(parents=True, exist_ok=True)
            return build_dashboard([folder], target, progress=show, cancel=cancel)

        self.job = worker.run(
            work,
            done=lambda dash: self._done(parent, folder, target, dash),
            failed=lambda exc: self._failed(parent, exc),
            name="reports-page",
        )
        dialog.canceled.connect(self.job.request_cancel)

    def _progress(self, p: Progress) -> None:
        if self.dialog is None:
            return
        share = p.fraction * (0.95 if p.phase == "read" else 0.05) + (0.95 if p.phase == "write" else 0.0)
        self.dialog.setValue(round(share * 1000))
        self.dialog.setLabelText(p.message or "Reading the reports…")

    def _close(self) -> None:
        if self.dialog is not None:
            self.dialog.canceled.disconnect()
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None

    def _done(self, parent: Any, folder: Path, target: Path, dash: Dashboard) -> None:
        self._close()
        log.info("reports page written to %s: %s", target, group_note(dash))
        if not dash.all.reports and not dash.unreadable_count:
            self.prompts.inform(parent, TITLE, f"There are no reports (.html, .json or .pdf) in\n{folder}")
            return
        opened = desktop.open_url(QUrl.fromLocalFile(str(target)).toString())
        text = f"The page over {group_note(dash)} is\n{target}"
        if dash.unreadable_count:
            text += "\n\nThe files that could not be read are listed at its end, with the reason."
        if not opened:
            text = "No browser could be opened. " + text
        if dash.unreadable_count or not opened:
            self.prompts.inform(parent, TITLE, text, warning=not opened)

    def _failed(self, parent: Any, exc: BaseException) -> None:
        self._close()
        if isinstance(exc, Cancelled):
            log.info("reports page cancelled")
            return
        log.warning("the reports page could not be made: %s", exc)
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        self.prompts.inform(parent, "The page could not be made", why[:1].upper() + why[1:], warning=True)
