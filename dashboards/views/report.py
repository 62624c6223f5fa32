"""The results of one scored run, as the signed-in user may see them (aggregates; small groups suppressed for
vendors and regulators by the service layer)."""

import streamlit as st

from dashboards import data
from dashboards.widgets import call, pick_run, require_principal, show_results

principal = require_principal()
st.title("Run report")
run = pick_run(call(data.runs, principal))
if run is None:
    st.stop()
show_results(call(data.results, principal, run.id))
