"""Helpers of the dashboard page tests (a uniquely named module: other test folders have a conftest too)."""

from __future__ import annotations

from dash_world import password
from streamlit.testing.v1 import AppTest

__all__ = ["frames", "make_login", "open_page", "password"]


def open_page(at: AppTest, script: str) -> AppTest:
    """Switch to ``views/<script>`` and render it; fails on any exception the page raised."""
    at.switch_page(f"views/{script}").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def frames(at: AppTest) -> list:
    """Every DataFrame the page shows."""
    return [d.value for d in at.dataframe]


def make_login(world, monkeypatch):
    """``login(username)`` -> an AppTest signed in as that user, on ``world``'s platform."""
    monkeypatch.setenv("CLINVAL_HOME", str(world.platform.settings.home))
    from dashboards import APP_PATH
    from dashboards.session import get_platform

    get_platform.clear()
    import streamlit as st

    st.cache_data.clear()  # each test reads the platform as it is now, not as an earlier test cached it

    def _login(username: str) -> AppTest:
        at = AppTest.from_file(str(APP_PATH), default_timeout=30)
        at.run()
        at.text_input[0].input(username)
        at.text_input[1].input(password(username))
        at.button[0].click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert not at.error, [e.value for e in at.error]
        return at

    return _login
