"""Download an audit bundle (everything, or one run's events) with the public key to verify it offline."""

import tempfile
from pathlib import Path

import streamlit as st

from dashboards import data
from dashboards.session import get_platform
from dashboards.widgets import call, require_principal, show_error
from validation import ClinvalError

_KEY = "clinval_bundle"

principal = require_principal()
st.title("Audit bundle")
st.write("A bundle carries the events, a signed checkpoint, inclusion proofs and the documents the events name "
         "by hash. Check it offline with `clinval audit verify BUNDLE --key clinval-audit.pub`, pinning the key "
         "below.")
runs = call(data.runs, principal)
scope = st.radio("Scope", ["Everything", "One run"], horizontal=True)
run_id = None
if scope == "One run":
    if not runs:
        st.info("No runs yet.")
        st.stop()
    run_id = st.selectbox("Run", [r.id for r in runs])

if st.button("Prepare bundle"):
    from validation.audit.trail import export_bundle, public_key_text
    from validation.audit.verify_bundle import verify

    with tempfile.TemporaryDirectory(prefix="clinval-bundle-") as tmp:
        out = Path(tmp) / "bundle.zip"
        try:
            result = export_bundle(get_platform(), principal, out, run_id=run_id)
            key = public_key_text(get_platform())
            check = verify(out, key)
        except ClinvalError as exc:
            show_error(exc)
            st.stop()
        name = f"clinval-audit-{run_id or 'all'}-{result.tree_size}.zip"
        st.session_state[_KEY] = {"bytes": out.read_bytes(), "name": name, "events": result.events,
                                  "tree_size": result.tree_size, "ok": check.ok, "summary": check.summary(),
                                  "key": key}

bundle = st.session_state.get(_KEY)
if bundle:
    if bundle["ok"]:
        st.success(f"Bundle ready: {bundle['events']} events, checkpoint over {bundle['tree_size']} events; "
                   "it verifies against the platform's public key.")
    else:
        st.error(f"The bundle does not verify: {bundle['summary']}")
    st.download_button("Download bundle", bundle["bytes"], file_name=bundle["name"], mime="application/zip")
    st.download_button("Download public key", bundle["key"].encode(), file_name="clinval-audit.pub",
                       mime="text/plain")
    with st.expander("Public key"):
        st.code(bundle["key"])
