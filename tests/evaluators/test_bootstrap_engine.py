"""Bootstrap engine: draw protocol, strata and clusters, interval methods, reproducibility across threads."""

from __future__ import annotations

import math

import numpy as np
import pytest
from evaluators_reference import auroc_bootstrap_loop, auroc_bruteforce, counts_loop

import evaluators._bootstrap as engine
from evaluators import (
    InvalidInputError,
    InvalidParameterError,
    auroc_ci,
    bca_interval,
    bootstrap_ci,
    bootstrap_counts,
    bootstrap_replicates,
    jackknife_values,
    percentile_interval,
)


def _weighted_mean(values):
    values = np.asarray(values, dtype=float)
    return lambda w: (w @ values) / w.sum(axis=1)


def test_counts_follow_documented_protocol():
    strata = np.array(["b", "a", "b", "a", "a", "b", "b"])
    clusters = np.array([1, 2, 1, 3, 3, 4, 5])
    got = bootstrap_counts(7, n_boot=6, seed=11, strata=strata, clusters=clusters)
    np.testing.assert_array_equal(got, counts_loop(7, 11, 6, strata=strata, clusters=clusters))


def test_counts_keep_stratum_sizes(rng):
    strata = rng.integers(0, 4, size=300)
    counts = bootstrap_counts(300, n_boot=50, seed=3, strata=strata)
    for k in range(4):
        assert np.all(counts[:, strata == k].sum(axis=1) == (strata == k).sum())


def test_cluster_cases_move_together():
    clusters = np.array([0, 0, 0, 1, 2, 2])
    counts = bootstrap_counts(6, n_boot=40, seed=5, clusters=clusters)
    assert np.all(counts[:, 0] == counts[:, 1]) and np.all(counts[:, 4] == counts[:, 5])
    assert np.all(counts[:, [0, 3, 4]].sum(axis=1) == 3)


def test_cluster_spanning_strata_is_an_error():
    with pytest.raises(InvalidInputError, match="nested in strata"):
        bootstrap_counts(3, n_boot=2, seed=1, strata=[0, 1, 1], clusters=[7, 7, 8])


def test_seed_required_and_checked():
    with pytest.raises(InvalidParameterError, match="explicit seed"):
        bootstrap_replicates(_weighted_mean([1, 2]), 2, n_boot=10, seed=None)
    with pytest.raises(InvalidParameterError, match="seed"):
        bootstrap_counts(2, n_boot=2, seed=-1)


def test_auroc_bootstrap_matches_loop_over_sklearn(rng):
    y = rng.random(70) < 0.4
    s = np.round(rng.normal(size=70) + y, 1)
    site = rng.integers(0, 3, size=70)
    reference = auroc_bootstrap_loop(y, s, seed=9, n_boot=60, site=site)
    got = auroc_ci(y, s, method="bootstrap", n_boot=60, seed=9, strata=site)
    low, high = percentile_interval(reference, level=0.95)
    assert (got.ci_low, got.ci_high) == pytest.approx((low, high), abs=1e-12)


def test_auroc_bootstrap_more_positives_than_negatives(rng):
    y = rng.random(50) < 0.7
    s = rng.integers(0, 5, size=50).astype(float)
    reference = auroc_bootstrap_loop(y, s, seed=2, n_boot=40)
    got = auroc_ci(y, s, method="bootstrap", n_boot=40, seed=2, level=0.8)
    assert (got.ci_low, got.ci_high) == pytest.approx(percentile_interval(reference, level=0.8), abs=1e-12)


def test_auroc_bca_uses_exact_jackknife(rng):
    y = rng.random(40) < 0.5
    s = np.round(rng.normal(size=40) + y, 1)
    reps = auroc_bootstrap_loop(y, s, seed=4, n_boot=200)
    jk = np.array([auroc_bruteforce(np.delete(y, i), np.delete(s, i)) for i in range(40)])
    expected = bca_interval(reps, estimate=auroc_bruteforce(y, s), jackknife=jk)
    got = auroc_ci(y, s, method="bootstrap", interval="bca", n_boot=200, seed=4)
    assert (got.ci_low, got.ci_high) == pytest.approx(expected, abs=1e-12)


def test_auroc_bootstrap_close_to_delong(asah):
    boot = auroc_ci(asah["poor"], asah["s100b"], method="bootstrap", n_boot=2000, seed=1)
    delong = auroc_ci(asah["poor"], asah["s100b"])
    assert boot.estimate == delong.estimate
    assert boot.ci_low == pytest.approx(delong.ci_low, abs=0.02)
    assert boot.ci_high == pytest.approx(delong.ci_high, abs=0.02)


def test_clustered_auroc_bootstrap_matches_generic_engine(rng):
    y = rng.random(60) < 0.5
    s = np.round(rng.normal(size=60) + y, 1)  # ties within and across classes
    patients = np.arange(60) // 3
    site = patients % 2

    def weighted_auroc(w):
        pos, neg = s[y], s[~y]
        psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
        wp, wn = w[:, y], w[:, ~y]
        return np.einsum("bi,ij,bj->b", wp, psi, wn) / (wp.sum(1) * wn.sum(1))

    reps = bootstrap_replicates(weighted_auroc, 60, n_boot=100, seed=8, strata=site, clusters=patients)
    got = auroc_ci(y, s, method="bootstrap", n_boot=100, seed=8, strata=site, clusters=patients)
    assert (got.ci_low, got.ci_high) == pytest.approx(percentile_interval(reps), abs=1e-12)
    bca = auroc_ci(y, s, method="bootstrap", n_boot=100, seed=8, strata=site, clusters=patients, interval="bca")
    jk = jackknife_values(weighted_auroc, 60, clusters=patients)
    assert (bca.ci_low, bca.ci_high) == pytest.approx(
        bca_interval(reps, estimate=got.estimate, jackknife=jk), abs=1e-12)


def test_same_result_for_any_workers_and_chunking(rng, monkeypatch):
    # integer data keep every weighted sum exact, so any difference would come from the draws themselves
    values = rng.integers(-50, 50, size=500).astype(float)
    stat = _weighted_mean(values)
    one = bootstrap_replicates(stat, 500, n_boot=300, seed=21, strata=values > 0, workers=1)
    two = bootstrap_replicates(stat, 500, n_boot=300, seed=21, strata=values > 0, workers=2)
    monkeypatch.setattr(engine, "_CELLS_PER_CHUNK", 1700)  # chunks of 3 replicates
    small_chunks = bootstrap_replicates(stat, 500, n_boot=300, seed=21, strata=values > 0, workers=3)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(one, small_chunks)


def test_auroc_bootstrap_identical_across_workers(rng):
    y = rng.random(400) < 0.3
    s = rng.normal(size=400) + y
    site = rng.integers(0, 5, size=400)
    runs = [auroc_ci(y, s, method="bootstrap", n_boot=500, seed=7, strata=site, workers=w) for w in (1, 2, 4)]
    assert runs[0] == runs[1] == runs[2]


def test_bootstrap_ci_mean_percentile_and_bca(rng):
    x = rng.exponential(size=200)
    stat = _weighted_mean(x)
    p = bootstrap_ci(stat, 200, n_boot=1000, seed=1)
    b = bootstrap_ci(stat, 200, n_boot=1000, seed=1, method="bca")
    se = x.std(ddof=1) / math.sqrt(200)
    assert p.method == "bootstrap-percentile" and b.method == "bootstrap-bca"
    for e in (p, b):
        assert e.estimate == pytest.approx(x.mean())
        assert e.ci_low < x.mean() < e.ci_high
        assert e.ci_high - e.ci_low == pytest.approx(2 * 1.96 * se, rel=0.15)
    # right-skewed data: BCa shifts the interval to the right of the percentile one
    assert b.ci_high > p.ci_high


def test_bca_matches_scipy(rng):
    from scipy import stats

    x = rng.gamma(2.0, size=60)
    reps = bootstrap_replicates(_weighted_mean(x), 60, n_boot=4000, seed=3)
    jk = jackknife_values(_weighted_mean(x), 60)
    ours = bca_interval(reps, estimate=x.mean(), jackknife=jk)
    theirs = stats.bootstrap((x,), np.mean, n_resamples=4000, method="BCa", random_state=3).confidence_interval
    assert ours == pytest.approx((theirs.low, theirs.high), rel=0.03)


def test_undefined_replicates_are_dropped_with_note():
    y = np.array([1, 0, 1, 0, 1, 0])
    s = np.array([0.9, 0.1, 0.8, 0.3, 0.7, 0.2])
    e = auroc_ci(y, s, method="bootstrap", n_boot=200, seed=1, clusters=np.arange(6))
    assert "undefined and dropped" in e.note


def test_parameter_errors():
    with pytest.raises(InvalidParameterError, match="n_boot"):
        auroc_ci([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], method="bootstrap", n_boot=1, seed=1)
    with pytest.raises(InvalidParameterError, match="interval"):
        auroc_ci([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], method="bootstrap", interval="basic", seed=1)
    with pytest.raises(InvalidParameterError, match="method"):
        auroc_ci([0, 1], [0.1, 0.2], method="hanley")
    with pytest.raises(InvalidParameterError, match="workers"):
        bootstrap_replicates(_weighted_mean([1.0, 2.0]), 2, n_boot=4, seed=1, workers=0)
