"""Single sign-on through Streamlit's OIDC (``st.login`` / ``st.user``): offered only when ``[auth]`` is
configured, and an identity signs in only as the platform user an admin linked it to (links live in the platform
database, made through the accounts service; its own rules are tested in tests/validation/test_identity_links.py).

``st.user`` is faked through AppTest's own ``user`` hook and the secrets through ``AppTest.secrets``; the provider
round trip itself (redirect, token exchange) needs a live identity provider and Authlib, and is not tested here.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from dashboards import APP_PATH
from validation import accounts
from validation.platform import resolve_principal

ISSUER = "https://login.pilot-base.example"
AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "c" * 48,
        "client_id": "clinval", "client_secret": "s", "server_metadata_url": f"{ISSUER}/.well-known/openid-configuration"}


# The sign-in page.

@pytest.fixture
def platform(sqlite_platform, monkeypatch):
    admin = resolve_principal(sqlite_platform)
    accounts.create_org(sqlite_platform, admin, "acme", "Acme", "vendor")
    for username, role, org in (("rev-lin", "reviewer", "H01"), ("vendor-ada", "vendor", "acme"),
                                ("rev-gone", "reviewer", "H02")):
        accounts.create_user(sqlite_platform, admin, username=username, printed_name=f"{username} printed",
                             role=role, org=org, password=f"{username} password")
    # The links an admin made (service; 'clinval user link'): subject with its issuer, or a verified e-mail.
    accounts.link_identity(sqlite_platform, admin, "rev-lin", issuer=ISSUER, subject="00u-lin")
    accounts.link_identity(sqlite_platform, admin, "vendor-ada", email="Ada@Acme.example")
    accounts.link_identity(sqlite_platform, admin, "rev-gone", issuer=ISSUER, subject="00u-gone")
    accounts.deactivate_user(sqlite_platform, admin, "rev-gone")
    monkeypatch.setenv("CLINVAL_HOME", str(sqlite_platform.settings.home))
    from dashboards.session import get_platform

    get_platform.clear()
    return sqlite_platform


def _app(*, configured: bool, user: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(APP_PATH), default_timeout=30)
    if configured:
        at.secrets["auth"] = AUTH
        at.secrets["clinval_oidc"] = {"label": "Pilot-base SSO"}
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


def test_a_refused_identity_is_an_audit_event_without_the_identity(platform):
    import json

    from sqlalchemy import text

    _app(configured=True, user={"is_logged_in": True, "iss": ISSUER, "sub": "00u-unknown-42"})
    with platform.db.read() as session:
        rows = session.execute(text("SELECT details FROM audit_events WHERE action = 'auth.refused'")).all()
    assert rows and "00u-unknown-42" not in json.dumps([str(r[0]) for r in rows])


def test_the_admin_links_and_unlinks_an_identity_on_the_users_page(platform):
    admin = resolve_principal(platform)
    accounts.create_user(platform, admin, username="admin-sso", printed_name="Admin", role="admin",
                         org="pilot-base", password="admin-sso password")
    at = AppTest.from_file(str(APP_PATH), default_timeout=30)
    at.run()
    at.text_input[0].input("admin-sso")
    at.text_input[1].input("admin-sso password")
    at.button[0].click().run()
    at.switch_page("views/admin_users.py").run()
    assert not at.exception, [e.value for e in at.exception]
    form = {t.label: t for t in at.text_input}
    next(s for s in at.selectbox if s.label == "Platform user").set_value("rev-lin")
    form["Issuer"].input("https://other-idp.example")
    form["Subject"].input("lin-at-other")
    at.button(key="FormSubmitter:link-identity-Link identity").click().run()
    assert not at.exception and at.success and "Linked a sub identity to rev-lin" in at.success[0].value
    assert accounts.login_oidc(platform, issuer="https://other-idp.example", subject="lin-at-other").username == \
        "rev-lin"
    link_id = next(x.id for x in accounts.list_identity_links(platform, admin) if x.value == "lin-at-other")
    next(s for s in at.selectbox if s.label == "Link").set_value(link_id)
    at.button(key="FormSubmitter:unlink-identity-Remove link").click().run()
    assert not at.exception and at.success and f"Removed link {link_id}" in at.success[0].value
    with pytest.raises(Exception, match="not linked"):
        accounts.login_oidc(platform, issuer="https://other-idp.example", subject="lin-at-other")
    # a duplicate is the service's refusal, shown as a message
    form = {t.label: t for t in at.text_input}
    next(s for s in at.selectbox if s.label == "Platform user").set_value("vendor-ada")
    form["Issuer"].input(ISSUER)
    form["Subject"].input("00u-lin")
    at.button(key="FormSubmitter:link-identity-Link identity").click().run()
    assert not at.exception and at.error and "already linked" in at.error[0].value
