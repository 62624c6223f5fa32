"""Sign-in through the pilot base's OpenID Connect provider (``st.login``), when one is configured.

An OIDC identity signs in only as the platform user an admin linked it to; anything else is refused. Until the
accounts service can store links (see below), the links are configuration the pilot-base operator writes next to
the provider's settings in ``.streamlit/secrets.toml``::

    [auth]                      # Streamlit's own OIDC settings (redirect_uri, cookie_secret, client_id, ...)
    ...
    [clinval_oidc]
    label = "Pilot-base SSO"    # shown on the button when [auth] holds a single, unnamed provider
    [clinval_oidc.links]
    "sub:https://login.example.org|00u1a2b3c" = "reviewer-h01"
    "email:lin@h01.example.org" = "reviewer-h01"    # used only when the provider says the e-mail is verified

This module is the isolated adapter: :func:`linked_username` is the pure mapping, :func:`principal_for` turns a
linked username into the user's principal through the accounts service (refusing unknown and deactivated users).
Once ``validation.accounts`` offers ``login_oidc(platform, *, issuer, subject, email, email_verified)`` and
admin-side ``link_identity`` / ``unlink_identity``, :func:`sign_in` should call it instead, and the links move from
configuration to the platform database (with audit events).
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from validation import Principal

__all__ = ["configured_links", "linked_username", "principal_for", "providers", "sign_in"]


def _secrets_section(name: str) -> Mapping:
    from streamlit.errors import StreamlitSecretNotFoundError

    try:
        section = st.secrets.get(name)
    except StreamlitSecretNotFoundError:  # no secrets.toml at all: OIDC is not configured
        return {}
    return section if isinstance(section, Mapping) else {}


def providers() -> list[tuple[str | None, str]]:
    """``(provider, label)`` for each configured OIDC provider; empty when ``[auth]`` is not configured.

    ``provider`` is what ``st.login`` takes: None for a single provider configured directly under ``[auth]``,
    else the name of an ``[auth.NAME]`` section.
    """
    auth = _secrets_section("auth")
    if not auth:
        return []
    named = [(name, name.replace("_", " ").title()) for name, value in auth.items() if isinstance(value, Mapping)]
    if named:
        return named
    if "client_id" in auth:
        return [(None, str(_secrets_section("clinval_oidc").get("label") or "single sign-on"))]
    return []


def configured_links() -> dict[str, str]:
    """The identity links the operator configured (``[clinval_oidc.links]``)."""
    links = _secrets_section("clinval_oidc").get("links") or {}
    return {str(k): str(v) for k, v in links.items()} if isinstance(links, Mapping) else {}


def _verified(value) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def linked_username(claims: Mapping, links: Mapping[str, str]) -> str | None:
    """The platform username an admin linked to this OIDC identity, or None.

    Parameters
    ----------
    claims : mapping
        The ID token's claims as ``st.user`` shows them (``iss``, ``sub``, ``email``, ``email_verified``).
    links : mapping of str to str
        ``"sub:ISSUER|SUBJECT"`` or ``"email:ADDRESS"`` to a username. The subject is matched together with its
        issuer (a subject is unique only within one provider); an e-mail only when ``email_verified`` is true,
        case-insensitively.

    Examples
    --------
    >>> links = {"sub:https://idp|42": "rev-h01", "email:ada@acme.example": "vendor-acme"}
    >>> linked_username({"iss": "https://idp", "sub": "42"}, links)
    'rev-h01'
    >>> linked_username({"iss": "https://other", "sub": "42"}, links) is None
    True
    >>> linked_username({"email": "Ada@ACME.example", "email_verified": True}, links)
    'vendor-acme'
    >>> linked_username({"email": "ada@acme.example", "email_verified": False}, links) is None
    True
    """
    issuer, subject = claims.get("iss"), claims.get("sub")
    if issuer and subject:
        found = links.get(f"sub:{issuer}|{subject}")
        if found:
            return found
    email = claims.get("email")
    if isinstance(email, str) and email and _verified(claims.get("email_verified")):
        wanted = f"email:{email.strip().lower()}"
        for key, username in links.items():
            if key.strip().lower() == wanted:
                return username
    return None


def principal_for(platform, username: str) -> Principal | None:
    """The principal of an active platform user, read through the accounts service; None if there is none."""
    from validation.accounts import list_orgs, list_users
    from validation.identity import SYSTEM, OrgKind, Role

    user = next((u for u in list_users(platform, SYSTEM) if u.username == username), None)
    if user is None or not user.active:
        return None
    kind = next((o.kind for o in list_orgs(platform, SYSTEM) if o.code == user.org), None)
    if kind is None:
        return None
    return Principal(user_id=user.id, username=user.username, printed_name=user.printed_name, role=Role(user.role),
                     org=user.org, org_kind=OrgKind(kind))


def sign_in(platform, claims: Mapping) -> tuple[Principal | None, str | None]:
    """``(principal, None)`` for a linked identity of an active user, else ``(None, message to show)``."""
    username = linked_username(claims, configured_links())
    if username is None:
        return None, ("Your single sign-on identity is not linked to a platform account. Ask the pilot-base admin "
                      "to link it, or sign in with your username and password.")
    principal = principal_for(platform, username)
    if principal is None:
        return None, "The account linked to your single sign-on identity does not exist or is deactivated."
    return principal, None
