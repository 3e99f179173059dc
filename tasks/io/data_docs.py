"""Data Docs: every stage's suite and the recent runs' results, built once per run, offline.

When: once per run, as it finishes (``tasks.io.runs``), in the flow process: the Great
Expectations import alone takes seconds, too much for the publish after every stage, and
checkpoints no longer build Data Docs per batch.

What: a page per suite (every module of ``expectations/``), a page per stage and run for the last
``RECENT_RUNS`` runs, and the index. Results are rebuilt from the ``validations`` rows of the
lake (one row per expectation per batch; a run's batches are summed), so validations that ran in
Dask workers are there as well as the flow process's own.

Where: ``data_docs/`` in the lake (a local path or ``s3://``), written through ``Lake``. Pages
load Bootstrap, jQuery, bootstrap-table… from the site's own ``static/vendor/`` (copied from
``expectations/data_docs_assets/vendor``, see its README), never from a CDN, so they render
offline and behind the dashboard's sandbox.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from importlib.resources import as_file, files
from pathlib import Path

from tasks.core.settings import Settings
from tasks.io.storage import Lake, query_rows, safe_key

log = logging.getLogger("stormborn.data_docs")

FOLDER = "data_docs"
RECENT_RUNS = 20
"""Runs whose results the index lists (pages of older runs stay in the lake, unlisted)."""

# The CDN URLs of GX 1.24.1's templates → the vendored file under static/vendor/.
VENDORED = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap@4.3.1/css/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap@4.3.1/js/bootstrap.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "bootstrap-table@1.19.1/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table@1.19.1/bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        "bootstrap-table@1.19.1/extensions/filter-control/bootstrap-table-filter-control.min.js",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        "bootstrap-table@1.19.0/extensions/filter-control/bootstrap-table-filter-control.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        "bootstrap-table@1.19.0/extensions/filter-control/bootstrap-table-filter-control.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        "bootstrap-datepicker@1.9.0/css/bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        "bootstrap-datepicker@1.9.0/js/bootstrap-datepicker.min.js",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
        "bootstrap-dark@1.1.0/css/bootstrap-prefers-dark.min.css",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery@3.7.1/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.js@1.12.9/umd/popper.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "fontawesome-free@6.6.0/css/all.min.css",
    "https://cdn.jsdelivr.net/npm/vega@5": "vega@5.33.1/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite@5.23.0/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed@6.29.0/vega-embed.min.js",
}
# GX's logos (``logo-long.png?d=<context id>`` in the navbar, ``full_logo_dark.png`` in the CSS):
# the site's own copy in static/images/.
_GX_IMAGES = re.compile(r"https://great-expectations-web-assets\.s3\.us-east-2\.amazonaws\.com/([\w.-]+)(\?[^\"')]*)?")
_ASSET = re.compile(r"""<(?:script|link|img|source|iframe)\b[^>]*?\b(?:src|href)\s*=\s*["']?(https?://[^"'\s>]+)"""
                    r"""|url\(\s*["']?(https?://[^"')]+)|@import\s+["'](https?://[^"']+)""", re.I)


def _vendor_dir():
    return files("expectations").joinpath("data_docs_assets", "vendor")


def run_results(settings: Settings, run_id: str, recent: int = RECENT_RUNS) -> list:
    """The results of ``run_id`` and of the latest other runs, one ``SuiteRun`` per run and stage,
    summed over each run's batches (the catalog view keeps only one batch's row per key)."""
    from tasks.io.validate import SuiteRun

    lake = Lake.from_settings(settings)
    parts = lake.table_files("validations")
    if not parts:
        return []
    latest = [r["run_id"] for r in query_rows(
        settings, "SELECT run_id FROM validations WHERE run_id <> $run_id GROUP BY run_id "
                  "ORDER BY max(validated_at) DESC LIMIT $n", {"run_id": run_id, "n": max(recent - 1, 0)})]
    prefixes = tuple(f"{safe_key(r)}-" for r in [run_id, *latest])  # parts are keyed `<run>-<stage>-<part>`
    mine = [("s3://" if lake.is_s3 else "") + p for p in parts if p.rsplit("/", 1)[-1].startswith(prefixes)]
    if not mine:
        return []
    rows = query_rows(settings, (
        'SELECT run_id, stage, expectation, "column", bool_and(success) AS success, '
        "sum(element_count) AS element_count, sum(unexpected_count) AS unexpected_count, "
        "count(*) AS batches, max(validated_at) AS validated_at "
        "FROM read_parquet($files, union_by_name = true) WHERE run_id IN (SELECT unnest($runs)) "
        'GROUP BY run_id, stage, expectation, "column" ORDER BY run_id, stage'),
        {"files": mine, "runs": [run_id, *latest]})
    grouped: dict[tuple[str, str], list[dict]] = defaultdict(list)
    finished: dict[str, float] = defaultdict(float)
    for row in rows:
        grouped[(row["run_id"], row["stage"])].append(row)
        finished[row["run_id"]] = max(finished[row["run_id"]], row["validated_at"].timestamp())
    # One run time per run (its last validation): a run's pages share one folder, and a rebuild
    # writes the same paths again.
    return [SuiteRun(stage=stage, run_id=run, run_time=datetime.fromtimestamp(finished[run], UTC), rows=members,
                     batches=max(int(r["batches"]) for r in members))
            for (run, stage), members in grouped.items()]


def make_offline(site: Path) -> None:
    """Copy the vendored assets into ``site/static/vendor`` and point every page at them."""
    with as_file(_vendor_dir()) as vendor:
        shutil.copytree(vendor, site / "static" / "vendor", dirs_exist_ok=True)
    images = {p.name for p in (site / "static" / "images").glob("*")}

    def local(prefix: str):
        def image(match: re.Match) -> str:
            name = match.group(1) if match.group(1) in images else "logo-long.png"
            return f"{prefix}static/images/{name}"
        return image

    for page in site.rglob("*.html"):
        prefix = "../" * (len(page.relative_to(site).parts) - 1)
        html = page.read_text(encoding="utf-8")
        for url, path in VENDORED.items():
            html = html.replace(f'"{url}"', f'"{prefix}static/vendor/{path}"')
        page.write_text(_GX_IMAGES.sub(local(prefix), html), encoding="utf-8")
    for sheet in (site / "static" / "styles").glob("*.css"):
        css = sheet.read_text(encoding="utf-8")
        sheet.write_text(_GX_IMAGES.sub(lambda m: "../images/logo-long.png", css), encoding="utf-8")


def external_assets(site: Path) -> list[str]:
    """Every ``http(s)`` script, stylesheet, image, font or import a page or stylesheet of the site
    loads (links to other sites are not assets)."""
    found = []
    for path in [*site.rglob("*.html"), *site.rglob("*.css")]:
        if "vendor" in path.relative_to(site).parts:
            continue  # vendored CSS only names data: URIs and its own relative fonts
        for match in _ASSET.finditer(path.read_text(encoding="utf-8")):
            found.append(f"{path.relative_to(site)}: {next(g for g in match.groups() if g)}")
    return found


def _upload(lake: Lake, site: Path) -> None:
    """Copy the site into the lake's ``data_docs/``: static files that are already there with the
    same size are skipped (vendored files are named by version), the index goes last so it never
    links to a page not yet written."""
    base = lake.path(FOLDER)
    try:
        present = {p[len(base) + 1:]: info.get("size") for p, info in
                   lake.fs.find(base, detail=True).items()} if lake.exists(base) else {}
    except FileNotFoundError:
        present = {}
    index = site / "index.html"
    for src in [*(p for p in site.rglob("*") if p.is_file() and p != index), index]:
        rel = src.relative_to(site).as_posix()
        if rel.startswith("static/") and present.get(rel) == src.stat().st_size:
            continue
        lake.write_bytes(lake.path(FOLDER, rel), src.read_bytes())


def build_data_docs(settings: Settings, run_id: str) -> str:
    """Build the site for ``run_id`` (and the latest runs before it) and upload it to the lake's
    ``data_docs/``; returns the lake location of ``index.html``."""
    from tasks.io.validate import render_data_docs

    started = time.perf_counter()
    lake = Lake.from_settings(settings)
    runs = run_results(settings, run_id)
    with tempfile.TemporaryDirectory(prefix="stormborn-data-docs-") as tmp:
        site = Path(tmp)
        render_data_docs(runs, tmp)
        make_offline(site)
        left = external_assets(site)
        if left:  # a GX upgrade brought a new CDN asset: the pages still work online
            log.warning("Data Docs still load %d external assets (vendor them): %s", len(left), left[:5])
        _upload(lake, site)
    log.info("Data Docs for %s: %d suite results in %.2f s", run_id, len(runs), time.perf_counter() - started)
    return lake.uri(FOLDER, "index.html")
