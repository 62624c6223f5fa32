"""Breakdown: groups, control features, suppression, min/max, difference and ratio, against hand computation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from evaluators_reference import auroc_bruteforce

from evaluators import Breakdown, Estimate, InvalidInputError, InvalidParameterError, auroc_ci


@pytest.fixture()
def data(rng):
    n = 600
    site = rng.choice(["H01", "H02", "H03"], size=n)
    sex = rng.choice(["F", "M"], size=n)
    y = rng.random(n) < 0.4
    s = rng.normal(size=n) + y * (1.0 + 0.5 * (sex == "F"))
    return y, s, site, sex


def test_by_group_matches_direct_computation(data):
    y, s, site, sex = data
    b = Breakdown(metrics=["auroc"], y_true=y, y_score=s, sensitive_features=pd.Series(sex, name="sex"))
    table = b.by_group
    assert list(table.columns[:2]) == ["sex", "metric"] and "n" in table.columns
    for _, row in table.iterrows():
        sel = sex == row["sex"]
        assert row["estimate"] == pytest.approx(auroc_bruteforce(y[sel], s[sel]), abs=1e-12)
        expected = auroc_ci(y[sel], s[sel])
        assert (row["ci_low"], row["ci_high"], row["method"]) == (expected.ci_low, expected.ci_high, "delong")
        assert (row["n"], row["n_pos"], row["n_neg"]) == (sel.sum(), y[sel].sum(), (~y[sel]).sum())


def test_control_feature_splits_everything(data):
    y, s, site, sex = data
    b = Breakdown(metrics={"auc": lambda yy, ss: auroc_ci(yy, ss)}, y_true=y, y_score=s,
                  sensitive_features={"sex": sex}, control_features={"site": site})
    overall = b.overall
    assert sorted(overall["site"]) == ["H01", "H02", "H03"]
    for _, row in overall.iterrows():
        sel = site == row["site"]
        assert row["estimate"] == pytest.approx(auroc_bruteforce(y[sel], s[sel]), abs=1e-12)
    assert len(b.by_group) == 6
    diff = b.difference()
    for _, row in diff.iterrows():
        block = b.by_group[b.by_group["site"] == row["site"]]
        assert row["difference"] == pytest.approx(block["estimate"].max() - block["estimate"].min())
        assert row["n"] == (site == row["site"]).sum()


def test_small_cells_suppressed_with_note(rng):
    y = np.array([0, 1] * 20)
    s = rng.normal(size=40) + y
    group = np.array(["a"] * 34 + ["b"] * 6)
    b = Breakdown(metrics="auroc", y_true=y, y_score=s, sensitive_features=group, min_n=10)
    table = b.by_group.set_index("sensitive_feature")
    assert math.isnan(table.loc["b", "estimate"]) and math.isnan(table.loc["b", "ci_low"])
    assert table.loc["b", "note"] == "suppressed: n=6 < min_n=10"
    assert table.loc["b", "n"] == 6
    assert np.isfinite(table.loc["a", "estimate"])
    gap = b.difference()
    assert math.isnan(gap.loc[0, "difference"]) and gap.loc[0, "n_groups"] == 1
    low = b.group_min()
    assert low.loc[0, "sensitive_feature"] == "a"


def test_group_min_max_difference_ratio(data):
    y, s, _, sex = data
    b = Breakdown(metrics=["auroc", "brier"], y_true=y, y_score=1 / (1 + np.exp(-s)), sensitive_features=sex)
    g = b.by_group
    for metric in ("auroc", "brier"):
        vals = g[g["metric"] == metric].set_index("sensitive_feature")["estimate"]
        o = b.overall.set_index("metric").loc[metric, "estimate"]
        lo = b.group_min().set_index("metric").loc[metric]
        hi = b.group_max().set_index("metric").loc[metric]
        assert lo["estimate"] == vals.min() and lo["sensitive_feature"] == vals.idxmin()
        assert hi["estimate"] == vals.max() and hi["n"] == (sex == vals.idxmax()).sum()
        assert b.difference().set_index("metric").loc[metric, "difference"] == pytest.approx(vals.max() - vals.min())
        assert b.difference("to_overall").set_index("metric").loc[metric, "difference"] == pytest.approx(
            (vals - o).abs().max())
        assert b.ratio().set_index("metric").loc[metric, "ratio"] == pytest.approx(vals.min() / vals.max())
        assert b.ratio("to_overall").set_index("metric").loc[metric, "ratio"] == pytest.approx(
            min((vals / o).min(), (o / vals).min()))


def test_threshold_metrics_by_name(data):
    y, s, _, sex = data
    b = Breakdown(metrics=["sensitivity", "specificity"], y_true=y, y_score=s, sensitive_features=sex, threshold=0.5)
    row = b.by_group.query("sensitive_feature == 'M' and metric == 'sensitivity'").iloc[0]
    sel = (sex == "M") & y
    assert row["estimate"] == pytest.approx(np.mean(s[sel] >= 0.5))
    assert row["method"] == "wilson"


def test_multiple_sensitive_features(data):
    y, s, site, sex = data
    b = Breakdown(metrics="auroc", y_true=y, y_score=s, sensitive_features=pd.DataFrame({"sex": sex, "site": site}))
    assert len(b.by_group) == 6 and {"sex", "site"} <= set(b.by_group.columns)


def test_float_metric_has_point_method(data):
    y, s, _, sex = data
    b = Breakdown(metrics={"mean_score": lambda yy, ss: float(np.mean(ss))}, y_true=y, y_score=s,
                  sensitive_features=sex)
    assert set(b.overall["method"]) == {"point"}
    assert b.overall.loc[0, "estimate"] == pytest.approx(s.mean())


def test_errors(data):
    y, s, _, sex = data
    with pytest.raises(InvalidParameterError, match="threshold"):
        Breakdown(metrics="sensitivity", y_true=y, y_score=s, sensitive_features=sex)
    with pytest.raises(InvalidParameterError, match="unknown metric"):
        Breakdown(metrics="aucroc", y_true=y, y_score=s, sensitive_features=sex)
    with pytest.raises(InvalidInputError, match="rows"):
        Breakdown(metrics="auroc", y_true=y, y_score=s, sensitive_features=sex[:10])
    with pytest.raises(InvalidInputError, match="missing"):
        Breakdown(metrics="auroc", y_true=y, y_score=s, sensitive_features=pd.Series([None] * len(y), name="x"))
    with pytest.raises(InvalidParameterError, match="min_n"):
        Breakdown(metrics="auroc", y_true=y, y_score=s, sensitive_features=sex, min_n=0)
    with pytest.raises(InvalidParameterError, match="between_groups"):
        Breakdown(metrics="auroc", y_true=y, y_score=s, sensitive_features=sex).difference("max")


def test_estimate_metric_notes_pass_through():
    y = np.array([1] * 12 + [0] * 12)
    s = np.linspace(0, 1, 24)
    group = np.array(["a"] * 12 + ["b"] * 12)  # each group has one class only
    b = Breakdown(metrics={"auroc": lambda yy, ss: auroc_ci(yy, ss)}, y_true=y, y_score=s, sensitive_features=group)
    assert all("both classes" in note for note in b.by_group["note"])
    assert isinstance(auroc_ci(y, s), Estimate)


def test_tables_computed_once_and_returned_as_copies(data):
    y, s, _, sex = data
    calls = []

    def metric(yy, ss):
        calls.append(len(yy))
        return float(np.mean(ss))

    b = Breakdown(metrics={"m": metric}, y_true=y, y_score=s, sensitive_features=sex)
    assert calls == []  # nothing computed until asked for
    first = b.by_group
    first.loc[0, "estimate"] = -1.0
    b.difference()
    b.group_min()
    assert b.by_group.loc[0, "estimate"] != -1.0
    assert len(calls) == 3  # two groups + overall, each once
