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
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from connectcheck.config.settings import Settings
from connectcheck.core.model import CheckResult, LessonRecord, ProcedureRecord
from connectcheck.core.words import parse_time
from connectcheck.policy.procedure import support_outcome
from connectcheck.policy.support import (
    SupportEmail,
    compose_support_email,
    is_shortened,
    is_valid_address,
    mailto_url,
    support_address,
)
from connectcheck.report import (
    ExportError,
    Report,
    build_check_report,
    build_lesson_report,
    default_folder,
    export_report,
    file_name,
)
from connectcheck.report.lesson import procedure_section
from connectcheck.ui import desktop
from connectcheck.ui.controller import Controller
from connectcheck.ui.desktop import Prompts
from connectcheck.ui.lesson import alert_words

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
        """Save the report (the lesson's when a lesson was monitored, with the guide's answers;
        else the last check's), open the mail program with the message, show the report file, and
        say truthfully what happened. Never asks anything: the address comes with the profile or
        was asked once at first start; when it is not known the tutor types it in the mail program.
        """
        c = self.controller
        handoff = Handoff(
            address=support_address(c.profile, c.settings["organisation.support_email"]),
            record=c.procedure_record,
            lesson_id=c.lesson_for_support(),
            result=c.last_result,
            offline=c.found_offline(),
        )
        settings, history = c.settings, c.history

        def work(cancel: Any) -> tuple[Path | None, LessonRecord | None]:
            folder = default_folder(settings)
            if handoff.lesson_id is not None and history is not None:
                lesson = history.lesson(handoff.lesson_id)
                if handoff.record is not None:
                    lesson.procedure = handoff.record  # the answers as they are now, not as last saved
                return export_report(build_lesson_report(lesson, settings), folder), lesson
            if handoff.result is not None:
                report = build_check_report(handoff.result, settings)
                if handoff.record is not None:
                    report.procedure = procedure_section(handoff.record)
                return export_report(report, folder), None
            return None, None

        self.worker.run(
            work,
            done=lambda out: self._open_mail(parent, handoff, *out),
            failed=lambda exc: self._mail_without_report(parent, handoff, exc),
            name="email-report",
        )

    def ask_support_address(self, parent: Any) -> str | None:
        """Ask the tutor once (at first start) for the support address when nobody knows it, and
        remember it; None when cancelled (it is not asked again: the e-mail then opens without it)."""
        c = self.controller
        known = support_address(c.profile, c.settings["organisation.support_email"])
        if known:
            return known
        label = (
            "connectcheck does not know your organisation's support e-mail address yet. It is "
            "needed to tell support when a lesson fails.\nPlease type it once; it will be remembered:"
        )
        answer = ""
        while True:
            typed = self.prompts.text(parent, "Support e-mail address", label, answer)
            if typed is None:
                answer = ""
                break
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
        if answer:
            settings.set("organisation.support_email", answer)
        settings.set("app.asked_support_address", True)
        problem = c.apply_settings(settings)
        if problem:
            log.warning("remembering the support address: %s", problem)
        return answer or None

    def _mail_without_report(self, parent: Any, handoff: Handoff, exc: BaseException) -> None:
        log.error("the report for support could not be written", exc_info=exc)
        handoff.report_problem = _first_upper(str(exc))
        self._open_mail(parent, handoff, None, None)

    def _open_mail(self, parent: Any, handoff: Handoff, report: Path | None,
                   lesson: LessonRecord | None) -> None:
        c = self.controller
        record = handoff.record
        lesson_start = (
            _recorded_start(record.lesson_start if record else None)
            or (parse_time(lesson.started_at) if lesson is not None else None)
            or c.lesson_start()
            or datetime.now().astimezone()
        )
        result = handoff.result
        email = compose_support_email(
            lesson_start=lesson_start,
            profile=c.profile,
            remembered_address=handoff.address,
            assessment=result.assessment if result else None,
            check=result,
            record=record,
            outcome_text=(support_outcome(record) or None) if record else None,
            report_name=report.name if report else None,
            report_kind="lesson" if lesson is not None else "check",
            alerts=[alert_words(a) for a in lesson.alerts if a.state != "good"] if lesson else (),
        )
        opened = desktop.open_url(mailto_url(email))
        revealed = desktop.reveal(report) if report is not None else False
        copied = not opened or is_shortened(email) or handoff.offline
        if copied:
            desktop.copy_text(email.body)
        c.handed_off(record)
        if handoff.offline:
            c.email_waiting = True  # told when a check or the lesson's monitor finds the connection back
        text, warning = handoff_words(email, opened, report, revealed, copied, handoff)
        log.info("support e-mail: mail program %s, report %s", "opened" if opened else "not opened",
                 report or "not saved")
        self.prompts.inform(parent, "E-mail support", text, warning=warning)


@dataclass
class Handoff:
    """One hand-off to support: what it carries, taken when the tutor asked for it."""

    address: str
    record: ProcedureRecord | None
    lesson_id: int | None
    result: CheckResult | None
    offline: bool
    report_problem: str = ""


def handoff_words(email: SupportEmail, opened: bool, report: Path | None, revealed: bool, copied: bool,
                  handoff: Handoff) -> tuple[str, bool]:
    """What to tell the tutor after E-mail support, true to what happened; and whether it is a warning."""
    to = email.to or "support"
    parts = []
    if opened:
        parts.append(f"Your mail program was asked to open a new message to {to}. Check that it did.")
        if email.needs_address:
            parts.append("connectcheck does not know support's address: type it in the To line.")
    else:
        parts.append("No mail program could be opened on this computer.")
    if copied:
        where = f"an e-mail to {to}" if email.to else "an e-mail to support"
        parts.append(f"The whole message is on the clipboard: you can paste it into {where} "
                     "(also in webmail).")
    if report is not None:
        if revealed:
            parts.append(f"The file manager was asked to show the report: attach {report.name} to the "
                         f"e-mail. It is saved here:\n{report}")
        else:
            parts.append(f"Attach the report to the e-mail. It is saved here:\n{report}")
    elif handoff.report_problem:
        parts.append(f"The report could not be saved ({handoff.report_problem}); "
                     "you can export it later from the History.")
    else:
        parts.append("There is no check or lesson to report yet, so there is nothing to attach.")
    if handoff.offline:
        parts.append("There is no internet connection at the moment, so the e-mail cannot go yet. "
                     "Press Send anyway: your mail program keeps it in its Outbox and sends it once the "
                     "connection is back. With webmail, paste the message in when you are online again. "
                     "connectcheck will tell you when the connection is back.")
    warning = not opened or report is None or handoff.offline
    return "\n\n".join(parts), warning


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
