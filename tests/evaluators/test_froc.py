"""FROC: MONAI's published score, a brute-force curve, and the matching rule."""

from __future__ import annotations

import numpy as np
import pytest

from evaluators import FPPI_POINTS, froc, froc_curve, froc_score, match_marks, within_distance


def test_monai_published_froc_score():
    # MONAI tests/test_compute_froc.py: fp_probs [0.8, 0.6], tp_probs [1, 1, 0, 0, 0.8, 0.8, 0] (0 = missed),
    # 4 targets, 2 images, sensitivities read at 0.25 ... 8 false positives per image
    score = froc_score([0.8, 0.6], [1, 1, 0.8, 0.8], n_targets=4, n_images=2, fppi_points=(0.25, 0.5, 1, 2, 4, 8))
    assert score == pytest.approx(0.95833333, abs=1e-8)


def test_curve_bruteforce(rng):
    fp = rng.random(30).round(2)
    tp = np.where(rng.random(12) < 0.8, rng.random(12).round(2), np.nan)
    fppi, sens, thr = froc_curve(fp, tp, n_targets=12, n_images=5)
    assert (fppi[0], sens[0], thr[0]) == (0.0, 0.0, np.inf)
    for f, s, t in zip(fppi[1:], sens[1:], thr[1:]):
        assert f == pytest.approx((fp >= t).sum() / 5)
        assert s == pytest.approx((tp[~np.isnan(tp)] >= t).sum() / 12)
    assert np.all(np.diff(fppi) >= 0) and np.all(np.diff(sens) >= 0)


def test_default_points_are_eighth_to_eight():
    assert FPPI_POINTS == (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


def test_matching_rule():
    targets = np.array([[10.0, 10.0], [30.0, 30.0], [50.0, 50.0]])
    marks = np.array([[11.0, 10.0], [10.0, 12.0], [31.0, 31.0], [80.0, 80.0], [30.5, 30.0]])
    scores = np.array([0.9, 0.95, 0.4, 0.7, 0.6])
    tp, fp = match_marks(marks, scores, targets, hit=within_distance(2.5))
    np.testing.assert_array_equal(tp[:2], [0.95, 0.6])  # best mark per target
    assert np.isnan(tp[2])  # missed
    np.testing.assert_array_equal(fp, [0.7])  # only the mark hitting nothing; extra hits are not FPs
    tp_aniso, _ = match_marks(marks, scores, targets, hit=within_distance(2.5, spacing=(1.0, 2.0)))
    assert tp_aniso[0] == 0.9  # with spacing (1, 2) the mark at (10, 12) is 4 units away


def test_froc_over_images():
    images = [
        (np.array([[0.0, 0.0], [5.0, 5.0]]), np.array([0.9, 0.3]), np.array([[0.0, 1.0]])),
        (np.array([[9.0, 9.0]]), np.array([0.8]), np.array([[20.0, 20.0], [9.0, 8.0]])),
        (np.zeros((0, 2)), np.zeros(0), np.zeros((0, 2))),
    ]
    result = froc(images, hit=within_distance(1.5))
    assert (result.n_images, result.n_targets, result.n_marks) == (3, 3, 3)
    # thresholds 0.9 -> 1 TP; 0.8 -> 2 TP; 0.3 -> 2 TP and 1 FP (1/3 FP per image)
    np.testing.assert_allclose(result.fppi, [0, 0, 0, 1 / 3])
    np.testing.assert_allclose(result.sensitivity, [0, 1 / 3, 2 / 3, 2 / 3])
    assert result.points[8.0] == pytest.approx(2 / 3)
    assert result.score == pytest.approx(np.mean(list(result.points.values())))
