"""ROC and precision-recall curves and average precision against sklearn and hand-worked values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evaluators import average_precision, pr_curve, roc_curve


def test_roc_curve_matches_sklearn_without_dropping(rng):
    from sklearn.metrics import roc_curve as sk_roc

    y = rng.random(300) < 0.4
    s = np.round(rng.normal(size=300) + y, 1)
    fpr, tpr, thr = roc_curve(y, s)
    sk_fpr, sk_tpr, sk_thr = sk_roc(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    np.testing.assert_allclose(thr[1:], sk_thr[1:])
    assert thr[0] == np.inf


def test_roc_curve_hand_worked():
    fpr, tpr, thr = roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    np.testing.assert_allclose(thr, [np.inf, 0.8, 0.4, 0.35, 0.1])
    np.testing.assert_allclose(tpr, [0, 0.5, 0.5, 1, 1])
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 0.5, 1])


def test_trapezoid_area_under_roc_curve_is_auroc(rng):
    from evaluators import auroc

    y = rng.random(200) < 0.5
    s = rng.integers(0, 10, size=200)
    fpr, tpr, _ = roc_curve(y, s)
    assert np.trapezoid(tpr, fpr) == pytest.approx(auroc(y, s), abs=1e-12)


def test_pr_curve_bruteforce(rng):
    y = rng.random(100) < 0.3
    s = rng.integers(0, 8, size=100).astype(float)
    precision, recall, thr = pr_curve(y, s)
    for p, r, t in zip(precision, recall, thr):
        pred = s >= t
        assert p == pytest.approx((pred & y).sum() / pred.sum())
        assert r == pytest.approx((pred & y).sum() / y.sum())
    assert np.all(np.diff(thr) < 0)


def test_average_precision_matches_sklearn(rng):
    from sklearn.metrics import average_precision_score

    for _ in range(3):
        y = rng.random(250) < 0.2
        s = np.round(rng.normal(size=250) + y, 1)
        w = rng.random(250)
        assert average_precision(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12)
        assert average_precision(y, s, sample_weight=w) == pytest.approx(
            average_precision_score(y, s, sample_weight=w), abs=1e-12)


def test_no_positive_gives_nan():
    assert math.isnan(average_precision([0, 0], [0.1, 0.2]))
    _, tpr, _ = roc_curve([0, 0], [0.1, 0.2])
    assert np.all(np.isnan(tpr))


def test_average_precision_with_integer_weights_equals_repeating_cases():
    # A bootstrap resample is integer weights, zeros included: it must equal the AP of the cases repeated.
    rng = np.random.default_rng(7)
    for _ in range(50):
        y = (rng.random(30) < 0.4).astype(int)
        y[:2] = [0, 1]
        s = rng.random(30)
        w = rng.multinomial(30, np.full(30, 1 / 30))
        if w[y == 1].sum() == 0:
            continue
        expanded = average_precision(np.repeat(y, w), np.repeat(s, w))
        assert average_precision(y, s, sample_weight=w) == pytest.approx(expanded, abs=1e-12)
