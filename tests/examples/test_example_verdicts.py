"""The acceptance verdicts the platform would reach on the 16 hospitals of the test centre: each example model's
scores go through the platform's own scoring (:func:`validation.runs.scoring.score`, the evaluators, the shipped
protocols' rules). The competent models pass every criterion; each flawed model fails the criteria its flaw
should fail, and its worst sites are the ones its flaw concerns."""

from __future__ import annotations

import functools

import pandas as pd
import pytest
from examples_centre import MONOCHROME1_SITES, ROOT, SITES, UMOL_SITES, pooled

pytestmark = pytest.mark.filterwarnings("ignore:.*Add type hints:UserWarning")


@functools.cache
def _protocol(task: str):
    from validation.protocols import load_protocol_file

    return load_protocol_file(ROOT / "examples" / "protocols" / f"{task}.yaml")


@pytest.fixture(scope="module")
def scored(scores, thresholds, kit):
    from validation.runs.scoring import score

    out = {}
    for name, example in kit.EXAMPLES.items():
        protocol = _protocol(example.task)
        frame = pooled(scores, name, SITES)
        out[name] = score(frame, metrics=protocol.metrics, subgroups=(), threshold=thresholds[name],
                          min_n=protocol.min_cases_per_group, rules=[(c.id, c.rule) for c in protocol.acceptance],
                          run_id=f"examples-{name}")
    return out


def _failed(scored_one) -> set[str]:
    return {v["criterion"] for v in scored_one.verdicts if v["status"] != "pass"}


def _site_auroc(scored_one) -> pd.Series:
    r = scored_one.results
    return r[(r["group_kind"] == "site") & (r["metric"] == "auroc")].set_index("group")["estimate"]


def test_protocols_are_the_recalibrated_versions():
    assert _protocol("cxr-pneumonia").version == 2 and _protocol("aki-48h").version == 2


@pytest.mark.parametrize("name", ["cxr-opacity", "aki-risk"])
def test_competent_models_pass_every_criterion(scored, name):
    verdicts = scored[name].verdicts
    assert len(verdicts) >= 4
    assert _failed(scored[name]) == set(), verdicts


def test_mono_blind_fails_at_monochrome1_sites_and_on_site_consistency(scored):
    failed = _failed(scored["cxr-mono-blind"])
    assert {"site-consistency", "site-calibration-consistency"} <= failed, failed
    worst = _site_auroc(scored["cxr-mono-blind"]).nsmallest(3)
    assert set(worst.index) & set(MONOCHROME1_SITES), worst
    gain = _site_auroc(scored["cxr-opacity"]) - _site_auroc(scored["cxr-mono-blind"])
    assert gain.drop(list(MONOCHROME1_SITES)).abs().max() < 1e-9  # the flaw only matters where it should


def test_mgdl_only_fails_at_umol_sites_and_on_site_consistency(scored):
    failed = _failed(scored["aki-mgdl-only"])
    assert {"discrimination", "site-calibration-consistency", "calibration"} <= failed, failed
    per_site = _site_auroc(scored["aki-mgdl-only"])
    assert (per_site[list(UMOL_SITES)] == 0.5).all()  # every umol/L case scores 1: no ranking there
    assert set(per_site.nsmallest(len(UMOL_SITES)).index) == set(UMOL_SITES)


def test_miscalibrated_fails_calibration_only(scored):
    assert _failed(scored["aki-miscalibrated"]) == {"calibration"}
    slope = scored["aki-miscalibrated"].results
    slope = slope[(slope["group_kind"] == "overall") & (slope["metric"] == "calibration_slope")].iloc[0]
    assert slope["ci_low"] > 1.5
