"""`clinval compare`: paired DeLong between two models on the same corpus version, pooled and per site."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from validation.cli import cli
from validation.exceptions import AccessDenied
from validation.registry import ModelCard, smoke_test, submit_model
from validation.runs import evaluate, get_results
from validation.runs.compare import compare_runs

ROOT = Path(__file__).resolve().parents[2]


def _constant_model(path: Path) -> Path:
    import mlflow
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    sig = ModelSignature(inputs=Schema([ColSpec("string", "case_id"), ColSpec("string", "path")]),
                         outputs=Schema([ColSpec("string", "case_id"), ColSpec("double", "score")]))
    mlflow.pyfunc.save_model(str(path), python_model=str(ROOT / "examples" / "models" / "constant" / "model.py"),
                             pip_requirements=["mlflow==3.17.2", "pandas"], signature=sig)
    return path


@pytest.fixture(scope="module")
def two_runs(world, tmp_path_factory):
    platform, people, competent, corpus = world
    card = ModelCard.model_validate({
        "vendor": "acme-ai", "model_name": "coin-flip", "model_version": "0.1", "protocol_id": "cxr-pneumonia",
        "intended_use": "A baseline that ignores the image entirely.", "operating_threshold": 0.5,
        "training_data": {"summary": "No training data: scores are a hash of the case id."}, "contact": "x@y.z"})
    sub = submit_model(platform, people["vendor"], _constant_model(tmp_path_factory.mktemp("coin") / "m"), card)
    assert smoke_test(platform, people["vendor"], sub.id).state == "ready"
    a = evaluate(platform, people["admin"], competent, corpus, sites=["H01", "H05"], batch_size=50)
    b = evaluate(platform, people["admin"], sub.id, corpus, sites=["H01", "H05"], batch_size=50)
    return a.id, b.id


def test_difference_is_the_difference_of_the_runs_aurocs(world, two_runs):
    platform, people, _, _ = world
    rows = {(r["group_kind"], r["group"]): r for r in compare_runs(platform, people["admin"], *two_runs)}
    assert set(rows) == {("overall", "all"), ("site", "H01"), ("site", "H05")}
    ra = {(r["group_kind"], r["group"]): r for r in get_results(platform, people["admin"], two_runs[0]).results
          if r["metric"] == "auroc"}
    rb = {(r["group_kind"], r["group"]): r for r in get_results(platform, people["admin"], two_runs[1]).results
          if r["metric"] == "auroc"}
    for key in (("overall", "all"), ("site", "H01"), ("site", "H05")):
        if rows[key]["difference"] is not None:
            assert rows[key]["difference"] == pytest.approx(ra[key]["estimate"] - rb[key]["estimate"], abs=1e-12)
            assert rows[key]["ci_low"] <= rows[key]["difference"] <= rows[key]["ci_high"]
            assert 0.0 <= rows[key]["p_value"] <= 1.0


def test_other_vendors_cannot_compare_and_the_cli_prints(world, two_runs):
    platform, people, _, _ = world
    with pytest.raises(AccessDenied):
        compare_runs(platform, people["other-vendor"], *two_runs)
    r = CliRunner(env={"CLINVAL_HOME": str(platform.settings.home)}).invoke(cli, ["compare", *two_runs])
    assert r.exit_code == 0 and "A-B" in r.output, r.output
