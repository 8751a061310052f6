"""Private by default: the user name, home folder, host name, Wi-Fi name, address host parts, MAC
addresses and command lines are masked in every format, bytes included; opting in shows them."""

from __future__ import annotations

import re
import subprocess
import zlib
from pathlib import Path

import pytest

from connectcheck.assess import assess_check
from connectcheck.report import build_check_report, build_lesson_report, export_report
from connectcheck.report.redact import Identity, Redactor
from tests.report.conftest import FAKE, needs_pdftotext, plant, real_values
from tests.report.fixtures import troubled_lesson

SSID = "Doe-Family-5G-9913"


def masker(**keep) -> Redactor:
    return Redactor(FAKE, wifi_names=[SSID], **keep)


def test_each_kind_of_identifying_detail_is_masked():
    r = masker()
    text = (
        "jane.doe-7781 on JANES-LAPTOP-4432 opened /home/jane.doe-7781/Documents/x.txt and "
        "C:\\Users\\jane.doe-7781\\AppData\\y.exe, joined Doe-Family-5G-9913 as 192.168.1.23 "
        "(fe80::1a2b:3cff:fe4d:5e6f, MAC 3C:22:FB:12:34:56)"
    )
    assert r.text(text) == (
        "[user name] on [computer name] opened ~/Documents/x.txt and ~\\AppData\\y.exe, joined "
        "[Wi-Fi name] as 192.168.1.x (fe80::x, MAC [MAC address])"
    )
    counts = {x.what: x.count for x in r.redactions()}
    assert counts == {
        "user_name": 1,
        "home_folder": 2,
        "host_name": 1,
        "wifi_name": 1,
        "ip_addresses": 2,
        "mac_addresses": 1,
        "command_lines": 0,
    }


def test_things_that_only_look_like_addresses_are_left_alone():
    r = masker()
    for text in (
        "Windows 10.0.19045.3693",
        "at 16:05:00 on 2024-10-24T16:05:00+01:00",
        "kworker/0:1",
        "jane.doe-77810 is someone else",
        "1.2.3",
        "HTTP 200 in 18 ms",
    ):
        assert r.text(text) == text


def test_a_command_line_is_cut_down_to_the_program():
    r = masker()
    assert r.program_name("/home/jane.doe-7781/.local/bin/sync --token abc /tmp/x") == "sync"
    assert r.program_name('C:\\Program Files\\Steam\\steam.exe -silent "C:\\x"') == "steam.exe"
    assert r.program_name("python3 -m http.server 8000") == "python3"
    for name in ("Google Chrome Helper (Renderer)", "kworker/0:1", "<script>alert(1)</script>"):
        assert r.program_name(name) == name  # names, not command lines
    assert {x.what: x.count for x in r.redactions()}["command_lines"] == 3


def test_opting_in_keeps_what_the_user_chose_and_lists_only_what_was_masked():
    r = masker(keep_user=True, keep_network_name=True)
    assert (
        r.text("jane.doe-7781 at /home/jane.doe-7781 on Doe-Family-5G-9913 (JANES-LAPTOP-4432, 10.0.0.7)")
        == "jane.doe-7781 at /home/jane.doe-7781 on Doe-Family-5G-9913 ([computer name], 10.0.0.x)"
    )
    assert {x.what for x in r.redactions()} == {"host_name", "ip_addresses", "mac_addresses", "command_lines"}
    everything = masker(keep_user=True, keep_host=True, keep_network_name=True, keep_addresses=True)
    assert (
        everything.text("jane.doe-7781 JANES-LAPTOP-4432 10.0.0.7 3c:22:fb:12:34:56")
        == "jane.doe-7781 JANES-LAPTOP-4432 10.0.0.7 3c:22:fb:12:34:56"
    )


def _pdf_streams(data: bytes) -> bytes:
    """The PDF's bytes with every Flate stream inflated (where the text and the attachment live)."""
    out = [data]
    for m in re.finditer(rb"stream\r?\n", data):
        try:
            out.append(zlib.decompressobj().decompress(data[m.end() : m.end() + 5_000_000]))
        except zlib.error:
            continue
    return b"\n".join(out)


def _word(value: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])", re.IGNORECASE)


def assert_absent(values: list[str], folder: Path, stem: str) -> None:
    """None of ``values`` in the HTML, the JSON, or the PDF (its text, its bytes, its inflated streams).

    Short values (a host called "vm") are looked for as words: as bare bytes they occur by chance in
    compressed data. Values of 6 characters or more are looked for anywhere, bytes included."""
    html = (folder / f"{stem}.html").read_bytes()
    js = (folder / f"{stem}.json").read_bytes()
    pdf = (folder / f"{stem}.pdf").read_bytes()
    pdf_text = subprocess.run(
        ["pdftotext", str(folder / f"{stem}.pdf"), "-"], capture_output=True, check=True, text=True
    ).stdout
    assert "Privacy" in pdf_text  # the text was extracted
    for value in values:
        for name, text in (("html", html.decode()), ("json", js.decode()), ("pdf text", pdf_text)):
            assert not _word(value).search(text), f"{value!r} found in the {name}"
        if len(value) >= 6:
            for name, data in (("html", html), ("json", js), ("pdf bytes", _pdf_streams(pdf))):
                for form in {value.encode(), value.encode("utf-16-be")}:
                    assert form not in data, f"{value!r} found in the {name}"


def _write_all(report, folder: Path, stem: str) -> None:
    for ext in ("html", "json", "pdf"):
        export_report(report, folder / f"{stem}.{ext}")


@needs_pdftotext
def test_this_computers_real_names_appear_nowhere(lab_check, settings, tmp_path):
    identity = Identity.discover()
    report = build_check_report(plant(lab_check, identity, SSID), settings)
    _write_all(report, tmp_path, "real")
    assert_absent(
        [
            *real_values(),
            *identity.user_names,
            *identity.host_names,
            *identity.home_folders,
            SSID,
            "192.168.1.254",
            "3c:22:fb:12:34:56",
            "fe80::1a2b:3cff:fe4d:5e6f",
            "--user",
            "/.local/bin",
        ],
        tmp_path,
        "real",
    )
    masked = {x.what: x.count for x in report.redactions}
    assert masked["home_folder"] >= 1 and masked["wifi_name"] >= 2 and masked["command_lines"] >= 2
    assert masked["ip_addresses"] >= 2 and masked["mac_addresses"] >= 1
    addresses = [x.address for x in lab_check.latency if x.address]
    assert addresses and all(a not in (tmp_path / "real.json").read_text() for a in addresses)


def test_advice_that_names_a_program_started_with_a_command_line_names_only_the_program(lab_check, settings):
    planted = plant(lab_check, FAKE, SSID)
    planted.local.processes[0].down_mbps = 25.0  # busy enough for the advice to name it
    planted.summary.download_mbps = 3.0
    planted.assessment = assess_check(planted)
    assert any("--user" in a.action for a in planted.assessment.advice)  # as the check gave it
    report = build_check_report(planted, settings, identity=FAKE)
    actions = [a.action for a in report.advice.advice]
    assert any("sync-helper" in a for a in actions)
    assert not any("--user" in a or "/home" in a for a in actions)
    assert report.headline.cause.program == "sync-helper"


@needs_pdftotext
def test_distinctive_names_appear_nowhere_in_a_lesson_report_bytes_included(settings, tmp_path):
    lesson = troubled_lesson()
    lesson.checks[0] = plant(lesson.checks[0], FAKE, SSID)
    lesson.samples[150].top_program = f"{FAKE.home_folders[0]}/bin/steam --login {FAKE.user_names[0]}"
    lesson.samples[150].top_program_mbps = 30.0
    lesson.alerts[0].message = f"Video on {FAKE.host_names[0]} may break up."
    report = build_lesson_report(lesson, settings, identity=FAKE)
    _write_all(report, tmp_path, "fake")
    assert_absent([*FAKE.user_names, *FAKE.home_folders, *FAKE.host_names, SSID, "--login"], tmp_path, "fake")
    assert "[computer name]" in (tmp_path / "fake.html").read_text()


def test_opted_in_details_are_shown(lab_check, settings):
    for key in ("report.include_host_name", "report.include_user_name", "report.include_network_name"):
        settings.set(key, True)
    report = build_check_report(plant(lab_check, FAKE, SSID), settings, identity=FAKE)
    facts = {f.key: f.value for f in report.computer}
    assert facts["host_name"] == FAKE.host_names[0] and facts["user_name"] == FAKE.user_names[0]
    assert facts["wifi_network"] == SSID
    assert {x.what for x in report.redactions} == {"ip_addresses", "mac_addresses", "command_lines"}


@pytest.mark.parametrize("keep", [False, True])
def test_the_tutors_own_label_is_kept_as_written(lab_check, settings, keep):
    settings.set("report.tutor_label", "Tutor 0427")
    settings.set("report.include_user_name", keep)
    report = build_check_report(lab_check, settings, identity=FAKE)
    assert report.tutor_label == "Tutor 0427"


def test_a_name_cut_inside_linux_15_byte_process_name_is_masked():
    from connectcheck.report.redact import Identity

    identity = Identity(user_names=("jane.smith",),
                        host_names=("laptop-jane-smith", "laptop-jane-smith.local"))
    r = Redactor(identity)
    for comm in ("laptop-jane-smi", "laptop-jane-sm", "sync-laptop-jan", "jane.smith-sync"[:15]):
        shown = r.program_name(comm)
        assert "laptop-jan" not in shown and "jane.smi" not in shown, (comm, shown)
    assert r.program_name("laptop-jane-smi") == "[computer name]"
    assert r.program_name("sync-laptop-jan") == "sync-[computer name]"
    for comm in ("systemd-journal", "gnome-shell-cal", "kworker/u8:2-ev", "firefox"):
        assert r.program_name(comm) == comm  # ordinary 15-byte names stay as they are
    assert Redactor(identity, keep_host=True).program_name("laptop-jane-smi") == "laptop-jane-smi"
