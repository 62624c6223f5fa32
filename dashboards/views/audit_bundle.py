"""Download an audit bundle (everything, or one run's events) with the public key to verify it offline."""

import tempfile
import zipfile
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
         "by hash. Check it offline with `clinval audit verify BUNDLE --public-key clinval-audit.pub`, pinning the key "
         "below.")
runs = call(data.runs, principal)
scope = st.radio("Scope", ["Everything", "One run"], horizontal=True)
run_id = None
if scope == "One run":
    if not runs:
        st.info("No runs yet.")
        st.stop()
    run_id = st.selectbox("Run", [r.id for r in runs])
pasted = st.text_area("An earlier checkpoint you kept (optional)",
                      help="Paste the checkpoint text of an earlier bundle: the new bundle then carries a "
                           "consistency proof that the log only grew since.")
# A signed note ends with a newline; pasting often loses it (and may bring CRLF or surrounding blanks).
previous = pasted.replace("\r\n", "\n").strip() + "\n" if pasted.strip() else None

if st.button("Prepare bundle"):
    from validation.audit.trail import export_bundle, public_key_text
    from validation.audit.verify_bundle import verify

    with tempfile.TemporaryDirectory(prefix="clinval-bundle-") as tmp:
        out = Path(tmp) / "bundle.zip"
        try:
            result = export_bundle(get_platform(), principal, out, run_id=run_id, from_checkpoint=previous)
            key = public_key_text(get_platform())
            check = verify(out, key, previous)
        except ClinvalError as exc:
            show_error(exc)
            st.stop()
        name = f"clinval-audit-{run_id or 'all'}-{result.tree_size}.zip"
        with zipfile.ZipFile(out) as bundle_zip:
            checkpoint = bundle_zip.read("checkpoint.txt").decode("utf-8")
        st.session_state[_KEY] = {"bytes": out.read_bytes(), "name": name, "events": result.events,
                                  "checkpoint": checkpoint, "consistency": previous is not None,
                                  "tree_size": result.tree_size, "ok": check.ok, "summary": check.summary(),
                                  "key": key}

bundle = st.session_state.get(_KEY)
if bundle:
    if bundle["ok"]:
        grown = " and proves the log only grew since your earlier checkpoint" if bundle["consistency"] else ""
        st.success(f"Bundle ready: {bundle['events']} events, checkpoint over {bundle['tree_size']} events; "
                   f"it verifies against the platform's public key{grown}.")
    else:
        st.error(f"The bundle does not verify: {bundle['summary']}")
    st.download_button("Download bundle", bundle["bytes"], file_name=bundle["name"], mime="application/zip")
    st.download_button("Download public key", bundle["key"].encode(), file_name="clinval-audit.pub",
                       mime="text/plain")
    with st.expander("Checkpoint to keep (paste it next time to check the log was not rewritten)"):
        st.code(bundle["checkpoint"])
    with st.expander("Public key"):
        st.code(bundle["key"])
