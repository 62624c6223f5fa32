"""Data quality of each corpus version: the files re-verified against the manifest, and the stored
great-expectations results (counts only; no case ids on this page)."""

import pandas as pd
import streamlit as st

from dashboards import data
from dashboards.widgets import call, require_principal

principal = require_principal()
st.title("Data quality")
corpora = call(data.corpora, principal)
if not corpora:
    st.info("No corpora yet.")
    st.stop()
by_id = {c.id: c for c in corpora}
chosen = st.selectbox("Corpus version", list(by_id),
                      format_func=lambda i: f"{by_id[i].name} ({i[:12]}, {len(by_id[i].sites)} sites)")
info, report = call(data.check_corpus, principal, chosen)
cols = st.columns(3)
cols[0].metric("Integrity", "ok" if report["integrity"] == "ok" else "FAILED")
cols[1].metric("Quality checks", {True: "passed", False: "failed", None: "not run"}[info.quality_ok])
cols[2].metric("Usable for evaluation", "yes" if info.usable else "no")
if report["integrity"] != "ok":
    st.error(report["integrity"])
if info.accepted_reason:
    st.warning(f"Accepted despite failed checks: {info.accepted_reason}")

st.subheader("Cases per site and task")
st.dataframe(pd.DataFrame(info.counts).T.rename_axis("site"), width="stretch")
if info.quarantined and any(info.quarantined.values()):
    st.caption("Quarantined during de-identification")
    st.json(info.quarantined, expanded=False)

rows = [{"suite": e.get("suite"), "check": e.get("id"), "description": e.get("description"),
         "critical": e.get("critical"), "passed": e.get("success"), "unexpected": e.get("unexpected_count"),
         "of": e.get("element_count"), "error": e.get("error") or ""}
        for suite in report["quality"].get("suites", []) for e in suite.get("expectations", [])]
st.subheader("Expectations")
if rows:
    frame = pd.DataFrame(rows)
    if st.checkbox("Failed checks only", value=False):
        frame = frame[~frame["passed"].astype(bool)]
    st.dataframe(frame, hide_index=True, width="stretch")
    st.caption(f"Engine: {report['quality'].get('engine', 'unknown')}")
else:
    st.info("No stored data-quality results for this corpus.")
