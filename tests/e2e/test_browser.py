"""End to end in a real browser: Debian's Chromium, driven by Playwright, against `clinval dashboard` served on
localhost. A reviewer signs in with a password and reaches the reviewer's pages; a wrong password is refused."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    port = _free_port()
    env = {**os.environ, "CLINVAL_HOME": str(home), "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "validation.cli", "dashboard", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.3)
        if proc.poll() is not None:
            pytest.fail(f"the dashboard exited: {proc.stderr.read().decode()[-2000:]}")
    else:
        proc.kill()
        pytest.fail("the dashboard did not become healthy within 60 s")
    yield url
    os.killpg(proc.pid, 15)
    proc.wait(timeout=20)


@pytest.fixture
def page(dashboard, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                     chromium_sandbox=False)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(dashboard)
        yield page
        page.screenshot(path=str(tmp_path / "last.png"), full_page=True)
        browser.close()


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
