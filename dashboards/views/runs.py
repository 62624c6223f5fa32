"""Runs the signed-in user may read (the service decides: a vendor its own, a reviewer those on its hospital's
data, regulators and the admin all), with each site's state and the reason a site failed."""

import pandas as pd
import streamlit as st

from dashboards import data
from dashboards.widgets import call, require_principal, runs_frame

principal = require_principal()
st.title("Runs")
runs = call(data.runs, principal)
if not runs:
    st.info("No runs yet.")
    st.stop()
st.dataframe(runs_frame(runs), hide_index=True, width="stretch")
st.caption("Open a scored run on the 'Run report' page.")

with st.expander("Sites of each run (state, batches, failure reason)"):
    rows = [{"run": r.id, "site": s.site, "state": s.state, "cases": s.n_cases,
             "batches": f"{s.batches_done}/{s.n_batches}", "reason": s.reason or "", "isolation": s.isolation or ""}
            for r in runs for s in r.sites]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
