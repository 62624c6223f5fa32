"""Submissions: static checks on real MLflow model directories, the real MLflow registry, access."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from validation import accounts
from validation.cli import cli
from validation.exceptions import AccessDenied, InvalidInput, NotFound
from validation.platform import resolve_principal
from validation.protocols import load_protocol_file, publish_protocol
from validation.registry import (
    ModelCard,
    ModelLimits,
    check_model_dir,
    get_submission,
    list_submissions,
    load_model_card,
    model_path,
    submit_model,
)

ROOT = Path(__file__).resolve().parents[2]
CONSTANT = ROOT / "examples" / "models" / "constant" / "model.py"


def _save(path: Path, *, inputs=("case_id", "path"), requirements=("mlflow==3.17.2", "pandas")) -> Path:
    import mlflow
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    sig = ModelSignature(inputs=Schema([ColSpec("string", c) for c in inputs]),
                         outputs=Schema([ColSpec("string", "case_id"), ColSpec("double", "score")]))
    mlflow.pyfunc.save_model(str(path), python_model=str(CONSTANT), pip_requirements=list(requirements),
                             signature=sig)
    return path


@pytest.fixture(scope="module")
def good_model(tmp_path_factory) -> Path:
    return _save(tmp_path_factory.mktemp("models") / "good")


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_a_good_model_passes_and_is_hashed(good_model):
    report = check_model_dir(good_model, view="dicom")
    assert report.ok, report.problems
    assert set(report.manifest) >= {"MLmodel", "model.py", "requirements.txt"}
    again = check_model_dir(good_model, view="dicom")
    assert again.sha256 == report.sha256


def test_a_changed_byte_changes_the_hash(good_model, tmp_path):
    copy = _copy(good_model, tmp_path / "m")
    before = check_model_dir(copy, view="dicom").sha256
    with open(copy / "model.py", "a") as fh:
        fh.write("\n# changed\n")
    assert check_model_dir(copy, view="dicom").sha256 != before


@pytest.mark.parametrize("kind", ["file-symlink", "dir-symlink", "zip-slip", "tar-slip", "tar-absolute", "fifo"])
def test_anything_reaching_outside_is_refused(good_model, tmp_path, kind):
    m = _copy(good_model, tmp_path / "m")
    if kind == "file-symlink":
        os.symlink("/etc/passwd", m / "weights.bin")
    elif kind == "dir-symlink":
        os.symlink("/etc", m / "data")
    elif kind == "zip-slip":
        with zipfile.ZipFile(m / "weights.zip", "w") as z:
            z.writestr("../../evil.py", "print('x')")
    elif kind in ("tar-slip", "tar-absolute"):
        with tarfile.open(m / "weights.tar.gz", "w:gz") as t:
            data = b"x"
            info = tarfile.TarInfo("../escape.txt" if kind == "tar-slip" else "/etc/cron.d/evil")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    else:
        os.mkfifo(m / "pipe")
    report = check_model_dir(m, view="dicom")
    assert not report.ok and report.problems, kind


def test_oversized_artifacts_are_refused(good_model, tmp_path):
    m = _copy(good_model, tmp_path / "m")
    (m / "weights.bin").write_bytes(b"\0" * 5000)
    report = check_model_dir(m, view="dicom", limits=ModelLimits(max_file_bytes=4096))
    assert any("over the 4096-byte limit" in p for p in report.problems)


def test_signature_must_fit_the_view(tmp_path):
    report = check_model_dir(_save(tmp_path / "m", inputs=("case_id", "pixels")), view="dicom")
    assert any("do not fit" in p for p in report.problems)


def test_missing_mlmodel(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model.pkl").write_bytes(b"x")
    assert any("MLmodel file missing" in p for p in check_model_dir(tmp_path / "m", view="fhir").problems)


def test_unsatisfiable_requirements_are_reported(tmp_path):
    m = _save(tmp_path / "m", requirements=("mlflow==3.17.2", "pandas<0.1", "surely-not-a-package-xyz==1.0",
                                           "git+https://example.invalid/x.git"))
    unmet = check_model_dir(m, view="dicom").unmet_requirements
    assert len(unmet) == 3
    assert any("pandas<0.1" in u for u in unmet) and any("surely-not-a-package-xyz" in u for u in unmet)


def _card(tmp_path: Path, **changes) -> Path:
    data = {
        "vendor": "acme", "model_name": "pneumo-net", "model_version": "1.0.0", "protocol_id": "cxr-pneumonia",
        "intended_use": "Flags chest radiographs with pneumonia for prioritised reading.",
        "operating_threshold": 0.5, "contact": "qa@acme.example",
        "training_data": {"summary": "12,000 radiographs from three hospitals, 2019-2023."},
    }
    data.update(changes)
    path = tmp_path / "card.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(("changes", "fragment"), [({"operating_threshold": 1.5}, "operating_threshold"),
                                                   ({"vendor": "bad vendor"}, "vendor"),
                                                   ({"colour": "x"}, "colour")])
def test_bad_cards_are_named(tmp_path, changes, fragment):
    with pytest.raises(InvalidInput, match=fragment):
        load_model_card(_card(tmp_path, **changes))


@pytest.fixture
def vendors(sqlite_platform):
    p = sqlite_platform
    admin = resolve_principal(p)
    publish_protocol(p, admin, load_protocol_file(ROOT / "examples" / "protocols" / "cxr-pneumonia.yaml"))
    who = {"admin": admin}
    for org in ("acme", "globex"):
        accounts.create_org(p, admin, org, org.title(), "vendor")
        accounts.create_user(p, admin, username=f"{org}-dev", printed_name=org, role="vendor", org=org)
        token, _ = accounts.create_token(p, admin, username=f"{org}-dev")
        who[org] = accounts.authenticate(p, token)
    return p, who


def test_submit_registers_in_mlflow_and_keeps_a_read_only_copy(vendors, good_model, tmp_path):
    p, who = vendors
    info = submit_model(p, who["acme"], good_model, load_model_card(_card(tmp_path)))
    assert info.state == "submitted" and info.id == "sub-00001"
    stored = model_path(p, info.model_sha256)
    assert check_model_dir(stored, view="dicom").sha256 == info.model_sha256
    assert not os.access(stored / "model.py", os.W_OK) or os.geteuid() == 0
    assert not (stored.stat().st_mode & 0o222)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=p.settings.mlflow_tracking_uri)
    mv = client.get_model_version_by_alias("acme.pneumo-net", "submitted")
    assert str(mv.version) == info.mlflow_version
    assert mv.tags["clinval.sha256"] == info.model_sha256 and mv.tags["clinval.vendor"] == "acme"
    assert mv.tags["clinval.protocol"] == f"cxr-pneumonia@{info.protocol_version}" and info.protocol_version >= 1
    assert [s.id for s in list_submissions(p, who["acme"])] == ["sub-00001"]
    assert list_submissions(p, who["globex"]) == []
    with pytest.raises(AccessDenied):
        get_submission(p, who["globex"], "sub-00001")


def test_a_vendor_cannot_submit_for_another(vendors, good_model, tmp_path):
    p, who = vendors
    with pytest.raises(AccessDenied):
        submit_model(p, who["globex"], good_model, load_model_card(_card(tmp_path)))
    with pytest.raises(AccessDenied):
        submit_model(p, who["admin"], good_model, load_model_card(_card(tmp_path)))


def test_unknown_protocol_and_rejected_model(vendors, good_model, tmp_path):
    p, who = vendors
    with pytest.raises(NotFound):
        submit_model(p, who["acme"], good_model, load_model_card(_card(tmp_path, protocol_id="aki-48h")))
    bad = _copy(good_model, tmp_path / "bad")
    os.symlink("/etc/passwd", bad / "link")
    info = submit_model(p, who["acme"], bad, ModelCard.model_validate(yaml.safe_load(_card(tmp_path).read_text())))
    assert info.state == "rejected" and any("symbolic link" in r for r in info.reasons)
    assert info.mlflow_name is None


def test_cli_submit_shows_reasons(vendors, good_model, tmp_path):
    p, who = vendors
    token, _ = accounts.create_token(p, who["admin"], username="acme-dev")
    runner = CliRunner(env={"CLINVAL_HOME": str(p.settings.home), "CLINVAL_TOKEN": token})
    r = runner.invoke(cli, ["submit", str(good_model), "--card", str(_card(tmp_path))])
    assert r.exit_code == 0 and "SUBMITTED" in r.output, r.output
    bad = _copy(good_model, tmp_path / "bad")
    os.symlink("/etc/passwd", bad / "link")
    r = runner.invoke(cli, ["submit", str(bad), "--card", str(_card(tmp_path))])
    assert r.exit_code == 1 and "REJECTED" in r.output and "symbolic link" in r.output
    r = runner.invoke(cli, ["submission", "list", "--json"])
    assert r.exit_code == 0 and len(__import__("json").loads(r.output)) == 2
