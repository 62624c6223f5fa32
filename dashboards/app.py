from __future__ import annotations

import streamlit as st

from dashboards.navigation import pages_for
from dashboards.session import current_principal, get_platform, log_in, log_in_oidc, log_out, signed_in_via

st.set_page_config(page_title="clinval", layout="wide")


def login_page() -> None:
    st.title("clinval: clinical validation centre")
    st.caption("Sign in with the account the pilot-base admin gave you.")
    with st.form("login"):
        username = st.text_input("Username")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        error = log_in(username, password)
        if error:
            st.error(error)
        else:
            st.rerun()
    _single_sign_on()


def _single_sign_on() -> None:
    """'Sign in with <provider>' buttons when OIDC is configured (Streamlit's [auth] secrets); nothing otherwise."""
    from dashboards.oidc import providers

    configured = providers()
    if not configured:
        return
    refused = st.session_state.get("clinval_oidc_refused")
    if refused:
        st.error(refused)
        if st.button("Sign out of single sign-on"):
            st.session_state.pop("clinval_oidc_refused", None)
            st.logout()
        return
    st.divider()
    for provider, label in configured:
        if st.button(f"Sign in with {label}", key=f"oidc-{provider or 'default'}"):
            from streamlit.errors import StreamlitAuthError

            try:
                st.login(provider)
            except StreamlitAuthError as exc:  # e.g. Authlib missing, or an incomplete [auth] section
                st.error(f"Single sign-on is configured but cannot start: {exc}")


def _awaiting_signoff(principal) -> None:
    from dashboards import data
    from validation import ClinvalError

    try:
        scored = [r for r in data.runs(principal) if r.state == "scored"]
        waiting = [r.id for r in scored if not any(s.org == principal.org for s in data.signoffs(principal, r.id))]
    except ClinvalError as exc:
        st.error(exc.message)
        return
    if waiting:
        st.warning(f"Runs on {principal.org}'s data awaiting your hospital's sign-off: {', '.join(waiting)}.")
    else:
        st.success(f"Every scored run on {principal.org}'s data has a sign-off from {principal.org}.")


def home_page() -> None:
    from validation.accounts import whoami

    principal = current_principal()
    info = whoami(get_platform(), principal)
    section, pages = pages_for(principal.role)
    st.title("clinval")
    st.write(f"Signed in as **{info['printed_name']}** ({info['role']}, {info['org']}).")
    st.write(f"Your pages ({section}): " + ", ".join(p.title for p in pages) + ".")
    if principal.role.value == "reviewer":
        _awaiting_signoff(principal)
    if signed_in_via() == "oidc":
        st.caption("Signed in through single sign-on. E-signatures still need a platform password: ask the admin "
                   "to set one if you sign runs off.")
    if st.button("Sign out"):
        via = signed_in_via()
        log_out()
        if via == "oidc":
            st.logout()
        st.rerun()


def _oidc_identity() -> dict | None:
    """The claims of the OIDC identity of this browser, when OIDC is configured and the user signed in there."""
    from dashboards.oidc import providers

    if not providers():
        return None
    user = st.user.to_dict()
    return user if user.get("is_logged_in") else None


principal = current_principal()
if principal is None and "clinval_oidc_refused" not in st.session_state:
    claims = _oidc_identity()
    if claims is not None:
        refusal = log_in_oidc(claims)
        if refusal:
            st.session_state["clinval_oidc_refused"] = refusal
        principal = current_principal()
if principal is None:
    page = st.navigation([st.Page(login_page, title="Sign in", url_path="login")])
else:
    section, specs = pages_for(principal.role)
    page = st.navigation({
        "Account": [st.Page(home_page, title="Home", url_path="home", default=True, icon=":material/home:")],
        section: [st.Page(str(s.path), title=s.title, url_path=s.url_path, icon=s.icon) for s in specs],
    })
    with st.sidebar:
        st.caption(f"{principal.printed_name} · {principal.role.value} · {principal.org}")
page.run()
