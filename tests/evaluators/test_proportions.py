"""Wilson and Clopper-Pearson intervals against statsmodels' published test values, and threshold metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evaluators import InvalidParameterError, proportion_ci, threshold_metrics


@pytest.mark.parametrize(
    ("k", "method", "low", "high"),
    [  # statsmodels test_proportion.py values (../shared/reference/README.md)
        (18, "wilson", 0.6989663547715128, 0.972133518786232),
        (18, "clopper-pearson", 0.6830172859809176, 0.9876514728297052),
        (4, "wilson", 0.0806576625797981, 0.4160174322518935),
        (4, "clopper-pearson", 0.05733399705003284, 0.436614002996668),
    ],
)
def test_published_intervals(k, method, low, high):
    e = proportion_ci(k, 20, method=method)
    assert e.estimate == k / 20
    assert e.ci_low == pytest.approx(low, abs=1e-12)
    assert e.ci_high == pytest.approx(high, abs=1e-12)
    assert e.method == method and e.n == 20


@pytest.mark.parametrize("method", ["wilson", "clopper-pearson"])
@pytest.mark.parametrize(("k", "n"), [(0, 7), (7, 7), (3, 11), (250, 1000)])
def test_matches_statsmodels(method, k, n):
    from statsmodels.stats.proportion import proportion_confint

    sm_method = {"wilson": "wilson", "clopper-pearson": "beta"}[method]
    low, high = proportion_confint(k, n, alpha=0.1, method=sm_method)
    e = proportion_ci(k, n, method=method, level=0.9)
    assert (e.ci_low, e.ci_high) == pytest.approx((low, high), abs=1e-10)


def test_empty_and_invalid():
    e = proportion_ci(0, 0)
    assert math.isnan(e.estimate) and "n=0" in e.note
    with pytest.raises(InvalidParameterError, match="cannot exceed"):
        proportion_ci(5, 4)
    with pytest.raises(InvalidParameterError, match="method"):
        proportion_ci(1, 4, method="wald")
    with pytest.raises(InvalidParameterError, match="count"):
        proportion_ci(1.5, 4)


def test_threshold_table_and_proportions(rng):
    y = rng.random(400) < 0.3
    s = rng.random(400) * 0.6 + 0.4 * y
    m = threshold_metrics(y, s, threshold=0.5, ci="clopper-pearson")
    pred = s >= 0.5
    assert (m.tp, m.fp, m.tn, m.fn) == (
        int((pred & y).sum()), int((pred & ~y).sum()), int((~pred & ~y).sum()), int((~pred & y).sum()))
    expected = proportion_ci(m.tp, m.tp + m.fn, method="clopper-pearson")
    assert (m.sensitivity.estimate, m.sensitivity.ci_low) == (expected.estimate, expected.ci_low)
    assert m.specificity.estimate == m.tn / (m.tn + m.fp)
    assert m.ppv.estimate == m.tp / (m.tp + m.fp)
    assert m.npv.estimate == m.tn / (m.tn + m.fn)
    assert m.accuracy.estimate == (m.tp + m.tn) / 400
    assert m.f1.estimate == pytest.approx(2 * m.tp / (2 * m.tp + m.fp + m.fn))
    assert m.table().to_numpy().tolist() == [[m.tp, m.fp], [m.fn, m.tn]]


def test_score_equal_to_threshold_is_positive():
    m = threshold_metrics([1, 0], [0.5, 0.5], threshold=0.5)
    assert (m.tp, m.fp) == (1, 1)


def test_adjusted_predictive_values_bayes():
    y = np.array([1] * 50 + [0] * 50)
    s = np.array([0.9] * 45 + [0.1] * 5 + [0.9] * 10 + [0.1] * 40)  # sens 0.9, spec 0.8
    m = threshold_metrics(y, s, threshold=0.5, prevalence=0.1)
    assert m.ppv_adjusted.estimate == pytest.approx(0.9 * 0.1 / (0.9 * 0.1 + 0.2 * 0.9))
    assert m.npv_adjusted.estimate == pytest.approx(0.8 * 0.9 / (0.8 * 0.9 + 0.1 * 0.1))
    assert m.ppv_adjusted.ci_low < m.ppv_adjusted.estimate < m.ppv_adjusted.ci_high
    assert set(m.estimates()) >= {"ppv_adjusted", "npv_adjusted", "sensitivity"}


def test_no_negatives_specificity_undefined():
    m = threshold_metrics([1, 1], [0.9, 0.2], threshold=0.5)
    assert math.isnan(m.specificity.estimate) and "no reference-negative" in m.specificity.note
    assert m.sensitivity.estimate == 0.5


def test_threshold_must_be_finite():
    with pytest.raises(InvalidParameterError, match="threshold"):
        threshold_metrics([1, 0], [0.9, 0.2], threshold=float("nan"))
