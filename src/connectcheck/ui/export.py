"""Export report… and E-mail support…

Export asks where to save the report of the last check (or of a lesson from the history) and
writes it in the background. E-mail support writes the report into the report folder, opens the
mail program with the message composed from the last check and the guide's steps (a ``mailto:``
link), and shows the report file in the file manager so that the tutor can attach it. When the
support address is not known yet, it asks once and remembers it in the settings
(``organisation.support_email``).
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path
from typing import Any

from connectcheck.config.settings import Settings
from connectcheck.core.model import CheckResult
from connectcheck.policy.procedure import default_procedure
from connectcheck.policy.support import compose_support_email, is_valid_address, mailto_url, support_address
from connectcheck.report import (
    ExportError,
    Report,
    build_check_report,
    build_lesson_report,
    default_folder,
    export_report,
    file_name,
    write_check_report,
)
from connectcheck.ui import desktop
from connectcheck.ui.controller import Controller
from connectcheck.ui.desktop import Prompts
from connectcheck.ui.text import parse_time

log = logging.getLogger(__name__)

FILTERS = "Web page report (*.html);;PDF document (*.pdf);;Data for tools (*.json)"


class Exporter:
    """The two commands, for the tray, the status window, the guide and the History window."""

    def __init__(self, controller: Controller, prompts: Prompts) -> None:
        self.controller = controller
        self.prompts = prompts

    @property
    def worker(self) -> Any:
        return self.controller.worker

    # --- Export report… ---

    def export_check(self, parent: Any = None, result: CheckResult | None = None) -> None:
        """Build the report of ``result`` (the last check by default), ask where, write it."""
        result = result or self.controller.last_result
        if result is None:
            self.prompts.inform(
                parent, "Export report", "There is no check to report yet: run a check first."
            )
            return
        settings = self.controller.settings
        self.worker.run(
            lambda cancel: build_check_report(result, settings),
            done=lambda report: self.save_as(parent, report),
            failed=self._failed(parent),
            name="report-build",
        )

    def export_lesson(self, parent: Any, lesson_id: int) -> None:
        """The same for a monitored lesson from the history."""
        history, settings = self.controller.history, self.controller.settings
        if history is None:
            self.prompts.inform(
                parent, "Export report", "The history is not available, so this lesson cannot be reported."
            )
            return
        self.worker.run(
            lambda cancel: build_lesson_report(history.lesson(lesson_id), settings),
            done=lambda report: self.save_as(parent, report),
            failed=self._failed(parent),
            name="report-build",
        )

    def save_as(self, parent: Any, report: Report, folder: Path | None = None) -> None:
        """Ask where to save ``report``, then write it; when the folder cannot be written, say so
        and ask again in a folder that can."""
        suggested = (folder or default_folder(self.controller.settings)) / file_name(report, "html")
        path = self.prompts.save_path(parent, "Export report", suggested, FILTERS)
        if path is None:
            return

        def done(written: Path) -> None:
            log.info("report written to %s", written)
            desktop.reveal(written)
            self.prompts.inform(parent, "Report saved", f"The report was saved as\n{written}")

        def failed(exc: BaseException) -> None:
            log.warning("the report could not be written: %s", exc)
            self.prompts.inform(parent, "The report could not be saved", _first_upper(str(exc)), warning=True)
            if isinstance(exc, ExportError):
                self.save_as(parent, report, exc.alternative)

        self.worker.run(lambda cancel: export_report(report, path), done=done, failed=failed, name="export")

    def _failed(self, parent: Any) -> Any:
        def failed(exc: BaseException) -> None:
            log.error("the report could not be made", exc_info=exc)
            self.prompts.inform(parent, "The report could not be made", _first_upper(str(exc)), warning=True)

        return failed

    # --- E-mail support… ---

    def email_support(self, parent: Any = None) -> None:
        """Write the report, open the mail program with the composed message, show the report file."""
        address = self.support_address(parent)
        if address is None:
            return
        result = self.controller.last_result
        if result is None:
            self._open_mail(parent, address, None)
            return
        settings = self.controller.settings
        self.worker.run(
            lambda cancel: write_check_report(result, default_folder(settings), settings),
            done=lambda written: self._open_mail(parent, address, written),
            failed=lambda exc: self._mail_without_report(parent, address, exc),
            name="email-report",
        )

    def support_address(self, parent: Any) -> str | None:
        """The support address, asking the tutor once when nobody knows it; None if cancelled."""
        c = self.controller
        known = support_address(c.profile, c.settings["organisation.support_email"])
        if known:
            return known
        label = (
            "connectcheck does not know your organisation's support e-mail address yet.\n"
            "Please type it once; it will be remembered:"
        )
        answer = ""
        while True:
            typed = self.prompts.text(parent, "Support e-mail address", label, answer)
            if typed is None:
                return None
            answer = typed.strip()
            if is_valid_address(answer):
                break
            label = (
                f"“{answer}” does not look like an e-mail address (it should look like "
                "name@example.org). Please type it again:"
            )
        settings = Settings(
            values=dict(c.settings.values), path=c.settings.path, file_was_bad=c.settings.file_was_bad
        )
        settings.set("organisation.support_email", answer)
        problem = c.apply_settings(settings)
        if problem:
            log.warning("remembering the support address: %s", problem)
        return answer

    def _mail_without_report(self, parent: Any, address: str, exc: BaseException) -> None:
        log.error("the report for support could not be written", exc_info=exc)
        self.prompts.inform(
            parent,
            "The report could not be saved",
            f"{exc}\n\nThe e-mail opens without it; you can export the report later.",
            warning=True,
        )
        self._open_mail(parent, address, None)

    def _open_mail(self, parent: Any, address: str, report: Path | None) -> None:
        c = self.controller
        record = c.procedure_record
        result = c.last_result
        lesson_start = (
            _recorded_start(record.lesson_start if record else None)
            or c.lesson_start()
            or datetime.now().astimezone()
        )
        outcome = default_procedure().outcomes.get(record.outcome or "") if record else None
        email = compose_support_email(
            lesson_start=lesson_start,
            profile=c.profile,
            remembered_address=address,
            assessment=result.assessment if result else None,
            check=result,
            record=record,
            outcome_text=outcome,
            report_name=report.name if report else None,
        )
        opened = desktop.open_url(mailto_url(email))
        if report is not None:
            desktop.reveal(report)
        if not opened:
            text = f"No mail program could be opened. Please write to {address} yourself" + (
                f" and attach the report:\n{report}" if report else "."
            )
            self.prompts.inform(parent, "E-mail support", text, warning=True)
        elif report is not None:
            self.prompts.inform(
                parent,
                "E-mail support",
                "Your mail program should now show the message. Please attach the report "
                f"(its folder is open):\n{report}",
            )


def _recorded_start(iso: str | None) -> date | datetime | None:
    """The guide's lesson start: a date ("2024-10-24") or a date-time."""
    if not iso:
        return None
    if len(iso) == 10:
        try:
            return date.fromisoformat(iso)
        except ValueError:
            return None
    return parse_time(iso)


def _first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]
