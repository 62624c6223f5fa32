"""A run end to end on the local executor: sandboxed per-site inference, scoring, verdicts, audit, access."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from validation.exceptions import AccessDenied, Conflict
from validation.runs import case_results, evaluate, get_results, get_run, list_runs, run_dir

EVAL_SITES = ["H01", "H05", "H09"]  # the hospitals of the shared run-test world (tests/runs/conftest.py)


def _auroc_by_pairs(y: np.ndarray, s: np.ndarray) -> float:
    pos, neg = s[y == 1], s[y == 0]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


@pytest.fixture(scope="module")
def scored(world):
    platform, people, submission, corpus = world
    info = evaluate(platform, people["admin"], submission, corpus, batch_size=10)
    return info


def test_run_is_scored_complete_and_sandboxed(world, scored):
    assert scored.state == "scored" and scored.complete
    assert [s.site for s in scored.sites] == EVAL_SITES
    assert all(s.state == "done" and s.batches_done == s.n_batches for s in scored.sites)
    assert scored.isolation == "bwrap"
    assert scored.versions["clinval"] and scored.protocol_sha256 and scored.results_sha256


def test_overall_auroc_matches_pair_counting_on_the_stored_predictions(world, scored):
    platform, people, _, corpus = world
    rdir = run_dir(platform, scored.id)
    from validation.corpora import corpus_dir

    preds = pd.concat([pd.read_parquet(f) for f in sorted((rdir / "predictions").rglob("batch-*.parquet"))])
    labels = pd.concat([pd.read_parquet(corpus_dir(platform, corpus) / "labels" / s / "labels.parquet")
                        for s in EVAL_SITES])
    joined = preds.merge(labels, on="case_id")
    assert len(joined) == len(preds) == sum(s.n_cases for s in scored.sites)
    assert not preds["case_id"].duplicated().any()
    res = get_results(platform, people["admin"], scored.id)
    overall = next(r for r in res.results if r["metric"] == "auroc" and r["group_kind"] == "overall")
    expected = _auroc_by_pairs(joined["label"].to_numpy(), joined["score"].to_numpy())
    assert overall["estimate"] == pytest.approx(expected, abs=1e-12)
    assert overall["ci_low"] < overall["estimate"] < overall["ci_high"] and overall["ci_method"] == "delong"
    site_rows = {r["group"]: r for r in res.results if r["metric"] == "auroc" and r["group_kind"] == "site"}
    assert set(site_rows) == set(EVAL_SITES)
    for site in EVAL_SITES:
        part = joined[joined["case_id"].isin(preds.loc[preds.index, "case_id"])]
        part = joined[joined["site"] == site]
        if 0 < part["label"].sum() < len(part):
            assert site_rows[site]["estimate"] == pytest.approx(
                _auroc_by_pairs(part["label"].to_numpy(), part["score"].to_numpy()), abs=1e-12)


def test_threshold_table_uses_the_declared_threshold(world, scored):
    platform, people, _, _ = world
    res = get_results(platform, people["admin"], scored.id)
    sens = next(r for r in res.results if r["metric"] == "sensitivity" and r["group_kind"] == "overall")
    rdir = run_dir(platform, scored.id)
    preds = pd.concat([pd.read_parquet(f) for f in sorted((rdir / "predictions").rglob("batch-*.parquet"))])
    from validation.corpora import corpus_dir

    labels = pd.concat([pd.read_parquet(corpus_dir(platform, scored.corpus_id) / "labels" / s / "labels.parquet")
                        for s in EVAL_SITES])
    j = preds.merge(labels, on="case_id")
    tp = int(((j["score"] >= scored.threshold) & (j["label"] == 1)).sum())
    assert sens["estimate"] == pytest.approx(tp / int(j["label"].sum()))
    assert sens["ci_method"] == "wilson"


def test_every_criterion_has_a_verdict_with_its_numbers(world, scored):
    platform, people, _, _ = world
    res = get_results(platform, people["admin"], scored.id)
    from validation.protocols import load_protocol_file

    shipped = load_protocol_file(Path(__file__).resolve().parents[2] / "examples/protocols/cxr-pneumonia.yaml")
    assert [v["criterion"] for v in res.verdicts] == [c.id for c in shipped.acceptance]
    assert len(res.verdicts) >= 4
    assert all(v["status"] in ("pass", "fail", "undetermined") for v in res.verdicts)
    assert all(v["detail"]["values"] for v in res.verdicts)


def test_each_transition_is_an_audit_event(world, scored):
    platform = world[0]
    with platform.db.read() as s:
        actions = s.execute(text("SELECT action FROM audit_events WHERE object_type = 'run' AND object_id = :r "
                                 "ORDER BY seq"), {"r": scored.id}).scalars().all()
    assert actions[0] == "run.create" and actions[1] == "run.running" and actions[-1] == "run.scored"
    assert actions.count("run.site.done") == len(EVAL_SITES)


def test_vendors_see_their_own_aggregates_with_small_cells_suppressed(world, scored):
    platform, people, _, _ = world
    res = get_results(platform, people["vendor"], scored.id)
    assert res.min_cell >= 10
    for r in res.results:
        if r["group_kind"].startswith("subgroup:") and r["n"] is None:
            assert r["estimate"] is None and r["note"].startswith("suppressed")
    admin_view = get_results(platform, people["admin"], scored.id)
    small = [r for r in admin_view.results if r["group_kind"] not in ("overall", "site_gap", "random_effects")
             and r["n"] < res.min_cell]
    assert small and res.suppressed >= len(small)
    groups_of = {(r["group_kind"], r["group"]) for r in res.results}
    hidden = {key for key in groups_of  # a group is hidden when every row of it is (its case count is nowhere)
              if all(r["n"] is None for r in res.results if (r["group_kind"], r["group"]) == key)}
    assert hidden
    for kind in {k for k, _ in hidden}:
        groups = {r["group"] for r in res.results if r["group_kind"] == kind}
        hidden_here = [g for k, g in hidden if k == kind]
        assert len(hidden_here) != 1 or len(groups) == 1, f"{kind}: one hidden group could be recovered by subtraction"
    with pytest.raises(AccessDenied):
        get_results(platform, people["other-vendor"], scored.id)
    assert scored.id not in [r.id for r in list_runs(platform, people["other-vendor"])]
    with pytest.raises(AccessDenied):
        case_results(platform, people["vendor"], scored.id, "H01")


def test_reviewers_read_cases_of_their_own_hospital_only(world, scored):
    platform, people, _, _ = world
    frame = case_results(platform, people["rev-h01"], scored.id, "H01")
    h01 = next(s for s in scored.sites if s.site == "H01")
    assert len(frame) == h01.n_cases and set(frame.columns) >= {"case_id", "score", "label", "predicted"}
    assert not frame["case_id"].str.contains("^c_", regex=True).eq(False).any()
    with pytest.raises(AccessDenied):
        case_results(platform, people["rev-h01"], scored.id, "H05")
    with pytest.raises(AccessDenied):
        get_run(platform, people["rev-h02"], scored.id)
    with pytest.raises(AccessDenied):
        case_results(platform, people["regulator"], scored.id, "H01")
    assert get_results(platform, people["regulator"], scored.id).results


def test_a_scored_run_cannot_be_resumed(world, scored):
    platform, people, _, _ = world
    from validation.runs import execute_run

    with pytest.raises(Conflict):
        execute_run(platform, people["admin"], scored.id)


def test_mlflow_tracks_the_run_with_aggregates_only_and_links_the_model_version(world, scored):
    from mlflow.tracking import MlflowClient

    platform, people, submission, _ = world
    client = MlflowClient(tracking_uri=platform.settings.mlflow_tracking_uri,
                          registry_uri=platform.settings.mlflow_tracking_uri)
    run = client.get_run(scored.mlflow_run_id)
    exp = client.get_experiment(run.info.experiment_id)
    assert exp.name == "clinval-evaluations-cxr-pneumonia"
    res = get_results(platform, people["admin"], scored.id)
    overall = next(r for r in res.results if r["metric"] == "auroc" and r["group_kind"] == "overall")
    assert run.data.metrics["auroc"] == pytest.approx(overall["estimate"])
    assert run.data.metrics["auroc.ci_low"] == pytest.approx(overall["ci_low"])
    assert {f"auroc.site.{s}" for s in EVAL_SITES} <= set(run.data.metrics)
    assert run.data.params["model_sha256"] == scored.model_sha256 and run.data.tags["clinval.vendor"] == "acme-ai"
    from validation.registry import get_submission

    sub = get_submission(platform, people["admin"], submission)
    mv = client.get_model_version(sub.mlflow_name, sub.mlflow_version)
    assert mv.tags[f"clinval.run.{scored.id}"] == scored.mlflow_run_id
    artifacts = [a.path for a in client.list_artifacts(scored.mlflow_run_id)]
    assert artifacts == ["results.json"]


def test_reviewer_signs_off_with_password_and_the_document_hash(world, scored):
    from validation.exceptions import AuthenticationError
    from validation.signoff import list_signoffs, sign_off

    platform, people, _, _ = world
    with pytest.raises(AuthenticationError):
        sign_off(platform, people["rev-h01"], scored.id, password="wrong", meaning="approve", reason="ok")
    with pytest.raises(AccessDenied):
        sign_off(platform, people["rev-h02"], scored.id, password="password for rev-h02", meaning="approve",
                 reason="not my hospital")
    done = sign_off(platform, people["rev-h01"], scored.id, password="password for rev-h01",
                    meaning="request-changes", reason="Specificity at H01 below the pre-registered bound.")
    from validation.reports import build_report, document_sha256

    assert done.document_sha256 == document_sha256(build_report(platform, people["admin"], scored.id))
    assert done.meaning == "request-changes"
    listed = list_signoffs(platform, people["regulator"], scored.id)
    assert [s.seq for s in listed] == [done.seq] and listed[0].printed_name == "rev-h01"


@pytest.mark.parametrize("fmt", ["json", "html", "pdf"])
def test_cli_writes_the_report(world, scored, tmp_path, fmt):
    from click.testing import CliRunner

    from validation.cli import cli

    platform = world[0]
    out = tmp_path / f"report.{fmt}"
    r = CliRunner(env={"CLINVAL_HOME": str(platform.settings.home)}).invoke(
        cli, ["report", scored.id, "--format", fmt, "--out", str(out)])
    assert r.exit_code == 0, r.output
    data = out.read_bytes()
    assert data.startswith({"json": b"{", "html": b"<!DOCTYPE html", "pdf": b"%PDF"}[fmt]) or (
        fmt == "html" and data.lstrip().lower().startswith(b"<!doctype html"))


def test_reviewers_see_the_deidentified_image_of_their_own_cases_only(world, scored):
    import pydicom

    from validation.corpora import corpus_dir
    from validation.runs import case_image

    platform, people, _, corpus = world
    cases = case_results(platform, people["rev-h01"], scored.id, "H01")
    case_id = cases["case_id"].iloc[0]
    image = case_image(platform, people["rev-h01"], scored.id, "H01", case_id)
    ds = pydicom.dcmread(corpus_dir(platform, corpus) / cases["input_path"].iloc[0])
    assert image.shape == ds.pixel_array.shape and image.dtype.name == "uint8"
    expected = ds.pixel_array.astype(float) / (2 ** int(ds.BitsStored) - 1)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        expected = 1 - expected
    assert np.abs(image.astype(float) - np.round(expected * 255)).max() <= 1
    with pytest.raises(AccessDenied):
        case_image(platform, people["rev-h01"], scored.id, "H05", case_id)
    for who in ("vendor", "regulator", "admin"):
        with pytest.raises(AccessDenied):
            case_image(platform, people[who], scored.id, "H01", case_id)
