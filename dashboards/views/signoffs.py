"""Every sign-off of every run the signed-in user may read."""

import pandas as pd
import streamlit as st

from dashboards import data
from dashboards.widgets import call, require_principal

principal = require_principal()
st.title("Sign-offs")
runs = [r for r in call(data.runs, principal) if r.state == "scored"]
rows = [{"run": r.id, "vendor": r.org, "protocol": f"{r.protocol_id} v{r.protocol_version}", "time": s.time,
         "signer": s.printed_name, "org": s.org, "meaning": s.meaning, "reason": s.reason,
         "document sha256": s.document_sha256[:16], "event": s.seq}
        for r in runs for s in call(data.signoffs, principal, r.id)]
if not rows:
    st.info("No sign-offs yet.")
    st.stop()
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
unsigned = sorted({r.id for r in runs} - {row["run"] for row in rows})
if unsigned:
    st.caption("Scored runs without a sign-off: " + ", ".join(unsigned))
