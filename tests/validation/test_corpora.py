"""Corpora through the platform: ingest (CLI), list/show/check, the quality gate and accept, the PHI gate."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from validation.cli import cli
from validation.exceptions import Conflict


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    from datasets.synthetic import generate_export

    out = tmp_path_factory.mktemp("corpora") / "export"
    generate_export(out, sites=["DEV", "H01"], cases=8, seed=4, image_size=64, workers=1)
    return out


@pytest.fixture
def cli_run(tmp_path):
    runner = CliRunner(env={"CLINVAL_HOME": str(tmp_path / "home")})
    assert runner.invoke(cli, ["init"]).exit_code == 0

    def run(*args):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return run, tmp_path / "home"


def test_ingest_list_show_check(cli_run, export):
    run, home = cli_run
    r = run("corpus", "ingest", str(export), "--json")
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["usable"] and set(info["sites"]) == {"DEV", "H01"} and len(info["id"]) == 64
    assert (home / "corpora" / info["id"] / "manifest.json").is_file()
    listed = json.loads(run("corpus", "list", "--json").output)
    assert [c["id"] for c in listed] == [info["id"]]
    shown = json.loads(run("corpus", "show", info["id"][:12], "--json").output)
    assert shown["id"] == info["id"]
    r = run("corpus", "check", info["id"][:12])
    assert r.exit_code == 0 and "files ok" in r.output, r.output
    again = run("corpus", "ingest", str(export))
    assert again.exit_code != 0 and "already registered" in again.output


def test_a_critical_quality_failure_blocks_evaluation_until_accepted(cli_run, export, tmp_path):
    import shutil

    run, home = cli_run
    broken = tmp_path / "broken"
    shutil.copytree(export, broken)
    victim = sorted((broken / "H01" / "dicom").rglob("*.dcm"))[0]
    ds = pydicom.dcmread(victim)
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        if keyword in ds:
            delattr(ds, keyword)
    ds.save_as(victim)
    r = run("corpus", "ingest", str(broken), "--json")
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert not info["usable"]
    r = run("corpus", "check", info["id"])
    assert r.exit_code == 1 and "CRITICAL" in r.output
    from validation.config import load_settings
    from validation.corpora import require_usable
    from validation.platform import open_platform, resolve_principal

    platform = open_platform(load_settings({}, home=home))
    try:
        with pytest.raises(Conflict, match="not usable"):
            require_usable(platform, resolve_principal(platform), info["id"])
        assert run("corpus", "accept", info["id"], "--reason", "spacing verified on the console").exit_code == 0
        assert require_usable(platform, resolve_principal(platform), info["id"]).usable
    finally:
        platform.close()


def test_phi_that_survives_deidentification_fails_the_ingest_and_is_recorded(cli_run, export, tmp_path):
    import shutil

    run, home = cli_run
    leaky = tmp_path / "leaky"
    shutil.copytree(export, leaky)
    victim = sorted((leaky / "H01" / "dicom").rglob("*.dcm"))[0]
    ds = pydicom.dcmread(victim)
    name = str(ds.PatientName).split("=")[0].replace("^", " ")
    ds.Manufacturer = f"Scanner of {name}"  # outside the Annex E table: kept verbatim by de-identification
    ds.save_as(victim)
    r = run("corpus", "ingest", str(leaky))
    assert r.exit_code == 1 and "PHI leak scan" in r.output and "Traceback" not in r.output
    assert name not in r.output
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{home / 'platform.db'}")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT details FROM audit_events WHERE action = 'corpus.ingest_failed'")).all()
    engine.dispose()
    assert len(rows) == 1 and name not in str(rows)
    assert not [p for p in (home / "corpora").iterdir() if not p.name.startswith(".")]
