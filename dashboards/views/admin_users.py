"""Organisations, user accounts and API tokens, and the admin's changes to them: add an organisation, add a
user, deactivate a user, revoke a token. Each is one service call with the signed-in admin as the actor; the
service checks the policy and records the change in the audit log."""

import pandas as pd
import streamlit as st

from dashboards import data
from dashboards.session import get_platform
from dashboards.widgets import act, call, done, require_principal, show_done
from validation import OrgKind, Role

principal = require_principal()
st.title("Users")
show_done()
users = call(data.users, principal)
orgs = call(data.orgs, principal)
st.dataframe(pd.DataFrame([{
    "username": u.username, "printed name": u.printed_name, "role": u.role, "organisation": u.org,
    "active": u.active, "password set": u.has_password,
} for u in users]), hide_index=True, width="stretch")
st.subheader("Organisations")
st.dataframe(pd.DataFrame([{"code": o.code, "name": o.name, "kind": o.kind} for o in orgs]),
             hide_index=True, width="stretch")

add_user, add_org, deactivate, tokens, sso = st.tabs(
    ["Add a user", "Add an organisation", "Deactivate a user", "API tokens", "Single sign-on"])

with add_user:
    kinds = {o.code: o.kind for o in orgs}
    with st.form("add-user", clear_on_submit=False):
        username = st.text_input("New username", help="2-64 lower-case letters, digits, '.', '_' or '-'")
        printed_name = st.text_input("Printed name", help="The name e-signatures and the audit log show")
        org = st.selectbox("Organisation", list(kinds), format_func=lambda c: f"{c} ({kinds[c]})")
        new_password = st.text_input("Initial password", type="password",
                                     help="Leave empty for an account that uses API tokens only")
        again = st.text_input("Initial password again", type="password")
        submitted = st.form_submit_button("Add user")
    st.caption("The role follows the organisation: hospitals have reviewers, vendors vendors, the regulator "
               "regulators, the pilot base admins.")
    if submitted:
        if new_password != again:
            st.error("The two passwords differ; type the same initial password twice.")
        else:
            from validation.accounts import create_user

            role = OrgKind(kinds[org]).role if org in kinds else Role.VENDOR
            info = act(create_user, get_platform(), principal, username=username.strip(),
                       printed_name=printed_name, role=role, org=org, password=new_password or None)
            if info is not None:
                done(f"Added {info.role} {info.username} ({info.printed_name}) to {info.org}.")

with add_org:
    with st.form("add-org"):
        code = st.text_input("Code", help="Short and stable, e.g. H17 or a vendor's name; letters, digits, '-'")
        name = st.text_input("Name")
        kind = st.selectbox("Kind", [k.value for k in OrgKind])
        submitted = st.form_submit_button("Add organisation")
    if submitted:
        from validation.accounts import create_org

        info = act(create_org, get_platform(), principal, code.strip(), name, kind)
        if info is not None:
            done(f"Added organisation {info.code} ({info.name}, {info.kind}).")

with deactivate:
    active = [u.username for u in users if u.active and u.username != principal.username]
    if not active:
        st.caption("No other active user.")
    else:
        with st.form("deactivate-user"):
            who = st.selectbox("User", active)
            sure = st.checkbox("I understand: the user can no longer sign in, and its tokens stop working at once")
            submitted = st.form_submit_button("Deactivate user")
        if submitted:
            if not sure:
                st.error("Tick the box to confirm the deactivation.")
            else:
                from validation.accounts import deactivate_user

                info = act(deactivate_user, get_platform(), principal, who)
                if info is not None:
                    done(f"Deactivated {info.username}; its tokens no longer work.")

with tokens:
    from validation.accounts import list_tokens

    listed = call(list_tokens, get_platform(), principal)
    if not listed:
        st.caption("No API tokens. Users create their own with 'clinval token create'.")
    else:
        st.dataframe(pd.DataFrame([{"id": t.id, "user": t.username, "label": t.label, "created": t.created_at,
                                    "expires": t.expires_at or "", "state": t.state} for t in listed]),
                     hide_index=True, width="stretch")
        live = {t.id: t for t in listed if t.state == "active"}
        if live:
            with st.form("revoke-token"):
                token_id = st.selectbox("Token", list(live),
                                        format_func=lambda i: f"#{i} of {live[i].username} {live[i].label}".strip())
                submitted = st.form_submit_button("Revoke token")
            if submitted:
                from validation.accounts import revoke_token

                info = act(revoke_token, get_platform(), principal, int(token_id))
                if info is not None:
                    done(f"Revoked token #{info.id} of {info.username}.")

with sso:
    from dashboards.oidc import providers
    from validation.accounts import link_identity, list_identity_links, unlink_identity

    if not providers():
        st.caption("Single sign-on is not configured: users sign in with their password. To enable it, add an "
                   "[auth] section (OpenID Connect) to .streamlit/secrets.toml; then link identities here.")
    links = act(list_identity_links, get_platform(), principal) or []
    if links:
        st.dataframe(pd.DataFrame([{"link": x.id, "platform user": x.username, "kind": x.kind, "issuer": x.issuer,
                                    "identity": x.value, "linked": x.created_at} for x in links]),
                     hide_index=True, width="stretch")
    st.caption("An OpenID Connect identity signs in only as the platform user it is linked to: by the provider's "
               "issuer and subject (the ID token's 'iss' and 'sub'), or by an e-mail address the provider reports "
               "as verified. Each link and unlink is an audit event.")
    with st.form("link-identity"):
        who = st.selectbox("Platform user", [u.username for u in users if u.active], key="link-user")
        issuer = st.text_input("Issuer", help="e.g. https://login.hospital.example (leave empty for an e-mail link)")
        subject = st.text_input("Subject", help="The person's 'sub' at that issuer")
        email = st.text_input("or verified e-mail", help="Used only if issuer and subject are empty")
        submitted = st.form_submit_button("Link identity")
    if submitted:
        by_subject = bool(issuer.strip() or subject.strip())
        info = act(link_identity, get_platform(), principal, who, issuer=issuer if by_subject else None,
                   subject=subject if by_subject else None, email=None if by_subject else (email or None))
        if info is not None:
            done(f"Linked a {info.kind} identity to {info.username} (link {info.id}).")
    if links:
        with st.form("unlink-identity"):
            link_id = st.selectbox("Link", [x.id for x in links],
                                   format_func=lambda i: next(f"{i}: {x.username} ({x.kind})" for x in links
                                                              if x.id == i))
            submitted = st.form_submit_button("Remove link")
        if submitted:
            info = act(unlink_identity, get_platform(), principal, int(link_id))
            if info is not None:
                done(f"Removed link {info.id} of {info.username}.")
