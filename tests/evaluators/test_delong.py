"""DeLong intervals and the paired DeLong test against pROC's published values and explicit placement values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from evaluators_reference import delong_paired_explicit, delong_variance_explicit

from evaluators import Comparison, Estimate, auroc_ci, compare_auroc


@pytest.mark.parametrize(
    ("marker", "variance"),
    [  # pROC test suite: var(roc(aSAH$outcome, aSAH$marker)) with method="delong"
        ("s100b", 0.00266868245717244),
        ("wfns", 0.00146991470882363),
        ("ndka", 0.0031908105493913),
    ],
)
def test_proc_delong_variances(asah, marker, variance):
    e = auroc_ci(asah["poor"], asah[marker])
    assert e.se**2 == pytest.approx(variance, rel=1e-10)
    assert (e.method, e.n, e.n_pos, e.n_neg) == ("delong", 113, 41, 72)


def test_proc_delong_ci_ndka(asah):
    e = auroc_ci(asah["poor"], asah["ndka"], level=0.95)
    assert e.ci_low == pytest.approx(0.501244999271703, abs=1e-10)
    assert e.ci_high == pytest.approx(0.722670989888189, abs=1e-10)


def test_proc_paired_delong_wfns_vs_s100b(asah):
    c = compare_auroc(asah["poor"], asah["wfns"], asah["s100b"])
    assert isinstance(c, Comparison)
    assert c.z == pytest.approx(2.20898359144091, rel=1e-9)
    assert c.p_value == pytest.approx(0.0271757822291882, rel=1e-9)
    assert c.ci_low == pytest.approx(0.0104061769564846, abs=1e-10)
    assert c.ci_high == pytest.approx(0.174214419249478, abs=1e-10)
    assert c.difference == pytest.approx(c.estimate_a - c.estimate_b)


@pytest.mark.parametrize("seed", range(4))
def test_variance_matches_explicit_placements(seed):
    rng = np.random.default_rng(seed)
    n = 80
    y = rng.random(n) < 0.35
    s = np.round(rng.normal(size=n) + y, 1)  # ties inside and across classes
    auc, var = delong_variance_explicit(y, s)
    e = auroc_ci(y, s)
    assert e.estimate == pytest.approx(auc, abs=1e-12)
    assert e.se**2 == pytest.approx(var, rel=1e-10)


def test_paired_matches_explicit_placements(rng):
    y = rng.random(90) < 0.4
    a = np.round(rng.normal(size=90) + y, 1)
    b = np.round(rng.normal(size=90) + 0.5 * y, 1)
    diff, var = delong_paired_explicit(y, a, b)
    c = compare_auroc(y, a, b)
    assert c.difference == pytest.approx(diff, abs=1e-12)
    assert c.z == pytest.approx(diff / math.sqrt(var), rel=1e-9)


def test_interval_truncated_with_note():
    y = np.array([0, 0, 0, 1, 1, 1, 0, 1])
    s = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9, 0.75, 0.6])
    e = auroc_ci(y, s)
    assert e.ci_high == 1.0 and "truncated" in e.note


def test_complete_separation_degenerate():
    e = auroc_ci([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert (e.estimate, e.ci_low, e.ci_high) == (1.0, 1.0, 1.0)
    assert "degenerate" in e.note


def test_single_case_of_a_class_has_estimate_but_no_interval():
    e = auroc_ci([0, 0, 1], [0.1, 0.5, 0.3])
    assert e.estimate == 0.5 and math.isnan(e.ci_low) and ">= 2 cases" in e.note


def test_level_changes_width(asah):
    narrow = auroc_ci(asah["poor"], asah["ndka"], level=0.8)
    wide = auroc_ci(asah["poor"], asah["ndka"], level=0.99)
    assert wide.ci_low < narrow.ci_low < narrow.estimate < narrow.ci_high < wide.ci_high


def test_estimate_record_validates():
    with pytest.raises(ValueError, match="level"):
        Estimate(estimate=0.5, level=95)
    with pytest.raises(ValueError, match="increasing order"):
        Estimate(estimate=0.5, ci_low=0.6, ci_high=0.4)
    e = Estimate(estimate=0.5, ci_low=0.4, ci_high=0.6, n=3)
    assert Estimate.from_dict(e.to_dict()) == e
