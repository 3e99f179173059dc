"""Item lifecycle and versioned releases: stable ids, retirement (never deletion), embargo.

An item is a selected problem; its id is its candidate's id and never changes. A release is a
month, ``YYYY-MM``; releasing ``R`` (``tasks.curate.export.export(..., release=R)``) takes

- every item of the previous release, as it was released (its rows are read back from the
  previous release's copy in the lake, so an item's text, split and choices never change),
  with retirements applied: an item with a ``retirements`` row becomes ``retired`` (with
  ``retired_at`` and ``retire_reason``) and stays retired in every later release; an item that
  is no longer in the latest selection stays active (only retirement removes an item);
- and the latest selection's selected candidates not in the previous release: new items,
  ``released_at`` the first day of ``R``.

Embargo (``export.embargo_months`` = N > 0): an item that has never been public and whose
paper's first version is in the last N months up to ``R`` (or later) is ``embargoed``: written
only under ``private/`` of the release, until a release whose embargo window has passed its
paper's month makes it ``active``. An item that was public stays public. An item whose paper
date is unknown cannot be judged and is not embargoed.

Input tables: ``releases`` and ``release_items`` (earlier releases), ``retirements`` (from
``retire`` and the audit queue), the previous release's files under ``releases/<R>/`` in the
lake, and the latest selection's selected problems (named query ``release_problems``, read by
the export).
Output tables: ``release_items`` (one row per item and release: ``status``, ``released_at``,
``retired_at``, ``retire_reason``, ``paper_date``; part key ``R``), ``releases`` (one row per
release, written last: a release exists once its row does; part key ``R``), ``retirements``
(``retire``); and every file of the release copied into the lake under ``releases/<R>/``
(``manifest.json`` with sha256 checksums, the card, ``jsonl/…``, ``private/jsonl/…``, …), where
``items_at`` reads an evaluation's items from.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from tasks.core.records import (
    Record,
    Release,
    ReleaseItem,
    Retirement,
    RetireReason,
    allowed,
    stable_id,
    utcnow,
)
from tasks.core.settings import Settings
from tasks.io import storage

RELEASE_NAME = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
VARIANTS = ("derivation", "multiple_choice", "fill_in_blank")
PRIVATE = "private"
"""The folder of a release's lake copy that holds the embargoed items (with their own
``manifest.json``). On disk they go to a sibling of the public folder, ``<out>-private/``, never
inside it: a public folder can be uploaded whole."""


def private_folder(out: Path) -> Path:
    """Where a release written to ``out`` puts its embargoed items on disk."""
    return out.with_name(out.name + "-private")
LAKE_FOLDER = "releases"
"""Lake prefix of the release copies: ``releases/<R>/<the release's relative paths>``."""
RETIRE_REASONS: list[str] = allowed(RetireReason)


class ReleaseError(ValueError):
    """A release that cannot be made as asked (bad name, exists, older than the latest)."""


# -- names and dates -----------------------------------------------------------------------

def first_day(release: str) -> date:
    """The first day of a release month; ``ReleaseError`` for a name that is not ``YYYY-MM``."""
    if not isinstance(release, str) or not RELEASE_NAME.match(release):
        raise ReleaseError(f"a release is named by its month, like 2026-12; got {release!r}")
    year, month = release.split("-")
    return date(int(year), int(month), 1)


def paper_date_of(value: Any) -> date | None:
    """A paper's first-version date (UTC) from a catalog value: a timestamp, a date or ISO text."""
    if value is None or value != value:  # None or NaT/NaN
        return None
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def month_of(value: date | None) -> str | None:
    return value.strftime("%Y-%m") if value else None


def embargo_from(release: str, months: int) -> str | None:
    """The first embargoed paper month at ``release`` (``None``: no embargo): with N months, the
    release's own month and the N - 1 before it."""
    if months <= 0:
        return None
    start = first_day(release)
    index = start.year * 12 + start.month - 1 - (months - 1)
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def is_embargoed(paper_date: date | None, release: str, months: int) -> bool:
    start = embargo_from(release, months)
    return start is not None and paper_date is not None and month_of(paper_date) >= start


# -- reading the lake ----------------------------------------------------------------------

def _table(lake: storage.Lake, model: type[Record]) -> list[Record]:
    """Every row of a lake table, deduplicated by its KEY (latest TIME wins), read from its parts
    directly (not through the catalog, so a row written a moment ago is seen)."""
    latest: dict[tuple, Record] = {}
    for path in lake.table_files(model.TABLE):
        part = path.rsplit("/", 1)[-1].removesuffix(".parquet")
        for row in lake.read_part(model, part):
            record = storage.record_from_row(model, row)
            key = tuple(getattr(record, k) for k in model.KEY)
            if key not in latest or getattr(record, model.TIME) >= getattr(latest[key], model.TIME):
                latest[key] = record
    return list(latest.values())


def list_releases(settings: Settings) -> list[Release]:
    """Every release, oldest first."""
    return sorted(_table(storage.Lake.from_settings(settings), Release), key=lambda r: r.release)


def latest(settings: Settings) -> str | None:
    """The latest release's name, or None before the first."""
    releases = list_releases(settings)
    return releases[-1].release if releases else None


def release_items(settings: Settings, release: str) -> list[ReleaseItem]:
    """Every item of one release (active, embargoed and retired)."""
    first_day(release)
    lake = storage.Lake.from_settings(settings)
    return [storage.record_from_row(ReleaseItem, r) for r in lake.read_part(ReleaseItem, release)]


def retirements(settings: Settings) -> dict[str, Retirement]:
    """item id → its retirement (from ``retire`` or the audit queue)."""
    return {r.item_id: r for r in _table(storage.Lake.from_settings(settings), Retirement)}


def _release_files(lake: storage.Lake, release: str) -> dict[str, str]:
    """The release's files in the lake copy (relative path → sha256), from its manifest."""
    manifest = lake.get_json(LAKE_FOLDER, release, "manifest.json")
    if manifest is None:
        raise LookupError(f"release {release} has no copy in the lake ({LAKE_FOLDER}/{release}/manifest.json)")
    private = lake.get_json(LAKE_FOLDER, release, PRIVATE, "manifest.json") or {}
    return {**manifest.get("checksums", {}),
            **{f"{PRIVATE}/{rel}": digest for rel, digest in private.get("checksums", {}).items()}}


def release_rows(settings: Settings, release: str) -> dict[str, list[dict[str, Any]]]:
    """variant → the rows of a release's JSONL files in the lake (public, then ``private/``).

    Only files the release's manifest lists are read (a stale file of an earlier ``--force`` run
    is not), and each is checked against its checksum."""
    first_day(release)
    lake = storage.Lake.from_settings(settings)
    files = _release_files(lake, release)
    rows: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    pattern = re.compile(rf"^(?:{PRIVATE}/)?jsonl/([a-z_]+)/[a-z]+\.jsonl$")
    for rel in sorted(files, key=lambda p: (p.startswith(PRIVATE + "/"), p)):
        match = pattern.match(rel)
        if not match or match.group(1) not in rows:
            continue
        data = lake.read_bytes(lake.path(LAKE_FOLDER, release, *rel.split("/")))
        if hashlib.sha256(data).hexdigest() != files[rel]:
            raise ValueError(f"release {release}: {rel} in the lake does not match its manifest checksum")
        rows[match.group(1)] += [json.loads(line) for line in data.decode().split("\n") if line.strip()]
    return rows


# -- planning a release --------------------------------------------------------------------

@dataclass
class Plan:
    """What releasing ``release`` means, before anything is written."""

    release: str
    previous: str | None
    items: dict[str, ReleaseItem]
    """item id → its state in this release: carried items in the previous release's order, then
    new ones in selection order."""
    carried: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """variant → item id → the row as the previous release wrote it (active and embargoed items)."""
    new: list[str] = field(default_factory=list)
    """Items not in the previous release (``added`` in the manifest)."""
    retired: list[str] = field(default_factory=list)
    """Items retired since the previous release."""
    unembargoed: list[str] = field(default_factory=list)
    """Items embargoed in the previous release and public now."""
    replaces: bool = False
    """``--force``: this release existed and is made again."""

    def ids(self, status: str) -> list[str]:
        return [i for i, item in self.items.items() if item.status == status]

    @property
    def fixed_splits(self) -> dict[str, str]:
        """paper id → split of the papers already released: they keep it."""
        return {r["paper_id"]: r["split"] for r in self.carried.get("derivation", {}).values()}


def plan(settings: Settings, release: str, selected: list[dict[str, Any]], force: bool = False) -> Plan:
    """The items of ``release`` from the previous release, the retirements and ``selected`` (rows of
    ``release_problems``: ``candidate_id``, ``paper_id``, ``paper_date``). Raises ``ReleaseError``
    when ``release`` exists (unless ``force``) or is older than the latest release."""
    start = first_day(release)
    names = [r.release for r in list_releases(settings)]
    latest = names[-1] if names else None
    if latest and release < latest:
        raise ReleaseError(f"release {release} is older than the latest release {latest}: releases only "
                           f"move forward (the next one is {latest} with --force, or a later month)")
    if release in names and not force:
        raise ReleaseError(f"release {release} exists; pass --force to make it again (only before it is published)")
    previous = max((n for n in names if n < release), default=None)
    months = settings.export.embargo_months
    retired = retirements(settings)
    now = utcnow()
    plan = Plan(release=release, previous=previous, items={}, replaces=release in names)
    if previous:
        rows = release_rows(settings, previous)
        plan.carried = {v: {r["id"]: r for r in vrows} for v, vrows in rows.items()}
        for old in release_items(settings, previous):
            update: dict[str, Any] = {"release": release, "recorded_at": now}
            gone = retired.get(old.item_id)
            if old.status == "retired":
                pass  # retired stays retired, with its date and reason
            elif gone:
                update |= {"status": "retired", "retired_at": gone.retired_at, "retire_reason": gone.reason}
                plan.retired.append(old.item_id)
            elif old.status == "embargoed" and not is_embargoed(old.paper_date, release, months):
                update["status"] = "active"
                plan.unembargoed.append(old.item_id)
            item = old.model_copy(update=update)
            if item.status != "retired" and item.item_id not in plan.carried["derivation"]:
                raise LookupError(f"release {previous}'s files in the lake have no row for item {old.item_id}")
            plan.items[old.item_id] = item
    for row in selected:
        item_id = row["candidate_id"]
        if item_id in plan.items:
            continue
        paper_date = paper_date_of(row.get("paper_date"))
        item = ReleaseItem(release=release, item_id=item_id, paper_id=row["paper_id"], paper_date=paper_date,
                           status="embargoed" if is_embargoed(paper_date, release, months) else "active",
                           released_at=start, recorded_at=now)
        gone = retired.get(item_id)  # only after a --force remake: ids are retired once released
        if gone:
            item = item.model_copy(update={"status": "retired", "retired_at": gone.retired_at,
                                           "retire_reason": gone.reason})
            plan.retired.append(item_id)
        plan.items[item_id] = item
        plan.new.append(item_id)
    return plan


# -- recording a release -------------------------------------------------------------------

def checksums(out: Path, paths: list[Path]) -> dict[str, str]:
    """Relative path (POSIX) → sha256 of each file."""
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(set(paths))}


def record(settings: Settings, plan: Plan, out: Path, files: list[Path], manifest: Path,
           selection_id: str | None, private_files: list[Path] = ()) -> Release:
    """Copy the release's files (``files`` and ``manifest``, under ``out``; ``private_files``
    with their manifest under ``private_folder(out)``) into the lake under ``releases/<R>/`` (the
    private ones under ``private/``), then write its ``release_items`` and, last, its
    ``releases`` row."""
    lake = storage.Lake.from_settings(settings)
    folder = lake.path(LAKE_FOLDER, plan.release)
    if plan.replaces and lake.exists(folder):
        lake.fs.rm(folder, recursive=True)  # a remade release keeps no file of the one it replaces
    for path in sorted(set(files)):
        lake.write_bytes(lake.path(LAKE_FOLDER, plan.release, *path.relative_to(out).parts), path.read_bytes())
    for path in sorted(set(private_files)):
        lake.write_bytes(lake.path(LAKE_FOLDER, plan.release, PRIVATE,
                                   *path.relative_to(private_folder(out)).parts), path.read_bytes())
    data = manifest.read_bytes()
    lake.write_bytes(lake.path(LAKE_FOLDER, plan.release, "manifest.json"), data)  # last: it names the rest
    lake.write_table(ReleaseItem, list(plan.items.values()), plan.release)
    row = Release(release=plan.release, previous=plan.previous, selection_id=selection_id,
                  items_active=len(plan.ids("active")), items_added=len(plan.new),
                  items_retired=len(plan.retired), items_embargoed=len(plan.ids("embargoed")),
                  manifest_sha256=hashlib.sha256(data).hexdigest())
    lake.write_table(Release, [row], plan.release)
    return row


def lake_copy(settings: Settings, release: str) -> str:
    """The URI of a release's copy in the lake."""
    return storage.Lake.from_settings(settings).uri(LAKE_FOLDER, release)


# -- retiring and reading ------------------------------------------------------------------

def retire(settings: Settings, item_id: str, reason: str, detail: str = "", by: str = "") -> Retirement:
    """Retire a released item from the next release on: writes a ``retirements`` row (the item
    is never deleted or renumbered). Refuses an unknown reason (``ValueError``), an item no
    release has (``LookupError``) and an item already retired (``ValueError``)."""
    if reason not in RETIRE_REASONS:
        raise ValueError(f"unknown reason {reason!r}; choose from {', '.join(RETIRE_REASONS)}")
    newest = latest(settings)
    if newest is None:
        raise LookupError("no release yet: only released items can be retired")
    known = {i.item_id: i for i in release_items(settings, newest)}  # every item ever: none is dropped
    if item_id not in known:
        raise LookupError(f"no item {item_id!r} in any release (the latest is {newest})")
    earlier = retirements(settings).get(item_id)
    if earlier or known[item_id].status == "retired":
        when = earlier.retired_at if earlier else known[item_id].retired_at
        why = earlier.reason if earlier else known[item_id].retire_reason
        raise ValueError(f"item {item_id} is already retired ({why}, {when:%Y-%m-%d})")
    row = Retirement(item_id=item_id, reason=reason, detail=detail, retired_by=by)
    lake = storage.Lake.from_settings(settings)
    lake.write_table(Retirement, [row], f"cli-{item_id[:80]}-{stable_id(item_id)}")
    storage.publish_catalog(settings)
    return row


ITEM_FIELDS = ("id", "paper", "paper_id", "paper_date", "question", "whole_label", "target", "status",
               "split", "released_at")


def items_at(settings: Settings, release: str) -> list[dict[str, Any]]:
    """The items an evaluation at ``release`` uses: every item active or embargoed at it, read from
    the release's copy in the lake (so a later release never changes them). Each row has
    ``id``, ``paper``, ``paper_id``, ``paper_date``, ``question``, ``whole_label``, ``target`` (the
    target formula's portable LaTeX, or None), ``status``, ``split``, ``released_at`` and, when the
    release has a multiple-choice row for it, ``choices`` and ``answer_index``."""
    if release not in {r.release for r in list_releases(settings)}:
        raise LookupError(f"no release {release!r}" if RELEASE_NAME.match(str(release)) else
                          f"a release is named by its month, like 2026-12; got {release!r}")
    rows = release_rows(settings, release)
    choices = {r["id"]: r for r in rows["multiple_choice"]}
    items = []
    for row in rows["derivation"]:
        item = {k: row.get(k) for k in ITEM_FIELDS}
        if row["id"] in choices:
            item |= {"choices": choices[row["id"]]["choices"], "answer_index": choices[row["id"]]["answer_index"]}
        items.append(item)
    return items
