"""A dashboard over a catalog with known numbers (``tests.factories.dashboard_catalog``)."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient

from dashboards.app import create_app
from tests.factories import dashboard_catalog


def text_of(page: str) -> str:
    """A page's visible text, whitespace collapsed (chart data and the head left out)."""
    page = re.sub(r"<head>.*?</head>|data-chart='[^']*'", "", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


@pytest.fixture
def dashboard(settings):
    dashboard_catalog(settings)
    return settings, TestClient(create_app(settings))
