"""A vendor's submissions: state of each (submitted, ready, rejected) and the reasons the checks gave."""

import pandas as pd
import streamlit as st

from dashboards import data
from dashboards.widgets import call, require_principal

principal = require_principal()
st.title("My submissions")
subs = call(data.submissions, principal)
if not subs:
    st.info("No submissions yet. Submit a model with 'clinval submit MODEL_DIR --card CARD.yaml'.")
    st.stop()
frame = pd.DataFrame([{
    "submission": s.id, "model": s.model_name, "version": s.model_version,
    "protocol": f"{s.protocol_id} v{s.protocol_version}", "threshold": s.threshold, "state": s.state,
    "reasons": "; ".join(s.reasons), "model sha256": s.model_sha256[:16], "submitted": s.created_at,
} for s in subs])
st.dataframe(frame, hide_index=True, width="stretch")
for s in subs:
    if s.state == "rejected":
        with st.expander(f"{s.id}: why it was rejected"):
            for reason in s.reasons:
                st.markdown(f"- {reason}")
