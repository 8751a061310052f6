"""The E-model MOS at points known from ITU-T G.107 and the simplified formula."""

import pytest

from connectcheck.assess.mos import effective_latency_ms, estimate_mos, mos_from_r, r_factor


@pytest.mark.parametrize(("r", "mos"), [
    # ITU-T G.107 Annex B: the R-to-MOS curve
    (0, 1.0), (-5, 1.0), (50, 2.575), (60, 3.1), (70, 3.597), (80, 4.024), (90, 4.339), (93.2, 4.409),
    (100, 4.5), (120, 4.5),
])
def test_mos_from_r_known_points(r, mos):
    assert mos_from_r(r) == pytest.approx(mos, abs=0.001)


def test_effective_latency_is_rtt_plus_twice_jitter_plus_ten():
    assert effective_latency_ms(40, 5) == 60


@pytest.mark.parametrize(("rtt", "jitter", "loss", "r"), [
    (0, 0, 0, 92.95),          # 10 ms effective: 93.2 - 10/40
    (100, 20, 0, 89.45),       # 150 ms effective, below the 160 ms knee: 93.2 - 150/40
    (140, 5, 0, 89.2),         # exactly 160 ms: the steeper branch, 93.2 - (160 - 120)/10
    (300, 20, 0, 70.2),        # 350 ms effective: 93.2 - (350 - 120)/10
    (30, 5, 2, 86.95),         # 50 ms effective, 2 % loss: 93.2 - 1.25 - 5
    (1000, 200, 50, 0.0),      # hopeless: clamped at 0
])
def test_r_factor_known_points(rtt, jitter, loss, r):
    assert r_factor(rtt, jitter, loss) == pytest.approx(r)


def test_estimate_is_out_of_five_and_unknown_when_a_figure_is_missing():
    assert estimate_mos(24, 2, 0) == 4.4
    assert estimate_mos(400, 40, 3) < 3.0
    assert estimate_mos(None, 2, 0) is None and estimate_mos(20, None, 0) is None
    assert estimate_mos(20, 2, None) is None
