"""Item lifecycle and versioned releases: stable ids, retirement, checksums, embargo, refusals."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tasks.core.records import Paper
from tasks.curate import export, release
from tasks.curate.selection import select
from tasks.io import storage
from tests.factories import candidate_catalog, keep_everything
from tests.llm_server import ScriptedLLM

PUBLISHED = {0: "2026-10-02", 1: "2026-10-20", 2: "2026-11-05", 3: "2026-12-03"}
"""Paper index → its first version (UTC)."""


def _reviewed(settings, papers=4, per_paper=3):
    """Every candidate reviewed (keep, varied scores) and each paper given a first-version date."""
    ids = candidate_catalog(settings, papers=papers, per_paper=per_paper, broken=False)
    lake = storage.Lake.from_settings(settings)
    for p in range(papers):
        paper_id = f"arxiv:2611.{p:05d}"
        (row,) = lake.read_part(Paper, paper_id)
        when = datetime.fromisoformat(PUBLISHED[p]).replace(hour=23, tzinfo=UTC)
        lake.write_table(Paper, [storage.record_from_row(Paper, row).model_copy(update={"published": when})],
                         paper_id)
    keep_everything(settings, ids)
    return ids


def _rows(out: Path, variant: str = "derivation", private: bool = False) -> list[dict]:
    folder = release.private_folder(out) if private else out
    return [json.loads(line) for s in export.SPLITS
            for path in [folder / "jsonl" / variant / f"{s}.jsonl"] if path.exists()
            for line in path.read_text().splitlines()]


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def _embargo(settings, months: int):
    return settings.model_copy(update={"export": settings.export.model_copy(update={"embargo_months": months})})


def test_releases_keep_ids_retire_and_list_changes(settings, tmp_path):
    _reviewed(settings)
    select(settings, n=4)
    r1 = export.export(settings, tmp_path / "r1", formats=("jsonl",), release="2026-11")
    first = _rows(tmp_path / "r1")
    ids1 = [r["id"] for r in first]
    assert len(ids1) == 4 and sorted(r1.added) == sorted(ids1) and r1.previous is None and not r1.retired
    assert all(r["status"] == "active" and r["released_at"] == "2026-11-01" for r in first)
    assert {r["paper_date"] for r in first} <= set(PUBLISHED.values())
    assert all(r["target"].startswith("\\nabla L_") for r in first)
    m1 = _manifest(tmp_path / "r1")
    assert m1["release"] == "2026-11" and m1["previous"] is None and sorted(m1["added"]) == sorted(ids1)
    assert m1["retired"] == [] and m1["retired_items"] == []
    assert "Release 2026-11" in (tmp_path / "r1" / "README.md").read_text()

    # an item is retired, and a new selection takes more candidates
    gone = ids1[1]
    retired = release.retire(settings, gone, "wrong_key", "the key is the premise", by="lee")
    assert retired.retired_by == "lee"
    select(settings, n=7)
    r2 = export.export(settings, tmp_path / "r2", formats=("jsonl", "parquet"), release="2026-12")
    second = _rows(tmp_path / "r2")
    ids2 = [r["id"] for r in second]
    assert gone not in ids2 and set(ids1) - {gone} <= set(ids2)
    assert r2.previous == "2026-11" and r2.retired == [gone] and len(r2.added) == 3
    assert set(r2.added) == set(ids2) - set(ids1)
    assert all(r["released_at"] == "2026-12-01" for r in second if r["id"] in r2.added)
    by_id1 = {r["id"]: r for r in first}
    for row in second:  # a carried item is the same row: same text, same split, same released_at
        if row["id"] in by_id1:
            assert row == by_id1[row["id"]]
    m2 = _manifest(tmp_path / "r2")
    assert m2["previous"] == "2026-11" and m2["retired"] == [gone] and sorted(m2["added"]) == sorted(r2.added)
    (listed,) = m2["retired_items"]
    assert listed["id"] == gone and listed["retire_reason"] == "wrong_key"
    assert listed["released_at"] == "2026-11-01" and listed["retired_at"].startswith(str(date.today().year))
    card = (tmp_path / "r2" / "README.md").read_text()
    assert "Release 2026-12" in card and "retired since `2026-11`: 1" in card and "added since `2026-11`: 3" in card

    # the lake: release_items of both releases, the retired item still there with its reason
    items2 = {i.item_id: i for i in release.release_items(settings, "2026-12")}
    assert set(items2) == set(ids2) | {gone}
    assert items2[gone].status == "retired" and items2[gone].retire_reason == "wrong_key"
    assert items2[gone].retired_at == retired.retired_at and items2[gone].released_at == date(2026, 11, 1)
    assert all(items2[i].released_at == date(2026, 11, 1) for i in ids1)

    # a third release from a smaller selection drops nothing: only retirement removes an item
    select(settings, n=2)
    r3 = export.export(settings, tmp_path / "r3", formats=("jsonl",), release="2027-01")
    assert r3.added == [] and r3.retired == [] and sorted(r["id"] for r in _rows(tmp_path / "r3")) == sorted(ids2)
    items3 = {i.item_id: i for i in release.release_items(settings, "2027-01")}
    assert items3[gone].status == "retired" and items3[gone].retired_at == retired.retired_at  # retired for good
    assert [r["id"] for r in _manifest(tmp_path / "r3")["retired_items"]] == [gone]

    # evaluation at a release uses that release's items, whatever came later
    at1 = release.items_at(settings, "2026-11")
    assert sorted(i["id"] for i in at1) == sorted(ids1) and gone in {i["id"] for i in at1}
    assert {"id", "paper", "paper_id", "paper_date", "question", "whole_label", "target"} <= set(at1[0])
    assert "choices" not in at1[0]  # no multiple-choice variant without an LLM
    assert sorted(i["id"] for i in release.items_at(settings, "2026-12")) == sorted(ids2)

    # the catalog shows the lifecycle tables
    shown = storage.query_rows(settings, "SELECT release, previous, items_added, items_retired FROM releases "
                                         "ORDER BY release")
    assert [(r["release"], r["previous"], r["items_added"], r["items_retired"]) for r in shown] == [
        ("2026-11", None, 4, 0), ("2026-12", "2026-11", 3, 1), ("2027-01", "2026-12", 0, 0)]
    counts = storage.query_rows(settings, "SELECT status, count(*) AS n FROM release_items "
                                          "WHERE release = '2027-01' GROUP BY ALL ORDER BY status")
    assert {r["status"]: r["n"] for r in counts} == {"active": 6, "retired": 1}


def test_checksums_match_the_files_and_the_lake_copy(settings, tmp_path):
    _reviewed(settings, papers=2, per_paper=2)
    select(settings, n=4)
    out = tmp_path / "rel"
    report = export.export(settings, out, formats=("parquet", "hf"), release="2026-12")
    manifest = _manifest(out)
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(manifest["checksums"]) == written  # every written file, relative paths
    assert "jsonl/derivation/train.jsonl" in written  # a release always has JSONL
    assert "hf/README.md" in written and "README.md" in written
    for rel, sha in manifest["checksums"].items():
        assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == sha
    lake = storage.Lake.from_settings(settings)
    assert report.lake_copy == lake.uri("releases", "2026-12")
    for rel in [*manifest["checksums"], "manifest.json"]:
        assert lake.read_bytes(lake.path("releases", "2026-12", *rel.split("/"))) == (out / rel).read_bytes()
    (row,) = release.list_releases(settings)
    assert row.manifest_sha256 == hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()

    # a changed file in the lake copy is refused when it is read back
    target = lake.path("releases", "2026-12", "jsonl", "derivation", "train.jsonl")
    lake.write_bytes(target, lake.read_bytes(target) + b"\n{}")
    with pytest.raises(ValueError, match="checksum"):
        release.items_at(settings, "2026-12")


def test_embargo_keeps_the_newest_month_private_until_a_later_release(settings, tmp_path):
    ids = _reviewed(settings)
    select(settings, n=len(ids))
    newest = {f"c3x{n}" for n in range(3)}  # paper 3 first appeared in 2026-12
    embargoed = _embargo(settings, 1)
    r1 = export.export(embargoed, tmp_path / "r1", formats=("jsonl", "parquet"), release="2026-12")
    public = {r["id"] for r in _rows(tmp_path / "r1")}
    private = _rows(tmp_path / "r1", private=True)
    assert set(r1.embargoed) == newest and {r["id"] for r in private} == newest and not public & newest
    assert all(r["status"] == "embargoed" for r in private)
    assert (tmp_path / "r1-private" / "parquet" / "derivation").is_dir()
    assert not (tmp_path / "r1" / "private").exists()  # nothing private inside the public folder
    assert "arxiv:2611.00003" not in (tmp_path / "r1" / "README.md").read_text()  # not in the public card
    card = (tmp_path / "r1" / "README.md").read_text()
    assert "Embargo" in card and "2026-12 or later" in card and "embargoed (not in these files): 3" in card
    manifest = _manifest(tmp_path / "r1")
    assert manifest["embargo_from"] == "2026-12" and "embargoed" not in manifest
    assert not any("private" in f for f in manifest["checksums"])  # the public manifest names no private file
    hidden = _manifest(tmp_path / "r1-private")
    assert set(hidden["embargoed"]) == newest and any(f.startswith("jsonl/") for f in hidden["checksums"])
    assert sum(manifest["embargoed_counts"]["derivation"].values()) == 3
    # the evaluation at the release sees the embargoed items too (privately)
    at = {i["id"]: i for i in release.items_at(embargoed, "2026-12")}
    assert set(at) == set(ids) and {at[i]["status"] for i in newest} == {"embargoed"}

    r2 = export.export(embargoed, tmp_path / "r2", formats=("jsonl",), release="2027-01")
    assert set(r2.unembargoed) == newest and r2.embargoed == [] and r2.added == []
    now_public = {r["id"]: r for r in _rows(tmp_path / "r2")}
    assert set(now_public) == set(ids) and not (tmp_path / "r2-private").exists()
    assert all(now_public[i]["status"] == "active" and now_public[i]["released_at"] == "2026-12-01" for i in newest)
    by_id = {r["id"]: r for r in private}
    assert all(now_public[i]["split"] == by_id[i]["split"] for i in newest)  # its split is kept
    assert "public now that their embargo has ended: 3" in (tmp_path / "r2" / "README.md").read_text()


def test_embargo_window_and_names():
    assert release.embargo_from("2026-12", 0) is None
    assert release.embargo_from("2026-12", 1) == "2026-12"
    assert release.embargo_from("2027-01", 2) == "2026-12"
    assert release.embargo_from("2027-03", 15) == "2026-01"
    assert release.is_embargoed(date(2026, 12, 31), "2026-12", 1)
    assert not release.is_embargoed(date(2026, 11, 30), "2026-12", 1)
    assert not release.is_embargoed(None, "2026-12", 3)  # an unknown date is not embargoed
    assert release.first_day("2026-12") == date(2026, 12, 1)
    for bad in ("2026-13", "2026-1", "26-12", "2026-12-01", "../x"):
        with pytest.raises(release.ReleaseError):
            release.first_day(bad)
    assert release.paper_date_of(datetime(2026, 11, 30, 23, 30, tzinfo=UTC)) == date(2026, 11, 30)
    assert release.paper_date_of("2026-11-05T00:00:00") == date(2026, 11, 5) and release.paper_date_of(None) is None


def test_refuses_duplicate_and_older_releases(settings, tmp_path):
    _reviewed(settings, papers=2, per_paper=2)
    select(settings, n=2)
    export.export(settings, tmp_path / "a", formats=("jsonl",), release="2026-12")
    with pytest.raises(release.ReleaseError, match="exists; pass --force"):
        export.export(settings, tmp_path / "b", formats=("jsonl",), release="2026-12")
    with pytest.raises(release.ReleaseError, match="older than the latest release 2026-12"):
        export.export(settings, tmp_path / "b", formats=("jsonl",), release="2026-11")
    with pytest.raises(ValueError, match="like 2026-12"):
        export.export(settings, tmp_path / "b", formats=("jsonl",), release="December")
    # --force makes the latest release again (from the release before it)
    select(settings, n=4)
    again = export.export(settings, tmp_path / "c", formats=("jsonl",), release="2026-12", force=True)
    assert again.previous is None and len(again.added) == 4
    assert len(release.release_items(settings, "2026-12")) == 4 and len(release.list_releases(settings)) == 1
    assert len(release.items_at(settings, "2026-12")) == 4
    export.export(settings, tmp_path / "d", formats=("jsonl",), release="2027-02")
    with pytest.raises(release.ReleaseError, match="older"):  # not even with --force
        export.export(settings, tmp_path / "e", formats=("jsonl",), release="2026-12", force=True)


def test_retire_refusals(settings, tmp_path):
    _reviewed(settings, papers=2, per_paper=1)
    with pytest.raises(LookupError, match="no release yet"):
        release.retire(settings, "c0x0", "wrong_key")
    select(settings, n=2)
    export.export(settings, tmp_path / "a", formats=("jsonl",), release="2026-12")
    with pytest.raises(ValueError, match="unknown reason 'bad'"):
        release.retire(settings, "c0x0", "bad")
    with pytest.raises(LookupError, match="no item 'nope'"):
        release.retire(settings, "nope", "wrong_key")
    release.retire(settings, "c0x0", "trivial")
    with pytest.raises(ValueError, match="already retired"):
        release.retire(settings, "c0x0", "wrong_key")
    with pytest.raises(LookupError, match="no release '2027-01'"):
        release.items_at(settings, "2027-01")
    assert [r["reason"] for r in storage.query_rows(settings, "SELECT reason FROM retirements")] == ["trivial"]


def test_a_released_item_keeps_its_choices_and_new_items_get_theirs(settings, tmp_path):
    _reviewed(settings, papers=2, per_paper=3)
    with ScriptedLLM() as llm:
        configured = settings.model_copy(update={"llm": settings.llm.model_copy(
            update={"base_url": llm.base_url, "model": "scripted"})})
        select(configured, n=2)
        export.export(configured, tmp_path / "r1", formats=("jsonl",), release="2026-11")
        assert llm.log.by_agent["distractor"] == 2
        select(configured, n=5)
        r2 = export.export(configured, tmp_path / "r2", formats=("jsonl",), release="2026-12")
        assert llm.log.by_agent["distractor"] == 2 + 3  # only the new items were asked for
    assert len(r2.added) == 3
    before = {r["id"]: r for r in _rows(tmp_path / "r1", "multiple_choice")}
    after = {r["id"]: r for r in _rows(tmp_path / "r2", "multiple_choice")}
    assert len(after) == 5 and all(after[i] == before[i] for i in before)
    at = {i["id"]: i for i in release.items_at(settings, "2026-12")}
    for item_id, item in at.items():
        assert item["choices"] == after[item_id]["choices"]
        assert item["choices"][item["answer_index"]] == item["whole_label"]


def test_releases_on_an_s3_lake(moto_server, monkeypatch, tmp_path):
    """The lake copy, the release tables and items_at go through the lake's URL, not local paths."""
    import uuid

    from tasks.core.settings import S3Settings, load_settings

    for var, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                       ("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_ENDPOINT_URL", moto_server)):
        monkeypatch.setenv(var, value)
    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    storage.Lake(f"s3://{bucket}", S3Settings()).fs.mkdir(bucket)
    monkeypatch.chdir(tmp_path)
    settings = load_settings(home=str(tmp_path / "home"), lake=f"s3://{bucket}/stormborn", dask_workers=2,
                             batch_size=2)
    _reviewed(settings, papers=2, per_paper=2)
    select(settings, n=3)
    first = export.export(settings, tmp_path / "r1", formats=("jsonl",), release="2026-11")
    assert first.lake_copy == f"s3://{bucket}/stormborn/releases/2026-11"
    lake = storage.Lake.from_settings(settings)
    assert lake.exists(f"{bucket}/stormborn/releases/2026-11/manifest.json")
    release.retire(settings, first.added[0], "ambiguous")
    select(settings, n=4)
    second = export.export(settings, tmp_path / "r2", formats=("jsonl",), release="2026-12")
    assert second.retired == [first.added[0]] and len(second.added) == 1
    assert sorted(i["id"] for i in release.items_at(settings, "2026-11")) == sorted(first.added)
    assert len(release.items_at(settings, "2026-12")) == 3
    assert storage.query_rows(settings, "SELECT count(*) AS n FROM releases")[0]["n"] == 2


def test_the_target_is_portable():
    assert export.portable_target(r"L(\theta) \le G \label{eq:bound}\nonumber \tag{3}") == r"L(\theta) \le G"
    assert export.portable_target("") is None and export.portable_target(None) is None
