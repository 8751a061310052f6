"""Wi-Fi parsers on recorded outputs of nmcli, iw, /proc/net/wireless, system_profiler and netsh
(several cases each: good, weak, disconnected, refused, other languages), and the readers run
through replayed commands."""

from __future__ import annotations

import pytest

from connectcheck.core.model import Status
from connectcheck.local import wifi
from tests.local.replay import RECORDED, Replay, recorded


def test_nmcli_connected():
    info = wifi.parse_nmcli(recorded("nmcli_connected.txt"))
    assert (info.interface, info.ssid, info.signal_pct, info.link_rate_mbps, info.frequency_mhz) == (
        "wlp2s0",
        "Hollies-5G",
        78.0,
        540.0,
        5180.0,
    )
    assert info.connected is True


def test_nmcli_weak_with_escaped_colons():
    info = wifi.parse_nmcli(recorded("nmcli_weak_escaped.txt"))
    assert info.ssid == "Café: Upstairs \\ Back" and info.signal_pct == 19.0 and info.link_rate_mbps == 6.5


def test_nmcli_not_connected_and_nothing_listed():
    info = wifi.parse_nmcli(recorded("nmcli_disconnected.txt"))
    assert info.connected is False and info.interface == "wlp2s0" and info.signal_pct is None
    assert wifi.parse_nmcli("") is None


def test_iw_link():
    good = wifi.parse_iw_link(recorded("iw_link_connected.txt"), "wlp2s0")
    assert (good.ssid, good.signal_dbm, good.link_rate_mbps, good.frequency_mhz) == (
        "Hollies-5G",
        -54.0,
        780.0,
        5180.0,
    )
    weak = wifi.parse_iw_link(recorded("iw_link_weak.txt"), "wlan0")
    assert (weak.signal_dbm, weak.link_rate_mbps, weak.frequency_mhz) == (-81.0, 6.5, 2437.0)
    assert wifi.parse_iw_link(recorded("iw_link_not_connected.txt")).connected is False


def test_proc_net_wireless():
    quality, level = wifi.parse_proc_wireless(recorded("proc_net_wireless.txt"))["wlp2s0"]
    assert quality == pytest.approx(80.0) and level == -54.0
    quality, level = wifi.parse_proc_wireless(recorded("proc_net_wireless_weak.txt"))["wlan0"]
    assert quality == pytest.approx(27.14, abs=0.01) and level == -71.0  # an unsigned byte: 185 - 256


def _sysfs(tmp_path, *cards):
    for name, wireless in cards:
        (tmp_path / name).mkdir()
        if wireless:
            (tmp_path / name / "wireless").mkdir()
    return tmp_path


def test_linux_reader_combines_nmcli_and_iw(tmp_path):
    run = Replay({("nmcli",): ["nmcli_connected.txt"], ("iw",): ["iw_link_connected.txt"]})
    info = wifi.read_linux(
        run, sys_net=_sysfs(tmp_path, ("eth0", False), ("wlp2s0", True)), proc_wireless=tmp_path / "none"
    )
    assert (info.signal_pct, info.signal_dbm, info.link_rate_mbps) == (78.0, -54.0, 540.0)
    assert ("iw", "dev", "wlp2s0", "link") in run.calls


def test_linux_reader_without_nmcli_or_iw_falls_back_to_proc(tmp_path):
    proc = tmp_path / "wireless"
    proc.write_text(recorded("proc_net_wireless_weak.txt"))
    info = wifi.read_linux(Replay({}), sys_net=_sysfs(tmp_path, ("wlan0", True)), proc_wireless=proc)
    assert info.status is Status.OK and info.signal_dbm == -71.0 and info.connected is True


def test_linux_reader_says_when_nothing_tells(tmp_path):
    info = wifi.read_linux(
        Replay({}), sys_net=_sysfs(tmp_path, ("wlan0", True)), proc_wireless=tmp_path / "x"
    )
    assert info.status is Status.UNAVAILABLE and "nmcli" in info.error


def test_no_wifi_card_on_linux(tmp_path):
    assert wifi.read_linux(Replay({}), sys_net=_sysfs(tmp_path, ("eth0", False))) is None


def test_system_profiler_connected():
    info = wifi.parse_system_profiler(recorded("system_profiler_connected.json"))
    assert (info.interface, info.ssid, info.signal_dbm, info.link_rate_mbps, info.frequency_mhz) == (
        "en0",
        "Hollies-5G",
        -52.0,
        866.0,
        5180.0,
    )
    assert info.error is None


def test_system_profiler_weak_and_name_hidden_without_location_permission():
    info = wifi.parse_system_profiler(recorded("system_profiler_weak_redacted.json"))
    assert info.ssid is None and "Location" in info.error and info.status is Status.OK
    assert (info.signal_dbm, info.link_rate_mbps, info.frequency_mhz) == (-79.0, 26.0, 2462.0)


def test_system_profiler_disconnected_and_no_wifi():
    info = wifi.parse_system_profiler(recorded("system_profiler_disconnected.json"))
    assert info.connected is False and info.interface == "en0"
    assert wifi.parse_system_profiler(recorded("system_profiler_no_wifi.json")) is None
    assert wifi.parse_system_profiler("not json").status is Status.ERROR


@pytest.mark.parametrize(
    "name, expected",
    [
        ("netsh_en_connected.txt", ("Wi-Fi", "Hollies-5G", 91.0, 960.7, 5220.0)),
        ("netsh_en_weak.txt", ("Wi-Fi", "VM1234567", 22.0, 6.5, 2437.0)),
        ("netsh_de_connected.txt", ("WLAN", "FRITZ!Box 7590 XY", 58.0, 72.2, 2412.0)),
        ("netsh_fr_connected.txt", ("Wi-Fi", "Livebox-A1B2", 74.0, 390.0, 5500.0)),
    ],
)
def test_netsh_connected_in_several_languages(name, expected):
    info = wifi.parse_netsh(recorded(name))
    assert (info.interface, info.ssid, info.signal_pct, info.link_rate_mbps, info.frequency_mhz) == expected
    assert info.connected is True and info.status is Status.OK


def test_netsh_disconnected_and_no_wifi():
    info = wifi.parse_netsh(recorded("netsh_en_disconnected.txt"))
    assert info.connected is False and info.signal_pct is None
    assert wifi.parse_netsh(recorded("netsh_no_wifi.txt")) is None
    assert wifi.parse_netsh(recorded("netsh_service_off.txt")) is None


def test_netsh_refused_until_location_is_allowed():
    run = Replay({("netsh",): ["netsh_location_refused.txt"]}, returncode=1)
    info = wifi.read_windows(run)
    assert info.status is Status.UNAVAILABLE
    assert "Location" in info.error and "Privacy & security" in info.error


def test_readers_say_when_the_tool_is_missing():
    assert wifi.read_windows(Replay({})).status is Status.UNAVAILABLE
    missing = wifi.read_macos(Replay({}))
    assert missing.status is Status.UNAVAILABLE and "not available" in missing.error


def test_channel_frequencies():
    assert wifi.channel_to_mhz(1) == 2412.0 and wifi.channel_to_mhz(14) == 2484.0
    assert wifi.channel_to_mhz(36) == 5180.0 and wifi.channel_to_mhz(5, 6.0) == 5975.0
    assert wifi.channel_to_mhz(20) is None


# --- the networks around, read with the link (real outputs from the corpus) ---------------------------

HERE = RECORDED.parent


def test_linux_reads_the_networks_around_from_nmclis_cached_scan(tmp_path):
    scan = ("nmcli", "-t", "-f", ",".join(wifi.NMCLI_SCAN_FIELDS), "device", "wifi", "list", "--rescan", "no")
    # the captured rows (nmcli's default fields) with FREQ put in after CHAN, as nmcli prints it when asked
    captured = (HERE / "corpus/nmcli/t_dev-wifi-list_wifiheatmapper.txt").read_text(encoding="utf-8")
    at = wifi.NMCLI_SCAN_FIELDS.index("FREQ")
    rows = []
    for line in filter(str.strip, captured.splitlines()):
        parts = line.split(":")  # the escaped colons of the BSSID are split too: count from the end
        chan = parts[-5]
        rows.append(":".join([*parts[:-5], chan, f"{wifi.channel_to_mhz(int(chan)):.0f} MHz", *parts[-4:]]))
    assert at == wifi.NMCLI_SCAN_FIELDS.index("CHAN") + 1 and len(wifi.NMCLI_SCAN_FIELDS) - at == 5
    (tmp_path / "scan.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    run = Replay({scan: [str(tmp_path / "scan.txt")],
                  ("nmcli",): ["recorded/nmcli_connected.txt"], ("iw",): ["recorded/iw_link_connected.txt"]},
                 folder=HERE)
    info = wifi.read_linux(run, sys_net=_sysfs(tmp_path, ("wlp2s0", True)), proc_wireless=tmp_path / "none")
    assert scan in run.calls  # the cached scan only: no new scan is asked for
    assert info.neighbours.source == "nmcli" and len(info.neighbours.heard) == 11
    assert [h.channel for h in info.neighbours.heard if h.in_use] == [1]


def test_windows_reads_the_networks_around_and_says_when_location_is_needed():
    interfaces, networks = ("netsh", "wlan", "show", "interfaces"), ("netsh", "wlan", "show", "networks")
    run = Replay({interfaces: ["corpus/netsh/en_win10_wifiheatmapper.txt"],
                  networks: ["corpus/netsh_networks/en_win11_wifiheatmapper.txt"]}, folder=HERE)
    info = wifi.read_windows(run)
    assert ("netsh", "wlan", "show", "networks", "mode=bssid") in run.calls
    assert info.connected and len(info.neighbours.heard) == 8 and info.neighbours.own_listed
    refused = Replay({interfaces: ["corpus/netsh/en_win10_wifiheatmapper.txt"],
                      networks: ["corpus/netsh_networks/en_win11_location-denied_wifiheatmapper.txt"]},
                     folder=HERE, returncode=1)
    scan = wifi.read_windows(refused).neighbours
    assert scan.status is Status.UNAVAILABLE and scan.error == wifi.LOCATION_REFUSED_SCAN
