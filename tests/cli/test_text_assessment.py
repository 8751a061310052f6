"""The plain-text block for the terminal, and the number words everything uses."""

import pytest

from connectcheck.assess import assess_check
from connectcheck.cli.text import WIDTH, format_assessment
from connectcheck.core.words import join_words, number, number_beside
from tests.assess.fixtures import check, local, program, quick_check


@pytest.mark.parametrize(("value", "text"), [
    (450.4, "450"), (18.24, "18.2"), (30.0, "30"), (2.5, "2.5"), (0.4, "0.4"), (0.034, "0.034"), (0, "0"),
    (-78.0, "-78"),
])
def test_number(value, text):
    assert number(value) == text


def test_number_beside_a_limit_never_looks_equal_to_it():
    assert number_beside(2.96, 3) == "2.96"
    assert number_beside(99.96, 100) == "99.96"
    assert number_beside(3.0, 3) == "3"


def test_join_words():
    assert join_words([]) == "" and join_words(["a"]) == "a"
    assert join_words(["a", "b"]) == "a and b" and join_words(["a", "b", "c"]) == "a, b and c"


def test_format_assessment_is_aligned_wrapped_and_ranked():
    result = check(upload_mbps=0.25, rtt_increase_ms=180,
                   local=local(processes=[program("Steam", "game_launcher", 18.2, 0.3)]))
    previous = check(upload_mbps=0.2)
    text = format_assessment(assess_check(result, previous=previous))
    lines = text.splitlines()
    assert lines[0] == "Verdict"
    assert lines[1].startswith("  SOUND       [FAIL]  Sound will probably break up")
    assert any(line.startswith("  VIDEO       [FAIL]  Video will probably freeze") for line in lines)
    assert any(line.startswith("  WHITEBOARD  [WEAK]  The whiteboard may be slow") for line in lines)
    assert any(line.startswith("Overall: NOT READY — Sound will not work well over this connection: carry on")
               for line in lines)
    assert "What to do now" in lines and "Since the last check" in lines
    assert any(line.startswith("  1. Pause the downloads and updates in Steam") for line in lines)
    assert all(len(line) <= WIDTH for line in lines)
    # a number is never parted from its unit at a line break
    assert not any(line.rstrip().endswith(("180", "18.5", "0.25")) for line in lines)
    # continuation lines sit under the text, not under the label
    first = lines.index(next(line for line in lines if line.startswith("  SOUND")))
    assert lines[first + 1].startswith(" " * 22) and lines[first + 1][22] != " "


def test_quick_check_text_says_what_was_not_measured():
    text = format_assessment(assess_check(quick_check()))
    assert "[ ?? ]" in text and "NOT SURE YET" in text and "not measured" in text
    assert "Call quality on a quiet line: 4.4 / 5." in " ".join(text.split())


def _home(result, *, rtt=0.4, jitter=0.1, loss=0.0, others=None, error=None):
    from connectcheck.core.model import FirstHop, LatencyResult, LoadedLatency, RouterCounters, Status

    idle = LatencyResult(target="192.168.1.1:53", method="dns", samples_sent=60, samples=60,
                         rtt_ms_median=rtt, jitter_ms=jitter, loss_pct=loss)
    loaded = LoadedLatency(samples=40, samples_sent=40, rtt_ms_median=rtt + 1, rtt_increase_ms=1.0)
    result.first_hop = FirstHop(gateway="192.168.1.1", interface="wlan0", source="proc_net_route",
                                method="dns", target="192.168.1.1:53", idle=idle, loaded={"download": loaded},
                                tried=["ping: not allowed without administrator rights"])
    if error:
        result.router = RouterCounters(status=Status.ERROR, problem="stuck", error=error)
    elif others is not None:
        result.router = RouterCounters(device="FRITZ!Box 7590", window_s=1.0, down_mbps=others + 0.4,
                                       up_mbps=0.5, own_down_mbps=0.4, own_up_mbps=0.2,
                                       others_down_mbps=others, others_up_mbps=0.3, line_down_mbps=50.0,
                                       line_up_mbps=10.0)
    result.assessment = assess_check(result)
    return result


def test_the_terminal_shows_the_first_hop_the_routers_counters_and_the_path_in_words():
    from connectcheck.cli.text import format_check_full

    quiet = local(processes=[program("Google Chrome", "browser", down=0.3, up=0.1)], connection="wifi")
    text = format_check_full(_home(check(local=quiet, loss_pct=4.0), others=0.0))
    lines = text.splitlines()
    at = lines.index("Home router (first hop)")
    assert lines[at + 1] == "  192.168.1.1 on wlan0, reached by a DNS query to it"
    assert lines[at + 2] == "  idle: 0.4 ms, jitter 0.1 ms, 0.0 % lost (60/60 answered)"
    assert lines[at + 3] == "  under load (download): 1.4 ms (+1.0 ms)"
    assert lines[at + 4] == "  not used: ping: not allowed without administrator rights"
    at = lines.index("Home router's counters (UPnP)")
    assert lines[at + 1] == "  FRITZ!Box 7590: the household 0.40 Mbit/s down, 0.50 Mbit/s up over 1.0 s"
    assert lines[at + 2].endswith("other devices 0.00 Mbit/s down, 0.30 Mbit/s up")
    assert lines[at + 3] == "  the line, as the router reports it: 50.0 Mbit/s down, 10.0 Mbit/s up"
    at = lines.index("Where the problem is")
    assert lines[at + 1].startswith("  Likely cause: The internet line itself is unsteady — ")
    path = [line for line in lines[at:] if line.startswith("  ") and "[" in line][:5]
    assert [p.split()[0] for p in path] == ["This", "Wi-Fi", "Router", "Broadband", "Lesson"]
    assert path[3].startswith("  Broadband line   [FAIL]  packet loss 4 %")
    assert path[3].endswith("<- broken here")
    assert path[1] == "  Wi-Fi            [ OK ]  0.4 ms, varies 0.1 ms, 0 % lost"


def test_a_router_that_does_not_tell_and_a_slow_way_to_it_are_said_in_words():
    from connectcheck.cli.text import format_check_full

    lied = "the home router does not tell us how much the household uses: its counters are pinned at 42949"
    text = format_check_full(_home(check(local=local(connection="wifi"), jitter_ms=20.0), rtt=28.0,
                                   jitter=9.0, error=lied))
    assert "  the home router does not tell us how much the household uses: its counters are pinned" in text
    assert "  Likely cause: Weak Wi-Fi — The way from this computer to the home router is slow" in text
    assert "<- broken here" in next(line for line in text.splitlines() if line.startswith("  Wi-Fi "))


def test_a_monitor_line_shows_the_home_router_when_it_was_probed():
    from connectcheck.cli.text import sample_line
    from connectcheck.core.model import MonitorSample

    s = MonitorSample(at="2024-10-24T16:05:00+01:00", t_s=65.0, rtt_ms=48.0, jitter_ms=12.0, loss_pct=0.0,
                      probes=10, states={"sound": "degraded"})
    assert "router" not in sample_line(s)
    s.hop_probes, s.hop_rtt_ms, s.hop_jitter_ms, s.hop_loss_pct, s.others_mbps = 10, 26.0, 9.5, 10.0, 3.2
    assert "router 26.0 ms jitter 9.5 ms loss 10 % others 3.2 Mbit/s" in sample_line(s)


def test_a_rate_measured_despite_failed_connections_says_so_in_the_text():
    from connectcheck.cli.text import format_check_full
    from connectcheck.core.model import BandwidthResult, Status

    r = check()
    stalled = "1 of 4 connections failed: the server stopped exchanging data for 3 s"
    r.bandwidth = [BandwidthResult(direction="download", status=Status.OK, rate_mbps=48.2, duration_s=5.0,
                                   error=stalled),
                   BandwidthResult(direction="upload", status=Status.ERROR, error="could not be measured: "
                                   "2 of 2 connections failed: the server's answer was not valid HTTP")]
    text = format_check_full(r)
    assert "  download: 1 of 4 connections failed: the server stopped exchanging data for 3 s" in text
    speed = text.split("\nSpeed (")[1].splitlines()
    upload = next(line for line in speed if line.strip().startswith("upload"))
    assert upload.split()[1:3] == ["not", "measured"]
