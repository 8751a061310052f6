"""The e-mail to support after a lesson the technology troubled, as a ``mailto:`` link.

The message starts with what support needs first: when the lesson was, how it ended (the
guide's outcome, with the new day of a moved lesson) and what the tutor tried, in order. Then
what connectcheck found (the overall line, each verdict, the alerts of a monitored lesson, the
headline numbers), and which report is attached. Attaching the report is the tutor's step: the
app saves it and reveals the file.

The link follows RFC 6068: every character outside the unreserved set is percent-encoded as
UTF-8, spaces as ``%20`` (never ``+``), line breaks as ``%0D%0A``. Mail programs and the
systems that hand links to them cut long links (about 2,000 characters is the safe limit), so a
long message is shortened, and only ever by whole lines of figures, from the end: the outcome,
what was tried and the attachment line are never cut, and no sentence is cut in the middle. A
note says the rest is in the attached report. When even those do not fit, whole steps of what
was tried are left out from the middle, and the note says so.

When the support address is not known (the shipped profile has none), the message is still
composed, with an empty recipient: ``needs_address`` says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import quote

from connectcheck.config.profile import OrganisationProfile
from connectcheck.config.settings import is_valid_address
from connectcheck.core.model import Assessment, CheckResult, ProcedureRecord
from connectcheck.core.words import describe_time, quantity, time_words

MAX_URL_CHARS = 2000
SHORTENED = "(Shortened to fit an e-mail link: the full details are in the attached report.)"
STEPS_LEFT_OUT = "- (More steps are in the attached report.)"
_HEADLINE = (("download_mbps", "download", "Mbit/s"), ("upload_mbps", "upload", "Mbit/s"),
             ("rtt_ms", "round trip", "ms"), ("jitter_ms", "jitter", "ms"), ("loss_pct", "packet loss", "%"),
             ("rtt_increase_ms", "added delay under load", "ms"))
MAX_ALERT_LINES = 6


@dataclass
class SupportEmail:
    """The message. ``body`` is the whole of it; ``head`` (lesson, outcome, tried), ``figures``
    (what connectcheck found, line by line) and ``tail`` (the attachment, thanks) are its parts,
    so that a link too long for mail programs is shortened by figures, never by the outcome."""

    to: str  # empty: not known yet
    subject: str
    body: str
    head: list[str] = field(default_factory=list)
    tried: list[str] = field(default_factory=list)  # "- …" lines, part of the head
    figures: list[str] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)

    @property
    def needs_address(self) -> bool:
        """True when the recipient is not known: the tutor types it in the mail program."""
        return not self.to


def support_address(profile: OrganisationProfile | None, remembered: str = "") -> str:
    """The address to write to: the one the tutor gave, else the profile's, else "" (not known)."""
    for candidate in (remembered.strip(), (profile.support_email if profile else "").strip()):
        if is_valid_address(candidate):
            return candidate
    return ""


def _headline(check: CheckResult) -> str:
    parts = [f"{label} {quantity(v, unit)}" for key, label, unit in _HEADLINE
             if (v := getattr(check.summary, key)) is not None]
    return ", ".join(parts)


def _found(assessment: Assessment | None, check: CheckResult | None, alerts: Sequence[str]) -> list[str]:
    lines = []
    if alerts:
        lines.append("During the lesson connectcheck warned:")
        lines += [f"- {a}" for a in alerts[:MAX_ALERT_LINES]]
        if len(alerts) > MAX_ALERT_LINES:
            lines.append(f"- and {len(alerts) - MAX_ALERT_LINES} more warnings (in the report).")
    if assessment is not None:
        lines += ["What connectcheck found:", assessment.sentence]
        lines += [f"- {v.sentence}" for v in assessment.verdicts]
    if check is not None and (headline := _headline(check)):
        lines.append(f"Measured on {time_words(check.started_at)}: {headline}.")
    return lines


def _tried(record: ProcedureRecord | None, assessment: Assessment | None) -> list[str]:
    tried = [f"- {s.tried}" for s in record.steps if s.tried] if record else []
    if assessment is not None and assessment.changes:
        tried.append(f"- Checked again: {'; '.join(assessment.changes)}.")
    return tried


def compose_support_email(
    *,
    lesson_start: date | datetime,
    profile: OrganisationProfile | None = None,
    remembered_address: str = "",
    assessment: Assessment | None = None,
    check: CheckResult | None = None,
    record: ProcedureRecord | None = None,
    outcome_text: str | None = None,
    report_name: str | None = None,
    report_kind: str = "check",
    alerts: Sequence[str] = (),
) -> SupportEmail:
    """The support e-mail for one lesson: subject with its date and time; first how it ended and
    what was tried, then what connectcheck found, then the attached report.

    ``outcome_text`` is how it ended in words for support (:func:`procedure.support_outcome`);
    ``report_kind`` "lesson" when the attached report is the monitored lesson's (its timeline,
    alerts and the guide's answers), "check" for the last check's; ``alerts`` the lesson's alerts
    in words, oldest first."""
    when = describe_time(lesson_start)
    head = ["Hello,", "", f"I had technical difficulties in my lesson on {when}."]
    if outcome_text:
        head += ["", f"How it ended: {outcome_text}"]
    tried = _tried(record, assessment)
    if report_kind == "lesson":
        what = "the report of the lesson (its timeline, connectcheck's warnings and my answers to the guide)"
    elif record is not None and record.steps:
        what = "the report of the last check, with my answers to the guide"
    else:
        what = "the report of the last check"
    attach = f"I have attached {what}" + (f": {report_name}." if report_name else ".")
    email = SupportEmail(to=support_address(profile, remembered_address),
                         subject=f"Technical difficulties in my lesson on {when}", body="",
                         head=head, tried=tried, figures=_found(assessment, check, alerts),
                         tail=[attach, "", "Thank you"])
    email.body = _assemble(email.head, email.tried, email.figures, email.tail)
    return email


def _assemble(head: list[str], tried: list[str], figures: list[str], tail: list[str],
              note: str = "") -> str:
    sections = ["\n".join(head)]
    if tried:
        sections.append("\n".join(["What I tried:", *tried]))
    if figures:
        sections.append("\n".join(figures))
    if note:
        sections.append(note)
    sections.append("\n".join(tail))
    return "\n\n".join(sections)


def _encode(text: str) -> str:
    crlf = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
    return quote(crlf, safe="")


def _url(to: str, subject: str, body: str) -> str:
    return f"mailto:{quote(to, safe='@')}?subject={_encode(subject)}&body={_encode(body)}"


def _fits(email: SupportEmail, body: str, max_chars: int) -> bool:
    return len(_url(email.to, email.subject, body)) <= max_chars


def shortened_body(email: SupportEmail, max_chars: int = MAX_URL_CHARS) -> str:
    """The body as it goes in the link: whole, or shortened by whole lines as the module says."""
    if _fits(email, email.body, max_chars):
        return email.body
    if not (email.head or email.tail):  # a message without parts: whole lines, then whole sentences
        return _shorten_plain(email, max_chars)
    figures = list(email.figures)
    while figures:  # the figures, from the end
        figures.pop()
        while figures and figures[-1].endswith(":"):  # no heading left without its lines
            figures.pop()
        body = _assemble(email.head, email.tried, figures, email.tail, SHORTENED)
        if _fits(email, body, max_chars):
            return body
    tried = list(email.tried)  # then steps tried, from the middle: the first and the last stay
    while len(tried) > 2:
        del tried[len(tried) // 2]
        shown = [*tried[:len(tried) // 2], STEPS_LEFT_OUT, *tried[len(tried) // 2:]]
        body = _assemble(email.head, shown, [], email.tail, SHORTENED)
        if _fits(email, body, max_chars):
            return body
    return _assemble(email.head, tried, [], email.tail, SHORTENED)  # the outcome is never cut


def _shorten_plain(email: SupportEmail, max_chars: int) -> str:
    pieces = re.split(r"(?<=[.!?])\s+|\n", email.body)
    kept: list[str] = []
    for piece in pieces:
        trial = " ".join([*kept, piece]) + "\n\n" + SHORTENED
        if not _fits(email, trial, max_chars):
            break
        kept.append(piece)
    return (" ".join(kept) + "\n\n" + SHORTENED).lstrip()


def is_shortened(email: SupportEmail, max_chars: int = MAX_URL_CHARS) -> bool:
    return shortened_body(email, max_chars) != email.body


def mailto_url(email: SupportEmail, max_chars: int = MAX_URL_CHARS) -> str:
    """The ``mailto:`` link, at most ``max_chars`` long where the outcome allows (see the module)."""
    return _url(email.to, email.subject, shortened_body(email, max_chars))
