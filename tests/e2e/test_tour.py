"""The dashboard tour of README.md, step by step in a real browser: a vendor, a hospital reviewer and a regulator each
walk their pages. Screenshots of every step go to ``$CLINVAL_E2E_ARTIFACTS/tour``.

By default it walks the small test platform with its accounts. Pointed at a demo home
(``CLINVAL_E2E_DEMO_HOME=.clinval``, after ``clinval demo``) it walks the demo with the demo accounts the tour
names, which is how the tour itself was checked.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_server import artifacts_dir, browser_page, open_page, serve_dashboard, sign_in, sign_out, table_cell

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tour(request):
    demo_home = os.environ.get("CLINVAL_E2E_DEMO_HOME")
    if not demo_home:
        served = request.getfixturevalue("small_dashboard")
        yield served.url, served.accounts, served.public_key
        return
    from conftest import require_browser  # noqa: PLC0415  (the e2e folder's own conftest)

    require_browser()
    from validation.audit.trail import public_key_text
    from validation.config import load_settings
    from validation.demo import DEMO_ACCOUNTS
    from validation.platform import open_platform

    platform = open_platform(load_settings({}, home=Path(demo_home)))
    key = public_key_text(platform)
    platform.close()
    accounts = {a.role: (a.username, a.password, a.printed_name) for a in DEMO_ACCOUNTS}
    with serve_dashboard(Path(demo_home)) as url:
        yield url, accounts, key


def _choose(page, label: str, pattern: str) -> None:
    """Pick the option matching ``pattern`` in the select box ``label``."""
    page.get_by_label(label, exact=True).first.click()
    page.get_by_role("option", name=re.compile(pattern)).first.click()
    page.keyboard.press("Escape")  # a multiselect stays open (and hides the rest of the page) until closed


def test_the_tour(tour, tmp_path, capsys):
    url, accounts, pinned_key = tour
    out = artifacts_dir("tour")
    with capsys.disabled():
        print(f"\n[e2e] tour screenshots: {out}")
    with browser_page(url, out) as (page, shot):
        # 1. The vendor follows its models.
        vendor, vendor_password, vendor_name = accounts["vendor"]
        sign_in(page, vendor, vendor_password)
        page.get_by_text(vendor_name).first.wait_for()
        shot("vendor-1-home")
        for forbidden in ("Failure cases", "Sign off", "Audit bundle", "Users"):
            assert page.get_by_role("link", name=forbidden, exact=True).count() == 0, forbidden
        open_page(page, "My submissions", "My submissions")
        table_cell(page, "ready")
        shot("vendor-2-submissions")
        open_page(page, "My runs", "Runs")
        page.get_by_text("Sites of each run").wait_for()
        shot("vendor-3-runs")
        open_page(page, "Overview", "Overview")
        page.get_by_role("gridcell", name=re.compile("^(PASS|FAIL)$"), include_hidden=True).first.wait_for(
            state="attached")
        shot("vendor-4-overview")
        open_page(page, "Run report", "Run report")
        for section in ("Acceptance verdicts", "Overall", "Per site", "Subgroups (age band, sex, manufacturer)"):
            page.get_by_text(section, exact=True).first.wait_for()
        page.get_by_text("are suppressed").first.wait_for()
        assert page.get_by_role("columnheader", name="case_id", include_hidden=True).count() == 0
        shot("vendor-5-report")
        sign_out(page)

        # 2. The hospital reviewer studies its failures (the sign-off itself: test_signoff_bundle.py).
        reviewer, reviewer_password, reviewer_name = accounts["reviewer"]
        sign_in(page, reviewer, reviewer_password)
        page.get_by_text(reviewer_name).first.wait_for()
        page.get_by_text(re.compile("awaiting your hospital's sign-off|has a sign-off from")).first.wait_for()
        shot("reviewer-1-home")
        open_page(page, "Runs on my hospital's data", "Runs")
        open_page(page, "Run report", "Run report")
        page.get_by_text("Acceptance verdicts").first.wait_for()
        assert page.get_by_text("are suppressed").count() == 0, "a reviewer reads small groups"
        open_page(page, "Failure cases", "Failure cases at H01")
        _choose(page, "Run", "cxr-pneumonia")
        page.get_by_text("False negatives").first.wait_for()
        page.get_by_text("Errors only").click()
        page.get_by_text("Show the image of case").first.wait_for()
        page.get_by_text("reference label").first.wait_for()  # the caption of the de-identified radiograph
        assert page.locator("img[src*='/media/']").count() >= 1
        shot("reviewer-2-failure-cases")
        open_page(page, "Sign off", "Sign off a run")
        page.get_by_text("report document with SHA-256").first.wait_for()
        shot("reviewer-3-sign-off-form")
        sign_out(page)

        # 3. The regulator checks the evidence and takes it away.
        regulator, regulator_password, regulator_name = accounts["regulator"]
        sign_in(page, regulator, regulator_password)
        page.get_by_text(regulator_name).first.wait_for()
        open_page(page, "All runs", "Runs")
        open_page(page, "Sign-offs", "Sign-offs")
        shot("regulator-1-signoffs")
        open_page(page, "Data quality", "Data quality")
        page.get_by_text("Integrity").first.wait_for()
        page.get_by_text("Expectations").first.wait_for()
        shot("regulator-2-data-quality")
        open_page(page, "Audit log", "Audit log")
        _choose(page, "Action", r"^protocol\.publish$")  # the grid draws only the rows in view: filter first
        table_cell(page, "protocol.publish")
        shot("regulator-3-audit-log")
        open_page(page, "Audit bundle", "Audit bundle")
        page.get_by_role("button", name="Prepare bundle").click()  # scope: Everything
        page.get_by_text("Bundle ready").wait_for()
        page.get_by_text("Checkpoint to keep").wait_for()
        shot("regulator-4-bundle")
        with page.expect_download() as download:
            page.get_by_role("button", name="Download bundle").click()
        bundle = out / download.value.suggested_filename
        download.value.save_as(bundle)

    assert bundle.name.startswith("clinval-audit-all-")
    pinned = tmp_path / "clinval-audit.pub"
    pinned.write_text(pinned_key, encoding="utf-8")
    verified = subprocess.run([sys.executable, "-m", "validation.cli", "audit", "verify", str(bundle),
                               "--public-key", str(pinned)], capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("OK: audit bundle verified"), verified.stdout
