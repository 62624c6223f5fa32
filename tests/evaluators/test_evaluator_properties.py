"""Hypothesis properties: invariances, bounds, intervals containing estimates, breakdown vs overall, threads."""

from __future__ import annotations

import os

import numpy as np
import pytest
from evaluators_reference import auroc_bruteforce
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluators import (
    Breakdown,
    auroc,
    auroc_ci,
    average_precision,
    bootstrap_replicates,
    compare_auroc,
    dice,
    iou,
    proportion_ci,
    threshold_metrics,
)

SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def labelled_scores(draw, min_size=4, max_size=60):
    n = draw(st.integers(min_size, max_size))
    y = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    # few distinct values so that ties are common
    s = np.array(draw(st.lists(st.integers(-5, 5), min_size=n, max_size=n)), dtype=float)
    if y.all() or not y.any():
        y[0] = not y[0]
    if y.sum() < 2 or (~y).sum() < 2:
        y[:2] = True
        y[2:4] = False
    return y, s


@SETTINGS
@given(labelled_scores(), st.randoms(use_true_random=False))
def test_auroc_order_invariant(data, rnd):
    y, s = data
    perm = np.array(rnd.sample(range(len(y)), len(y)))
    assert auroc(y[perm], s[perm]) == pytest.approx(auroc(y, s), abs=1e-12)
    e1, e2 = auroc_ci(y, s), auroc_ci(y[perm], s[perm])
    assert e1.se == pytest.approx(e2.se, abs=1e-12)


@SETTINGS
@given(labelled_scores(), st.sampled_from(["exp", "cube", "affine", "logistic"]))
def test_auroc_invariant_to_increasing_transforms(data, transform):
    y, s = data
    f = {"exp": np.exp, "cube": lambda v: v**3, "affine": lambda v: 3.0 * v - 7.0,
         "logistic": lambda v: 1 / (1 + np.exp(-v))}[transform]
    assert auroc(y, f(s)) == pytest.approx(auroc(y, s), abs=1e-12)
    assert auroc_ci(y, f(s)).se == pytest.approx(auroc_ci(y, s).se, abs=1e-12)


@SETTINGS
@given(labelled_scores())
def test_auroc_bounds_symmetry_and_bruteforce(data):
    y, s = data
    a = auroc(y, s)
    assert 0.0 <= a <= 1.0
    assert a == pytest.approx(auroc_bruteforce(y, s), abs=1e-12)
    assert auroc(y, -s) == pytest.approx(1.0 - a, abs=1e-12)
    assert 0.0 <= average_precision(y, s) <= 1.0


@SETTINGS
@given(labelled_scores(), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_delong_interval_contains_estimate(data, level):
    y, s = data
    e = auroc_ci(y, s, level=level)
    assert 0.0 <= e.ci_low <= e.estimate <= e.ci_high <= 1.0
    c = compare_auroc(y, s, -s, level=level)
    if np.isfinite(c.z):
        assert c.ci_low <= c.difference <= c.ci_high and 0 <= c.p_value <= 1


@SETTINGS
@given(st.integers(0, 200), st.integers(0, 200), st.sampled_from(["wilson", "clopper-pearson"]),
       st.sampled_from([0.8, 0.95, 0.999]))
def test_proportion_interval_contains_estimate(k, extra, method, level):
    n = k + extra
    e = proportion_ci(k, n, method=method, level=level)
    if n == 0:
        assert np.isnan(e.estimate)
    else:
        assert 0.0 <= e.ci_low <= e.estimate <= e.ci_high <= 1.0


@SETTINGS
@given(labelled_scores(), st.integers(-5, 5))
def test_threshold_metrics_bounds(data, threshold):
    y, s = data
    m = threshold_metrics(y, s, threshold=float(threshold))
    assert m.n == len(y)
    for e in m.estimates().values():
        assert np.isnan(e.estimate) or 0.0 <= e.estimate <= 1.0
        if np.isfinite(e.ci_low):
            assert e.ci_low <= e.estimate <= e.ci_high


@SETTINGS
@given(labelled_scores(min_size=12))
def test_one_group_breakdown_equals_overall(data):
    y, s = data
    b = Breakdown(metrics=["auroc", "average_precision"], y_true=y, y_score=s,
                  sensitive_features=np.full(len(y), "all"), min_n=1)
    overall = b.overall
    by_group = b.by_group.drop(columns=["sensitive_feature"])
    assert overall.equals(by_group)
    assert overall.set_index("metric").loc["auroc", "estimate"] == pytest.approx(auroc(y, s))


@settings(max_examples=15, deadline=None)
@given(labelled_scores(min_size=10, max_size=40), st.integers(0, 2**32 - 1))
def test_bootstrap_same_seed_identical_on_one_and_two_threads(data, seed):
    y, s = data
    site = np.arange(len(y)) % 3
    one = auroc_ci(y, s, method="bootstrap", n_boot=64, seed=seed, strata=site, workers=1)
    two = auroc_ci(y, s, method="bootstrap", n_boot=64, seed=seed, strata=site, workers=2)
    assert one == two
    stat = lambda w: (w @ s) / w.sum(axis=1)  # noqa: E731 - integer-valued scores keep sums exact
    np.testing.assert_array_equal(bootstrap_replicates(stat, len(y), n_boot=64, seed=seed, workers=1),
                                  bootstrap_replicates(stat, len(y), n_boot=64, seed=seed, workers=2))


def test_bootstrap_identical_under_different_blas_thread_settings():
    """Same seed, one worker vs two, in a fresh interpreter with 1 and with 2 OpenMP/BLAS threads."""
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from evaluators import auroc_ci\n"
        "rng = np.random.default_rng(0); y = rng.random(3000) < 0.3; s = rng.normal(size=3000) + y\n"
        "site = rng.integers(0, 4, 3000)\n"
        "import sys; w = int(sys.argv[1])\n"
        "e = auroc_ci(y, s, method='bootstrap', n_boot=300, seed=42, strata=site, workers=w, interval='bca')\n"
        "print(repr((e.ci_low, e.ci_high)))\n"
    )
    outputs = []
    for threads, workers in (("1", 1), ("2", 2)):
        env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
        out = subprocess.run([sys.executable, "-c", code, str(workers)], env=env, capture_output=True, text=True,
                             check=True, timeout=120)
        outputs.append(out.stdout.strip())
    assert outputs[0] == outputs[1]


@SETTINGS
@given(st.lists(st.booleans(), min_size=1, max_size=40), st.lists(st.booleans(), min_size=1, max_size=40))
def test_overlap_bounds_and_relation(a, b):
    n = min(len(a), len(b))
    x, y = np.array(a[:n]), np.array(b[:n])
    d, j = dice(x, y), iou(x, y)
    assert 0.0 <= j <= d <= 1.0
    assert d == pytest.approx(2 * j / (1 + j))
