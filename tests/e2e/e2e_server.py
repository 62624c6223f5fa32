"""Helpers of the browser tests: serve ``clinval dashboard`` on a free port, drive Debian's Chromium with
Playwright (never a downloaded browser), and keep screenshots as test artifacts.

A uniquely named module (the e2e folder has no conftest).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS_ENV = "CLINVAL_E2E_ARTIFACTS"
DEFAULT_ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def artifacts_dir(name: str) -> Path:
    """``$CLINVAL_E2E_ARTIFACTS/<name>`` (default ``tests/e2e/artifacts/<name>``), created, emptied of old PNGs."""
    root = Path(os.environ.get(ARTIFACTS_ENV) or DEFAULT_ARTIFACTS)
    out = root / name
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        if old.is_file():
            old.unlink()
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_dashboard(home: Path, *, timeout: float = 60.0):
    """``clinval dashboard`` on ``home`` at a free local port; yields its URL and stops it afterwards."""
    port = _free_port()
    env = {**os.environ, "CLINVAL_HOME": str(home), "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "validation.cli", "dashboard", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"the dashboard exited: {proc.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the dashboard did not become healthy within {timeout:.0f} s")
            time.sleep(0.3)  # polling a server that is starting, not waiting on the page
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 15)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait(timeout=20)


@contextmanager
def browser_page(url: str, artifacts: Path, *, timeout_ms: int = 45_000):
    """A Chromium page on ``url`` and ``shot(name)`` saving a full-page screenshot; the last state is kept as
    ``zz-last.png`` even when the test fails."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, chromium_sandbox=False)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
            page = context.new_page()
            page.set_default_timeout(timeout_ms)
            page.goto(url)

            def shot(name: str) -> None:
                page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)

            try:
                yield page, shot
            finally:
                try:
                    shot("zz-last")
                except Exception:  # the page may be gone; the test's own failure is what matters
                    pass
        finally:
            browser.close()


def sign_in(page, username: str, password: str) -> None:
    """Fill the sign-in form and wait until the home page greets the user."""
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as").first.wait_for()


def sign_out(page) -> None:
    """Sign out from the home page and wait for the sign-in form."""
    open_page(page, "Home", "clinval")
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in").wait_for()


def open_page(page, title: str, heading: str) -> None:
    """Follow the sidebar link ``title`` and wait for the page's ``heading``."""
    page.get_by_role("link", name=title, exact=True).click()
    page.get_by_role("heading", name=heading).first.wait_for()


def table_cell(page, text: str) -> None:
    """Wait for a cell of an ``st.dataframe`` (drawn on a canvas; its cells exist as hidden grid cells)."""
    page.get_by_role("gridcell", name=text, exact=True, include_hidden=True).first.wait_for(state="attached")
