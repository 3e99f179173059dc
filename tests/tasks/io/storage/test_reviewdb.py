"""The review database: its schema holds the records' value sets, it has an identity, and only a
reviewer's own submission (or a restore into an empty database) writes a review."""

from __future__ import annotations

import ast
import inspect
import re
import sqlite3

import pytest

from tasks.core.records import PRINCIPLES
from tasks.io.storage import reviewdb
from tasks.io.storage.reviewdb import ReviewDB

SCORES = dict.fromkeys(PRINCIPLES, 3)


@pytest.fixture
def db(tmp_path):
    db = ReviewDB(str(tmp_path / "review.sqlite"))
    assert db.add_reviewer("ana", "reviewer", "sha-ana", "t0", rotate=False)
    assert db.add_reviewer("ben", "reviewer", "sha-ben", "t0", rotate=False)
    assert db.load_items([("c1", "p1", "cs.LG", "{}", "t0", None)]) == 1
    db.assign(lambda names, load, have, candidates: [("c1", "ana", 1, "t0")])
    return db


def test_the_schema_refuses_values_outside_the_records_sets(db):
    with pytest.raises(sqlite3.IntegrityError):
        db.add_reviewer("eve", "owner", "sha-eve", "t0", rotate=False)
    with pytest.raises(sqlite3.IntegrityError):
        db.submit("c1", "ana", SCORES, "maybe", "", "sub-00001", "t1")
    with pytest.raises(sqlite3.IntegrityError):
        db.submit("c1", "ana", {**SCORES, "problem_clarity": 6}, "keep", "", "sub-00001", "t1")


def test_a_review_is_written_by_its_reviewer_for_an_assigned_candidate_only(db):
    assert db.submit("c1", "ben", SCORES, "keep", "", "sub-00001", "t1") is None  # not assigned to ben
    first = db.submit("c1", "ana", SCORES, "keep", "", "sub-00001", "t1")
    again = db.submit("c1", "ana", {**SCORES, "problem_clarity": 5}, "keep", "", "sub-00001", "t2")
    assert first == again and first["revision"] == 1  # the same form twice changes nothing
    changed = db.submit("c1", "ana", {**SCORES, "problem_clarity": 5}, "reject", "no", "sub-00002", "t3")
    assert (changed["revision"], changed["decision"], changed["problem_clarity"]) == (2, "reject", 5)
    assert db.add_reviewer("ana", "admin", "sha-new", "t4", rotate=True)  # a new token keeps the reviews
    assert [r["reviewer"] for r in db.reviews()] == ["ana"]


def test_each_database_has_an_identity_and_a_pseudonym_key_that_stay(tmp_path):
    first = ReviewDB(str(tmp_path / "a.sqlite"))
    again = ReviewDB(str(tmp_path / "a.sqlite"))
    other = ReviewDB(str(tmp_path / "b.sqlite"))
    assert first.created and not again.created
    assert first.identity == again.identity != other.identity
    assert len(first.meta("pseudonym_key")) == 64 and first.meta("pseudonym_key") == again.meta("pseudonym_key")


def test_restore_fills_only_an_empty_database(db):
    db.submit("c1", "ana", SCORES, "keep", "", "sub-00001", "t1")
    with pytest.raises(ValueError, match="already holds reviews"):
        db.restore("other-id", [], [], [], [])
    assert db.count_reviews() == 1


def test_no_statement_but_submit_and_restore_writes_reviews():
    source = inspect.getsource(reviewdb)
    tree = ast.parse(source)
    writers = set()
    for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        text = ast.get_source_segment(source, function) or ""
        if re.search(r"(INSERT\s+INTO|UPDATE|DELETE\s+FROM|REPLACE\s+INTO)\s+reviews\b", text, re.I):
            writers.add(function.name)
    assert writers == {"submit", "restore"}  # restore refuses a database that holds reviews
