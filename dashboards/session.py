"""The logged-in principal and the open platform, kept in Streamlit's session and resource caches."""

from __future__ import annotations

import streamlit as st

from validation import AuthenticationError, ClinvalError, Principal, open_platform
from validation.platform import Platform

__all__ = ["get_platform", "current_principal", "log_in", "log_out"]

_KEY = "clinval_principal"


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
    return None


def log_out() -> None:
    """Forget the principal of this browser session."""
    st.session_state.pop(_KEY, None)
