"""Random-effects meta-analysis against statsmodels.stats.meta_analysis.combine_effects and hand formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evaluators import (
    InvalidInputError,
    auroc_ci,
    logit_auroc,
    logit_proportion,
    meta_analysis,
    proportion_ci,
    site_heterogeneity,
)


@pytest.fixture()
def sites(rng):
    effects = rng.normal(1.2, 0.35, size=16)
    variances = rng.uniform(0.01, 0.08, size=16)
    return effects, variances


@pytest.mark.parametrize(("ours", "theirs"), [("dl", "chi2"), ("pm", "iterated")])
def test_matches_statsmodels_combine_effects(sites, ours, theirs):
    from statsmodels.stats.meta_analysis import combine_effects

    y, v = sites
    res = meta_analysis(y, v, tau2_method=ours, hartung_knapp=False)
    hk = meta_analysis(y, v, tau2_method=ours, hartung_knapp=True)
    sm = combine_effects(y, v, method_re=theirs)
    rel = 1e-9 if ours == "dl" else 1e-5  # statsmodels iterates Paule-Mandel to atol 1e-5
    assert res.tau2 == pytest.approx(sm.tau2, rel=rel, abs=1e-9)
    assert res.q == pytest.approx(sm.q, rel=1e-10)
    assert res.i2 == pytest.approx(sm.i2, rel=1e-10)
    assert res.estimate == pytest.approx(sm.mean_effect_re, rel=rel)
    assert res.fixed_estimate == pytest.approx(sm.mean_effect_fe, rel=1e-12)
    _, ci_re, _, ci_re_hk = sm.conf_int(alpha=0.05, use_t=False)
    assert (res.ci_low, res.ci_high) == pytest.approx(tuple(ci_re), rel=rel)
    _, _, _, ci_re_hk_t = sm.conf_int(alpha=0.05, use_t=True)
    assert (hk.ci_low, hk.ci_high) == pytest.approx(tuple(ci_re_hk_t), rel=rel)


def test_hand_formulas_two_sites():
    y = np.array([0.0, 1.0])
    v = np.array([0.1, 0.1])
    r = meta_analysis(y, v, hartung_knapp=False)
    # Q = sum w (y - mean)^2 = 10 * 0.25 * 2 = 5; DL tau2 = (Q - 1) / (20 - 200/20) = 0.4
    assert r.q == pytest.approx(5.0) and r.tau2 == pytest.approx(0.4)
    assert r.i2 == pytest.approx(0.8)
    assert r.estimate == pytest.approx(0.5)
    assert math.isnan(r.pred_low)  # k - 2 = 0 degrees of freedom


def test_homogeneous_sites_have_zero_tau2():
    r = meta_analysis([0.5, 0.5, 0.5, 0.5], [0.01, 0.02, 0.03, 0.04], tau2_method="pm")
    assert r.tau2 == 0.0 and r.i2 == 0.0 and r.q == 0.0


def test_prediction_interval_formula(sites):
    from scipy import stats

    y, v = sites
    r = meta_analysis(y, v)
    w = 1 / (v + r.tau2)
    half = stats.t.ppf(0.975, 14) * math.sqrt(r.tau2 + 1 / w.sum())
    assert (r.pred_low, r.pred_high) == pytest.approx((r.estimate - half, r.estimate + half))
    assert r.pred_low < r.ci_low and r.ci_high < r.pred_high


def test_logit_transforms():
    e = auroc_ci([0, 0, 1, 1, 0, 1, 1, 0], [0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.3, 0.6])
    y, var = logit_auroc(e)
    assert y == pytest.approx(math.log(e.estimate / (1 - e.estimate)))
    assert var == pytest.approx(e.se**2 / (e.estimate * (1 - e.estimate)) ** 2)
    assert logit_proportion(3, 10) == pytest.approx((math.log(3 / 7), 1 / 3 + 1 / 7))
    assert logit_proportion(10, 10) == pytest.approx((math.log(10.5 / 0.5), 1 / 10.5 + 1 / 0.5))


def test_site_heterogeneity_of_auroc_and_sensitivity(rng):
    per_site = {}
    sens = {}
    for k in range(6):
        y = rng.random(150) < 0.4
        s = rng.normal(size=150) + y * (0.8 + 0.3 * k)
        per_site[f"H{k:02d}"] = auroc_ci(y, s)
        sens[f"H{k:02d}"] = proportion_ci(int((s[y] >= 0.5).sum()), int(y.sum()))
    r = site_heterogeneity(per_site)
    assert r.k == 6 and r.scale == "logit"
    back = r.back_transformed()
    assert 0.5 < back["estimate"] < 1 and back["ci_low"] < back["estimate"] < back["ci_high"]
    assert r.tau2 > 0  # the simulated sites really differ
    rs = site_heterogeneity(sens, metric="sensitivity", tau2_method="pm")
    assert rs.k == 6


def test_needs_two_sites():
    with pytest.raises(InvalidInputError, match="at least 2"):
        meta_analysis([0.1], [0.01])
    with pytest.raises(InvalidInputError, match="variances"):
        meta_analysis([0.1, 0.2], [0.01, 0.0])
