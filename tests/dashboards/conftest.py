"""One small real platform shared by the page tests: orgs and users with passwords, the cxr protocol, and (where
bubblewrap is installed) a scored run of the example vendor model on DEV + two hospitals, built without the demo."""

from __future__ import annotations

import pytest
from dash_helpers import make_login
from dash_world import build_world


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


@pytest.fixture
def login(dash_world, monkeypatch):
    """``login(username)`` -> an AppTest signed in as that user, on the shared platform."""
    return make_login(dash_world, monkeypatch)
