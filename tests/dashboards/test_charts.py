"""The Altair charts draw exactly the reportable numbers they are given."""

from __future__ import annotations

import pandas as pd

from dashboards.charts import forest_chart, score_chart


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
