"""Published protocols, frozen by hash, with their acceptance criteria; and publishing a new protocol version
from an uploaded YAML file (checked before anything is stored; the same service call as
'clinval protocol publish')."""

import pandas as pd
import streamlit as st

from dashboards import data
from dashboards.session import get_platform
from dashboards.widgets import act, call, done, require_principal, show_done
from validation import ClinvalError

_MAX_UPLOAD = 256 * 1024

principal = require_principal()
st.title("Protocols")
show_done()
published = call(data.protocols, principal)
if published:
    st.dataframe(pd.DataFrame([{
        "protocol": p.protocol.id, "version": p.protocol.version, "task": p.protocol.task,
        "sha256": p.sha256[:16], "published": p.published_at, "by": p.published_by,
    } for p in published]), hide_index=True, width="stretch")
    for p in published:
        with st.expander(f"{p.protocol.id} v{p.protocol.version}: acceptance criteria"):
            st.dataframe(pd.DataFrame([c.model_dump(mode="json") for c in p.protocol.acceptance]),
                         hide_index=True, width="stretch")
else:
    st.info("No protocols yet.")

st.subheader("Publish a protocol")
st.caption("Upload a protocol YAML (see examples/protocols/). It is checked first; once published, a protocol "
           "version is frozen by its hash and never changes: publish a change as a new version.")
upload = st.file_uploader("Protocol YAML", type=["yaml", "yml"])
if upload is None:
    st.stop()
raw = upload.getvalue()
if len(raw) > _MAX_UPLOAD:
    st.error(f"{upload.name} is larger than {_MAX_UPLOAD // 1024} KiB; a protocol is a short YAML file.")
    st.stop()

from validation.protocols import parse_protocol, protocol_sha256, publish_protocol  # noqa: E402

try:
    protocol = parse_protocol(raw, name=upload.name)
except ClinvalError as exc:
    st.error(exc.message + (f". {exc.hint}" if exc.hint else ""))
    st.stop()
digest = protocol_sha256(protocol)
st.write(f"**{protocol.id}** version {protocol.version} (task {protocol.task}): {len(protocol.acceptance)} "
         f"acceptance criteria; SHA-256 `{digest}`.")
st.dataframe(pd.DataFrame([c.model_dump(mode="json") for c in protocol.acceptance]), hide_index=True,
             width="stretch")
if st.button("Publish this protocol"):
    result = act(publish_protocol, get_platform(), principal, protocol)
    if result is not None:
        stored, new = result
        if new:
            done(f"Published {stored.protocol.id} v{stored.protocol.version} (SHA-256 {stored.sha256[:16]}).")
        else:
            st.info(f"{stored.protocol.id} v{stored.protocol.version} was already published with exactly this "
                    "content; nothing changed.")
