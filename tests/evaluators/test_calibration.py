"""Calibration: Brier vs sklearn, ECE by a loop, logistic recalibration vs statsmodels GLM, bootstrap intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evaluators import (
    InvalidInputError,
    brier_score,
    calibration_ci,
    calibration_intercept,
    calibration_slope,
    ece,
    reliability_curve,
)


@pytest.fixture()
def probs(rng):
    p = rng.random(800)
    y = rng.random(800) < p**1.4
    return y, p


def test_brier_matches_sklearn(probs):
    from sklearn.metrics import brier_score_loss

    y, p = probs
    assert brier_score(y, p) == pytest.approx(brier_score_loss(y, p), abs=1e-14)


def _ece_loop(y, p, n_bins):
    total = 0.0
    for k in range(n_bins):
        lo, hi = k / n_bins, (k + 1) / n_bins
        sel = (p >= lo) & ((p < hi) if k < n_bins - 1 else (p <= hi))
        if sel.any():
            total += sel.sum() / len(p) * abs(y[sel].mean() - p[sel].mean())
    return total


@pytest.mark.parametrize("n_bins", [5, 10, 15])
def test_ece_matches_loop(probs, n_bins):
    y, p = probs
    p = np.round(p, 3)  # avoid values within rounding of a bin edge
    assert ece(y, p, n_bins=n_bins) == pytest.approx(_ece_loop(y, p, n_bins), abs=1e-12)


def test_ece_quantile_bins_are_equal_count(probs):
    y, p = probs
    curve = reliability_curve(y, p, n_bins=8, strategy="quantile")
    assert set(curve["n"]) == {100}
    expected = sum(r.n / 800 * abs(r.observed - r.mean_predicted) for r in curve.itertuples())
    assert ece(y, p, n_bins=8, strategy="quantile") == pytest.approx(expected)


def test_reliability_curve_matches_sklearn(probs):
    from sklearn.calibration import calibration_curve

    y, p = probs
    frac, mean_pred = calibration_curve(y, p, n_bins=10)
    curve = reliability_curve(y, p, n_bins=10)
    np.testing.assert_allclose(curve["observed"], frac)
    np.testing.assert_allclose(curve["mean_predicted"], mean_pred)
    assert np.all(curve["ci_low"] <= curve["observed"]) and np.all(curve["observed"] <= curve["ci_high"])


def test_slope_and_intercept_match_statsmodels(probs):
    import statsmodels.api as sm

    y, p = probs
    x = np.log(p / (1 - p))
    slope_fit = sm.GLM(y.astype(float), sm.add_constant(x), family=sm.families.Binomial()).fit()
    offset_fit = sm.GLM(y.astype(float), np.ones((len(y), 1)), family=sm.families.Binomial(), offset=x).fit()
    assert calibration_slope(y, p) == pytest.approx(slope_fit.params[1], rel=1e-8)
    assert calibration_intercept(y, p) == pytest.approx(offset_fit.params[0], rel=1e-8)


def test_perfectly_calibrated_large_sample(rng):
    p = rng.uniform(0.05, 0.95, size=200_000)
    y = rng.random(p.size) < p
    assert calibration_slope(y, p) == pytest.approx(1.0, abs=0.03)
    assert calibration_intercept(y, p) == pytest.approx(0.0, abs=0.02)
    assert ece(y, p) < 0.01


def test_calibration_ci_contains_estimates_and_is_reproducible(probs):
    y, p = probs
    a = calibration_ci(y, p, n_boot=200, seed=4)
    b = calibration_ci(y, p, n_boot=200, seed=4, workers=2)
    assert a == b
    assert set(a) == {"brier", "ece", "calibration_intercept", "calibration_slope"}
    assert a["brier"].estimate == pytest.approx(brier_score(y, p))
    assert a["calibration_slope"].estimate == pytest.approx(calibration_slope(y, p))
    for e in a.values():
        assert e.ci_low <= e.estimate <= e.ci_high
        assert e.n == 800 and e.method == "bootstrap-percentile"


def test_undefined_cases():
    assert math.isnan(calibration_slope([1, 1, 1], [0.2, 0.5, 0.9]))
    # complete separation: the slope diverges, reported as NaN rather than a made-up number
    assert math.isnan(calibration_slope([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]))
    with pytest.raises(InvalidInputError, match="probabilities"):
        brier_score([0, 1], [0.5, 1.5])


@pytest.mark.parametrize("k", [2, 3, 4, 6])
def test_slope_of_overconfident_scores_matches_statsmodels(k):
    # Scores k times too extreme: the true slope is about 1/k. A plain Newton step from b = 1 overshoots here.
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(0)
    logit = rng.normal(-1.8, 1.0, 150)
    y = (rng.random(150) < 1 / (1 + np.exp(-logit))).astype(int)
    p = 1 / (1 + np.exp(-k * logit))
    x = np.log(p / (1 - p))
    expected = sm.Logit(y, sm.add_constant(x)).fit(disp=0).params[1]
    assert calibration_slope(y, p) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("level", [0.0, 1.0, 2.0, float("nan")])
def test_calibration_ci_refuses_a_bad_level_before_bootstrapping(level):
    from evaluators import InvalidParameterError

    y = np.array([0, 1] * 20)
    with pytest.raises(InvalidParameterError, match="level must be strictly between 0 and 1"):
        calibration_ci(y, np.linspace(0.1, 0.9, 40), level=level, n_boot=10, seed=1)
