"""Corpus versions on the platform (sites, tasks, counts, quality gate), and the admin's acceptance of a corpus
whose critical data-quality checks failed (with a reason, recorded in the audit log)."""

import pandas as pd
import streamlit as st

from dashboards import data
from dashboards.session import get_platform
from dashboards.widgets import act, call, done, require_principal, show_done

principal = require_principal()
st.title("Corpora")
show_done()
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

st.subheader("Accept a corpus that failed its quality checks")
blocked = {c.id: c for c in corpora if not c.usable}
if not blocked:
    st.caption("Every corpus is usable for evaluation; nothing to accept.")
    st.stop()
st.caption("A corpus whose critical checks failed cannot be evaluated on until an admin accepts it, saying why "
           "the failures are acceptable. The acceptance and its reason go into the audit log.")
with st.form("accept-corpus"):
    chosen = st.selectbox("Corpus", list(blocked),
                          format_func=lambda i: f"{blocked[i].name} ({i[:12]}, quality failed)")
    reason = st.text_area("Reason for accepting it")
    submitted = st.form_submit_button("Accept for evaluation")
if submitted:
    from validation.corpora import accept_corpus

    info = act(accept_corpus, get_platform(), principal, chosen, reason=reason)
    if info is not None:
        done(f"Corpus {info.name} ({info.id[:12]}) accepted for evaluation: {info.accepted_reason}")
