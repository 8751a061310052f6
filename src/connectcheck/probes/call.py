"""A call-like stream: what the lesson's sound would see on this line, measured over STUN.

Idle round trips are taken one probe at a time, so they show the line's own delay. A call is
different: it sends a packet every 20 ms whatever happens, so on an order-keeping link (a queue,
Wi-Fi) each packet waits behind the delay spikes of the ones before it, and a voice call's
jitter buffer drops packets that come too late to be played. This stream does what a call
does: :data:`PACKETS_PER_S` STUN Binding requests a second (padded with a SOFTWARE attribute to
:data:`PACKET_BYTES`, the size of a 20 ms G.711/Opus packet with its RTP header), for
``duration_s``, paced by the clock and never waiting for answers. For each packet it notes
when its answer came, and reports:

* ``loss_pct``: packets never answered within ``timeout_s``;
* ``late_pct``: packets answered, but later than a jitter buffer of ``buffer_ms`` would wait:
  one-way-ish delay variation ``(rtt - fastest rtt) / 2`` above ``buffer_ms`` (half of the round
  trip's variation stands for one direction's, as if both directions were alike);
* ``effective_loss_pct``: lost plus late, what the listener misses;
* ``burst_max`` and ``bursts``: the longest run of missed packets, and how many runs of two or
  more there were (concealment hides a single missing packet, not a run);
* ``rtt_ms_median``, ``rtt_ms_p95`` and ``jitter_ms`` (mean absolute difference of consecutive
  answered round trips, as for the idle figures, here for packets 20 ms apart).

It never raises; its time bound is ``duration_s + timeout_s`` at most (it stops waiting as soon
as every answer is in or cannot come any more).
"""

from __future__ import annotations

import socket
import statistics
import threading
import time

from connectcheck.core.model import CallResult, Status
from connectcheck.core.tasks import Deadline
from connectcheck.probes import stun
from connectcheck.probes.base import percentile
from connectcheck.probes.dns import resolve
from connectcheck.probes.latency import LatencyTarget
from connectcheck.probes.net import describe_error, pick_address, wait_sockets

PACKETS_PER_S = 50
PACKET_BYTES = 172  # 160 bytes of 20 ms audio plus a 12-byte RTP header
BUFFER_MS = 60.0  # a typical adaptive jitter buffer's target on a bad line
_HEADER_BYTES = 20
_ATTR_HEADER_BYTES = 4


def call_packet(transaction_id: bytes) -> bytes:
    """A STUN Binding request padded to PACKET_BYTES with a SOFTWARE attribute (which servers
    ignore: it is comprehension-optional)."""
    fill = max(0, PACKET_BYTES - _HEADER_BYTES - _ATTR_HEADER_BYTES)
    return stun.encode_message(stun.BINDING_REQUEST, transaction_id,
                               [(stun.ATTR_SOFTWARE, b"connectcheck call-like stream ".ljust(fill, b"."))])


def call_figures(result: CallResult, rtts: list[float | None], buffer_ms: float) -> CallResult:
    """Fill ``result``'s figures from the packets' round trips in the order sent (None: lost)."""
    result.packets_sent = len(rtts)
    answered = [r for r in rtts if r is not None]
    result.packets_answered = len(answered)
    result.buffer_ms = buffer_ms
    if not rtts:
        return result
    fastest = min(answered) if answered else 0.0
    late = [r is not None and (r - fastest) / 2 > buffer_ms for r in rtts]
    missed = [r is None or is_late for r, is_late in zip(rtts, late, strict=True)]
    result.loss_pct = round(100.0 * (len(rtts) - len(answered)) / len(rtts), 2)
    result.late_pct = round(100.0 * sum(late) / len(rtts), 2)
    result.effective_loss_pct = round(100.0 * sum(missed) / len(rtts), 2)
    runs, run = [], 0
    for miss in [*missed, False]:
        if miss:
            run += 1
        elif run:
            runs.append(run)
            run = 0
    result.burst_max = max(runs, default=0)
    result.bursts = sum(1 for r in runs if r >= 2)
    if answered:
        ordered = sorted(answered)
        result.rtt_ms_median = round(statistics.median(ordered), 3)
        result.rtt_ms_p95 = round(percentile(ordered, 95), 3)
    if len(answered) >= 2:
        result.jitter_ms = round(statistics.fmean(abs(b - a) for a, b in zip(answered, answered[1:],
                                                                              strict=False)), 3)
    return result


def measure_call(target: LatencyTarget, *, duration_s: float, cancel: threading.Event,
                 timeout_s: float = 1.0, buffer_ms: float = BUFFER_MS,
                 packets_per_s: int = PACKETS_PER_S) -> CallResult:
    """Send a call-like stream to the STUN server ``target`` (see the module notes)."""
    result = CallResult(target=target.name, packets_per_s=packets_per_s, packet_bytes=PACKET_BYTES)
    deadline = Deadline(duration_s + timeout_s, cancel)
    started = time.monotonic()
    found, infos = resolve(target.host, target.port, deadline.sub(min(timeout_s, 2.0)))
    if found.status is not Status.OK:
        result.status, result.error = found.status, f"could not look up {target.host}: {found.error}"
        return result
    family, address = pick_address(infos)
    try:
        sock = socket.socket(family, socket.SOCK_DGRAM)
    except OSError as exc:
        result.status, result.error = Status.ERROR, describe_error(exc, stage="send", timeout_s=timeout_s)
        return result
    with sock:
        rtts = _stream(sock, address, deadline, duration_s, timeout_s, packets_per_s, result)
    call_figures(result, rtts, buffer_ms)
    result.duration_s = round(time.monotonic() - started, 3)
    if cancel.is_set():
        result.status, result.error = Status.CANCELLED, "cancelled"
    elif rtts and not result.packets_answered:
        result.status = Status.TIMEOUT
        result.error = result.error or f"no answer to any of the {len(rtts)} packets"
    return result


def _stream(sock: socket.socket, address: tuple, deadline: Deadline, duration_s: float, timeout_s: float,
            packets_per_s: int, result: CallResult) -> list[float | None]:
    """Send the paced packets and collect the answers; the round trips in the order sent."""
    sock.setblocking(False)
    try:
        sock.connect(address)
    except OSError as exc:
        result.status, result.error = Status.ERROR, describe_error(exc, stage="send", timeout_s=timeout_s)
        return []
    count = max(1, round(duration_s * packets_per_s))
    interval = 1.0 / packets_per_s
    sent_at: dict[bytes, int] = {}
    times: list[float] = []
    rtts: list[float | None] = [None] * count
    start = time.perf_counter()
    while not deadline.done:
        now = time.perf_counter()
        if len(times) < count and now >= start + len(times) * interval:
            transaction_id = stun.new_transaction_id()
            sent_at[transaction_id] = len(times)
            times.append(time.perf_counter())
            try:
                sock.send(call_packet(transaction_id))
            except OSError as exc:
                result.error = describe_error(exc, stage="send", timeout_s=timeout_s)
            continue
        waiting = [i for i in sent_at.values() if rtts[i] is None and now - times[i] <= timeout_s]
        if len(times) == count and not waiting:
            break
        next_send = start + len(times) * interval if len(times) < count else now + 0.05
        if readable := wait_sockets([sock], [], max(0.0, min(next_send - now, 0.05)), deadline.cancel)[0]:
            _collect(readable[0], sent_at, times, rtts, timeout_s, result)
    return rtts[:len(times)]


def _collect(sock: socket.socket, sent_at: dict[bytes, int], times: list[float], rtts: list[float | None],
             timeout_s: float, result: CallResult) -> None:
    while True:
        try:
            data = sock.recv(2048)
        except BlockingIOError:
            return
        except (ConnectionRefusedError, ConnectionResetError):
            result.error = "the STUN server's computer answered that nothing listens on that port"
            continue
        except OSError as exc:
            result.error = describe_error(exc, stage="receive", timeout_s=0)
            return
        received = time.perf_counter()
        message = stun.parse_message(data)
        if message is None or message.transaction_id not in sent_at:
            continue
        i = sent_at[message.transaction_id]
        rtt_s = received - times[i]
        if rtts[i] is None and rtt_s <= timeout_s:
            rtts[i] = rtt_s * 1000.0
