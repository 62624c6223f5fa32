"""Run curves: the ROC points and band against brute force and scikit-learn, the calibration bins against direct
computation and statsmodels' Wilson interval, and the curves as they reach the reports."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from validation.runs.curves import ROC_GRID, calibration_bins, roc_band, roc_points, run_curves

ASAH = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "proc-asah" / "aSAH.csv"


def _brute_sens(y, s, spec: float) -> float:
    """Every threshold (each distinct score, plus 'nothing positive'): the best sensitivity with specificity >= spec."""
    y, s = np.asarray(y), np.asarray(s)
    best = 0.0
    for t in [np.inf, *np.unique(s)]:
        called = s >= t
        sens = (called & (y == 1)).sum() / (y == 1).sum()
        specificity = (~called & (y == 0)).sum() / (y == 0).sum()
        if specificity >= spec - 1e-12:
            best = max(best, sens)
    return best


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 12)), min_size=4, max_size=60))
def test_roc_points_equal_brute_force_with_ties(pairs):
    y = np.array([p[0] for p in pairs])
    s = np.array([p[1] for p in pairs], dtype=float) / 12
    if y.sum() == 0 or y.sum() == len(y):
        return
    got = roc_points(y, s)
    want = [_brute_sens(y, s, spec) for spec in ROC_GRID]
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_roc_points_agree_with_sklearn_on_asah():
    if not ASAH.is_file():
        pytest.skip(f"reference data not found at {ASAH}")
    from sklearn.metrics import roc_curve

    data = pd.read_csv(ASAH)
    y = (data["outcome"] == "Poor").to_numpy(dtype=int)
    for marker in ("s100b", "ndka", "wfns"):
        s = data[marker].to_numpy(dtype=float)
        fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
        want = [tpr[fpr <= 1 - spec + 1e-12].max() for spec in ROC_GRID]
        np.testing.assert_allclose(roc_points(y, s), want, atol=1e-12)


def test_roc_band_equals_a_loop_over_explicit_resamples():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 150)
    s = np.round(rng.random(150) + 0.4 * y, 2)  # ties on purpose
    low, high = roc_band(y, s, seed=11, n_boot=200)
    order = np.argsort(-s, kind="stable")
    ys, ss = y[order], s[order]
    pos, neg = np.flatnonzero(ys == 1), np.flatnonzero(ys == 0)
    draws = np.random.default_rng(11)
    curves = []
    for _ in range(200):
        take = np.r_[pos[draws.integers(0, pos.size, pos.size)], neg[draws.integers(0, neg.size, neg.size)]]
        curves.append([_brute_sens(ys[take], ss[take], spec) for spec in ROC_GRID])
    curves = np.array(curves)
    np.testing.assert_allclose(low, np.quantile(curves, 0.025, axis=0), atol=1e-12)
    np.testing.assert_allclose(high, np.quantile(curves, 0.975, axis=0), atol=1e-12)
    est = roc_points(y, s)
    assert np.all(low <= est + 1e-12) and np.all(est <= high + 1e-12)
    assert np.all(np.diff(est) <= 1e-12), "sensitivity cannot rise as the required specificity rises"


def test_calibration_bins_keep_min_cell_and_match_direct_computation():
    from statsmodels.stats.proportion import proportion_confint

    rng = np.random.default_rng(2)
    p = rng.random(437)
    y = (rng.random(437) < p).astype(int)
    bins = calibration_bins(y, p, min_cell=40)
    assert len(bins) == 10 and sum(b["n"] for b in bins) == 437
    assert min(b["n"] for b in bins) >= 40
    edges = np.quantile(p, np.linspace(0, 1, 11))
    for b in bins:
        lo, hi = edges[b["bin"]], edges[b["bin"] + 1]
        sel = (p >= lo) & ((p < hi) if b["bin"] < 9 else (p <= hi))
        assert sel.sum() == b["n"]
        assert b["mean_predicted"] == pytest.approx(p[sel].mean())
        assert b["observed"] == pytest.approx(y[sel].mean())
        w_lo, w_hi = proportion_confint(int(y[sel].sum()), int(sel.sum()), method="wilson")
        assert (b["ci_low"], b["ci_high"]) == pytest.approx((w_lo, w_hi))
    assert len(calibration_bins(y[:100], p[:100], min_cell=40)) == 2
    assert calibration_bins(y[:50], p[:50], min_cell=40) == []


def test_run_curves_is_reproducible_and_says_why_when_undefined():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    s = rng.random(300)
    a = run_curves(y, s, seed_key="m/p/c/H01", min_cell=10)
    assert json.dumps(a) == json.dumps(run_curves(y, s, seed_key="m/p/c/H01", min_cell=10))
    assert a["roc"]["points"][0]["specificity"] == 0.0 and a["roc"]["points"][-1]["specificity"] == 1.0
    assert a["why"] == ""
    one = run_curves(np.ones(30, int), s[:30], seed_key="k", min_cell=10)
    assert one["roc"] is None and "ROC" in one["why"]


def test_scored_run_report_draws_both_curves(world):
    from validation.reports import build_report, to_html, to_pdf
    from validation.runs import evaluate

    platform, people, submission, corpus = world
    info = evaluate(platform, people["admin"], submission, corpus, batch_size=20)
    report = build_report(platform, people["vendor"], info.id)
    roc, cal = report.curves["roc"], report.curves["calibration"]
    assert roc and cal and len(roc["points"]) == len(ROC_GRID)
    assert sum(b["n"] for b in cal["bins"]) == roc["n_pos"] + roc["n_neg"]
    assert min(b["n"] for b in cal["bins"]) >= report.view["min_cell"]
    pooled = {r["metric"]: r for r in report.pooled}
    assert roc["n_pos"] == pooled["auroc"]["n_pos"] and roc["n_neg"] == pooled["auroc"]["n_neg"]
    html = to_html(report)
    svg = [ElementTree.fromstring(m) for m in _svgs(html) if 'class="curve"' in m]
    assert len(svg) == 2
    assert sum(1 for e in svg[0].iter() if e.get("class") in ("roc-band", "roc-line", "operating-point")) == 3
    assert sum(1 for e in svg[1].iter() if e.get("class") == "calibration-bin") == len(cal["bins"])
    assert b"ROC curve, all cases pooled" in to_pdf(report)
    assert report.curves == build_report(platform, people["admin"], info.id).curves  # same aggregates for all


def _svgs(html: str) -> list[str]:
    out, start = [], 0
    while (i := html.find("<svg", start)) >= 0:
        j = html.index("</svg>", i) + len("</svg>")
        out.append(html[i:j])
        start = j
    return out
