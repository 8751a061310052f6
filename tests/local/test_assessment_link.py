"""What the sampler finds is what the advice engine reads: a real program pulling on the line is
named in the advice, several browsers are noted, and the JSON of a result round-trips."""

from __future__ import annotations

import time

from connectcheck.assess import assess_check
from connectcheck.core.model import dumps, loads
from connectcheck.local import sample_local
from tests.assess.fixtures import check
from tests.local.generators import idle, sender


def test_advice_names_the_program_found(loopback_sink, loopback_backend):
    with sender("steam", f"127.0.0.1:{loopback_sink}", 10, "down"), idle("firefox"), idle("chrome"):
        time.sleep(0.3)
        local = sample_local(window_s=2.0, backend=loopback_backend)
    result = check(local=local, download_mbps=3.0, upload_mbps=0.8, rtt_increase_ms=180.0)
    assessment = assess_check(result)
    keys = [a.key for a in assessment.advice]
    steam = next(a for a in assessment.advice if a.key == "pause_game_launcher")
    assert steam.program == "Steam" and "Mbit/s" in steam.action
    assert "close_browsers" in keys
    again = loads(dumps(result))
    assert again.local == result.local
