"""Call quality for sound: a MOS (mean opinion score, 1 to 5) estimated with the E-model.

The E-model (ITU-T G.107) rates a call by its transmission rating R (0..100) and maps R to the
MOS scale. Measured networks rarely give all the model's inputs, so this uses the widely used
simplified form (Cole and Rosenbluth, "Voice over IP Performance Monitoring", ACM SIGCOMM
Computer Communication Review 31(2), 2001, as applied by VoIP monitors):

    effective latency = RTT + 2 × jitter + 10 ms      (10 ms: codec and packetisation delay)
    R = 93.2 − effective latency / 40                 when effective latency < 160 ms
    R = 93.2 − (effective latency − 120) / 10         otherwise (delay hurts more past ~160 ms)
    R = R − 2.5 × loss %
    MOS = 1 + 0.035 R + 7·10⁻⁶ R (R − 60)(100 − R)    (ITU-T G.107 Annex B), 1 below R = 0, 4.5 above 100

93.2 is G.107's default R for an undisturbed call, so a perfect network scores about 4.4.
"""

from __future__ import annotations

R_DEFAULT = 93.2  # ITU-T G.107 default transmission rating
CODEC_DELAY_MS = 10.0
KNEE_MS = 160.0


def effective_latency_ms(rtt_ms: float, jitter_ms: float) -> float:
    """RTT plus twice the jitter (the jitter buffer) plus the codec's delay."""
    return rtt_ms + 2 * jitter_ms + CODEC_DELAY_MS


def r_factor(rtt_ms: float, jitter_ms: float, loss_pct: float) -> float:
    """The E-model transmission rating R for these network figures, clamped to 0..100."""
    latency = effective_latency_ms(rtt_ms, jitter_ms)
    r = R_DEFAULT - latency / 40 if latency < KNEE_MS else R_DEFAULT - (latency - 120) / 10
    r -= 2.5 * loss_pct
    return min(100.0, max(0.0, r))


def mos_from_r(r: float) -> float:
    """The MOS (1..4.5) for an R-factor (ITU-T G.107 Annex B)."""
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r)


def estimate_mos(rtt_ms: float | None, jitter_ms: float | None, loss_pct: float | None) -> float | None:
    """Estimated call quality out of 5, rounded to 0.1; None when a figure is missing."""
    if rtt_ms is None or jitter_ms is None or loss_pct is None:
        return None
    return round(mos_from_r(r_factor(rtt_ms, jitter_ms, loss_pct)), 1)
