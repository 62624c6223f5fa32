"""One real platform shared by the run tests: a synthetic export ingested through the service layer, the cxr
protocol, a vendor whose DEV-fitted model passed its smoke test, and reviewers at two hospitals."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITES = ["DEV", "H01", "H05", "H09"]
EVAL_SITES = ["H01", "H05", "H09"]


def _vendor_kit():
    spec = importlib.util.spec_from_file_location("clinval_vendor_kit", ROOT / "examples" / "models" / "vendor_kit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    """(platform, people, submission id, corpus id). Built once; tests must not change what it holds."""
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed (apt-get install bubblewrap); .ci/run installs it")
    from datasets.synthetic import generate_export
    from validation import accounts
    from validation.config import load_settings
    from validation.corpora import ingest_corpus
    from validation.home import init_home
    from validation.platform import open_platform, resolve_principal
    from validation.protocols import load_protocol_file, publish_protocol
    from validation.registry import load_model_card, smoke_test, submit_model

    base = tmp_path_factory.mktemp("runs-world")
    export = base / "export"
    generate_export(export, sites=SITES, cases=36, tasks=["cxr-pneumonia"], seed=5, image_size=64, workers=2)
    settings = load_settings({"CLINVAL_SANDBOX": "bwrap"}, home=base / "home")
    init_home(settings)
    platform = open_platform(settings)
    admin = resolve_principal(platform)
    corpus = ingest_corpus(platform, admin, export, name="synthetic-4")
    publish_protocol(platform, admin, load_protocol_file(ROOT / "examples" / "protocols" / "cxr-pneumonia.yaml"))
    people = {"admin": admin}
    for org in ("acme-ai", "globex"):
        accounts.create_org(platform, admin, org, org, "vendor")
    for username, role, org in [("vendor", "vendor", "acme-ai"), ("other-vendor", "vendor", "globex"),
                                ("rev-h01", "reviewer", "H01"), ("rev-h02", "reviewer", "H02"),
                                ("regulator", "regulator", "regulator")]:
        accounts.create_user(platform, admin, username=username, printed_name=username, role=role, org=org,
                             password=f"password for {username}")
        people[username] = accounts.login(platform, username, f"password for {username}")
    from validation.corpora import corpus_dir

    model_dir, card = _vendor_kit().build("cxr-pneumonia", corpus_dir(platform, corpus.id), base / "vendor")
    info = submit_model(platform, people["vendor"], model_dir, load_model_card(card))
    info = smoke_test(platform, people["vendor"], info.id)
    assert info.state == "ready", info.reasons
    yield platform, people, info.id, corpus.id
    platform.close()
