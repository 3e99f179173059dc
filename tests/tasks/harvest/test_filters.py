from tasks.core.records import Paper, Review
from tasks.core.settings import DEFAULT_KEYWORDS, VenueRule
from tasks.harvest.filters import keyword_decision, keyword_hits, rating_decision

RULES = {"V": VenueRule(venue_id="V", weak_accept=6.0)}


def _paper(**kw):
    return Paper(paper_id="arxiv:1", source="arxiv", title="t", **kw)


def _reviews(*ratings):
    return [Review(review_id=f"r{i}", forum_id="f", venue="V", rating=r) for i, r in enumerate(ratings)]


def test_rating_rule_is_strictly_above_weak_accept_and_keeps_evidence():
    matched = _paper(openreview_id="f", venue="V")
    above = rating_decision(matched, _reviews(6, 8, 6), RULES, "run", 5)
    assert above.rating_rule == "pass" and above.rating_mean == 6.6667 and above.rating_threshold == 6
    assert above.ratings == [6, 8, 6]
    exactly = rating_decision(matched, _reviews(6, 6), RULES, "run", 5)
    assert exactly.rating_rule == "fail" and exactly.reason == "rating_not_above_weak_accept"
    assert rating_decision(matched, [], RULES, "run", 5).reason == "no_ratings"
    assert rating_decision(_paper(), [], RULES, "run", 5).reason == "no_openreview_match"
    local = Paper(paper_id="local:x", source="local", title="t")
    assert rating_decision(local, [], RULES, "run", 5).rating_rule == "skipped"


def test_per_venue_threshold():
    rules = {"V": VenueRule(venue_id="V", weak_accept=3.0)}  # e.g. a 1-5 scale venue
    d = rating_decision(_paper(openreview_id="f", venue="V"), _reviews(4, 3), rules, "run", 5)
    assert d.rating_rule == "pass" and d.rating_threshold == 3.0


def test_keyword_hits_are_whole_words_phrases_and_case_insensitive():
    text = "We DERIVE it. The derivation\nyields x. It   follows that... underived; Derivations."
    hits = keyword_hits(text, list(DEFAULT_KEYWORDS))
    assert hits == {"derivation": 1, "derivations": 1, "derive": 1, "it follows": 1, "yields": 1}


def test_keyword_rule_threshold_and_reasons():
    base = rating_decision(_paper(openreview_id="f", venue="V"), _reviews(8), RULES, "run", 5)
    passed = keyword_decision(base, "derive " * 5, "latex", ["derive"], 5)
    assert passed.passed and passed.keyword_total == 5 and passed.keyword_text_source == "latex"
    failed = keyword_decision(base, "derive " * 4, "pdf", ["derive"], 5)
    assert not failed.passed and failed.reason == "too_few_derivation_keywords"
    assert failed.keyword_hits == {"derive": 4}
    none = keyword_decision(base, None, "pdf", ["derive"], 5)
    assert not none.passed and none.reason == "no_usable_document"
