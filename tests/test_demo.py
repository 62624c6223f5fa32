"""`clinval demo` end to end on a fresh home, twice; then every byte the platform wrote is scanned for the
exports' PHI (database, MLflow store and artifacts, corpora, runs, models, audit bundle, the demo's own output)."""

from __future__ import annotations

import shutil
import zipfile

import pytest
from click.testing import CliRunner

from validation.cli import cli


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed (apt-get install bubblewrap); .ci/run installs it")
    home = tmp_path_factory.mktemp("demo") / "home"
    runner = CliRunner(env={"CLINVAL_HOME": str(home), "CLINVAL_SANDBOX": "bwrap", "MLFLOW_TRACKING_URI": None,
                            "CLINVAL_DB_URL": None, "CLINVAL_TOKEN": None})
    first = runner.invoke(cli, ["demo", "--no-serve"], catch_exceptions=False)  # default size: the demo's verdicts
    assert first.exit_code == 0, first.output
    second = runner.invoke(cli, ["demo", "--no-serve"], catch_exceptions=False)
    assert second.exit_code == 0, second.output
    return home, first.output, second.output


def test_demo_runs_the_pipeline_and_reuses_it(demo_home):
    home, first, second = demo_home
    for step in ("[2/7]", "[3/7]", "[4/7]", "[5/7]", "[6/7]", "[7/7]"):
        assert step in first
    assert first.count("(DeLong) over") == 5 and "verification: OK" in first  # every example model evaluated
    home = demo_home[0]
    assert sorted(p.suffix for p in (home / "reports").iterdir()) == sorted([".html", ".json", ".pdf"] * 5)
    assert "Reusing corpus" in second and second.count("Reusing run") == 5 and "verification: OK" in second
    assert "Vendor fits" not in second  # nothing rebuilt the second time
    assert "Traceback" not in first + second


def test_the_summary_shows_competent_models_passing_and_flawed_ones_caught(demo_home):
    _, first, second = demo_home
    summary = first[first.index("Summary"):].splitlines()
    rows = {line.split()[0]: line for line in summary[2:7]}
    assert set(rows) == {"pneumo-opacity", "pneumo-opacity-mono-blind", "aki-early-warning",
                         "aki-early-warning-mgdl-only", "aki-early-warning-tempered"}, summary
    for name, line in rows.items():
        assert ("cxr-pneumonia" in line) == name.startswith("pneumo"), line
        assert " [" in line and "H" in line.split("]")[-1], line  # pooled AUROC with its CI, then the worst site
    assert rows["pneumo-opacity"].rstrip().endswith("PASS") and rows["aki-early-warning"].rstrip().endswith("PASS")
    assert "FAIL" in rows["pneumo-opacity-mono-blind"] and "site-consistency" in rows["pneumo-opacity-mono-blind"]
    assert "FAIL" in rows["aki-early-warning-mgdl-only"]
    assert "site-calibration-consistency" in rows["aki-early-warning-mgdl-only"]
    assert rows["aki-early-warning-tempered"].rstrip().endswith("FAIL (calibration)")
    assert second[second.index("Summary"):].splitlines()[:7] == summary[:7]  # the second run shows the same


def test_the_demo_bundle_verifies_with_the_shipped_verifier(demo_home, tmp_path):
    import subprocess
    import sys

    home, _, _ = demo_home
    bundle = home / "demo-audit-bundle.zip"
    with zipfile.ZipFile(bundle) as z:
        (tmp_path / "verify_bundle.py").write_bytes(z.read("verify_bundle.py"))
    key = home / "keys" / "audit-public-key.txt"
    out = subprocess.run([sys.executable, "-I", str(tmp_path / "verify_bundle.py"), str(bundle), "--public-key",
                          str(key)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_no_phi_anywhere_the_platform_wrote(demo_home, tmp_path):
    from datasets.phi_scan import harvest_tokens, scan

    home, first, second = demo_home
    unpacked = tmp_path / "bundle"
    with zipfile.ZipFile(home / "demo-audit-bundle.zip") as z:
        z.extractall(unpacked)  # members may be compressed: scan them as they are inside
    export = home / "demo-export"
    tokens = harvest_tokens(export)
    assert scan([export / "H09" / "dicom"], tokens), "the scan must see the PHI of the identified source"
    written = [p for p in home.iterdir() if p.name != "demo-export"]  # includes the vendor's de-identified DEV split
    assert {p.name for p in written} >= {"platform.db", "mlflow.db", "corpora", "runs", "models", "mlartifacts",
                                         "demo-audit-bundle.zip"}
    hits = scan([*written, unpacked], tokens, extra_blobs={"demo stdout": (first + second).encode("utf-8")})
    assert hits == [], [str(h) for h in hits]


def test_demo_then_serves_the_dashboards_and_its_accounts_sign_in(demo_home):
    """Without --no-serve the (re-used) demo ends by serving the dashboards; the printed accounts sign in."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    from validation import accounts
    from validation.config import load_settings
    from validation.demo import DEMO_ACCOUNTS
    from validation.platform import open_platform

    home, first, _ = demo_home
    for acct in DEMO_ACCOUNTS:
        assert f"{acct.username}/{acct.password}" in first
    platform = open_platform(load_settings({"CLINVAL_HOME": str(home)}, home=home))
    try:
        roles = {accounts.login(platform, a.username, a.password).role.value for a in DEMO_ACCOUNTS}
    finally:
        platform.close()
    assert roles == {"vendor", "reviewer", "regulator", "admin"}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLINVAL_", "MLFLOW_TRACKING"))}
    env.update(CLINVAL_HOME=str(home), CLINVAL_SANDBOX="bwrap")
    proc = subprocess.Popen([sys.executable, "-m", "validation.cli", "demo", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        healthy = False
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    healthy = r.status == 200
                    break
            except OSError:
                time.sleep(0.5)
        assert healthy, "the dashboards did not come up after the demo"
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
    assert "Reusing corpus" in out and f"Serving the dashboards at http://127.0.0.1:{port}" in out
    assert "Traceback" not in out


def test_summary_row_without_interval_or_criteria():
    from types import SimpleNamespace

    from validation.demo import _summary_row

    sub = SimpleNamespace(model_name="m", model_version="1", protocol_id="p", state="evaluated")
    overall = {"group_kind": "overall", "metric": "auroc", "estimate": 0.8, "ci_low": None, "ci_high": None, "n": 9}
    row = _summary_row("x", sub, SimpleNamespace(results=[overall], verdicts=[]))
    assert row["auroc"] == "0.800 [no CI]" and row["verdict"] == "NO CRITERIA"
    failed = SimpleNamespace(results=[overall], verdicts=[{"criterion": "c", "status": "fail"}])
    assert _summary_row("x", sub, failed)["verdict"] == "FAIL"
    passed = SimpleNamespace(results=[overall], verdicts=[{"criterion": "c", "status": "pass"}])
    assert _summary_row("x", sub, passed)["verdict"] == "PASS"
