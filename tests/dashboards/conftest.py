"""One small real platform shared by the page tests: orgs and users with passwords, the cxr protocol, and (where
bubblewrap is installed) a scored run of the example vendor model on DEV + two hospitals, built without the demo."""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from dash_helpers import password
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
RUN_SITES = ["H01", "H02"]
USERS = [  # username, role, org
    ("admin2", "admin", "pilot-base"),
    ("vendor", "vendor", "acme-ai"),
    ("other-vendor", "vendor", "globex"),
    ("rev-h01", "reviewer", "H01"),
    ("rev-h03", "reviewer", "H03"),
    ("regulator", "regulator", "regulator"),
]


@dataclass
class World:
    platform: object
    people: dict
    run_id: str | None = None
    skip_reason: str = ""
    extra: dict = field(default_factory=dict)


def _vendor_kit():
    spec = importlib.util.spec_from_file_location("clinval_vendor_kit_dash",
                                                  ROOT / "examples" / "models" / "vendor_kit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def dash_world(tmp_path_factory):
    from validation import accounts
    from validation.config import load_settings
    from validation.home import init_home
    from validation.platform import open_platform, resolve_principal
    from validation.protocols import load_protocol_file, publish_protocol

    base = tmp_path_factory.mktemp("dash-world")
    settings = load_settings({"CLINVAL_SANDBOX": "bwrap"}, home=base / "home")
    init_home(settings)
    platform = open_platform(settings)
    admin = resolve_principal(platform)
    publish_protocol(platform, admin, load_protocol_file(ROOT / "examples" / "protocols" / "cxr-pneumonia.yaml"))
    for org in ("acme-ai", "globex"):
        accounts.create_org(platform, admin, org, org, "vendor")
    people = {"system": admin}
    for username, role, org in USERS:
        accounts.create_user(platform, admin, username=username, printed_name=f"{username} (printed)", role=role,
                             org=org, password=password(username))
        people[username] = accounts.login(platform, username, password(username))
    world = World(platform=platform, people=people)
    if shutil.which("bwrap") is None:
        world.skip_reason = "bubblewrap is not installed (apt-get install bubblewrap); .ci/run installs it"
    else:
        from datasets.synthetic import generate_export
        from validation.corpora import corpus_dir, ingest_corpus
        from validation.registry import load_model_card, smoke_test, submit_model
        from validation.runs import evaluate

        generate_export(base / "export", sites=["DEV", *RUN_SITES], cases=16, tasks=["cxr-pneumonia"], seed=5,
                        image_size=64, workers=2)
        corpus = ingest_corpus(platform, admin, base / "export", name="dash-small")
        model_dir, card = _vendor_kit().build("cxr-pneumonia", corpus_dir(platform, corpus.id), base / "vendor")
        sub = submit_model(platform, people["vendor"], model_dir, load_model_card(card))
        sub = smoke_test(platform, people["vendor"], sub.id)
        assert sub.state == "ready", sub.reasons
        run = evaluate(platform, admin, sub.id, corpus.id, sites=RUN_SITES)
        assert run.state == "scored", run.error
        world.run_id = run.id
        world.extra.update(corpus_id=corpus.id, submission_id=sub.id)
    yield world
    platform.close()


@pytest.fixture
def scored_world(dash_world):
    if dash_world.run_id is None:
        pytest.skip(dash_world.skip_reason)
    return dash_world


@pytest.fixture
def login(dash_world, monkeypatch):
    """``login(username)`` -> an AppTest signed in as that user, on the shared platform."""
    monkeypatch.setenv("CLINVAL_HOME", str(dash_world.platform.settings.home))
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
