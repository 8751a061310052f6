"""The test matrix of issue 14: each fault produced for real in the home lab, and the cause that
`connectcheck check --json --report` gives asserted (tests/lab/matrix.py builds each)."""

from __future__ import annotations

import pytest

from tests.lab.matrix import FAULTS, run_fault
from tests.lab.netlab import require_lab

pytestmark = [pytest.mark.lab, pytest.mark.slow]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_the_report_names_the_cause_and_its_link(fault, tmp_path):
    require_lab(loss=True, delay=True)
    outcome = run_fault(fault, tmp_path)
    assert (outcome.cause, outcome.broken) == (fault.expected, fault.expected_link), outcome
