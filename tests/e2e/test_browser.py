"""End to end in a real browser: Debian's Chromium, driven by Playwright, against `clinval dashboard` served on
localhost. A reviewer signs in with a password and reaches the reviewer's pages; a wrong password is refused."""

from __future__ import annotations

import os

import pytest
from e2e_server import CHROMIUM, artifacts_dir, browser_page, serve_dashboard

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed (apt-get install chromium); .ci/run installs it")
    pytest.importorskip("playwright")
    from validation import accounts
    from validation.config import load_settings
    from validation.home import init_home
    from validation.platform import open_platform, resolve_principal

    home = tmp_path_factory.mktemp("e2e") / "home"
    settings = load_settings({}, home=home)
    init_home(settings)
    platform = open_platform(settings)
    admin = resolve_principal(platform)
    accounts.create_user(platform, admin, username="rev-h04", printed_name="Dr. Browser Reviewer", role="reviewer",
                         org="H04", password="a browser password")
    platform.close()
    with serve_dashboard(home) as url:
        yield url


@pytest.fixture
def page(dashboard, request):
    with browser_page(dashboard, artifacts_dir(f"sign-in-{request.node.name}")) as (page, _shot):
        yield page


def _sign_in(page, username: str, password: str) -> None:
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_reviewer_signs_in_and_reaches_the_reviewer_pages(page):
    _sign_in(page, "rev-h04", "a browser password")
    page.get_by_text("Dr. Browser Reviewer").first.wait_for()
    body = page.inner_text("body")
    assert "Failure cases" in body or "Sign off" in body, body[:2000]


def test_a_wrong_password_is_refused_in_the_browser(page):
    _sign_in(page, "rev-h04", "not the password")
    page.get_by_text("wrong username or password").first.wait_for()
    assert "Dr. Browser Reviewer" not in page.inner_text("body")
