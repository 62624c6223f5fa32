"""Corpus versions on the platform: sites, tasks, counts, quality gate."""

import pandas as pd
import streamlit as st

from dashboards import data
from dashboards.widgets import call, require_principal

principal = require_principal()
st.title("Corpora")
corpora = call(data.corpora, principal)
if not corpora:
    st.info("No corpora yet. Ingest one with 'clinval corpus ingest EXPORT_DIR'.")
    st.stop()
st.dataframe(pd.DataFrame([{
    "corpus": c.id[:16], "name": c.name, "sites": ", ".join(c.sites), "tasks": ", ".join(c.tasks),
    "cases": sum(sum(v.values()) for v in c.counts.values()) if c.counts else 0,
    "quality": {True: "passed", False: "failed", None: "not run"}[c.quality_ok], "usable": c.usable,
    "accepted because": c.accepted_reason or "", "created": c.created_at,
} for c in corpora]), hide_index=True, width="stretch")
st.caption("Per-check results are on the 'Data quality' page.")
