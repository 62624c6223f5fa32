"""Published protocols: frozen by hash, with their acceptance criteria."""

import pandas as pd
import streamlit as st

from dashboards import data
from dashboards.widgets import call, require_principal

principal = require_principal()
st.title("Protocols")
published = call(data.protocols, principal)
if not published:
    st.info("No protocols yet. Publish one with 'clinval protocol publish FILE.yaml'.")
    st.stop()
st.dataframe(pd.DataFrame([{
    "protocol": p.protocol.id, "version": p.protocol.version, "task": p.protocol.task,
    "sha256": p.sha256[:16], "published": p.published_at, "by": p.published_by,
} for p in published]), hide_index=True, width="stretch")
for p in published:
    with st.expander(f"{p.protocol.id} v{p.protocol.version}: acceptance criteria"):
        st.dataframe(pd.DataFrame([c.model_dump(mode="json") for c in p.protocol.acceptance]), hide_index=True,
                     width="stretch")
