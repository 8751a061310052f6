"""Advice: realistic mixed situations give the right actions, in the right order, naming the
real programs with their rates; and the rules file is checked when read."""

import tomllib

import pytest

from connectcheck.assess import assess_check
from connectcheck.assess.advice import AdviceRulesError, parse_rules, programs
from connectcheck.assess.thresholds import default_thresholds
from connectcheck.core import paths
from connectcheck.core.model import LocalFindings, RouterCounters, Status

from .fixtures import browser, check, local, offline_check, program, quick_check, weak_wifi


def keys(assessment):
    return [a.key for a in assessment.advice]


def by_key(assessment):
    return {a.key: a for a in assessment.advice}


def test_ranks_are_one_to_n_in_order():
    steam = program("Steam", "game_launcher", 18.2, 0.3)
    a = assess_check(check(upload_mbps=0.4, local=local(processes=[steam])))
    assert [x.rank for x in a.advice] == list(range(1, len(a.advice) + 1))


def test_several_programs_are_named_busiest_first_with_their_rates():
    found = local(
        processes=[program("Steam", "game_launcher", 18.2, 0.3), program("OneDrive", "cloud_sync", 0.1, 3.1),
                   program("Spotify", "music_streaming", 0.3, 0.0), program("Zoom", "video_call", 1.1, 1.4),
                   program("Chrome", "browser", 2.0, 0.5)],
        browsers=[browser("Chrome", 14, 11, 2.0, 0.5)])
    a = assess_check(check(download_mbps=2.1, upload_mbps=0.25, local=found))
    # Busiest first; a call program (2.5 Mbit/s) before a sync program (3.2 Mbit/s): it also holds the camera.
    assert keys(a)[:4] == ["pause_game_launcher", "close_call_app", "pause_cloud_sync", "close_tabs"]
    steam = a.advice[0]
    assert steam.program == "Steam"
    assert steam.action == "Pause the downloads and updates in Steam, or close it: it is using 18.5 Mbit/s."
    assert steam.evidence == ("Steam (game launcher) was moving 18.2 Mbit/s down and 0.3 Mbit/s up "
                              "during the check.")
    assert "Spotify" not in [x.program for x in a.advice]  # 0.3 Mbit/s: not worth closing
    # browsers have their own rule
    assert "Chrome" not in [x.program for x in a.advice if x.key.startswith("pause")]
    # After closing things, refresh the whiteboard; then the workaround for video.
    order = keys(a)
    assert order.index("refresh_whiteboard") > order.index("close_tabs")
    assert order.index("camera_off") > order.index("refresh_whiteboard")


def test_quiet_computer_with_bufferbloat_is_the_lines_queue_not_someone_else():
    """The check's own speed test fills the line's queue: that is never evidence of someone else."""
    quiet = local(processes=[program("Firefox", "browser", 0.2, 0.1)])
    a = assess_check(check(rtt_increase_ms=180, local=quiet))
    assert keys(a)[0] == "line_busy" and "others_at_home" not in keys(a)
    assert a.advice[0].evidence == "When the line was busy, the delay went up by 180 ms."
    assert "phone_for_sound" in keys(a)  # 180 ms added fails sound: the workaround comes after the causes


def test_others_at_home_comes_from_the_routers_own_counters():
    quiet = local(processes=[program("Firefox", "browser", 0.2, 0.1)])
    r = check(rtt_increase_ms=180, local=quiet)
    r.router = RouterCounters(down_mbps=9.9, up_mbps=0.6, own_down_mbps=0.3, own_up_mbps=0.1,
                              others_down_mbps=9.6, others_up_mbps=0.5)
    a = assess_check(r)
    assert keys(a)[:2] == ["others_at_home", "line_busy"]
    assert a.advice[0].evidence == ("The home router counted 10.1 Mbit/s used by other devices while this "
                                    "computer itself used 0.45 Mbit/s.")
    r.router.status, r.router.error = Status.ERROR, "the home router does not tell us …: stuck"
    assert "others_at_home" not in keys(assess_check(r))


def test_bufferbloat_with_a_busy_computer_names_the_program_not_the_family():
    busy = local(processes=[program("qBittorrent", "torrent", 6.0, 4.0)])
    a = assess_check(check(rtt_increase_ms=180, local=busy))
    assert "others_at_home" not in keys(a)
    assert a.advice[0].key == "close_torrent" and a.advice[0].program == "qBittorrent"


def test_bufferbloat_when_this_computer_cannot_be_looked_at():
    failed = LocalFindings(status=Status.ERROR, error="not available")
    a = assess_check(check(rtt_increase_ms=150, local=failed))
    assert a.advice[0].key == "line_busy"
    a = assess_check(check(rtt_increase_ms=150, local=None))
    assert a.advice[0].key == "line_busy"
    nothing_measured = local(unattributed=(None, None))
    a = assess_check(check(rtt_increase_ms=150, local=nothing_measured))
    assert a.advice[0].key == "line_busy" and "others_at_home" not in keys(a)


def test_weak_wifi_and_a_busy_processor():
    found = local(connection="wifi", wifi=weak_wifi(), cpu=97.0, memory=93.0)
    found.system.busiest = [program("Photoshop", None), program("Teams", "video_call")]
    a = assess_check(check(download_mbps=2.4, jitter_ms=22, local=found))
    assert keys(a)[:3] == ["weak_wifi", "computer_busy", "refresh_whiteboard"]
    assert by_key(a)["weak_wifi"].evidence == "The Wi-Fi signal is weak (-78 dBm, 30 %)."
    assert "(Photoshop and Teams)" in by_key(a)["computer_busy"].action
    assert by_key(a)["computer_busy"].evidence == ("The processor is 97 % busy and 93 % of the memory "
                                                   "is in use.")


def test_good_wifi_or_a_cable_gives_no_wifi_advice():
    found = local(connection="ethernet", wifi=weak_wifi())
    assert "weak_wifi" not in keys(assess_check(check(download_mbps=2.4, local=found)))


def test_quick_check_with_no_bandwidth_asks_for_a_full_check_only():
    a = assess_check(quick_check(local=local(processes=[program("Steam", "game_launcher", 18.2, 0.3)])))
    assert keys(a)[0] == "pause_game_launcher"  # not ready yet (unknown): a busy program is still named
    assert keys(a)[-1] == "full_check"


def test_offline_first_says_check_the_connection_then_the_procedure():
    a = assess_check(offline_check())
    assert keys(a) == ["offline", "phone_for_sound", "follow_procedure"]
    assert "restart the router" in a.advice[0].action


def test_platform_unreachable_is_told_apart_from_offline():
    r = check(platform_reachable=False, udp_ok=False, reach=[("https://bitpaper.io/", False)])
    a = assess_check(r)
    assert a.advice[0].key == "platform_unreachable"
    assert a.advice[0].evidence == "The internet answered, but bitpaper.io could not be reached."
    assert "offline" not in keys(a) and "full_check" not in keys(a)
    assert "udp_blocked" not in keys(a)  # nothing worked, so UDP is not singled out


def test_udp_blocked_has_its_own_words():
    a = assess_check(check(udp_ok=False))
    assert keys(a)[0] == "udp_blocked" and "blocks the direct route calls take" in a.advice[0].action


def test_video_failing_but_sound_fine_turns_the_camera_off():
    a = assess_check(check(upload_mbps=0.25))
    assert keys(a) == ["camera_off"]
    assert a.advice[0].action == "Turn the camera off and carry on by voice and typing."
    assert a.advice[0].evidence.startswith("Video will probably freeze: your upload is 0.25 Mbit/s")


def test_several_browsers():
    found = local(browsers=[browser("Chrome", 12, 9), browser("Firefox", 5, 3, 1.0, 0.2),
                            browser("Edge", 4, 2)])
    a = assess_check(check(download_mbps=2.4, local=found))
    item = by_key(a)["close_browsers"]
    assert "close the others (Chrome, Firefox and Edge)" in item.action
    assert item.evidence == ("3 browsers are running: Chrome (12 processes), Firefox (5 processes, "
                             "1.2 Mbit/s) and Edge (4 processes).")


def test_a_ready_lesson_gets_no_advice_even_with_programs_running():
    a = assess_check(check(local=local(processes=[program("Steam", "game_launcher", 3.0, 0.1)])))
    assert a.overall == "ready" and a.advice == []


def test_programs_without_rates_are_named_lower_and_said_to_be_unmeasured():
    found = local(hungry=[program("OneDrive", "cloud_sync", name="OneDrive.exe")],
                  processes=[program("Netflix", "video_streaming", 4.0, 0.1, source="estimate")])
    a = assess_check(check(download_mbps=2.4, local=found))
    netflix, onedrive = by_key(a)["pause_streaming"], by_key(a)["pause_cloud_sync"]
    assert netflix.rank < onedrive.rank
    assert "it seems to be using about 4.1 Mbit/s (an estimate)" in netflix.action
    assert onedrive.action.endswith("it is running and may be using the connection.")


def test_unknown_programs_with_heavy_traffic_and_unattributed_traffic():
    found = local(processes=[program("mystery-sync", None, 9.0, 0.5)], unattributed=(4.0, 0.5))
    a = assess_check(check(download_mbps=2.4, local=found))
    assert by_key(a)["pause_program"].action == ("Close mystery-sync if you do not need it now: "
                                                 "it is using 9.5 Mbit/s.")
    assert "4.5 Mbit/s" in by_key(a)["unnamed_traffic"].action


def test_the_catalogue_advice_key_wins_over_the_category():
    found = local(processes=[program("Dropbox", "backup", 3.0, 0.0, advice_key="close_torrent")])
    assert by_key(assess_check(check(download_mbps=2.4, local=found)))["close_torrent"].program == "Dropbox"


def test_programs_merges_processes_of_one_app_and_counts_each_process_once():
    steam = [program("Steam", "game_launcher", 10.0, 0.1, name="steam", pid=10),
             program("Steam", "game_launcher", 5.0, 0.1, name="steamwebhelper", pid=11)]
    merged = programs(local(processes=steam, hungry=[steam[0]]))
    assert len(merged) == 1 and merged[0].down_mbps == pytest.approx(15.0)


def _rules():
    return tomllib.loads(paths.resource_path("advice.toml").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d["rules"][0]["when"].update(ofline=True), "unknown fact 'ofline'"),
    (lambda d: d["rules"][0].update(action="Close {programme}"), "unknown words"),
    (lambda d: d["rules"][0].update(action="Close {program}"), "unknown words"),  # not a program rule
    (lambda d: d["rules"][0].update(colour="red"), "unknown fields"),
    (lambda d: d["rules"][-1].update(after_any=["nope"]), "unknown rules"),
    (lambda d: d["rules"][0]["when"].update(offline={"above": 1}), "use lt, le, gt, ge"),
    (lambda d: d["rules"].append(dict(d["rules"][0])), "share a key"),
    (lambda d: d["rules"][0].pop("score"), "needs a score"),
])
def test_broken_rules_are_refused(mutate, message):
    data = _rules()
    mutate(data)
    with pytest.raises(AdviceRulesError, match=message):
        parse_rules(data, default_thresholds())


def test_a_slow_way_to_the_router_is_told_to_move_nearer_or_use_a_cable():
    from connectcheck.core.model import FirstHop, LatencyResult

    r = check(jitter_ms=25.0, local=local(processes=[program("Firefox", "browser", 0.2, 0.1)]))
    idle = LatencyResult(target="192.168.1.1", method="icmp", samples_sent=60, samples=58,
                         rtt_ms_median=24.0, jitter_ms=9.0, loss_pct=3.3)
    r.first_hop = FirstHop(gateway="192.168.1.1", method="icmp", target="192.168.1.1", idle=idle)
    a = assess_check(r)
    wifi = next(x for x in a.advice if x.key == "wifi_path")
    assert "cable" in wifi.action and "5 GHz" in wifi.action
    assert wifi.evidence == ("The home router itself takes 24 ms, varying by 9 ms, 3.3 % lost to answer, "
                             "before the internet is even reached.")
    r.first_hop.idle.rtt_ms_median, r.first_hop.idle.jitter_ms, r.first_hop.idle.loss_pct = 2.0, 0.3, 0.0
    assert "wifi_path" not in keys(assess_check(r))


# --- the Wi-Fi around: a crowded 2.4 GHz channel (from real scans in tests/local/corpus) ----------------


def _scanned(file):
    from pathlib import Path

    from connectcheck.local import wifi

    corpus = Path(__file__).parents[1] / "local" / "corpus"
    return wifi.parse_system_profiler((corpus / file).read_text(encoding="utf-8"))


def test_a_crowded_2_4_ghz_channel_gives_the_5_ghz_advice_with_its_count():
    from connectcheck.assess.advice import wifi_crowding

    here = local(wifi=_scanned("system_profiler/macos_10.15.7.json"), connection="wifi")
    crowd = wifi_crowding(here)  # on channel 6: 17 others heard, those on 2..10 overlap it
    assert (crowd.band_ghz, crowd.channel, crowd.same, crowd.overlapping, crowd.heard) == (2.4, 6, 4, 5, 17)
    a = assess_check(check(local=here, jitter_ms=22.0))
    item = by_key(a)["wifi_crowded"]
    assert "5 GHz" in item.action
    assert item.evidence.startswith("5 other Wi-Fi networks nearby use or overlap channel 6 (2.4 GHz), 4 of")
    assert "wifi_crowded" not in keys(assess_check(check(local=here)))  # all is well: nothing to change


def test_a_5_ghz_network_or_a_quiet_channel_gets_no_such_advice():
    from connectcheck.assess.advice import wifi_crowding

    five = local(wifi=_scanned("system_profiler/macos_12.7.2-AP.json"), connection="wifi")  # channel 149
    assert wifi_crowding(five).band_ghz == 5.0 and wifi_crowding(five).same == 1
    assert "wifi_crowded" not in keys(assess_check(check(local=five, jitter_ms=22.0)))
    quiet = local(wifi=_scanned("system_profiler/macos_15.5-wpa2-en.json"), connection="wifi")  # 6: one near
    assert (wifi_crowding(quiet).same, wifi_crowding(quiet).overlapping) == (1, 1)
    assert "wifi_crowded" not in keys(assess_check(check(local=quiet, jitter_ms=22.0)))


def test_a_scan_that_lists_this_computers_own_radio_does_not_count_it():
    from pathlib import Path

    from connectcheck.assess.advice import wifi_crowding
    from connectcheck.core.model import WifiInfo
    from connectcheck.local import wifi

    text = (Path(__file__).parents[1] / "local" / "corpus" / "netsh_networks" / "en_win11_wifiheatmapper.txt"
            ).read_text(encoding="utf-8")
    on_six = WifiInfo(connected=True, frequency_mhz=2437.0, neighbours=wifi.parse_netsh_networks(text))
    crowd = wifi_crowding(local(wifi=on_six, connection="wifi"))
    assert (crowd.same, crowd.overlapping, crowd.heard) == (1, 2, 7)  # two radios on 6: one of them is ours
