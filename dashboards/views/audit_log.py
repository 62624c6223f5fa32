"""The audit log: the newest events first, filterable; for the admin also the live check of the hash chain and
of every signed checkpoint."""

import pandas as pd
import streamlit as st

from dashboards import data
from dashboards.session import get_platform
from dashboards.widgets import call, require_principal
from validation import Role

principal = require_principal()
st.title("Audit log")
if principal.role == Role.ADMIN:
    from validation.audit.trail import check_log

    report = call(check_log, get_platform(), principal)
    if report.ok:
        st.success(f"Log verified: {report.events} events, hash chain intact, {report.checkpoints} signed "
                   "checkpoints match.")
    else:
        where = f" (event {report.seq})" if report.seq else ""
        st.error(f"Log check FAILED{where}: {report.problem}")
else:
    st.caption("Verify the log yourself offline: download a bundle on the 'Audit bundle' page and run "
               "'clinval audit verify BUNDLE --public-key KEY'.")

events = call(data.events, principal)
if not events:
    st.info("No events.")
    st.stop()
frame = pd.DataFrame([{
    "seq": e["seq"], "time": e["time"], "actor": e["actor_name"], "role": e["actor_role"], "org": e["actor_org"],
    "action": e["action"], "object": f"{e['object_type']}:{e['object_id']}",
    "sha256": (e.get("object_sha256") or "")[:16], "meaning": e.get("meaning") or "", "reason": e.get("reason") or "",
} for e in events]).sort_values("seq", ascending=False)
cols = st.columns(3)
actions = cols[0].multiselect("Action", sorted(frame["action"].unique()))
actors = cols[1].multiselect("Actor organisation", sorted(frame["org"].unique()))
limit = cols[2].number_input("Show the newest", min_value=10, max_value=10_000, value=200, step=50)
if actions:
    frame = frame[frame["action"].isin(actions)]
if actors:
    frame = frame[frame["org"].isin(actors)]
st.caption(f"{len(events)} events in the log; newest first.")
st.dataframe(frame.head(int(limit)), hide_index=True, width="stretch")
