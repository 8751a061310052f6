"""The call-like stream (issue 13): 50 call-sized packets a second over STUN, judged as a
call's jitter buffer would judge them; and the sound verdict reading its figures."""

import threading
import time

import pytest

from connectcheck.assess import assess_check
from connectcheck.assess.mos import estimate_mos
from connectcheck.core.model import CallResult, Status
from connectcheck.probes import stun
from connectcheck.probes.call import PACKET_BYTES, call_figures, call_packet, measure_call
from connectcheck.probes.latency import LatencyTarget
from tests.assess.fixtures import check
from tests.lab.endpoints import BlackHole
from tests.lab.stun_server import StunServer


def test_call_packets_are_call_sized_binding_requests():
    tid = stun.new_transaction_id()
    packet = call_packet(tid)
    assert len(packet) == PACKET_BYTES
    message = stun.parse_message(packet)
    assert message.msg_type == stun.BINDING_REQUEST and message.transaction_id == tid


def test_late_lost_and_bursts_are_counted_as_a_jitter_buffer_sees_them():
    # fastest 40 ms; a 60 ms buffer (one way) plays anything up to 40 + 2 × 60 = 160 ms round trip
    rtts = [40, 50, None, None, 45, 170, 200, 41, None, 161, 165, 42, 160]
    r = call_figures(CallResult(target="x"), rtts, buffer_ms=60)
    assert (r.packets_sent, r.packets_answered) == (13, 10)
    assert r.loss_pct == pytest.approx(100 * 3 / 13, abs=0.01)
    assert r.late_pct == pytest.approx(100 * 4 / 13, abs=0.01)  # 170, 200, 161 and 165 (160 plays)
    assert r.effective_loss_pct == pytest.approx(100 * 7 / 13, abs=0.01)
    assert r.burst_max == 3  # None, 161, 165
    assert r.bursts == 3  # None None; 170 200; None 161 165
    assert r.rtt_ms_median == 105.0 and r.jitter_ms > 0
    empty = call_figures(CallResult(target="x"), [], buffer_ms=60)
    assert empty.loss_pct is None and empty.burst_max == 0


def test_the_stream_is_paced_like_a_call_and_counts_what_the_server_did():
    with StunServer(drop_every=10, late_every=7, late_ms=250) as server:
        started = time.monotonic()
        r = measure_call(LatencyTarget.from_host_port("stun", server.address), duration_s=1.0,
                         timeout_s=0.5, cancel=threading.Event())
        took = time.monotonic() - started
    assert r.status is Status.OK, r.error
    assert r.packets_sent == 50 and server.requests == 50
    assert r.packets_answered == 50 - server.dropped == 45
    assert r.loss_pct == pytest.approx(10.0)
    assert r.late_pct == pytest.approx(100 * server.late / 50)  # 250 ms late: beyond a 60 ms buffer
    assert r.effective_loss_pct == pytest.approx(r.loss_pct + r.late_pct)
    assert 1.0 <= took < 1.0 + 0.5 + 0.2


def test_a_silent_server_ends_within_its_bound_and_says_so():
    with BlackHole() as hole:
        started = time.monotonic()
        r = measure_call(LatencyTarget.from_host_port("stun", f"127.0.0.1:{hole.udp_port}"), duration_s=0.5,
                         timeout_s=0.3, cancel=threading.Event())
        took = time.monotonic() - started
    assert took < 0.5 + 0.3 + 0.2
    assert r.status is Status.TIMEOUT and r.packets_answered == 0 and r.loss_pct == 100.0


def test_sound_verdict_and_mos_read_the_call_figures():
    # Idle figures look fine; the call-like stream lost 8 % (lost plus late): sound is not good.
    result = check(call_rtt_ms=90.0, call_jitter_ms=35.0, call_loss_pct=8.0)
    assessment = assess_check(result)
    sound = next(v for v in assessment.verdicts if v.activity == "sound")
    assert sound.state != "good"
    assert sound.mos == estimate_mos(90.0, 35.0, 8.0)
    assert any(m.metric == "loss_pct" and m.value == 8.0 for m in sound.metrics)
    whiteboard = [v for v in assessment.verdicts if v.activity != "sound"]
    assert all(m.value != 8.0 for v in whiteboard for m in v.metrics if m.metric == "loss_pct")
    # Without a call-like stream the idle figures decide, as before.
    plain = next(v for v in assess_check(check()).verdicts if v.activity == "sound")
    assert plain.state == "good" and plain.mos == estimate_mos(24.0, 2.1, 0.0)
