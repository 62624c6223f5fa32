"""The Altair charts draw exactly the reportable numbers they are given."""

from __future__ import annotations

import pandas as pd

from dashboards.charts import calibration_chart, forest_chart, operating_point, roc_chart, score_chart


def _datasets(chart) -> list[list[dict]]:
    return list(chart.to_dict()["datasets"].values())


def test_forest_chart_draws_each_reportable_site_with_its_interval_and_the_pooled_line():
    rows = pd.DataFrame({"group": ["H01", "H02", "H03"], "estimate": [0.81, None, 0.66],
                         "ci_low": [0.70, None, 0.52], "ci_high": [0.90, None, 0.79], "n": [30, None, 41]})
    sites, pooled = _datasets(forest_chart(rows, metric="auroc", pooled=0.74))
    assert [(r["site"], r["estimate"], r["ci_low"], r["ci_high"]) for r in sites] == [
        ("H01", 0.81, 0.70, 0.90), ("H03", 0.66, 0.52, 0.79)]  # H02 suppressed: not drawn
    assert pooled == [{"pooled": 0.74}]


def test_forest_chart_without_interval_draws_the_point_and_no_pooled_line_for_nan():
    rows = pd.DataFrame({"group": ["H01"], "estimate": [0.5], "ci_low": [float("nan")],
                         "ci_high": [float("nan")], "n": [12]})
    (sites,) = _datasets(forest_chart(rows, metric="accuracy", pooled=float("nan")))
    assert sites == [{"site": "H01", "estimate": 0.5, "ci_low": 0.5, "ci_high": 0.5, "n": 12}]


def test_score_chart_labels_the_reference_classes_and_marks_the_threshold():
    cases = pd.DataFrame({"score": [0.1, 0.9, 0.4], "label": [0, 1, 1]})
    scores, threshold = _datasets(score_chart(cases, threshold=0.3))
    assert [r["label"] for r in scores] == ["negative", "positive", "positive"]
    assert threshold == [{"threshold": 0.3}]


_ROC = {"rule": "highest sensitivity of any threshold with specificity >= s", "band": "toy band", "n_pos": 4,
        "n_neg": 4,
        "points": [{"specificity": 0.0, "sensitivity": 1.0, "ci_low": 0.9, "ci_high": 1.0},
                   {"specificity": 0.5, "sensitivity": 0.75, "ci_low": 0.5, "ci_high": 1.0},
                   {"specificity": 1.0, "sensitivity": 0.25, "ci_low": 0.0, "ci_high": 0.5}]}
_BINS = {"strategy": "quantile", "interval": "Wilson 95%",
         "bins": [{"bin": 0, "mean_predicted": 0.12, "observed": 0.1, "ci_low": 0.02, "ci_high": 0.4, "n": 10},
                  {"bin": 1, "mean_predicted": 0.81, "observed": 0.9, "ci_low": 0.6, "ci_high": 0.98, "n": 10}]}


def _layers(chart) -> list[tuple[str, dict, list[dict]]]:
    """(mark type, encoding, rows) of each layer of a layered chart."""
    spec = chart.to_dict()
    return [(layer["mark"]["type"], layer["encoding"], spec["datasets"][layer["data"]["name"]])
            for layer in spec["layer"]]


def _urls(tree) -> list:
    if isinstance(tree, dict):
        return [v for k, v in tree.items() if k == "url"] + [u for v in tree.values() for u in _urls(v)]
    if isinstance(tree, list):
        return [u for v in tree for u in _urls(v)]
    return []


def test_roc_chart_draws_the_band_the_curve_the_chance_line_and_the_operating_point():
    # 2x2 at the threshold: TP 3, FN 1 -> sensitivity 3/4; FP 1, TN 3 -> 1 - specificity 1/4 (worked by hand)
    chart = roc_chart(_ROC, table_2x2={"tp": 3, "fn": 1, "fp": 1, "tn": 3, "threshold": 0.4})
    layers = _layers(chart)
    assert sorted(m for m, _, _ in layers) == ["area", "line", "line", "point"]
    ((band_enc, band),) = [(e, r) for m, e, r in layers if m == "area"]
    assert [{k: r[k] for k in ("specificity", "sensitivity", "ci_low", "ci_high")} for r in band] == _ROC["points"]
    assert [r["fpr"] for r in band] == [1.0, 0.5, 0.0]
    assert (band_enc["x"]["field"], band_enc["y"]["field"], band_enc["y2"]["field"]) == ("fpr", "ci_low", "ci_high")
    lines = [(e, r) for m, e, r in layers if m == "line"]
    ((curve_enc, _),) = [(e, r) for e, r in lines if r == band]
    assert (curve_enc["x"]["field"], curve_enc["y"]["field"]) == ("fpr", "sensitivity")
    assert curve_enc["x"]["title"] == "1 - specificity" and curve_enc["x"]["scale"]["domain"] == [0, 1]
    ((_, chance),) = [(e, r) for e, r in lines if r != band]
    assert chance == [{"fpr": 0.0, "sensitivity": 0.0}, {"fpr": 1.0, "sensitivity": 1.0}]
    ((dot_enc, dot),) = [(e, r) for m, e, r in layers if m == "point"]
    assert dot == [{"threshold": 0.4, "sensitivity": 0.75, "specificity": 0.75, "fpr": 0.25}]
    assert (dot_enc["x"]["field"], dot_enc["y"]["field"]) == ("fpr", "sensitivity")
    spec = chart.to_dict()
    assert not _urls(spec["layer"]) and not _urls(spec["datasets"]), "data are inline, so the chart works offline"


def test_roc_chart_has_no_operating_point_without_a_table_or_with_one_class_empty():
    for table in (None, {"tp": 0, "fn": 0, "fp": 2, "tn": 3, "threshold": 0.5}):
        marks = [m for m, _, _ in _layers(roc_chart(_ROC, table_2x2=table))]
        assert sorted(marks) == ["area", "line", "line"]
    assert operating_point({"tp": 5, "fn": 0, "fp": 0, "tn": 0, "threshold": 0.5}) is None


def test_calibration_chart_draws_each_bin_with_its_interval_and_the_ideal_diagonal():
    layers = _layers(calibration_chart(_BINS))
    ((dot_enc, dots),) = [(e, r) for m, e, r in layers if m == "point"]
    assert dots == _BINS["bins"]
    assert (dot_enc["x"]["field"], dot_enc["y"]["field"]) == ("mean_predicted", "observed")
    ((bar_enc, bars),) = [(e, r) for m, e, r in layers if m == "rule"]
    assert bars == _BINS["bins"]
    assert (bar_enc["x"]["field"], bar_enc["y"]["field"], bar_enc["y2"]["field"]) == (
        "mean_predicted", "ci_low", "ci_high")
    lines = [r for m, _, r in layers if m == "line"]
    assert [{"mean_predicted": 0.0, "observed": 0.0}, {"mean_predicted": 1.0, "observed": 1.0}] in lines
    assert all(enc["x"]["scale"]["domain"] == [0, 1] and enc["y"]["scale"]["domain"] == [0, 1]
               for _, enc, _ in layers)
