"""Sign a run off: an e-signature (meaning, reason, password re-entered) on the run's exact results document."""

import pandas as pd
import streamlit as st

from dashboards import data
from dashboards.session import get_platform
from dashboards.widgets import call, pick_run, require_principal, show_error
from validation import ClinvalError

MEANINGS = {"approve": "Approve", "reject": "Reject", "request-changes": "Request changes"}

principal = require_principal()
st.title("Sign off a run")
run = pick_run(call(data.runs, principal))
if run is None:
    st.stop()
res = call(data.results, principal, run.id)
failed = [v["criterion"] for v in res.verdicts if v["status"] != "pass"]
st.write(f"Run **{run.id}** of **{run.org}** on protocol {run.protocol_id} v{run.protocol_version}: "
         f"{len(res.verdicts) - len(failed)} of {len(res.verdicts)} acceptance criteria met"
         + (f" (not met: {', '.join(failed)})." if failed else "."))
document = call(data.report_sha256, principal, run.id)
st.caption(f"You sign as {principal.printed_name} ({principal.org}) the run's report document with SHA-256 "
           f"{document}. Your signature, its meaning, reason and time go into the audit log.")

with st.form("sign-off", clear_on_submit=False):
    meaning = st.radio("Meaning of your signature", list(MEANINGS), format_func=MEANINGS.get, horizontal=True)
    reason = st.text_area("Reason", help="Required; it is recorded with your signature.")
    password = st.text_input("Password (re-enter to sign)", type="password")
    submitted = st.form_submit_button("Sign")
if submitted:
    from validation.signoff import sign_off

    try:
        done = sign_off(get_platform(), principal, run.id, password=password, meaning=meaning, reason=reason)
    except ClinvalError as exc:
        show_error(exc)
    else:
        data.clear_signoffs()
        st.success(f"Signed: {MEANINGS[done.meaning]} by {done.printed_name} at {done.time} (audit event #{done.seq}).")

st.subheader("Sign-offs of this run")
signed = call(data.signoffs, principal, run.id)
if signed:
    st.dataframe(pd.DataFrame([{"time": s.time, "signer": s.printed_name, "org": s.org, "meaning": s.meaning,
                                "reason": s.reason, "document sha256": s.document_sha256[:16], "event": s.seq}
                               for s in signed]), hide_index=True, width="stretch")
else:
    st.info("No sign-offs yet.")
