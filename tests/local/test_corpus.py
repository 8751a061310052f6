"""Every real output in tests/local/corpus replayed through its parser, from its bytes, and compared with
what a person reads from it (tests/local/corpus/INDEX.toml says where each came from)."""

from __future__ import annotations

import contextlib
import logging
import sys
import tomllib
from pathlib import Path

import pytest

from connectcheck.core.files import read_bundled_toml
from connectcheck.core.model import Status
from connectcheck.local import wifi
from connectcheck.local.commands import decode_output
from connectcheck.local.macos import (
    MacBackend,
    NettopMeter,
    parse_nettop,
    parse_pmset,
    parse_route_get,
    parse_route_get_gateway,
)
from connectcheck.local.windows import (
    WindowsBackend,
    parse_powercfg,
    parse_route_print,
    parse_route_print_gateways,
    read_power_mode,
    read_power_status,
)
from tests.local.replay import Replay

CORPUS = Path(__file__).parent / "corpus"
INDEX = tomllib.loads((CORPUS / "INDEX.toml").read_text(encoding="utf-8"))
SAMPLES = INDEX["sample"]
BY_FILE = {s["file"]: s for s in SAMPLES}
ORIGINS = {"captured", "kept", "derived"}


def samples(command: str) -> list:
    return [pytest.param(s, id=s["file"]) for s in SAMPLES if s["command"] == command]


def corpus_text(sample: dict) -> str:
    """A sample's bytes decoded as run_command decodes them where the tool wrote that code page."""
    return decode_output((CORPUS / sample["file"]).read_bytes(), sample["encoding"])


def reads(sample: dict) -> dict:
    """What a person reads from a sample (a derived one reads as the output it was made from)."""
    return sample["reads"] if "reads" in sample else BY_FILE[sample["derived_from"]]["reads"]


def test_every_file_is_indexed_with_its_source():
    files = {p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*") if p.is_file()} - {"INDEX.toml"}
    assert files == set(BY_FILE), "every corpus file has one [[sample]] in INDEX.toml, and every one a file"
    for s in SAMPLES:
        assert {"file", "command", "os", "origin", "changes", "encoding"} <= s.keys(), s["file"]
        assert s["origin"] in ORIGINS, s["file"]
        if s["origin"] == "derived":
            assert s["derived_from"] in BY_FILE and ".derived." in s["file"], s["file"]
        else:
            assert s["source"] and "reads" in s and ".derived." not in s["file"], s["file"]


def check_wifi(info: wifi.WifiInfo | None, expected: dict) -> None:
    """A WifiInfo against what a person reads from the output."""
    state = expected["state"]
    if state == "no wifi":
        assert info is None
        return
    assert info is not None
    if state == "refused":
        assert info.status is Status.UNAVAILABLE and "Location" in info.error
    elif state == "not understood":
        assert info.status is Status.ERROR and info.error == wifi.NETSH_NOT_UNDERSTOOD
        assert (info.connected, info.signal_pct, info.ssid) == (None, None, None)
    elif state in ("not connected", "off"):
        assert info.status is Status.OK and info.connected is False
        assert info.interface == expected.get("interface") and info.signal_pct is None
        if state == "off":
            assert info.error == wifi.WIFI_OFF
    else:
        assert state == "connected"
        assert info.status is Status.OK and info.connected is True
        rate = expected.get("tx_mbps", expected.get("rx_mbps"))
        assert (
            info.interface,
            info.ssid,
            info.signal_pct,
            info.signal_dbm,
            info.link_rate_mbps,
            info.frequency_mhz,
        ) == (
            expected.get("interface"),
            expected.get("ssid"),
            expected.get("signal_pct"),
            expected.get("rssi_dbm"),
            rate,
            expected.get("frequency_mhz"),
        )


@pytest.mark.parametrize("sample", samples("netsh wlan show interfaces"))
def test_netsh_corpus(sample):
    check_wifi(wifi.parse_netsh(corpus_text(sample)), reads(sample))


def _label_data() -> dict:
    return read_bundled_toml(wifi.NETSH_LABELS_FILE, "netsh labels", ValueError)[0]


def _without(language: str) -> wifi.NetshLabels:
    """The bundled label tables less one language: a display language connectcheck does not know."""
    data = _label_data()
    del data["languages"][language]
    return wifi.parse_netsh_labels(data)


@pytest.mark.parametrize(
    "name, language",
    [
        ("netsh/ja_mock-program.txt", "ja"),
        ("netsh/zh-hans_win11_ax211.txt", "zh-hans"),
        ("netsh/zh-hans_win10_disconnected_9462.txt", "zh-hans"),
        ("netsh/it_wifiheatmapper.txt", "it"),
    ],
)
def test_a_language_not_known_is_not_understood_never_no_wifi_or_a_wrong_value(name, language):
    info = wifi.parse_netsh(corpus_text(BY_FILE[name]), _without(language))
    check_wifi(info, {"state": "not understood"})


def test_italian_connessa_is_connected_and_a_state_word_not_known_is_not_understood():
    """Italian Windows says 'connessa': a table without that word must not call it 'not connected'."""
    data = _label_data()
    data["languages"]["it"]["connected"] = ["connesso"]
    italian = corpus_text(BY_FILE["netsh/it_wifiheatmapper.txt"])
    info = wifi.parse_netsh(italian, wifi.parse_netsh_labels(data))
    check_wifi(info, {"state": "not understood"})


def test_output_decoded_with_the_wrong_code_page_is_not_understood():
    """cp850 bytes read as cp1252 (what text=True did) lose 'État': that is not "no Wi-Fi"."""
    raw = (CORPUS / "netsh/fr_wifiheatmapper.cp850.derived.txt").read_bytes()
    check_wifi(wifi.parse_netsh(raw.decode("cp1252", errors="replace")), {"state": "not understood"})


def test_not_understood_is_logged_once_with_the_first_lines_and_no_identifiers(caplog):
    text = corpus_text(BY_FILE["netsh/zh-hans_win11_ax211.txt"])
    labels = _without("zh-hans")
    wifi._logged_not_understood.clear()
    with caplog.at_level(logging.WARNING, logger="connectcheck.local.wifi"):
        for _ in range(3):
            wifi.parse_netsh(text, labels)
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert "名称 : WLAN" in message and "状态 : 已连接" in message
    assert "a1a9ed11" not in message and "60:45:2e" not in message and "TP-LINK" not in message


def test_a_label_meaning_two_things_is_refused():
    with pytest.raises(ValueError, match="means both"):
        wifi.parse_netsh_labels({"languages": {"a": {"name": ["Nom"]}, "b": {"state": ["nom"]}}})
    with pytest.raises(ValueError, match="both connected and not connected"):
        wifi.parse_netsh_labels({"languages": {"a": {"connected": ["x"]}, "b": {"not_connected": ["X"]}}})


def test_the_bundled_labels_cover_the_languages_asked_for():
    """Labels known at least for these; a language without its state words reads "not understood"."""
    languages = set(wifi.netsh_labels().languages)
    assert {"en", "de", "fr", "es", "it", "pt", "nl", "pl", "zh-hans", "ja"} <= languages


@pytest.mark.parametrize("sample", samples("nettop -P -L 1 -x -J bytes_in,bytes_out"))
def test_nettop_corpus(sample):
    rows = [
        {"name": r.name, "pid": r.pid, "bytes_in": r.bytes_in, "bytes_out": r.bytes_out}
        for r in parse_nettop(corpus_text(sample))
    ]
    assert rows == reads(sample)["rows"]


def test_nettop_with_a_time_column_books_what_moved_in_the_interval_not_the_whole_count():
    """Issue 15: 1,000 B in and 500 B out moved, not 417,099,464 B and 236,632,700 B."""
    first, second = "nettop/time-column_portly.txt", "nettop/time-column_portly_second-reading.derived.txt"
    meter = NettopMeter(Replay({("nettop",): [first, second]}, folder=CORPUS))
    assert meter.read() == {}
    flows = meter.read()
    assert flows[20859].down_bytes == 1_000 and flows[20859].up_bytes == 500
    assert flows[20859].name == "ch.protonvpn.ma" and 576 not in flows


@pytest.mark.parametrize("sample", samples("pmset -g"))
def test_pmset_corpus(sample):
    expected = {True: True, False: False, "not known": None}[reads(sample)["low_power"]]
    assert parse_pmset(corpus_text(sample)) is expected


def test_pmset_energy_modes():
    """powermode: 0 automatic, 1 Low Power, 2 High Power (not a power saver); anything else is not known.
    The other modes are the measured output with its one powermode line changed."""
    high = corpus_text(BY_FILE["pmset/g_high-power_measured.txt"])
    assert parse_pmset(high.replace("powermode            2", "powermode            1")) is True
    assert parse_pmset(high.replace("powermode            2", "powermode            0")) is False
    assert parse_pmset(high.replace("powermode            2", "powermode            3")) is None
    both = high.replace(" powermode            2", " lowpowermode         1\n powermode            0")
    assert parse_pmset(both) is False  # the newer name decides


@pytest.mark.parametrize("sample", samples("route print -4 0.0.0.0"))
def test_route_print_corpus(sample):
    """The on-link default route of German Windows ('Auf Verbindung', two words) counts; persistent
    routes ('Standard' for a metric) do not."""
    assert parse_route_print(corpus_text(sample)) == reads(sample)["defaults"]


@pytest.mark.parametrize("sample", samples("powercfg /getactivescheme"))
def test_powercfg_corpus(sample):
    assert parse_powercfg(corpus_text(sample)) is reads(sample)["power_saver_plan"]


class _PowerReadings(WindowsBackend):
    def __init__(self, status, mode, run):
        super().__init__(run=run)
        self._status, self._mode, self.asked = status, mode, []

    def power_status(self):
        return self._status

    def power_mode(self, on_ac):
        self.asked.append(on_ac)
        return self._mode


def test_the_power_mode_over_a_balanced_plan_and_energy_saver_are_power_saving():
    """A measured case (public file id 57868699868, Windows 10 IoT LTSC 19044): the Balanced plan, and
    ActiveOverlayAcPowerScheme = 961cc777-… (Best power efficiency) that powercfg /getactivescheme does
    not show. The GUIDs are those of Microsoft's PowerGetEffectiveOverlayScheme documentation."""
    balanced = Replay({("powercfg",): ["powercfg/en_win11_balanced_wardoff-record.txt"]}, folder=CORPUS)
    efficiency = "961CC777-2547-4F9D-8174-7D86181B8A7A"  # as a registry value may spell it
    best_performance = "ded574b5-45a0-4f42-8737-46345c09c238"
    backend = _PowerReadings((True, False), efficiency, balanced)
    assert backend.power_saver() is True and backend.asked == [True]
    assert _PowerReadings((True, False), best_performance, balanced).power_saver() is False
    assert _PowerReadings((False, False), "", balanced).power_saver() is False  # no power mode set
    assert _PowerReadings((False, True), "", balanced).power_saver() is True  # Energy Saver on
    # a reading that failed is "not known", unless another one says power saving is on
    assert _PowerReadings((None, None), "", balanced).power_saver() is None
    assert _PowerReadings((True, False), None, balanced).power_saver() is None
    assert _PowerReadings((True, None), efficiency, balanced).power_saver() is True


def test_power_readings_off_windows_are_not_known():
    assert read_power_status() == (None, None)
    assert read_power_mode(True) is None


class _FakeWinreg:
    """The few winreg calls read_power_mode makes, over a dict of the PowerSchemes key's values."""

    HKEY_LOCAL_MACHINE = "HKLM"

    def __init__(self, values, key_missing=False):
        self.values, self.key_missing, self.opened = values, key_missing, []

    def OpenKey(self, root, path):
        self.opened.append((root, path))
        if self.key_missing:
            raise FileNotFoundError(path)
        return contextlib.nullcontext(self)

    def QueryValueEx(self, key, name):
        if name not in self.values:
            raise FileNotFoundError(name)
        return self.values[name], 1


def test_the_power_mode_is_read_for_mains_or_battery(monkeypatch):
    values = {"ActiveOverlayAcPowerScheme": "ded574b5-45a0-4f42-8737-46345c09c238"}
    values["ActiveOverlayDcPowerScheme"] = "961CC777-2547-4F9D-8174-7D86181B8A7A"
    fake = _FakeWinreg(values)
    monkeypatch.setitem(sys.modules, "winreg", fake)
    assert read_power_mode(True) == "ded574b5-45a0-4f42-8737-46345c09c238"
    assert read_power_mode(False) == "961cc777-2547-4f9d-8174-7d86181b8a7a"
    assert read_power_mode(None) is None  # mains or battery not known, and the two differ
    assert fake.opened[0] == ("HKLM", r"SYSTEM\CurrentControlSet\Control\Power\User\PowerSchemes")
    monkeypatch.setitem(sys.modules, "winreg", _FakeWinreg({}))
    assert read_power_mode(None) == ""  # no power mode set
    monkeypatch.setitem(sys.modules, "winreg", _FakeWinreg({}, key_missing=True))
    assert read_power_mode(True) == ""


@pytest.mark.parametrize("sample", samples("system_profiler SPAirPortDataType -json"))
def test_system_profiler_corpus(sample):
    check_wifi(wifi.parse_system_profiler(corpus_text(sample)), reads(sample))


@pytest.mark.parametrize("sample", samples("iw dev IFACE link"))
def test_iw_corpus(sample):
    check_wifi(wifi.parse_iw_link(corpus_text(sample), "wlp1s0"), reads(sample))


@pytest.mark.parametrize("sample", samples("nmcli -t dev wifi list") + samples("nmcli -g all dev wifi list"))
def test_nmcli_escapes_on_real_rows(sample):
    """nmcli's terse rows split on unescaped colons only (BSSIDs hold \\:, an SSID holds \\\\ and \\:)."""
    rows = [wifi._nmcli_fields(line) for line in corpus_text(sample).splitlines() if line.strip()]
    expected = reads(sample)
    ssid_at = 2 if sample["command"].startswith("nmcli -t") else 1
    in_use_at = 0 if sample["command"].startswith("nmcli -t") else 15
    assert [r[ssid_at] for r in rows] == expected["ssids"]
    assert [r for r in rows if r[in_use_at] == "*"] == [expected["in_use"]]


def test_wifi_turned_off_is_not_called_switched_on():
    from connectcheck.cli.text import _wifi_text
    from connectcheck.report.build import _wifi

    off = wifi.parse_system_profiler(corpus_text(BY_FILE["system_profiler/macos_15.5-wifi-disabled.json"]))
    assert _wifi_text(off) == _wifi(off) == "Wi-Fi is turned off."
    on = wifi.parse_system_profiler(corpus_text(BY_FILE["system_profiler/macos_15.5-no-iPhone.json"]))
    assert (_wifi_text(on), _wifi(on)) == ("not connected", "switched on but not connected")


def test_the_band_label_is_read_so_a_channel_is_placed_on_its_band():
    """German Windows 11 says 'Bereich'; without it a 6 GHz channel would be taken for 5 GHz."""
    text = corpus_text(BY_FILE["netsh/de_win11_wifiheatmapper.txt"])
    german = wifi._netsh_blocks(text, wifi.netsh_labels())
    assert german[0]["band"] == "5 GHz" and german[0]["channel"] == "116"
    assert wifi.channel_to_mhz(37, 6.0) == 6135.0 and wifi.channel_to_mhz(37) is None  # 37: 6 GHz only
    assert wifi.channel_to_mhz(36, 2.4) is None and wifi.channel_to_mhz(1, 5.0) is None


@pytest.mark.parametrize("sample", samples("route print -4 0.0.0.0") + samples("route print 0.0.0.0"))
def test_route_print_gateways_corpus(sample):
    """The home router is the gateway of the best default route that has one: an on-link route (a
    VPN, 'Auf Verbindung') has no gateway to probe and is left out, and so are persistent routes."""
    expected = [tuple(pair) for pair in reads(sample)["gateways"]]
    assert parse_route_print_gateways(corpus_text(sample)) == expected
    backend = WindowsBackend(run=Replay({("route", "print"): [sample["file"]]}, folder=CORPUS))
    found = backend.default_gateway()
    assert (found.address, found.interface, found.source) == (*expected[0], "route_print")


@pytest.mark.parametrize("sample", samples("route -n get default"))
def test_route_get_gateway_corpus(sample):
    """macOS names the router on its gateway line; a utun VPN's default route and "not in table" have
    none, and the backend then says it does not know rather than guessing."""
    text = corpus_text(sample)
    expected = reads(sample)
    assert parse_route_get_gateway(text) == (expected["gateway"] or None)
    assert parse_route_get(text) == (expected["interface"] or None)
    backend = MacBackend(run=Replay({("route", "-n", "get"): [sample["file"]]}, folder=CORPUS))
    found = backend.default_gateway()
    if expected["gateway"]:
        assert (found.address, found.interface) == (expected["gateway"], expected["interface"])
        assert found.source == "route_get"
    else:
        assert found is None


# --- the networks around (channels, bands and signals only; names never kept) ----------------------------


def _heard(neighbours) -> list[list]:
    return [[h.channel, h.band_ghz, *([h.signal_pct] if h.signal_pct is not None else []),
             *(["in use"] if h.in_use else [])] for h in neighbours.heard]


def _no_names(neighbours, text: str) -> None:
    """Nothing of a network's name or hardware address is kept, whatever the output held."""
    kept = repr(neighbours)
    assert "SSID" not in kept and "fe:dc" not in kept.casefold()
    assert "3C:37" not in kept and "FRITZ" not in kept


@pytest.mark.parametrize("sample", samples("netsh wlan show networks mode=bssid"))
def test_netsh_networks_corpus(sample):
    text = corpus_text(sample)
    found = wifi.parse_netsh_networks(text)
    if reads(sample)["state"] == "refused":
        assert found.status is Status.UNAVAILABLE and found.error == wifi.LOCATION_REFUSED_SCAN
        assert "Location" in found.error and found.heard == []
    else:
        assert found.status is Status.OK and found.own_listed and found.source == "netsh"
    assert _heard(found) == sample["heard"]
    _no_names(found, text)


def test_netsh_networks_in_a_language_not_known_are_not_guessed():
    sample = BY_FILE["netsh_networks/de_wifiheatmapper.txt"]
    found = wifi.parse_netsh_networks(corpus_text(sample), _without("de"))
    assert found.status is Status.ERROR and found.heard == [] and "does not read yet" in found.error


@pytest.mark.parametrize("sample", samples("nmcli -t dev wifi list") + samples("nmcli -g all dev wifi list"))
def test_nmcli_networks_around_on_real_rows(sample):
    found = wifi.parse_nmcli_scan(corpus_text(sample), tuple(sample["fields"].split(":")))
    assert found.status is Status.OK and _heard(found) == sample["heard"]
    _no_names(found, corpus_text(sample))
    captured = {f for s in SAMPLES if s["command"].startswith("nmcli") and "fields" in s
                for f in s["fields"].split(":")}
    assert set(wifi.NMCLI_SCAN_FIELDS) <= captured  # every field connectcheck asks for, seen in real rows


def _escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


@pytest.mark.parametrize("sample", samples("nmcli -t dev wifi list") + samples("nmcli -g all dev wifi list"))
def test_nmcli_networks_around_in_the_fields_connectcheck_asks_for(sample):
    """The real rows, their columns picked in the order connectcheck asks for them (nmcli prints the
    fields it is asked for in that order, escaped as in the rows), read back: the same radios. The
    sample without FREQ gets it from the channel plan, as nmcli fills it."""
    fields = sample["fields"].split(":")
    rows = [wifi._nmcli_fields(line) for line in corpus_text(sample).splitlines() if line.strip()]

    def pick(row: list[str], name: str) -> str:
        if name in fields:
            return row[fields.index(name)]
        mhz = wifi.channel_to_mhz(int(row[fields.index("CHAN")]), None)
        return f"{mhz:.0f} MHz"

    text = "\n".join(":".join(_escaped(pick(row, name)) for name in wifi.NMCLI_SCAN_FIELDS) for row in rows)
    found = wifi.parse_nmcli_scan(text)
    assert found.status is Status.OK and _heard(found) == sample["heard"]


def test_a_6_ghz_radio_is_placed_by_its_frequency_not_its_channel_number():
    assert wifi.band_of(5, None, 5975.0) == 6.0 and wifi.band_of(5, None, None) == 2.4


@pytest.mark.parametrize("sample", [s for s in samples("system_profiler SPAirPortDataType -json")
                                    if "heard" in s.values[0]])
def test_system_profiler_networks_around(sample):
    info = wifi.parse_system_profiler(corpus_text(sample))
    assert info.neighbours.status is Status.OK and _heard(info.neighbours) == sample["heard"]
    assert not info.neighbours.own_listed  # macOS leaves out the network it is on
    _no_names(info.neighbours, corpus_text(sample))


@pytest.mark.parametrize("sample", samples("nmcli device show"))
def test_nmcli_says_whether_the_connection_is_metered(sample):
    """GENERAL.METERED of the connected device with the way out, read from real reports, through
    read_metered as the check asks it (nmcli run under the C locale)."""
    from connectcheck.local.metered import read_metered

    replay = Replay({("nmcli", "device", "show"): [sample["file"]]}, folder=CORPUS)
    found = read_metered("linux", run=replay)
    expected = reads(sample)
    assert {"yes": True, "no": False, "not known": None}[expected["metered"]] is found.metered
    assert found.connection == expected["connection"] and found.guessed  # both guessed from the network
    assert expected["connection"] in found.how
    assert ("is metered" in found.how) == (expected["metered"] == "yes")
    assert replay.calls == [("nmcli", "device", "show")]
