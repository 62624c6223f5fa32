"""The logged-in principal and the open platform, kept in Streamlit's session and resource caches."""

from __future__ import annotations

import streamlit as st

from validation import AuthenticationError, ClinvalError, Principal, open_platform
from validation.platform import Platform

__all__ = ["current_principal", "get_platform", "log_in", "log_in_oidc", "log_out", "signed_in_via"]

_KEY = "clinval_principal"
_VIA_KEY = "clinval_signed_in_via"


@st.cache_resource(show_spinner=False)
def get_platform() -> Platform:
    """The platform named by the environment (``CLINVAL_HOME``), opened once per server process."""
    return open_platform()


def current_principal() -> Principal | None:
    """The principal of this browser session, if signed in."""
    return st.session_state.get(_KEY)


def log_in(username: str, password: str) -> str | None:
    """Sign in through the service layer; returns an error message to show, or None."""
    from validation.accounts import login

    try:
        st.session_state[_KEY] = login(get_platform(), username.strip(), password)
    except AuthenticationError as exc:
        return exc.message
    except ClinvalError as exc:
        return f"{exc.message}. {exc.hint or ''}".strip()
    st.session_state[_VIA_KEY] = "password"
    return None


def log_in_oidc(claims) -> str | None:
    """Sign in the OIDC identity ``st.user`` holds, if an admin linked it to a user; returns an error or None."""
    from dashboards.oidc import sign_in

    try:
        principal, error = sign_in(get_platform(), claims)
    except ClinvalError as exc:
        return exc.message
    if principal is None:
        return error
    st.session_state[_KEY] = principal
    st.session_state[_VIA_KEY] = "oidc"
    return None


def signed_in_via() -> str | None:
    """``"password"`` or ``"oidc"`` for a signed-in session, else None."""
    return st.session_state.get(_VIA_KEY) if _KEY in st.session_state else None


def log_out() -> None:
    """Forget the principal of this browser session."""
    st.session_state.pop(_KEY, None)
    st.session_state.pop(_VIA_KEY, None)
