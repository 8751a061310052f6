"""The e-mail to support after a lesson the technology troubled, as a ``mailto:`` link.

The message says when the lesson was, what connectcheck found (the overall line, each verdict,
the headline numbers) and what the tutor tried (from the procedure's record and the re-check),
in plain words. Attaching the report is the tutor's step: the app reveals the file.

The link follows RFC 6068: every character outside the unreserved set is percent-encoded as
UTF-8, spaces as ``%20`` (never ``+``), line breaks as ``%0D%0A``. Mail programs and the
systems that hand links to them cut long links (about 2,000 characters is the safe limit), so a
long body is shortened at a line or word boundary and says that the details are in the report.

When the support address is not known yet (the shipped profile has none), the message is still
composed, with an empty recipient, and ``needs_address`` tells the app to ask the tutor once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import quote

from connectcheck.config.profile import OrganisationProfile
from connectcheck.config.settings import is_valid_address
from connectcheck.core.model import Assessment, CheckResult, ProcedureRecord
from connectcheck.core.words import quantity
from connectcheck.policy.rearrange import describe_time

MAX_URL_CHARS = 2000
SHORTENED = "\n\n[Shortened: the full details are in the attached report.]"
_HEADLINE = (("download_mbps", "download", "Mbit/s"), ("upload_mbps", "upload", "Mbit/s"),
             ("rtt_ms", "round trip", "ms"), ("jitter_ms", "jitter", "ms"), ("loss_pct", "packet loss", "%"),
             ("rtt_increase_ms", "added delay under load", "ms"))


@dataclass
class SupportEmail:
    to: str  # empty: not known yet
    subject: str
    body: str

    @property
    def needs_address(self) -> bool:
        """True when the app must ask the tutor for the support address first."""
        return not self.to


def support_address(profile: OrganisationProfile | None, remembered: str = "") -> str:
    """The address to write to: the one the tutor gave, else the profile's, else "" (ask)."""
    for candidate in (remembered.strip(), (profile.support_email if profile else "").strip()):
        if is_valid_address(candidate):
            return candidate
    return ""


def _headline(check: CheckResult) -> str:
    parts = [f"{label} {quantity(v, unit)}" for key, label, unit in _HEADLINE
             if (v := getattr(check.summary, key)) is not None]
    return ", ".join(parts)


def _when(iso: str) -> str:
    try:
        return describe_time(datetime.fromisoformat(iso))
    except ValueError:
        return iso


def _found(assessment: Assessment | None, check: CheckResult | None) -> list[str]:
    lines = []
    if assessment is not None:
        lines += ["What connectcheck found:", assessment.sentence]
        lines += [f"- {v.sentence}" for v in assessment.verdicts]
    if check is not None and (headline := _headline(check)):
        lines.append(f"Measured on {_when(check.started_at)}: {headline}.")
    return lines


def _tried(record: ProcedureRecord | None, assessment: Assessment | None) -> list[str]:
    tried = [f"- {s.tried}" for s in record.steps if s.tried] if record else []
    if assessment is not None and assessment.changes:
        tried.append(f"- Checked again: {'; '.join(assessment.changes)}.")
    return ["What I tried:", *tried] if tried else []


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
) -> SupportEmail:
    """The support e-mail for one lesson: subject with its date and time, a short plain summary
    of what was found and what was tried, and a pointer to the attached report."""
    when = describe_time(lesson_start)
    sections = [["Hello,", "", f"I had technical difficulties in my lesson on {when}."],
                _found(assessment, check), _tried(record, assessment)]
    if outcome_text:
        sections.append([f"Outcome: {outcome_text}"])
    attach = f"I have attached the report ({report_name})." if report_name else "I have attached the report."
    sections.append([attach, "", "Thank you"])
    body = "\n\n".join("\n".join(s) for s in sections if s)
    return SupportEmail(to=support_address(profile, remembered_address),
                        subject=f"Technical difficulties in my lesson on {when}", body=body)


def _encode(text: str) -> str:
    crlf = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
    return quote(crlf, safe="")


def _url(to: str, subject: str, body: str) -> str:
    return f"mailto:{quote(to, safe='@')}?subject={_encode(subject)}&body={_encode(body)}"


def _cut(body: str, keep: int) -> str:
    """The first ``keep`` characters of the body, ended at a line or word, plus the notice."""
    head = body[:keep]
    cut = max(head.rfind("\n"), head.rfind(" "))
    return (head[:cut] if cut > keep // 2 else head).rstrip() + SHORTENED


def mailto_url(email: SupportEmail, max_chars: int = MAX_URL_CHARS) -> str:
    """The ``mailto:`` link, shortened to at most ``max_chars`` by cutting the body if needed."""
    url = _url(email.to, email.subject, email.body)
    if len(url) <= max_chars:
        return url
    low, high = 0, len(email.body)  # the longest prefix of the body that fits
    while low < high:
        mid = (low + high + 1) // 2
        if len(_url(email.to, email.subject, _cut(email.body, mid))) <= max_chars:
            low = mid
        else:
            high = mid - 1
    return _url(email.to, email.subject, _cut(email.body, low))
