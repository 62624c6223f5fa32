"""Altair charts of run results (rendered by Streamlit's own Vega-Lite, so pages work offline)."""

from __future__ import annotations

import pandas as pd

__all__ = ["forest_chart", "score_chart", "site_heatmap"]


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
