"""The results of one scored run, as the signed-in user may see them (aggregates; small groups suppressed for
vendors and regulators by the service layer), and the run's pooled ROC and calibration curves from its report."""

import streamlit as st

from dashboards import data
from dashboards.widgets import call, pick_run, require_principal, show_results


def show_curves(curves: dict, table_2x2: dict | None) -> None:
    """The report's ROC and calibration curves side by side, each with a one-line caption of its method; where a
    curve is missing, the report's reason instead."""
    from dashboards.charts import calibration_chart, operating_point, roc_chart

    st.subheader("Curves")
    roc, calibration = curves.get("roc"), curves.get("calibration")
    if roc is None and calibration is None:
        st.info(curves.get("why") or "This run's report has no curves.")
        return
    left, right = st.columns(2)
    with left:
        if roc is None:
            st.info(curves.get("why") or "No ROC curve for this run.")
        else:
            st.altair_chart(roc_chart(roc, table_2x2=table_2x2), width="stretch")
            point = operating_point(table_2x2)
            at = "" if point is None else f"; red dot: the declared threshold {point['threshold']}"
            st.caption(f"Sensitivity at each specificity ({roc['rule']}); band: {roc['band']}; {roc['n_pos']} "
                       f"positive and {roc['n_neg']} negative cases{at}; dashed: chance.")
    with right:
        if calibration is None:
            st.info(curves.get("why") or "No calibration curve for this run.")
        else:
            st.altair_chart(calibration_chart(calibration), width="stretch")
            st.caption(f"Observed fraction positive per {calibration['strategy']} bin of the score, at the bin's "
                       f"mean prediction, with {calibration['interval']} intervals; dashed: perfect calibration.")


principal = require_principal()
st.title("Run report")
run = pick_run(call(data.runs, principal))
if run is None:
    st.stop()
show_results(call(data.results, principal, run.id))
report = call(data.report, principal, run.id)
show_curves(report.curves, report.table_2x2)
