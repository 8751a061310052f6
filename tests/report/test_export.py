"""Writing reports: names, formats from the extension, atomic writes, and clear errors for a folder
that cannot be written or a disk that is full (real ones: a read-only and a tiny tmpfs)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import pytest

from connectcheck.report import ExportError, ReportError, build_lesson_report, export_report, load_report
from connectcheck.report.export import default_folder, file_name, write_check_report
from connectcheck.report.load import loads_report
from tests.report.fixtures import troubled_lesson

ROOT = os.geteuid() == 0


@pytest.fixture(scope="module")
def report():
    from connectcheck.config.settings import Settings

    return build_lesson_report(troubled_lesson(), Settings())


@contextlib.contextmanager
def tmpfs(folder: Path, options: str):
    """A real small or read-only file system mounted on ``folder`` (root only)."""
    folder.mkdir(exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@contextlib.contextmanager
def unwritable(folder: Path):
    """A folder this process cannot write in: read-only for root, no write permission for others."""
    if ROOT:
        with tmpfs(folder, "ro,size=1m") as f:
            yield f
        return
    folder.mkdir(exist_ok=True)
    folder.chmod(0o555)
    try:
        yield folder
    finally:
        folder.chmod(0o755)


def test_names_follow_the_lessons_start(report):
    assert file_name(report, "html") == "connectcheck-report-2024-10-24-1600.html"
    assert file_name(report, "pdf") == "connectcheck-report-2024-10-24-1600.pdf"


@pytest.mark.parametrize(
    "name, magic",
    [("r.html", b"<!DOCTYPE html>"), ("r.HTM", b"<!DOCTYPE html>"), ("r.pdf", b"%PDF-"), ("r.json", b"{")],
)
def test_the_format_comes_from_the_extension(report, tmp_path, name, magic):
    path = export_report(report, tmp_path / name)
    assert path == tmp_path / name
    assert path.read_bytes().startswith(magic)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary file left behind


def test_an_unknown_extension_or_a_contradicting_format_is_refused(report, tmp_path):
    with pytest.raises(ReportError, match=r"must end in \.html, \.pdf or \.json"):
        export_report(report, tmp_path / "report.txt")
    with pytest.raises(ReportError, match="does not match the format pdf"):
        export_report(report, tmp_path / "report.html", "pdf")
    assert list(tmp_path.iterdir()) == []


def test_a_folder_gets_a_new_file_each_time(report, tmp_path):
    first = export_report(report, tmp_path)
    second = export_report(report, tmp_path, "json")
    third = export_report(report, tmp_path)
    assert first.name == "connectcheck-report-2024-10-24-1600.html"
    assert second.name == "connectcheck-report-2024-10-24-1600.json"
    assert third.name == "connectcheck-report-2024-10-24-1600-2.html"
    assert load_report(first) == load_report(second) == load_report(third) == report


def test_a_name_without_extension_takes_the_format(report, tmp_path):
    assert export_report(report, tmp_path / "for-support", "pdf") == tmp_path / "for-support.pdf"


def test_an_unwritable_folder_gives_a_clear_error_and_another_choice(report, tmp_path):
    with unwritable(tmp_path / "locked") as folder:
        with pytest.raises(ExportError) as caught:
            export_report(report, folder / "report.html")
        assert list(folder.iterdir()) == []
    message = str(caught.value)
    assert message.startswith("the report was not saved: ")
    assert str(folder) in message and "Nothing was left half-written." in message
    assert ("cannot be written to" if ROOT else "not allowed to write") in message
    assert caught.value.alternative is not None and f"for example {caught.value.alternative}" in message
    assert os.access(caught.value.alternative, os.W_OK)


def test_a_folder_that_is_a_file_gives_a_clear_error(report, tmp_path):
    (tmp_path / "not-a-folder").write_text("x")
    with pytest.raises(ExportError, match="is not a folder"):
        export_report(report, tmp_path / "not-a-folder" / "report.html")


@pytest.mark.skipif(not ROOT, reason="a full disk is made with a tiny tmpfs, which needs root")
def test_a_full_disk_leaves_the_old_report_whole_and_nothing_half_written(report, tmp_path):
    with tmpfs(tmp_path / "small", "size=96k") as folder:
        target = folder / "report.html"
        small = build_lesson_report(
            troubled_lesson(minutes=1, with_checks=False, with_procedure=False), _settings()
        )
        export_report(small, target)
        before = target.read_bytes()
        with pytest.raises(ExportError, match="the disk that holds .* is full"):
            export_report(report, target)  # a 55-minute lesson does not fit
        assert target.read_bytes() == before
        assert loads_report(before) == small
        assert [p.name for p in folder.iterdir()] == ["report.html"]


def _settings():
    from connectcheck.config.settings import Settings

    return Settings()


def test_the_default_folder_is_the_setting_or_the_documents_folder(tmp_path):
    settings = _settings()
    assert default_folder(settings).is_dir()
    settings.set("report.folder", str(tmp_path / "reports"))
    assert default_folder(settings) == tmp_path / "reports"


@pytest.mark.parametrize("ext", ["html", "pdf", "json"])
def test_write_check_report_writes_a_real_checks_report(lab_check, tmp_path, ext):
    path = write_check_report(lab_check, tmp_path / f"check.{ext}", _settings())
    assert path.exists() and path.stat().st_size > 5_000
    if ext != "pdf":
        back = load_report(path)
        assert back.kind == "check" and back.checks[0].started_at == lab_check.started_at


def test_a_program_name_the_system_could_not_decode_is_written(lab_check, tmp_path):
    import copy

    from connectcheck.core.model import ProcessUsage

    odd = copy.deepcopy(lab_check)
    odd.local.processes.append(
        ProcessUsage(
            name=b"caf\xe9-sync".decode("utf-8", "surrogateescape"), down_mbps=1.0, rate_source="measured"
        )
    )
    for ext in ("json", "html"):
        back = load_report(write_check_report(odd, tmp_path / f"odd.{ext}", _settings()))
        assert "caf\ufffd-sync" in [p.name for p in back.checks[0].local.processes]
