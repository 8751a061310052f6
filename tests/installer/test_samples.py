"""The sample data the app ships (resources/samples/, made by installer/make_samples.py over the
network lab): a real full check and a real monitored lesson with trouble in it, readable by this
version, and with nothing that names a person or a machine."""

from __future__ import annotations

import json
import re
from pathlib import Path

from connectcheck.core import model
from connectcheck.core.model import CheckKind, LessonRecord, Status

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def _check():
    return model.loads((SAMPLES / "check.json").read_text(encoding="utf-8"))


def _lesson():
    return model.from_dict(LessonRecord, json.loads((SAMPLES / "lesson.json").read_text(encoding="utf-8")))


def test_the_sample_check_is_a_whole_full_check():
    check = _check()
    assert check.kind is CheckKind.FULL and check.status is Status.OK
    assert all(section.status is Status.OK for section in check.sections.values())
    s = check.summary
    assert s.rtt_ms and s.download_mbps and s.upload_mbps and s.platform_reachable and s.udp_ok
    assert check.assessment is not None and check.local is not None


def test_the_sample_lesson_has_trouble_a_check_and_a_recovery():
    lesson = _lesson()
    assert lesson.ended_at and lesson.label == "Sample lesson"
    assert len(lesson.samples) >= 20 and len(lesson.checks) == 1
    states = [a.state for a in lesson.alerts]
    assert "degraded" in states or "fail" in states
    assert states[-1] == "good"  # the line recovered before the end


def test_the_samples_name_no_one():
    for name in ("check.json", "lesson.json"):
        text = (SAMPLES / name).read_text(encoding="utf-8")
        assert not re.search(r"/root/|/home/(?!tutor\b)|C:\\\\Users\\\\(?!tutor\b)", text), name
        assert '"ssid": null' in text or '"ssid"' not in text
