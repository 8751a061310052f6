"""From a check's numbers to what the tutor needs: verdicts, the overall line, ranked advice and
what changed since the previous check. Pure functions over the model; no I/O beyond reading the
data files in ``resources/``, no Qt.

    assessment = assess_check(result, thresholds=thresholds)  # thresholds: config.startup.in_force()

(``cli/text.py`` words an assessment for the terminal.)
"""

from __future__ import annotations

from connectcheck.assess.advice import AdviceRules, advise
from connectcheck.assess.compare import compare
from connectcheck.assess.thresholds import Thresholds, default_thresholds
from connectcheck.assess.verdicts import judge_activities, overall
from connectcheck.core.model import Assessment, CheckResult

__all__ = ["Thresholds", "assess_check"]


def assess_check(
    result: CheckResult,
    *,
    thresholds: Thresholds | None = None,
    previous: CheckResult | None = None,
    rules: AdviceRules | None = None,
) -> Assessment:
    """Verdicts, overall line, ranked advice and (with ``previous``) the changes since then.

    The previous check is judged again with the same thresholds, so that a change of
    thresholds between the two checks does not show up as a change of the connection.
    """
    thresholds = thresholds or default_thresholds()
    verdicts = judge_activities(result, thresholds)
    state, sentence = overall(result, verdicts, thresholds)
    assessment = Assessment(overall=state, sentence=sentence, verdicts=verdicts,
                            advice=advise(result, verdicts, state, sentence, rules))
    if previous is not None:
        before = judge_activities(previous, thresholds)
        assessment.changes = compare(result, previous, verdicts, before, thresholds)
    return assessment
