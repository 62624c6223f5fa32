"""End to end in a real browser, on a platform with a scored run: a hospital reviewer opens the run's report and
signs it off (approve, reason, password re-entered); a regulator then downloads the audit bundle of that run and
the public key, and the downloaded bundle verifies offline with ``clinval audit verify`` and carries the sign-off.

Screenshots of every step are kept in ``$CLINVAL_E2E_ARTIFACTS`` (default ``tests/e2e/artifacts/``, git-ignored).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from e2e_server import CHROMIUM, artifacts_dir, browser_page, serve_dashboard

pytestmark = pytest.mark.e2e

REASON = "E2E: criteria met at H01; approved in the browser"


def _dash_world():
    path = Path(__file__).resolve().parents[1] / "dashboards" / "dash_world.py"
    spec = importlib.util.spec_from_file_location("clinval_e2e_dash_world", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def world_url(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed (apt-get install chromium); .ci/run installs it")
    pytest.importorskip("playwright")
    dash_world = _dash_world()
    world = dash_world.build_world(tmp_path_factory.mktemp("e2e-run"))
    from validation.audit.trail import public_key_text

    key = public_key_text(world.platform)
    world.platform.close()
    if world.run_id is None:
        pytest.skip(world.skip_reason)
    with serve_dashboard(world.platform.settings.home) as url:
        yield world, url, key, dash_world.password


def _sign_in(page, username: str, password: str) -> None:
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def _open(page, title: str, heading: str) -> None:
    page.get_by_role("link", name=title, exact=True).click()
    page.get_by_role("heading", name=heading).first.wait_for()


def _table_cell(page, text: str) -> None:
    """Wait for a cell of an ``st.dataframe`` (drawn on a canvas; its cells exist as hidden grid cells)."""
    page.get_by_role("gridcell", name=text, exact=True, include_hidden=True).first.wait_for(state="attached")


def test_reviewer_signs_off_and_regulator_takes_away_a_bundle_that_verifies(world_url, tmp_path, capsys):
    world, url, pinned_key, password = world_url
    out = artifacts_dir("signoff-bundle")
    with capsys.disabled():
        print(f"\n[e2e] screenshots and downloads: {out}")
    with browser_page(url, out) as (page, shot):
        # A reviewer of H01 signs in, reads the report of the run on its hospital's data, and signs it off.
        _sign_in(page, "rev-h01", password("rev-h01"))
        page.get_by_text("Signed in as").first.wait_for()
        page.get_by_text("awaiting your hospital's sign-off").first.wait_for()
        shot("01-reviewer-home")
        _open(page, "Run report", "Run report")
        page.get_by_text("Acceptance verdicts").first.wait_for()
        page.get_by_text("Per site").first.wait_for()
        assert world.run_id in page.inner_text("body")
        shot("02-reviewer-report")
        _open(page, "Sign off", "Sign off a run")
        page.get_by_text("Approve", exact=True).click()
        page.get_by_label("Reason", exact=True).fill(REASON)
        page.get_by_label("Password (re-enter to sign)", exact=True).fill(password("rev-h01"))
        page.get_by_role("button", name="Sign", exact=True).click()
        page.get_by_text("Signed: Approve by rev-h01 (printed)").wait_for()
        _table_cell(page, REASON)
        shot("03-reviewer-signed")
        _open(page, "Home", "clinval")
        page.get_by_role("button", name="Sign out").click()
        page.get_by_role("button", name="Sign in").wait_for()

        # A regulator signs in and takes the run's audit bundle and the platform's public key away.
        _sign_in(page, "regulator", password("regulator"))
        page.get_by_text("Signed in as").first.wait_for()
        _open(page, "Sign-offs", "Sign-offs")
        _table_cell(page, REASON)
        shot("04-regulator-signoffs")
        _open(page, "Audit bundle", "Audit bundle")
        page.get_by_text("One run", exact=True).click()
        page.get_by_text("Run", exact=True).first.wait_for()
        page.get_by_role("button", name="Prepare bundle").click()
        page.get_by_text("Bundle ready").wait_for()
        shot("05-regulator-bundle")
        with page.expect_download() as download:
            page.get_by_role("button", name="Download bundle").click()
        bundle = out / download.value.suggested_filename
        download.value.save_as(bundle)
        with page.expect_download() as download:
            page.get_by_role("button", name="Download public key").click()
        key_file = out / "downloaded-public-key.txt"
        download.value.save_as(key_file)

    assert bundle.name.startswith(f"clinval-audit-{world.run_id}-")
    assert key_file.read_text(encoding="utf-8").strip() == pinned_key.strip(), "the page offers the platform's key"
    pinned = tmp_path / "pinned.pub"  # the regulator's own copy, taken from the platform, not from the page
    pinned.write_text(pinned_key, encoding="utf-8")
    verified = subprocess.run([sys.executable, "-m", "validation.cli", "audit", "verify", str(bundle),
                               "--public-key", str(pinned), "--json"], capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["ok"] is True

    with zipfile.ZipFile(bundle) as z:
        events = [json.loads(line) for line in z.read("events.jsonl").decode("utf-8").splitlines() if line]
    signed = [e for e in events if e.get("meaning") and e["object_id"] == world.run_id]
    assert [(e["actor_org"], e["meaning"], e["reason"]) for e in signed] == [("H01", "approve", REASON)]
