"""The judge's two readings combined into a grade."""

from tasks.evaluate import judge


def scores(correctness, clarity=2, completeness=2, similarity=1):
    return judge.RubricScores(correctness=correctness, clarity=clarity, completeness=completeness,
                              similarity=similarity)


def test_both_orders_must_pass_for_a_correct_grade():
    two = judge.parse(scores(2))[0]
    zero = judge.parse(scores(0))[0]
    assert judge.combine(two, two)[0] == "correct"
    assert judge.combine(zero, zero)[0] == "incorrect"
    grade, means, disagree, reason = judge.combine(two, zero)
    assert (grade, disagree, reason) == ("undecided", True, "judge_orders_disagree")
    assert means["correctness"] == 1.0


def test_a_score_outside_the_rubric_is_recorded_not_graded():
    assert judge.parse(scores(7)) == (None, "judge_out_of_rubric")
    assert judge.parse(scores(2, clarity=-1)) == (None, "judge_out_of_rubric")
    assert judge.combine(judge.parse(scores(2))[0], None)[0] == "unparsed"


def test_the_orders_swap_the_derivations_and_keep_their_labels():
    first = judge.fields("q", "REF", "ANS", reference_first=True)
    second = judge.fields("q", "REF", "ANS", reference_first=False)
    assert (first["first"], second["first"]) == ("REF", "ANS")
    assert second["first_label"] == "Answer to grade" and second["second_label"].startswith("Reference")
    text = judge.JUDGE.messages(**second)[1]["content"]
    assert text.index("ANS") < text.index("REF")
    assert "<paper>" in text  # the model's answer is quoted as data: it cannot instruct the judge
