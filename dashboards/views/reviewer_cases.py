"""A hospital reviewer's own cases in a run: de-identified case-level results to study the model's failures."""

import streamlit as st

from dashboards import data
from dashboards.charts import score_chart
from dashboards.widgets import call, pick_run, require_principal

principal = require_principal()
site = principal.org
st.title(f"Failure cases at {site}")
runs = [r for r in call(data.runs, principal) if site in {s.site for s in r.sites}]
run = pick_run(runs)
if run is None:
    st.stop()
cases = call(data.case_results, principal, run.id, site)
if cases.empty:
    st.info(f"Run {run.id} has no predictions for {site}.")
    st.stop()
errors = cases[~cases["correct"].astype(bool)]
fn = int(((errors["label"] == 1)).sum())
fp = int(((errors["label"] == 0)).sum())
cols = st.columns(3)
cols[0].metric("Cases", len(cases))
cols[1].metric("False negatives", fn)
cols[2].metric("False positives", fp)
st.altair_chart(score_chart(cases, threshold=run.threshold), width="stretch")
only_errors = st.checkbox("Errors only", value=True)
shown = errors if only_errors else cases
columns = [c for c in ("case_id", "score", "label", "predicted", "correct", "age_band", "sex", "manufacturer")
           if c in shown.columns]
st.dataframe(shown[columns].sort_values("score"), hide_index=True, width="stretch")
st.caption(f"Threshold {run.threshold:g}. Case ids are pseudonyms.")
if not shown.empty:
    chosen = st.selectbox("Show the image of case", list(shown.sort_values("score")["case_id"]))
    image = call(data.case_image, principal, run.id, site, chosen)
    if image is None:
        st.info("This case's input is not an image (e.g. a FHIR record).")
    else:
        case = shown[shown["case_id"] == chosen].iloc[0]
        st.image(image, caption=f"{chosen}: score {case['score']:.3f}, reference label {int(case['label'])}",
                 width=384)
