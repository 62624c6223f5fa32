"""Helpers of the dashboard page tests (a uniquely named module: other test folders have a conftest too)."""

from __future__ import annotations

from dash_world import password
from streamlit.testing.v1 import AppTest

__all__ = ["frames", "open_page", "password"]


def open_page(at: AppTest, script: str) -> AppTest:
    """Switch to ``views/<script>`` and render it; fails on any exception the page raised."""
    at.switch_page(f"views/{script}").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def frames(at: AppTest) -> list:
    """Every DataFrame the page shows."""
    return [d.value for d in at.dataframe]
