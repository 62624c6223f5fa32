"""Single sign-on through Streamlit's OIDC (``st.login`` / ``st.user``): offered only when ``[auth]`` is
configured, and an identity signs in only as the platform user an admin linked it to.

``st.user`` is faked through AppTest's own ``user`` hook and the secrets through ``AppTest.secrets``; the provider
round trip itself (redirect, token exchange) needs a live identity provider and Authlib, and is not tested here.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from dashboards import APP_PATH
from dashboards.oidc import linked_username
from validation import accounts
from validation.platform import resolve_principal

ISSUER = "https://login.pilot-base.example"
LINKS = {f"sub:{ISSUER}|00u-lin": "rev-lin", "email:Ada@Acme.example": "vendor-ada",
         f"sub:{ISSUER}|00u-gone": "rev-gone"}
AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "c" * 48,
        "client_id": "clinval", "client_secret": "s", "server_metadata_url": f"{ISSUER}/.well-known/openid-configuration"}


# The mapping itself: worked cases.

def test_a_subject_maps_only_together_with_its_issuer():
    assert linked_username({"iss": ISSUER, "sub": "00u-lin"}, LINKS) == "rev-lin"
    assert linked_username({"iss": "https://evil.example", "sub": "00u-lin"}, LINKS) is None
    assert linked_username({"sub": "00u-lin"}, LINKS) is None


def test_an_email_maps_only_when_verified_and_ignores_case():
    assert linked_username({"email": "ada@acme.EXAMPLE", "email_verified": True}, LINKS) == "vendor-ada"
    assert linked_username({"email": "ada@acme.example", "email_verified": "true"}, LINKS) == "vendor-ada"
    assert linked_username({"email": "ada@acme.example", "email_verified": False}, LINKS) is None
    assert linked_username({"email": "ada@acme.example"}, LINKS) is None
    assert linked_username({"email": "eve@acme.example", "email_verified": True}, LINKS) is None


def test_the_subject_link_wins_over_an_email_link():
    claims = {"iss": ISSUER, "sub": "00u-lin", "email": "ada@acme.example", "email_verified": True}
    assert linked_username(claims, LINKS) == "rev-lin"


def test_nothing_is_linked_when_no_links_are_configured():
    assert linked_username({"iss": ISSUER, "sub": "00u-lin", "email": "a@b", "email_verified": True}, {}) is None


# The sign-in page.

@pytest.fixture
def platform(sqlite_platform, monkeypatch):
    admin = resolve_principal(sqlite_platform)
    accounts.create_org(sqlite_platform, admin, "acme", "Acme", "vendor")
    for username, role, org in (("rev-lin", "reviewer", "H01"), ("vendor-ada", "vendor", "acme"),
                                ("rev-gone", "reviewer", "H02")):
        accounts.create_user(sqlite_platform, admin, username=username, printed_name=f"{username} printed",
                             role=role, org=org, password=f"{username} password")
    accounts.deactivate_user(sqlite_platform, admin, "rev-gone")
    monkeypatch.setenv("CLINVAL_HOME", str(sqlite_platform.settings.home))
    from dashboards.session import get_platform

    get_platform.clear()
    return sqlite_platform


def _app(*, configured: bool, user: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(APP_PATH), default_timeout=30)
    if configured:
        at.secrets["auth"] = AUTH
        at.secrets["clinval_oidc"] = {"label": "Pilot-base SSO", "links": LINKS}
    at.user = user if user is not None else {"is_logged_in": False}
    return at.run()


def _sso_buttons(at: AppTest) -> list[str]:
    return [b.label for b in at.button if b.label.startswith("Sign in with")]


def test_without_auth_configured_only_the_password_form_is_offered(platform):
    at = _app(configured=False, user={"is_logged_in": True, "iss": ISSUER, "sub": "00u-lin"})
    assert not at.exception
    assert _sso_buttons(at) == []
    assert not [m for m in at.markdown if "Signed in as" in m.value], "st.user is ignored when OIDC is off"
    assert [t.label for t in at.text_input] == ["Username", "Password"]


def test_with_auth_configured_the_provider_button_is_offered(platform):
    at = _app(configured=True)
    assert not at.exception
    assert _sso_buttons(at) == ["Sign in with Pilot-base SSO"]
    at.button(key="oidc-default").click().run()
    assert not at.exception, [e.value for e in at.exception]
    try:
        import authlib  # noqa: F401
    except ImportError:
        assert at.error and "cannot start" in at.error[0].value, "a missing Authlib is a message, not a traceback"


def test_named_providers_each_get_a_button(platform):
    at = AppTest.from_file(str(APP_PATH), default_timeout=30)
    at.secrets["auth"] = {"redirect_uri": AUTH["redirect_uri"], "cookie_secret": AUTH["cookie_secret"],
                          "microsoft": {"client_id": "a"}, "hospital_sso": {"client_id": "b"}}
    at.user = {"is_logged_in": False}
    at.run()
    assert _sso_buttons(at) == ["Sign in with Microsoft", "Sign in with Hospital Sso"]


def test_a_linked_identity_signs_in_as_its_platform_user(platform):
    at = _app(configured=True, user={"is_logged_in": True, "iss": ISSUER, "sub": "00u-lin", "name": "Lin"})
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("Signed in as **rev-lin printed** (reviewer, H01)" in m.value for m in at.markdown)
    assert any("single sign-on" in c.value for c in at.caption)


def test_a_verified_email_link_signs_in_the_vendor(platform):
    at = _app(configured=True, user={"is_logged_in": True, "iss": ISSUER, "sub": "other",
                                     "email": "ada@acme.example", "email_verified": True})
    assert any("Signed in as **vendor-ada printed** (vendor, acme)" in m.value for m in at.markdown)


@pytest.mark.parametrize("claims", [
    {"iss": ISSUER, "sub": "00u-unknown", "email": "someone@h01.example", "email_verified": True},
    {"iss": ISSUER, "sub": "x", "email": "ada@acme.example", "email_verified": False},
], ids=["not-linked", "unverified-email"])
def test_an_unlinked_identity_is_refused(platform, claims):
    at = _app(configured=True, user={"is_logged_in": True, **claims})
    assert not at.exception
    assert at.error and "not linked to a platform account" in at.error[0].value
    assert not [m for m in at.markdown if "Signed in as" in m.value]
    assert [t.label for t in at.text_input] == ["Username", "Password"], "the password form stays available"
    assert [b.label for b in at.button if b.label == "Sign out of single sign-on"]


def test_an_identity_linked_to_a_deactivated_user_is_refused(platform):
    at = _app(configured=True, user={"is_logged_in": True, "iss": ISSUER, "sub": "00u-gone"})
    assert not at.exception
    assert at.error and "deactivated" in at.error[0].value
    assert not [m for m in at.markdown if "Signed in as" in m.value]
