"""``stormborn dashboard``: the analyst dashboard (read-only pages over the catalog)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from flows.cli.common import app, console, settings_from


@app.command("dashboard")
def dashboard(
    host: Annotated[Optional[str], typer.Option(help="Interface to listen on (default dashboard.host, 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (default dashboard.port, 8850).")] = None,
) -> None:
    """Serve the analyst dashboard: funnel, validation, LLM spend, candidates, review. It only reads
    the catalog (read-only, safe while flows run) and has no login: keep it on loopback or behind an
    authenticating proxy."""
    import uvicorn

    from dashboards.app import create_app

    settings = settings_from()
    host, port = host or settings.dashboard.host, port or settings.dashboard.port
    console.print(f"Dashboard on http://{host}:{port}/  (catalog: {settings.catalog_path})")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
