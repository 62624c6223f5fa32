"""End to end in a real browser, on a platform with a scored run: a hospital reviewer opens the run's report and
signs it off (approve, reason, password re-entered); a regulator then downloads the audit bundle of that run and
the public key, and the downloaded bundle verifies offline with ``clinval audit verify`` and carries the sign-off.

Screenshots of every step are kept in ``$CLINVAL_E2E_ARTIFACTS`` (default ``tests/e2e/artifacts/``, git-ignored).
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest
from e2e_server import artifacts_dir, browser_page, open_page, sign_in, sign_out, table_cell

pytestmark = pytest.mark.e2e

REASON = "E2E: criteria met at H01; approved in the browser"


def test_reviewer_signs_off_and_regulator_takes_away_a_bundle_that_verifies(small_dashboard, tmp_path, capsys):
    served = small_dashboard
    url, pinned_key, run_id = served.url, served.public_key, served.run_id
    reviewer, reviewer_password, reviewer_name = served.accounts["reviewer"]
    regulator, regulator_password, _ = served.accounts["regulator"]
    out = artifacts_dir("signoff-bundle")
    with capsys.disabled():
        print(f"\n[e2e] screenshots and downloads: {out}")
    with browser_page(url, out) as (page, shot):
        # A reviewer of H01 signs in, reads the report of the run on its hospital's data, and signs it off.
        sign_in(page, reviewer, reviewer_password)
        page.get_by_text("Signed in as").first.wait_for()
        page.get_by_text("awaiting your hospital's sign-off").first.wait_for()
        shot("01-reviewer-home")
        open_page(page, "Run report", "Run report")
        page.get_by_text("Acceptance verdicts").first.wait_for()
        page.get_by_text("Per site").first.wait_for()
        assert run_id in page.inner_text("body")
        shot("02-reviewer-report")
        open_page(page, "Sign off", "Sign off a run")
        page.get_by_text("Approve", exact=True).click()
        page.get_by_label("Reason", exact=True).fill(REASON)
        page.get_by_label("Password (re-enter to sign)", exact=True).fill(reviewer_password)
        page.get_by_role("button", name="Sign", exact=True).click()
        page.get_by_text(f"Signed: Approve by {reviewer_name}").wait_for()
        table_cell(page, REASON)
        shot("03-reviewer-signed")
        sign_out(page)

        # A regulator signs in and takes the run's audit bundle and the platform's public key away.
        sign_in(page, regulator, regulator_password)
        page.get_by_text("Signed in as").first.wait_for()
        open_page(page, "Sign-offs", "Sign-offs")
        table_cell(page, REASON)
        shot("04-regulator-signoffs")
        open_page(page, "Audit bundle", "Audit bundle")
        page.get_by_text("One run", exact=True).click()
        page.get_by_text("Run", exact=True).first.wait_for()
        page.get_by_role("button", name="Prepare bundle").click()
        page.get_by_text("Bundle ready").wait_for()
        assert "clinval audit verify BUNDLE --public-key" in page.inner_text("body"), "the page names the real CLI"
        shot("05-regulator-bundle")
        with page.expect_download() as download:
            page.get_by_role("button", name="Download bundle").click()
        bundle = out / download.value.suggested_filename
        download.value.save_as(bundle)
        with page.expect_download() as download:
            page.get_by_role("button", name="Download public key").click()
        key_file = out / "downloaded-public-key.txt"
        download.value.save_as(key_file)

    assert bundle.name.startswith(f"clinval-audit-{run_id}-")
    assert key_file.read_text(encoding="utf-8").strip() == pinned_key.strip(), "the page offers the platform's key"
    pinned = tmp_path / "pinned.pub"  # the regulator's own copy, taken from the platform, not from the page
    pinned.write_text(pinned_key, encoding="utf-8")
    verified = subprocess.run([sys.executable, "-m", "validation.cli", "audit", "verify", str(bundle),
                               "--public-key", str(pinned), "--json"], capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["ok"] is True

    with zipfile.ZipFile(bundle) as z:
        events = [json.loads(line) for line in z.read("events.jsonl").decode("utf-8").splitlines() if line]
    signed = [e for e in events if e.get("meaning") and e["object_id"] == run_id]
    assert [(e["actor_org"], e["meaning"], e["reason"]) for e in signed] == [("H01", "approve", REASON)]
