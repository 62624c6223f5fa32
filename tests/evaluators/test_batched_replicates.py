"""Bootstraps evaluated for many replicates at once equal a brute-force loop over the same replicates.

``calibration_ci`` refits the recalibration of every replicate from per-bin Taylor moments and
``average_precision_ci`` evaluates a whole chunk of replicates from one sort. The references here take the
replicates' counts one at a time from :func:`evaluators.bootstrap_counts` (its documented draw protocol) and compute
each statistic directly over the cases: a per-replicate Newton-Raphson with step halving written below (the
method ``calibration_ci`` used before), statsmodels' GLM for a few replicates, and ``average_precision`` with the
counts as sample weights.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluators import (
    average_precision,
    average_precision_ci,
    bootstrap_counts,
    calibration_ci,
    percentile_interval,
)
from evaluators._bootstrap import draw_counts, draw_weights, make_layout, seed_sequence
from evaluators_reference import clipped_logit, recalibration_fit


def _reference_calibration(y, p, *, n_boot, seed, strata=None, clusters=None):
    """Per replicate: counts from bootstrap_counts, statistics computed directly."""
    yf, x = y.astype(float), clipped_logit(p)
    if clusters is None:
        key = y.astype(int) if strata is None else y.astype(int) + 2 * np.unique(strata, return_inverse=True)[1]
    else:
        key = strata
    bins = np.minimum((p * 10).astype(int), 9)
    reps = {name: np.empty(n_boot) for name in ("brier", "ece", "calibration_intercept", "calibration_slope")}
    for b in range(n_boot):
        w = bootstrap_counts(len(y), n_boot=n_boot, seed=seed, strata=key, clusters=clusters, start=b,
                             stop=b + 1)[0].astype(float)
        reps["brier"][b] = np.sum(w * (p - yf) ** 2) / w.sum()
        reps["ece"][b] = sum(abs(np.sum(w[bins == k] * (yf[bins == k] - p[bins == k]))) for k in range(10)) / w.sum()
        reps["calibration_intercept"][b] = recalibration_fit(w, yf, x, slope=False)
        reps["calibration_slope"][b] = recalibration_fit(w, yf, x, slope=True)
    return reps


def _assert_same_interval(estimate, replicates, *, tol):
    low, high = percentile_interval(replicates)
    assert estimate.ci_low == pytest.approx(low, abs=tol, nan_ok=True)
    assert estimate.ci_high == pytest.approx(high, abs=tol, nan_ok=True)
    n_bad = int(np.sum(~np.isfinite(replicates)))
    assert (f"{n_bad} of {replicates.size}" in estimate.note) == (n_bad > 0)


def _data(rng, n, *, k=1.0, prevalence_shift=-0.5):
    logit = rng.normal(prevalence_shift, 1.5, n)
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    return y, 1 / (1 + np.exp(-k * logit))


@pytest.mark.parametrize("n, k", [(400, 1.0), (150, 3.0), (300, 0.25), (40, 1.0)])
def test_calibration_replicates_match_direct_fits(rng, n, k):
    # k = 3: scores too extreme (slope ~ 1/3); k = 0.25: too timid (slope ~ 4, wide bins for the series)
    y, p = _data(rng, n, k=k)
    est = calibration_ci(y, p, n_boot=60, seed=11)
    ref = _reference_calibration(y, p, n_boot=60, seed=11)
    for name, reps in ref.items():
        _assert_same_interval(est[name], reps, tol=1e-10)


def test_calibration_replicates_with_extreme_and_tied_probabilities(rng):
    y, p = _data(rng, 300)
    p[:20], p[20:40] = 0.0, 1.0  # logits clipped at +-27.6
    p[40:120] = np.round(p[40:120], 1) * 0.9 + 0.033  # ties, none on an ECE bin edge
    est = calibration_ci(y, p, n_boot=50, seed=3)
    for name, reps in _reference_calibration(y, p, n_boot=50, seed=3).items():
        _assert_same_interval(est[name], reps, tol=1e-10)


def test_calibration_replicates_near_separation_are_dropped_alike():
    # classes overlap on two cases only: many replicates are separated and must be dropped, as by the direct fit
    p = np.linspace(0.05, 0.95, 24)
    y = p > 0.5
    y[[10, 13]] = ~y[[10, 13]]
    est = calibration_ci(y, p, n_boot=80, seed=5)
    ref = _reference_calibration(y, p, n_boot=80, seed=5)
    assert np.isnan(ref["calibration_slope"]).sum() > 0
    _assert_same_interval(est["calibration_slope"], ref["calibration_slope"], tol=1e-9)
    _assert_same_interval(est["calibration_intercept"], ref["calibration_intercept"], tol=1e-10)


def test_calibration_replicates_with_strata_and_clusters(rng):
    y, p = _data(rng, 240)
    site = rng.integers(0, 3, 240)
    est = calibration_ci(y, p, n_boot=40, seed=9, strata=site)
    for name, reps in _reference_calibration(y, p, n_boot=40, seed=9, strata=site).items():
        _assert_same_interval(est[name], reps, tol=1e-10)
    patient = np.arange(240) // 3
    site = patient % 4
    est = calibration_ci(y, p, n_boot=40, seed=9, strata=site, clusters=patient)
    for name, reps in _reference_calibration(y, p, n_boot=40, seed=9, strata=site, clusters=patient).items():
        _assert_same_interval(est[name], reps, tol=1e-10)


def test_replicate_fits_agree_with_statsmodels(rng):
    sm = pytest.importorskip("statsmodels.api")
    y, p = _data(rng, 200, k=2.0)
    x = clipped_logit(p)
    from evaluators._calibration import _bin_index, _replicates

    bins, _ = _bin_index(p, 10, "uniform")
    reps = _replicates(y.astype(float), p, x, bins, 10, key=y.astype(np.intp), clusters=None, n_boot=5, seed=2,
                       workers=1, slope_hat=0.5)
    for b in range(5):
        w = bootstrap_counts(200, n_boot=5, seed=2, strata=y, start=b, stop=b + 1)[0].astype(float)
        fit = sm.GLM(y.astype(float), sm.add_constant(x), family=sm.families.Binomial(), freq_weights=w).fit(
            tol=1e-13)
        assert reps["calibration_slope"][b] == pytest.approx(fit.params[1], rel=1e-8)


def test_calibration_bca_and_workers_unchanged(rng):
    y, p = _data(rng, 120)
    one = calibration_ci(y, p, n_boot=40, seed=1, method="bca")
    two = calibration_ci(y, p, n_boot=40, seed=1, method="bca", workers=2)
    assert one == two
    for e in one.values():
        assert e.method == "bootstrap-bca" and e.ci_low <= e.ci_high


def _reference_ap_interval(y, s, *, n_boot, seed, strata):
    reps = np.empty(n_boot)
    for b in range(n_boot):
        w = bootstrap_counts(len(y), n_boot=n_boot, seed=seed, strata=strata, start=b, stop=b + 1)[0]
        reps[b] = average_precision(y, s, sample_weight=w)
    return reps


@pytest.mark.parametrize("ties", [False, True])
def test_average_precision_ci_matches_loop(rng, ties):
    y = rng.random(300) < 0.3
    s = rng.random(300) + 0.4 * y
    if ties:
        s = np.round(s, 1)
    est = average_precision_ci(y, s, n_boot=80, seed=4)
    assert est.estimate == average_precision(y, s)
    _assert_same_interval(est, _reference_ap_interval(y, s, n_boot=80, seed=4, strata=y), tol=1e-12)
    site = rng.integers(0, 4, 300)
    est = average_precision_ci(y, s, n_boot=40, seed=4, strata=site)
    key = y.astype(int) + 2 * site
    _assert_same_interval(est, _reference_ap_interval(y, s, n_boot=40, seed=4, strata=key), tol=1e-12)


def test_average_precision_ci_undefined_without_positive():
    est = average_precision_ci([0, 0, 0], [0.1, 0.2, 0.3], n_boot=10, seed=0)
    assert math.isnan(est.estimate) and "no positive" in est.note


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(0, 30), min_size=1, max_size=4), seed=st.integers(0, 2**32),
       repeat=st.booleans())
def test_draw_weights_are_the_counts_gathered(sizes, seed, repeat):
    sizes = np.array(sizes, dtype=np.intp)
    n = int(sizes.sum())
    gen = np.random.default_rng(seed)
    columns = gen.integers(0, max(n, 1), size=n + 3) if repeat and n else gen.permutation(n)
    root = seed_sequence(seed)
    expected = draw_counts(sizes, root, 3, 7)[:, columns].astype(float)
    assert np.array_equal(draw_weights(sizes, root, 3, 7, columns), expected)


def test_layout_of_class_strata_is_what_calibration_uses(rng):
    y = rng.random(50) < 0.4
    layout = make_layout(50, strata=y.astype(int))
    assert layout.sizes.tolist() == [int((~y).sum()), int(y.sum())]


def test_replicates_the_series_cannot_certify_are_refitted_directly(rng, monkeypatch):
    from evaluators import _recalibration

    y, p = _data(rng, 150, k=0.5)
    ref = _reference_calibration(y, p, n_boot=30, seed=8)
    series = calibration_ci(y, p, n_boot=30, seed=8)
    monkeypatch.setattr(_recalibration, "RHO_MAX", 0.0)  # no replicate certified: all refitted over their cases
    direct = calibration_ci(y, p, n_boot=30, seed=8)
    for name in ("calibration_intercept", "calibration_slope"):
        _assert_same_interval(series[name], ref[name], tol=1e-10)
        _assert_same_interval(direct[name], ref[name], tol=1e-10)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(4, 60), k=st.sampled_from([0.3, 1.0, 4.0]), shift=st.floats(-2.0, 2.0),
       seed=st.integers(0, 2**32 - 1), decimals=st.sampled_from([None, 1, 2]))
def test_calibration_replicates_match_direct_fits_on_small_samples(n, k, shift, seed, decimals):
    gen = np.random.default_rng(seed)
    y, p = _data(gen, n, k=k, prevalence_shift=shift)
    if decimals is not None:
        p = np.round(p, decimals) * 0.9 + 0.033  # ties, none on an ECE bin edge
    if y.all() or not y.any():
        y[0] = not y[0]
    est = calibration_ci(y, p, n_boot=20, seed=seed)
    for name, reps in _reference_calibration(y, p, n_boot=20, seed=seed).items():
        _assert_same_interval(est[name], reps, tol=1e-9)
