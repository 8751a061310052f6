"""The test matrix of issue 14: each fault produced for real in the home lab, and the cause that
`connectcheck check --json --report` gives asserted (tests/lab/matrix.py builds each)."""

from __future__ import annotations

import pytest

from tests.lab.matrix import FAULTS, LESSON_FAULTS, run_fault, run_lesson
from tests.lab.netlab import require_lab

pytestmark = [pytest.mark.lab, pytest.mark.slow]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_the_report_names_the_cause_and_its_link(fault, tmp_path):
    require_lab(loss=True, delay=True)
    outcome = run_fault(fault, tmp_path)
    assert (outcome.cause, outcome.broken) == (fault.expected, fault.expected_link), outcome


@pytest.mark.parametrize("fault", LESSON_FAULTS, ids=[f.name for f in LESSON_FAULTS])
def test_a_monitored_lesson_names_the_link_where_the_fault_began_midway(fault, tmp_path):
    require_lab(loss=True, delay=True)
    # a shorter lesson than the benchmark's minute (CI's time): 14 s calm, the fault for 22 s
    outcome = run_lesson(fault, tmp_path, calm_s=14.0, minutes=0.6)
    calm = [s for s in outcome.samples if s["t_s"] < 12]
    assert calm and all(s["hop_probes"] > 0 and s["hop_rtt_ms"] < 5 for s in calm), outcome.samples
    assert (outcome.cause, outcome.broken) == (fault.expected, fault.expected_link), outcome
    links = {x["link"]: x for x in outcome.cause_json["links"]}
    if fault.expected_link:
        assert links[fault.expected_link]["state"] in ("degraded", "fail"), links
    else:  # a calm lesson: no link marked
        assert links and all(x["state"] in ("good", "unknown") for x in links.values()), links
