"""One small real platform shared by the page tests: orgs and users with passwords, the cxr protocol, and (where
bubblewrap is installed) a scored run of the example vendor model on DEV + two hospitals, built without the demo."""

from __future__ import annotations

import pytest
from dash_helpers import password
from dash_world import build_world
from streamlit.testing.v1 import AppTest


@pytest.fixture(scope="session")
def dash_world(tmp_path_factory):
    world = build_world(tmp_path_factory.mktemp("dash-world"))
    yield world
    world.platform.close()


@pytest.fixture
def scored_world(dash_world):
    if dash_world.run_id is None:
        pytest.skip(dash_world.skip_reason)
    return dash_world


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


@pytest.fixture
def login(dash_world, monkeypatch):
    """``login(username)`` -> an AppTest signed in as that user, on the shared platform."""
    return make_login(dash_world, monkeypatch)
