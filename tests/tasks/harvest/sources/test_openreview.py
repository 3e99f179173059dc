import json

import pytest

from tasks.core.settings import VenueRule
from tasks.harvest.sources.openreview import parse_score, parse_submission
from tests.conftest import FIXTURES
from tests.factories import v2_note

VOCAB = FIXTURES / "openreview"


def test_every_real_rating_string_parses_to_its_leading_number():
    iclr2024 = json.loads((VOCAB / "iclr2024_review_field_values.json").read_text())
    for value in iclr2024["ICLR_cc_2024_Conference"]["rating"]:
        assert parse_score(value) == float(value.split(":")[0])
    older = json.loads((VOCAB / "iclr2022_2023_neurips2022_review_field_values.json").read_text())
    for venue, fields in older.items():
        field = "recommendation" if "recommendation" in fields else "rating"
        for value in fields[field]:
            assert parse_score(value) == float(value.split(":")[0]), (venue, value)
    # ICLR 2024's scale is 1/3/5/6/8/10.
    assert sorted(parse_score(v) for v in iclr2024["ICLR_cc_2024_Conference"]["rating"]) == [1, 3, 5, 6, 8, 10]


@pytest.mark.parametrize("value,expected", [
    (8, 8.0), ("8", 8.0), (6.5, 6.5), ("3 good", 3.0), ("N/A", None), ("", None), (None, None),
    (True, None), ({"value": 3}, None)])
def test_parse_score_edge_cases(value, expected):
    assert parse_score(value) == expected


def test_neurips2023_review_note_rating_string():
    text = (VOCAB / "neurips2023_official_review_note_example.py.txt").read_text()
    rating = text.split("'rating': { 'value': '")[1].split("'")[0]
    assert parse_score(rating) == 10.0


def test_v2_submission_with_string_ratings_decision_and_malformed_review():
    venue = "ICLR.cc/2024/Conference"
    note = v2_note(venue, 7, "A Title", ["6: marginally above the acceptance threshold",
                                         "8: accept, good paper", "N/A"],
                   authors=["Ann Author"], arxiv_id="2401.01234", decision="Accept (poster)")
    sub, rejects = parse_submission(note, VenueRule(venue_id=venue), run_id="r")
    assert sub.arxiv_id == "2401.01234" and sub.decision == "Accept (poster)"
    assert sub.license == "CC BY 4.0" and sub.pdf_url == "https://openreview.net/pdf/7.pdf"
    assert [r.rating for r in sub.reviews] == [6.0, 8.0]
    assert sub.reviews[0].rating_raw.startswith("6: marginally")
    assert [(r.reason, r.entity_id) for r in rejects] == [("unparseable_rating", "r7-2")]


def test_v1_submission_with_recommendation_field():
    venue = "ICLR.cc/2022/Conference"
    note = {"id": "abc", "forum": "abc", "invitation": f"{venue}/-/Blind_Submission",
            "content": {"title": "Old Venue Paper", "authors": ["Anonymous"]},
            "details": {"directReplies": [
                {"id": "rv1", "invitation": f"{venue}/Paper12/-/Official_Review",
                 "content": {"recommendation": "8: accept, good paper", "confidence": "4: You are confident"}},
                {"id": "rv2", "invitation": f"{venue}/Paper12/-/Official_Review",
                 "content": {"review": "no score given"}},
                {"id": "dc", "invitation": f"{venue}/Paper12/-/Decision", "content": {"decision": "Reject"}}]}}
    sub, rejects = parse_submission(note, VenueRule(venue_id=venue, api_version=1), run_id="r")
    assert [(r.rating_field, r.rating, r.confidence) for r in sub.reviews] == [("recommendation", 8.0, 4.0)]
    assert sub.decision == "Reject" and sub.license is None
    assert [r.reason for r in rejects] == ["missing_rating"]


def test_submission_invitation_defaults_and_override():
    from tasks.harvest.sources.openreview import submission_invitation

    assert submission_invitation(VenueRule(venue_id="ICLR.cc/2025/Conference")) == "ICLR.cc/2025/Conference/-/Submission"
    assert submission_invitation(VenueRule(venue_id="ICLR.cc/2022/Conference", api_version=1)) == \
        "ICLR.cc/2022/Conference/-/Blind_Submission"
    custom = VenueRule(venue_id="X/2021", api_version=1, submission_invitation="X/2021/-/Submission")
    assert submission_invitation(custom) == "X/2021/-/Submission"
