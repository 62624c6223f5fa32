"""A small real platform for the dashboard tests and the browser end-to-end test: orgs and users with passwords,
the cxr protocol, and (where bubblewrap is installed) a scored run of the example vendor model on DEV + two
hospitals, built through the service layer without the demo.

A uniquely named module, imported by ``tests/dashboards/conftest.py`` and loaded by path from ``tests/e2e``.
"""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass, field
from pathlib import Path

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


def password(username: str) -> str:
    """The test password of ``username``."""
    return f"password for {username}"


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


def break_export(export: Path, out: Path) -> Path:
    """A copy of ``export`` whose first H01 radiograph lacks its pixel spacing: a critical data-quality failure."""
    import pydicom

    shutil.copytree(export, out)
    victim = sorted((out / "H01" / "dicom").rglob("*.dcm"))[0]
    ds = pydicom.dcmread(victim)
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        if keyword in ds:
            delattr(ds, keyword)
    ds.save_as(victim)
    return out


def build_world(base: Path, *, users=USERS, run: bool = True) -> World:
    """Initialise a platform home under ``base`` and fill it; the caller closes ``world.platform``."""
    from validation import accounts
    from validation.config import load_settings
    from validation.home import init_home
    from validation.platform import open_platform, resolve_principal
    from validation.protocols import load_protocol_file, publish_protocol

    settings = load_settings({"CLINVAL_SANDBOX": "bwrap"}, home=base / "home")
    init_home(settings)
    platform = open_platform(settings)
    admin = resolve_principal(platform)
    publish_protocol(platform, admin, load_protocol_file(ROOT / "examples" / "protocols" / "cxr-pneumonia.yaml"))
    for org in ("acme-ai", "globex"):
        accounts.create_org(platform, admin, org, org, "vendor")
    people = {"system": admin}
    for username, role, org in users:
        accounts.create_user(platform, admin, username=username, printed_name=f"{username} (printed)", role=role,
                             org=org, password=password(username))
        people[username] = accounts.login(platform, username, password(username))
    world = World(platform=platform, people=people)
    if shutil.which("bwrap") is None:
        world.skip_reason = "bubblewrap is not installed (apt-get install bubblewrap); .ci/run installs it"
    elif run:
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
        if sub.state != "ready":
            raise RuntimeError(f"the example model's smoke test failed: {sub.reasons}")
        done = evaluate(platform, admin, sub.id, corpus.id, sites=RUN_SITES)
        if done.state != "scored":
            raise RuntimeError(f"the evaluation of the example model failed: {done.error}")
        world.run_id = done.id
        world.extra.update(corpus_id=corpus.id, submission_id=sub.id, export=base / "export", model_dir=model_dir,
                           card=card)
    return world
