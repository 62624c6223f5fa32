"""The flawed example models are flawed where they claim to be, and only there: each saved model scores the 16
hospitals of the test centre in this process and the evaluators read the scores."""

from __future__ import annotations

import numpy as np
import pytest
from examples_centre import MGDL_SITES, MONOCHROME1_SITES, MONOCHROME2_SITES, SITES, UMOL_SITES, pooled

from evaluators import auroc, calibration_slope, ece

pytestmark = pytest.mark.filterwarnings("ignore:.*Add type hints:UserWarning")  # mlflow advice, coloured


def _auroc(frame) -> float:
    return auroc(frame["label"].to_numpy(), frame["score"].to_numpy())


def _specificity(frame, threshold: float) -> float:
    negatives = frame[frame["label"] == 0]
    return float((negatives["score"] < threshold).mean())


def _sensitivity(frame, threshold: float) -> float:
    positives = frame[frame["label"] == 1]
    return float((positives["score"] >= threshold).mean())


def test_every_site_has_both_classes(scores):
    for (name, site), frame in scores.items():
        assert 0 < frame["label"].sum() < len(frame), (name, site)


@pytest.mark.parametrize("site", MONOCHROME2_SITES)
def test_mono_blind_scores_like_the_competent_model_at_monochrome2_sites(scores, site):
    blind, competent = scores["cxr-mono-blind", site], scores["cxr-opacity", site]
    np.testing.assert_allclose(blind["score"], competent["score"], rtol=1e-12, atol=1e-15)


def test_mono_blind_calls_nearly_everyone_positive_at_monochrome1_sites(scores, thresholds):
    blind, competent = pooled(scores, "cxr-mono-blind", MONOCHROME1_SITES), pooled(scores, "cxr-opacity",
                                                                                 MONOCHROME1_SITES)
    # inverted, the lungs are the brightest part of the chest: both lung fields look consolidated
    blind_specificity = _specificity(blind, thresholds["cxr-mono-blind"])
    assert blind_specificity <= 0.1
    assert _specificity(competent, thresholds["cxr-opacity"]) >= blind_specificity + 0.3
    for site in MONOCHROME1_SITES:
        assert scores["cxr-mono-blind", site]["score"].median() >= 0.85, site
    assert pooled(scores, "cxr-mono-blind", MONOCHROME2_SITES)["score"].median() <= 0.5


def test_competent_cxr_beats_mono_blind_at_monochrome1_sites(scores):
    m1 = _auroc(pooled(scores, "cxr-opacity", MONOCHROME1_SITES)), _auroc(pooled(scores, "cxr-mono-blind",
                                                                                 MONOCHROME1_SITES))
    assert m1[0] - m1[1] >= 0.15, m1
    m2 = _auroc(pooled(scores, "cxr-opacity", MONOCHROME2_SITES)), _auroc(pooled(scores, "cxr-mono-blind",
                                                                                 MONOCHROME2_SITES))
    assert abs(m2[0] - m2[1]) <= 1e-9, m2


def test_competent_cxr_ranks_well_at_every_kind_of_site(scores):
    # pooled over the hospitals that differ from DEV in the ways a careful model must absorb: MONOCHROME1,
    # other bit depths, fields of view (PixelSpacing), processing curves, noise and gain non-uniformity
    for sites in (MONOCHROME1_SITES, ("H08", "H11", "H15"), ("H02", "H05", "H07", "H16")):
        assert _auroc(pooled(scores, "cxr-opacity", sites)) >= 0.8, sites


@pytest.mark.parametrize("site", UMOL_SITES)
def test_mgdl_only_loses_umol_sites(scores, thresholds, site):
    flawed, competent = scores["aki-mgdl-only", site], scores["aki-risk", site]
    assert (flawed["score"] == 1.0).all()  # 60 umol/L read as 60 mg/dL: the kidney-failure rule fires for all
    assert _specificity(flawed, thresholds["aki-mgdl-only"]) == 0.0
    assert _auroc(competent) - _auroc(flawed) >= 0.1
    assert _specificity(competent, thresholds["aki-risk"]) >= 0.1  # low: a sensitive early-warning threshold


@pytest.mark.parametrize("site", MGDL_SITES)
def test_mgdl_only_is_as_good_at_mgdl_sites(scores, thresholds, site):
    flawed, competent = scores["aki-mgdl-only", site], scores["aki-risk", site]
    assert abs(_auroc(competent) - _auroc(flawed)) <= 0.05
    assert abs(_specificity(competent, thresholds["aki-risk"])
               - _specificity(flawed, thresholds["aki-mgdl-only"])) <= 0.25  # two fits, about 30 negatives a site
    assert (flawed["score"] < 1.0).all()


def test_mgdl_only_pooled_auroc_drops(scores):
    competent, flawed = pooled(scores, "aki-risk", SITES), pooled(scores, "aki-mgdl-only", SITES)
    assert _auroc(competent) - _auroc(flawed) >= 0.1


@pytest.mark.parametrize("site", SITES)
def test_miscalibrated_ranks_and_classifies_like_its_source(scores, thresholds, site):
    tempered, source = scores["aki-miscalibrated", site], scores["aki-risk", site]
    assert _auroc(tempered) == pytest.approx(_auroc(source), abs=1e-12)
    # its card's threshold is the source's operating point mapped through the same tempering: the same 2x2 table
    for rate in (_sensitivity, _specificity):
        assert rate(tempered, thresholds["aki-miscalibrated"]) == rate(source, thresholds["aki-risk"])


def test_miscalibrated_fails_calibration(scores):
    tempered, source = pooled(scores, "aki-miscalibrated", SITES), pooled(scores, "aki-risk", SITES)
    y = source["label"].to_numpy()
    slope_source, slope_tempered = (calibration_slope(y, f["score"].to_numpy()) for f in (source, tempered))
    assert 0.5 <= slope_source <= 1.5, slope_source  # the source model: within protocol aki-48h's [0.5, 1.5]
    assert slope_tempered >= 2.0, slope_tempered  # far too timid
    ece_source, ece_tempered = (ece(y, f["score"].to_numpy()) for f in (source, tempered))
    assert ece_tempered >= ece_source + 0.02, (ece_source, ece_tempered)


@pytest.mark.parametrize("site", SITES)
def test_miscalibrated_slope_is_four_times_its_source(scores, site):
    # logit(tempered) = logit(source) / 4, so the maximum-likelihood calibration slope is exactly 4 times larger
    tempered, source = scores["aki-miscalibrated", site], scores["aki-risk", site]
    y = source["label"].to_numpy()
    slopes = [calibration_slope(y, f["score"].to_numpy()) for f in (source, tempered)]
    assert slopes[1] == pytest.approx(4 * slopes[0], rel=1e-6), slopes
