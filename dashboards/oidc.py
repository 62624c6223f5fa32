"""Sign-in through the pilot base's OpenID Connect provider (``st.login``), when one is configured.

Streamlit's own ``[auth]`` settings in ``.streamlit/secrets.toml`` configure the provider (redirect_uri,
cookie_secret, client_id, ...; ``[clinval_oidc] label = "Pilot-base SSO"`` names the button of a single unnamed
provider). Which identity may sign in as whom is not configuration: an admin links an identity (issuer + subject, or
an e-mail the provider reports as verified) to a platform user with ``clinval user link`` or on the admin Users
page, and :func:`sign_in` asks the accounts service (``validation.accounts.login_oidc``), which refuses anything
else and audits the refusal.
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from validation import Principal

__all__ = ["providers", "sign_in"]


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


def _verified(value) -> bool:
    """Providers send ``email_verified`` as a JSON boolean; a few send the string ``"true"``."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def sign_in(platform, claims: Mapping) -> tuple[Principal | None, str | None]:
    """``(principal, None)`` for an identity an admin linked to an active user, else ``(None, message to show)``."""
    from validation.accounts import login_oidc
    from validation.exceptions import AuthenticationError

    try:
        principal = login_oidc(platform, issuer=claims.get("iss"), subject=claims.get("sub"),
                               email=claims.get("email"), email_verified=_verified(claims.get("email_verified")))
    except AuthenticationError as exc:
        if "deactivated" in exc.message:
            return None, "The account linked to your single sign-on identity is deactivated."
        return None, ("Your single sign-on identity is not linked to a platform account. Ask the pilot-base admin "
                      "to link it, or sign in with your username and password.")
    return principal, None
