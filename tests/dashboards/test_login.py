"""The dashboard's sign-in goes through the service layer (Streamlit AppTest, a real platform)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from dashboards import APP_PATH
from validation import accounts
from validation.platform import resolve_principal


@pytest.fixture
def app(sqlite_platform, monkeypatch):
    admin = resolve_principal(sqlite_platform)
    accounts.create_user(
        sqlite_platform, admin, username="rev-h03", printed_name="Dr. Reviewer Three", role="reviewer", org="H03",
        password="reviewer password 3",
    )
    monkeypatch.setenv("CLINVAL_HOME", str(sqlite_platform.settings.home))
    from dashboards.session import get_platform

    get_platform.clear()
    at = AppTest.from_file(str(APP_PATH), default_timeout=30)
    at.run()
    return at


def test_sign_in_with_the_right_password(app):
    app.text_input[0].input("rev-h03")
    app.text_input[1].input("reviewer password 3")
    app.button[0].click().run()
    assert not app.exception
    assert any("Dr. Reviewer Three" in m.value for m in app.markdown)


def test_wrong_password_is_refused(app):
    app.text_input[0].input("rev-h03")
    app.text_input[1].input("not the password")
    app.button[0].click().run()
    assert not app.exception
    assert [e.value for e in app.error] == ["wrong username or password"]
