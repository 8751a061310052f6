"""The likely cause, with its evidence: for checks (from the verdicts and the ranked advice of
``assess``) and for monitored lessons (from their samples)."""

from __future__ import annotations

import pytest

from connectcheck.assess import assess_check
from connectcheck.assess.cause import (
    CauseLimitsError,
    cause_limits,
    check_cause,
    lesson_cause,
    load_cause_limits,
)
from connectcheck.core.model import LatencyResult
from tests.assess.fixtures import check, local, offline_check, program, weak_wifi
from tests.report.fixtures import calm_check, steam_check, troubled_lesson


def cause_of(result):
    return check_cause(result, result.assessment or assess_check(result))


def quiet():
    return local(processes=[program("Google Chrome", "browser", down=0.3, up=0.1)], unattributed=(0.05, 0.02))


def test_nothing_answered_means_no_connection():
    c = cause_of(offline_check())
    assert c.key == "no_connection" and c.title == "No connection at all"
    assert "Nothing answered" in c.sentence


def test_a_platform_that_does_not_answer_is_named(unreachable_check):
    c = cause_of(unreachable_check)
    assert c.key == "platform_unreachable"
    host = unreachable_check.reachability[0].url.split("://")[1].split("/")[0]
    assert host in c.sentence and "could not be reached" in c.sentence


def test_a_busy_program_is_named_with_its_rate():
    c = cause_of(steam_check())
    assert c.key == "other_program" and c.program == "Steam"
    assert c.sentence == "Steam was using the connection at 18 Mbit/s while the lesson needed it."
    assert c.evidence == [
        "Steam (game launcher) was moving 17.6 Mbit/s down and 0.4 Mbit/s up during the check."
    ]
    assert not any(a.startswith("The home line is too slow") for a in c.also)  # Steam explains the low speed


def test_latency_rising_under_load_while_this_computer_is_quiet_is_the_lines_queue():
    """The check's own transfer fills that queue: it says nothing about anyone else at home."""
    c = cause_of(check(local=quiet(), rtt_increase_ms=160.0, jitter_ms=22.0))
    assert c.key == "line_unsteady" and c.broken == "line"
    assert any("also with this check's own speed test" in e and "160 ms" in e for e in c.evidence)


def test_a_queue_while_idle_and_quiet_without_the_routers_counters_is_only_a_hint():
    r = check(local=quiet(), rtt_ms=70.0, jitter_ms=24.0, rtt_increase_ms=20.0)
    r.summary.latency_target = "stun stun.example.org:3478"
    r.latency = [
        LatencyResult(
            target="stun.example.org:3478",
            method="stun",
            samples_sent=50,
            samples=50,
            rtt_ms_min=21.0,
            rtt_ms_median=70.0,
            rtt_ms_p90=138.0,
            jitter_ms=24.0,
            loss_pct=0.0,
        )
    ]
    c = cause_of(r)
    assert c.key == "line_unsteady"  # a jittery line does the same: measured, not guessed
    assert ("Someone else on the home network cannot be ruled out — round trips rose from 21 ms to 138 ms "
            "while this computer moved only 0.47 Mbit/s, and the home router's own counters could not be "
            "read.") in c.also


def test_weak_wifi():
    c = cause_of(check(local=local(wifi=weak_wifi(), connection="wifi"), loss_pct=2.5, jitter_ms=18.0))
    assert c.key == "weak_wifi" and "-78 dBm" in c.sentence


def test_an_overloaded_computer():
    c = cause_of(check(local=local(cpu=97.0, memory=93.0), jitter_ms=19.0))
    assert c.key == "computer_overloaded" and "97 %" in c.sentence


def test_a_line_too_slow_for_the_lesson():
    c = cause_of(check(local=quiet(), download_mbps=1.5, upload_mbps=0.4))
    assert c.key == "line_too_slow"
    assert c.evidence == [
        "download 1.5 Mbit/s (video needs at least 3 Mbit/s)",
        "upload 0.4 Mbit/s (video needs at least 2.5 Mbit/s)",
    ]


def test_an_unsteady_line_with_nothing_here_to_blame():
    c = cause_of(check(local=quiet(), loss_pct=4.0))
    assert c.key == "line_unsteady"
    assert c.evidence == ["packet loss 4 % (sound needs at most 1 %)"]


def test_a_network_that_blocks_calls():
    c = cause_of(check(local=quiet(), udp_ok=False))
    assert c.key == "network_blocks_udp"


def test_a_good_check_has_no_fault():
    c = cause_of(calm_check())
    assert c.key == "no_fault" and c.sentence == "Every measurement is within the lesson's limits."


def test_other_factors_come_along_as_also():
    c = cause_of(steam_check(wifi=weak_wifi()))
    assert c.key == "other_program"
    assert any(a.startswith("Weak Wi-Fi — The Wi-Fi signal is weak (-78 dBm, 30 %)") for a in c.also)


@pytest.mark.parametrize(("side", "words"), [("cgnat", "Carrier-grade NAT — the provider shares one"),
                                             ("private", "Two routers in a row — ")])
def test_carrier_grade_nat_and_a_second_router_are_said_with_what_they_mean_for_calls(side, words):
    from connectcheck.core.model import RouterCounters

    r = calm_check()
    r.router = RouterCounters(wan_side=side, down_mbps=1.0, up_mbps=0.2)
    c = cause_of(r)
    assert c.key == "no_fault" and any(a.startswith(words) for a in c.also)
    assert "relay server" in c.also[-1]
    router = {x.link: x for x in c.links}["router"]
    assert any(e.startswith(words) for e in router.evidence)
    r.router.wan_side = "public"
    assert not any("NAT" in a for a in cause_of(r).also)


@pytest.mark.parametrize(("behaviour", "nat", "cgnat", "also"), [
    ("address_and_port_dependent", True, False, "Calls may need a relay — this network gives calls a new "
                                                "address for every server they talk to (a 'symmetric' NAT)"),
    ("endpoint_independent", True, True, "Carrier-grade NAT — the call test servers saw an address"),
    ("endpoint_independent", True, False, None),
    (None, False, False, None),
])
def test_how_this_network_maps_calls_is_said_with_what_it_means(behaviour, nat, cgnat, also):
    from connectcheck.core.model import NatMapping

    r = calm_check()
    r.nat = NatMapping(behaviour=behaviour, nat=nat, cgnat=cgnat, servers_answered=2)
    c = cause_of(r)
    relay = [a for a in c.also if "relay" in a]
    assert (relay[0].startswith(also) if also else relay == []), c.also
    router = {x.link: x for x in c.links}["router"]
    words = "no NAT on the way" if nat is False else "NAT"
    assert any(words in e for e in router.evidence)


# --- lessons ------------------------------------------------------------------------------------------


def test_a_lesson_troubled_by_steam_then_others_then_a_drop():
    lesson = troubled_lesson()
    c = lesson_cause(lesson, None, None)
    assert c.key == "other_program" and c.program == "Steam"
    assert (
        c.sentence.startswith("Steam was using the connection at about 17") and "(16:12–16:19)" in c.sentence
    )
    assert c.evidence == [
        "Steam was the busiest program for 8 min of the trouble",
        "Steam was not busy when the lesson ran smoothly",
    ]
    assert [a.split(" — ")[0] for a in c.also] == ["Someone else on the home network", "No connection at all"]
    assert "(16:35–16:40)" in c.also[0] and "Nothing answered for 60 s during the lesson (16:44)" in c.also[1]


@pytest.mark.parametrize(
    "episodes, key", [(("others",), "others_at_home"), (("drop",), "no_connection"), ((), "no_fault")]
)
def test_a_lesson_with_one_kind_of_trouble(episodes, key):
    lesson = troubled_lesson(episodes=episodes, with_checks=False, with_procedure=False)
    assert lesson_cause(lesson, None, None).key == key


def test_the_browser_carrying_the_lesson_itself_is_not_blamed():
    lesson = troubled_lesson(episodes=("others",), with_checks=False, with_procedure=False)
    assert all(s.top_program == "Google Chrome" for s in lesson.samples if s.top_program)
    c = lesson_cause(lesson, None, None)
    assert c.key == "others_at_home" and c.program is None
    assert c.evidence[1].endswith("Mbit/s when the lesson ran smoothly")


def test_a_check_during_the_lesson_adds_what_samples_cannot_see():
    lesson = troubled_lesson(episodes=("others",), with_procedure=False)
    weak = steam_check(wifi=weak_wifi())
    c = lesson_cause(lesson, weak, weak.assessment)
    assert c.key == "others_at_home"
    assert any(a.startswith("Another program on this computer — Steam") for a in c.also)
    assert any(a.startswith("Weak Wi-Fi") for a in c.also)


# --- lessons with the home router probed beside each burst ---------------------------------------------


def with_router(lesson, during, calm=(1.2, 0.3, 0.0), others=None):
    """The lesson with the router's figures (rtt, jitter, loss) in each sample: ``during`` in the
    samples of an episode (troubled or lost), ``calm`` in the others; ``others``: the router's
    counters' rate for other devices during the episode."""
    for s in lesson.samples:
        episode = any(v in ("degraded", "fail") for v in s.states.values()) or s.loss_pct == 100.0
        rtt, jitter, loss = during if episode else calm
        s.hop_probes, s.hop_method, s.hop_loss_pct = 10, "dns", loss
        s.hop_rtt_ms, s.hop_jitter_ms = (None, None) if loss == 100.0 else (rtt, jitter)
        if others is not None:
            s.others_mbps = others if episode else 0.2
    return lesson


def episode(name):
    return troubled_lesson(episodes=(name,), with_checks=False, with_procedure=False)


def test_a_lesson_whose_router_was_slow_and_jittery_to_reach_names_the_wifi():
    c = lesson_cause(with_router(episode("others"), during=(38.0, 11.0, 0.0)), None, None)
    assert (c.key, c.broken) == ("weak_wifi", "wifi")
    assert "the Wi-Fi (or the cable) inside the home was the weak link (16:35–16:40)" in c.sentence
    assert c.evidence[0] == "the home router answered in 38 ms, varies 11 ms, 0 % lost then"
    assert c.evidence[1] == "1.2 ms, varies 0.3 ms, 0 % lost when the lesson ran smoothly"
    links = {x.link: x for x in c.links}
    assert links["wifi"].state == "degraded" and links["wifi"].figure.startswith("38 ms")
    assert links["router"].state == "good" and links["line"].state == "good"


def test_a_router_that_loses_probes_over_the_trouble_names_the_wifi_though_one_burst_says_little():
    lesson = with_router(episode("others"), during=(2.0, 0.5, 0.0))
    for i, s in enumerate(x for x in lesson.samples if any(v != "good" for v in x.states.values())):
        s.hop_loss_pct = 10.0 if i % 3 == 0 else 0.0  # one probe in ten, every third burst: 3.3 %
    c = lesson_cause(lesson, None, None)
    assert (c.key, c.broken) == ("weak_wifi", "wifi")
    assert any("% of the probes to the router were lost" in e for e in c.evidence)


def test_a_lesson_whose_router_answered_cleanly_throughout_names_the_line_not_someone_at_home():
    c = lesson_cause(with_router(episode("others"), during=(1.4, 0.4, 0.0)), None, None)
    assert (c.key, c.broken) == ("line_unsteady", "line")
    assert c.evidence[1] == "the home router meanwhile: 1.4 ms, varies 0.4 ms, 0 % lost"
    assert {x.link: x.state for x in c.links}["wifi"] == "good"
    assert {x.link: x.state for x in c.links}["line"] in ("degraded", "fail")


def test_other_devices_by_the_routers_counters_during_a_lesson():
    c = lesson_cause(with_router(episode("others"), during=(1.4, 0.4, 0.0), others=12.0), None, None)
    assert (c.key, c.broken) == ("others_at_home", "router")
    assert c.sentence.startswith("Other devices at home were using about 12 Mbit/s of the line")
    assert {x.link: x.figure for x in c.links}["router"] == "others at home 12 Mbit/s"


@pytest.mark.parametrize("router, broken", [((1.3, 0.3, 0.0), "line"), ((0.0, 0.0, 100.0), "wifi")])
def test_a_drop_is_on_the_line_when_the_router_still_answers(router, broken):
    c = lesson_cause(with_router(episode("drop"), during=router), None, None)
    assert (c.key, c.broken) == ("no_connection", broken)
    assert {x.link: x.state for x in c.links}[broken] != "good"


def test_a_calm_lesson_has_its_links_too():
    c = lesson_cause(with_router(episode("steam"), during=(1.2, 0.3, 0.0)), None, None)
    assert c.key == "other_program" and c.broken == "computer"
    assert {x.link: x.figure for x in c.links}["computer"].startswith("Steam 1")
    calm = lesson_cause(with_router(troubled_lesson(episodes=(), with_checks=False, with_procedure=False),
                                    during=(1.2, 0.3, 0.0)), None, None)
    assert calm.key == "no_fault" and [x.state for x in calm.links][:4] == ["good"] * 4


def test_the_cause_limits_are_the_bundled_data():
    limits = load_cause_limits()
    assert limits == cause_limits()
    got = (limits.quiet_mbps, limits.queue_ms, limits.busy_program_mbps, limits.lost_pct, limits.min_share)
    assert got == (1.0, 30.0, 1.0, 100.0, 0.25)


@pytest.mark.parametrize("text, words", [
    ("queue_ms = 30", "needs a [limits] table"),
    ("[limits]\nquiet_mbps = 1\nqueue_ms = 30\nbusy_program_mbps = 1\nlost_pct = 100",
     "min_share must be a number"),
    ("[limits]\nquiet_mbps = 1\nqueue_ms = 30\nbusy_program_mbps = 1\nlost_pct = 100\nmin_share = 2",
     "min_share = 2 is outside 0.0..1.0"),
    ("[limits]\nquiet_mbps = true\nqueue_ms = 30\nbusy_program_mbps = 1\nlost_pct = 100\nmin_share = 0.2",
     "quiet_mbps must be a number"),
    ("[limits]\nqueue_mb = 30", "unknown keys ['queue_mb']"),
    ("[limits", "cannot be read"),
])
def test_broken_cause_limits_are_refused_with_the_file_and_the_key(tmp_path, text, words):
    path = tmp_path / "causes.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CauseLimitsError, match="causes.toml") as caught:
        load_cause_limits(path)
    assert words in str(caught.value)


def _hop(rtt=3.0, jitter=0.4, loss=0.0, loaded=None):
    from connectcheck.core.model import FirstHop, LoadedLatency

    hop = FirstHop(gateway="192.168.1.1", method="dns", target="192.168.1.1:53",
                   idle=LatencyResult(target="192.168.1.1:53", method="dns", samples_sent=100, samples=100,
                                      rtt_ms_median=rtt, jitter_ms=jitter, loss_pct=loss))
    if loaded is not None:
        hop.loaded["download"] = LoadedLatency(samples=50, rtt_ms_median=rtt + loaded, rtt_increase_ms=loaded)
    return hop


def test_a_slow_jittery_way_to_the_router_is_the_wifi_with_its_figures():
    r = check(local=quiet(), jitter_ms=25.0, loss_pct=4.0)
    r.first_hop = _hop(rtt=22.0, jitter=12.0, loss=4.0)
    c = cause_of(r)
    assert (c.key, c.broken) == ("weak_wifi", "wifi")
    assert c.evidence[:2] == ["the home router takes 22 ms to answer (more than 15 ms)",
                              "its answers vary by 12 ms (jitter)"]
    links = {link.link: link for link in c.links}
    assert [link.link for link in c.links] == ["computer", "wifi", "router", "line", "platform"]
    assert links["wifi"].state == "degraded" and links["wifi"].figure == "22 ms, varies 12 ms, 4 % lost"


def test_the_router_queue_growing_under_load_makes_the_wifi_the_bottleneck():
    r = check(local=quiet(), rtt_increase_ms=120.0)
    r.first_hop = _hop(loaded=95.0)
    c = cause_of(r)
    assert c.key == "weak_wifi" and any("the Wi-Fi is the bottleneck" in e for e in c.evidence)


def test_an_unsteady_line_behind_a_clean_router_is_the_line():
    r = check(local=quiet(), jitter_ms=30.0, loss_pct=5.0)
    r.first_hop = _hop()
    c = cause_of(r)
    assert (c.key, c.broken) == ("line_unsteady", "line")
    assert "the home router answers cleanly, so the trouble is beyond it" in c.evidence
    assert {link.link: link.state for link in c.links}["wifi"] == "good"


def test_one_failed_platform_probe_among_others_is_not_the_platform_down(unreachable_check):
    from connectcheck.core.model import ReachabilityResult

    r = unreachable_check
    r.reachability.append(ReachabilityResult(url="wss://platform.example.org/ws", reachable=True))
    assert cause_of(r).key != "platform_unreachable"


def test_no_connection_lies_beyond_a_router_that_still_answers():
    r = offline_check()
    assert cause_of(r).broken == "wifi"
    r.first_hop = _hop()
    c = cause_of(r)
    assert (c.key, c.broken) == ("no_connection", "line")
    assert {link.link: link.state for link in c.links}["line"] == "fail"


def test_a_busy_processor_does_not_explain_jitter_beyond_a_router_reached_cleanly():
    r = check(local=local(unattributed=(0.05, 0.02), cpu=99.0), jitter_ms=30.0)
    r.first_hop = _hop()
    c = cause_of(r)
    assert c.key == "line_unsteady" and any(a.startswith("This computer is overloaded") for a in c.also)


def test_a_program_that_ran_through_a_moment_of_calm_is_still_named():
    """Measured in the home lab: a program here saturating the line from midway, with two of its
    samples judged good (a round trip just under the limit). Those two moments are not its normal
    rate: over the calm part of the lesson it was idle."""
    lesson = with_router(episode("steam"), during=(1.2, 0.3, 0.0))
    busy = [s for s in lesson.samples if s.top_program == "Steam"]
    for s in busy[:2]:
        s.states = dict.fromkeys(s.states, "good")
    c = lesson_cause(lesson, None, None)
    assert (c.key, c.broken) == ("other_program", "computer") and c.program == "Steam"
    assert "Steam was not busy when the lesson ran smoothly" in c.evidence


def test_a_program_busy_all_lesson_long_is_not_what_changed():
    lesson = with_router(episode("others"), during=(1.2, 0.3, 0.0))
    for s in lesson.samples:
        s.top_program, s.top_program_mbps = "Dropbox", 6.0
    assert lesson_cause(lesson, None, None).key != "other_program"


def test_a_lesson_whose_call_route_got_blocked_names_the_network():
    lesson = with_router(episode("others"), during=(1.2, 0.3, 0.0))
    for s in lesson.samples:
        if any(v != "good" for v in s.states.values()):
            s.udp_ok, s.method = False, "tcp"
    c = lesson_cause(lesson, None, None)
    assert (c.key, c.broken) == ("network_blocks_udp", "router")
    assert c.sentence.startswith("The network stopped letting the lesson's call through its usual route")
    assert {x.link: (x.state, x.figure) for x in c.links}["router"] == ("fail", "blocks calls (UDP)")


def test_a_lesson_whose_platform_names_stopped_resolving_names_the_platform():
    lesson = with_router(episode("others"), during=(1.2, 0.3, 0.0))
    for s in lesson.samples:
        s.names_ok = True
        if any(v != "good" for v in s.states.values()):
            s.names_ok, s.states = False, dict.fromkeys(s.states, "fail")
            s.rtt_ms, s.jitter_ms, s.loss_pct = 21.0, 0.5, 0.0  # the call route by address: clean
    c = lesson_cause(lesson, None, None)
    assert (c.key, c.broken) == ("platform_unreachable", "platform")
    assert c.sentence.startswith("The lesson platform's address could not be looked up for")
    assert "the call route still answered by address: 21 ms, varies 0.5 ms, 0 % lost" in c.evidence
    links = {x.link: x for x in c.links}
    assert (links["platform"].state, links["platform"].figure) == ("fail", "its address not found")
    assert links["wifi"].state == "good"


def _with_call(lesson, calm_down, troubled_down):
    """The lesson's own call in each sample: what this computer received, and the browser's rate."""
    for s in lesson.samples:
        bad = any(v != "good" for v in s.states.values())
        s.down_mbps, s.up_mbps = (troubled_down if bad else calm_down), 0.8
        s.top_program, s.top_program_mbps = "Firefox", s.down_mbps + 0.8
        s.others_mbps = 0.1
    return lesson


def test_a_lesson_whose_own_call_no_longer_fits_the_line_names_the_line_as_too_slow():
    lesson = _with_call(with_router(episode("others"), during=(1.3, 0.3, 0.0)), 1.5, 1.1)
    c = lesson_cause(lesson, None, None)
    assert (c.key, c.broken) == ("line_too_slow", "line")
    assert c.sentence.startswith("The line stopped carrying the lesson's own call: this computer received "
                                 "about 1.1 Mbit/s, against 1.5 Mbit/s when the lesson ran smoothly")
    assert "the router counted 0.1 Mbit/s used by other devices" in c.evidence
    assert {x.link: x.state for x in c.links}["line"] in ("degraded", "fail")


def test_a_call_that_keeps_its_rate_on_a_troubled_line_is_the_line_being_unsteady_not_slow():
    lesson = _with_call(with_router(episode("others"), during=(1.3, 0.3, 0.0)), 1.5, 1.45)
    assert lesson_cause(lesson, None, None).key == "line_unsteady"
