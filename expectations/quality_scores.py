"""Suite for ``quality_scores``: a known stage and criterion, a score in that stage's range (0–5
for the seed scores, 1–5 for the joint rubric) and a rationale. A score outside its range is
quarantined (the candidate also has a ``score_out_of_range`` reject) and never ranks."""

import great_expectations as gx

from tasks.core.records import ScoreCriterion, ScoreStage, allowed

STAGE = "quality_scores"
ENTITY = "candidate_id"


def expectations():
    E = gx.expectations
    return [
        E.ExpectColumnValuesToBeInSet(column="stage", value_set=allowed(ScoreStage)),
        E.ExpectColumnValuesToBeInSet(column="criterion", value_set=allowed(ScoreCriterion)),
        E.ExpectColumnValuesToBeBetween(column="score", min_value=0, max_value=5,
                                        row_condition='stage == "candidate_score"', condition_parser="pandas"),
        E.ExpectColumnValuesToBeBetween(column="score", min_value=1, max_value=5,
                                        row_condition='stage == "joint_score"', condition_parser="pandas"),
        E.ExpectColumnValueLengthsToBeBetween(column="rationale", min_value=1),
    ]
