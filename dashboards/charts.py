"""Altair charts of run results (rendered by Streamlit's own Vega-Lite, so pages work offline)."""

from __future__ import annotations

import pandas as pd

__all__ = ["calibration_chart", "forest_chart", "operating_point", "roc_chart", "score_chart", "site_heatmap"]


def forest_chart(rows: pd.DataFrame, *, metric: str, pooled: float | None = None):
    """Per-site estimates with their confidence intervals, one row per site, and the pooled estimate as a line.

    Parameters
    ----------
    rows : DataFrame
        Result rows of one metric with ``group`` (site), ``estimate``, ``ci_low``, ``ci_high`` and ``n``. Rows
        without an estimate (suppressed or undefined) are left out of the chart; the table beside it says why.
    metric : str
        Name shown on the x axis.
    pooled : float, optional
        Overall estimate drawn as a vertical rule.

    Returns
    -------
    altair.LayerChart
    """
    import altair as alt

    data = rows.loc[rows["estimate"].notna(), ["group", "estimate", "ci_low", "ci_high", "n"]].copy()
    data = data.rename(columns={"group": "site"})
    data["ci_low"] = data["ci_low"].fillna(data["estimate"])
    data["ci_high"] = data["ci_high"].fillna(data["estimate"])
    y = alt.Y("site:N", sort=None, title="site")
    x_scale = alt.Scale(domain=[0, 1]) if metric not in ("calibration_slope",) else alt.Undefined
    tooltip = ["site", alt.Tooltip("estimate:Q", format=".3f"), alt.Tooltip("ci_low:Q", format=".3f"),
               alt.Tooltip("ci_high:Q", format=".3f"), "n:Q"]
    bars = alt.Chart(data).mark_rule(strokeWidth=2).encode(
        x=alt.X("ci_low:Q", title=f"{metric} (95% CI)", scale=x_scale), x2="ci_high:Q", y=y, tooltip=tooltip)
    points = alt.Chart(data).mark_point(filled=True, size=70, shape="square").encode(
        x="estimate:Q", y=y, tooltip=tooltip)
    layers = [bars, points]
    if pooled is not None and pooled == pooled:
        layers.append(alt.Chart(pd.DataFrame({"pooled": [pooled]})).mark_rule(strokeDash=[4, 4], color="gray")
                      .encode(x="pooled:Q"))
    return alt.layer(*layers).properties(height=max(80, 28 * len(data)))


def score_chart(cases: pd.DataFrame, *, threshold: float):
    """Distribution of scores by reference label, with the operating threshold as a vertical rule."""
    import altair as alt

    data = cases[["score", "label"]].copy()
    data["label"] = data["label"].map({1: "positive", 0: "negative"}).fillna("unknown")
    hist = alt.Chart(data).mark_bar(opacity=0.6).encode(
        x=alt.X("score:Q", bin=alt.Bin(maxbins=20), scale=alt.Scale(domain=[0, 1]), title="model score"),
        y=alt.Y("count():Q", stack=None, title="cases"),
        color=alt.Color("label:N", title="reference"))
    rule = alt.Chart(pd.DataFrame({"threshold": [threshold]})).mark_rule(color="red").encode(x="threshold:Q")
    return alt.layer(hist, rule).properties(height=220)


def site_heatmap(rows: pd.DataFrame, *, metric: str):
    """Sites (columns) by runs (rows), coloured by the site estimate; suppressed or undefined cells stay blank.

    Parameters
    ----------
    rows : DataFrame
        ``run``, ``site``, ``estimate``, ``ci_low``, ``ci_high``, ``n``.
    """
    import altair as alt

    data = rows.loc[rows["estimate"].notna(), ["run", "site", "estimate", "ci_low", "ci_high", "n"]]
    tooltip = ["run", "site", alt.Tooltip("estimate:Q", format=".3f"), alt.Tooltip("ci_low:Q", format=".3f"),
               alt.Tooltip("ci_high:Q", format=".3f"), "n:Q"]
    return alt.Chart(data).mark_rect().encode(
        x=alt.X("site:N", title="site"), y=alt.Y("run:N", title="run"),
        color=alt.Color("estimate:Q", title=metric, scale=alt.Scale(scheme="redyellowgreen", domain=[0.5, 1.0])),
        tooltip=tooltip,
    ).properties(height=max(80, 26 * data["run"].nunique()))


def _unit(field: str, title: str, axis: str):
    """A quantitative channel on [0, 1] (probabilities, rates) with a fixed title, so layers share one axis."""
    import altair as alt

    channel = alt.X if axis == "x" else alt.Y
    return channel(f"{field}:Q", title=title, scale=alt.Scale(domain=[0, 1]))


def _diagonal(x_title: str, y_title: str, *, x_field: str, y_field: str):
    """The line y = x from (0, 0) to (1, 1): chance for a ROC curve, perfect calibration for a reliability curve."""
    import altair as alt

    line = pd.DataFrame({x_field: [0.0, 1.0], y_field: [0.0, 1.0]})
    return alt.Chart(line).mark_line(color="gray", strokeDash=[4, 4], strokeWidth=1).encode(
        x=_unit(x_field, x_title, "x"), y=_unit(y_field, y_title, "y"))


def operating_point(table_2x2: dict | None) -> dict | None:
    """Sensitivity and 1 - specificity of a report's 2x2 table at its declared threshold.

    Parameters
    ----------
    table_2x2 : dict or None
        ``tp``, ``fp``, ``fn``, ``tn`` and ``threshold`` (the report's ``table_2x2``).

    Returns
    -------
    dict or None
        ``threshold``, ``sensitivity``, ``specificity``, ``fpr`` (1 - specificity); None without a table, or when
        either class has no cases (a rate would be undefined).
    """
    if not table_2x2:
        return None
    pos = table_2x2["tp"] + table_2x2["fn"]
    neg = table_2x2["fp"] + table_2x2["tn"]
    if not pos or not neg:
        return None
    specificity = table_2x2["tn"] / neg
    return {"threshold": table_2x2.get("threshold"), "sensitivity": table_2x2["tp"] / pos,
            "specificity": specificity, "fpr": table_2x2["fp"] / neg}


def roc_chart(roc: dict, *, table_2x2: dict | None = None):
    """The pooled ROC curve of a report: sensitivity against 1 - specificity, its confidence band, the operating
    point at the declared threshold and the chance diagonal.

    Parameters
    ----------
    roc : dict
        A report's ``curves["roc"]``: ``points``, a list of ``specificity``, ``sensitivity``, ``ci_low``,
        ``ci_high`` (the band at that specificity) on a fixed grid of specificities.
    table_2x2 : dict, optional
        The report's ``table_2x2`` (``tp, fp, fn, tn, threshold``); its operating point is drawn as a red dot.

    Returns
    -------
    altair.LayerChart
        Layers: band (area from ``ci_low`` to ``ci_high``), curve (line), chance diagonal and, when there is a
        table, the operating point. Data are inline, so the chart renders offline.
    """
    import altair as alt

    points = pd.DataFrame(roc["points"], columns=["specificity", "sensitivity", "ci_low", "ci_high"])
    points["fpr"] = 1.0 - points["specificity"]  # rows stay in the report's order; the marks sort by x
    x = _unit("fpr", "1 - specificity", "x")
    tooltip = [alt.Tooltip("specificity:Q", format=".2f"), alt.Tooltip("sensitivity:Q", format=".3f"),
               alt.Tooltip("ci_low:Q", format=".3f", title="band low"),
               alt.Tooltip("ci_high:Q", format=".3f", title="band high")]
    band = alt.Chart(points).mark_area(opacity=0.2, color="#2f5d9e").encode(
        x=x, y=_unit("ci_low", "sensitivity", "y"), y2="ci_high:Q")
    curve = alt.Chart(points).mark_line(color="#2f5d9e", strokeWidth=2, point=alt.OverlayMarkDef(size=12)).encode(
        x=x, y=_unit("sensitivity", "sensitivity", "y"), order="fpr:Q", tooltip=tooltip)
    layers = [band, _diagonal("1 - specificity", "sensitivity", x_field="fpr", y_field="sensitivity"), curve]
    point = operating_point(table_2x2)
    if point is not None:
        dot = pd.DataFrame([point], columns=["threshold", "sensitivity", "specificity", "fpr"])
        layers.append(alt.Chart(dot).mark_point(filled=True, size=90, color="#b3261e", opacity=1).encode(
            x=x, y=_unit("sensitivity", "sensitivity", "y"),
            tooltip=[alt.Tooltip("threshold:Q", title="declared threshold"),
                     alt.Tooltip("sensitivity:Q", format=".3f"), alt.Tooltip("specificity:Q", format=".3f")]))
    return alt.layer(*layers).properties(height=300, title="ROC curve, all cases pooled")


def calibration_chart(calibration: dict):
    """The calibration (reliability) curve of a report: observed fraction of positives per score bin against the
    bin's mean predicted probability, with the bins' intervals as error bars and the ideal diagonal.

    Parameters
    ----------
    calibration : dict
        A report's ``curves["calibration"]``: ``bins``, a list of ``bin``, ``mean_predicted``, ``observed``,
        ``ci_low``, ``ci_high`` (the interval of ``observed``) and ``n``.

    Returns
    -------
    altair.LayerChart
        Layers: ideal diagonal, error bars (rules from ``ci_low`` to ``ci_high``), the curve through the bins
        and their points. Data are inline, so the chart renders offline.
    """
    import altair as alt

    bins = pd.DataFrame(calibration["bins"], columns=["bin", "mean_predicted", "observed", "ci_low", "ci_high", "n"])
    x = _unit("mean_predicted", "mean predicted probability", "x")
    y = _unit("observed", "observed fraction positive", "y")
    tooltip = ["bin:O", "n:Q", alt.Tooltip("mean_predicted:Q", format=".3f", title="mean predicted"),
               alt.Tooltip("observed:Q", format=".3f"), alt.Tooltip("ci_low:Q", format=".3f"),
               alt.Tooltip("ci_high:Q", format=".3f")]
    bars = alt.Chart(bins).mark_rule(color="#1b1f24").encode(
        x=x, y=_unit("ci_low", "observed fraction positive", "y"), y2="ci_high:Q", tooltip=tooltip)
    line = alt.Chart(bins).mark_line(color="#c77d00", strokeWidth=1.5).encode(x=x, y=y, order="mean_predicted:Q")
    dots = alt.Chart(bins).mark_point(filled=True, size=60, color="#c77d00", opacity=1).encode(
        x=x, y=y, tooltip=tooltip)
    diagonal = _diagonal("mean predicted probability", "observed fraction positive", x_field="mean_predicted",
                         y_field="observed")
    return alt.layer(diagonal, bars, line, dots).properties(height=300, title="Calibration, all cases pooled")
