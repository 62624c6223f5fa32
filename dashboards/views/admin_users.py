"""Organisations and user accounts."""

import pandas as pd
import streamlit as st

from dashboards import data
from dashboards.widgets import call, require_principal

principal = require_principal()
st.title("Users")
users = call(data.users, principal)
st.dataframe(pd.DataFrame([{
    "username": u.username, "printed name": u.printed_name, "role": u.role, "organisation": u.org,
    "active": u.active, "password set": u.has_password,
} for u in users]), hide_index=True, width="stretch")
st.subheader("Organisations")
st.dataframe(pd.DataFrame([{"code": o.code, "name": o.name, "kind": o.kind} for o in call(data.orgs, principal)]),
             hide_index=True, width="stretch")
