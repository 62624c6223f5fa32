"""The standalone verifier runs with nothing but the standard library and `cryptography`.

It is run as a subprocess from a copy in a temporary directory, with ``python -I -S`` (no site-packages, no
environment, no script directory on sys.path) and a sys.path holding only the standard library and a directory of
links to `cryptography` and its compiled cffi backend. clinval is therefore not importable there.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cryptography
import pytest
from audit_helpers import checkpoint_for, make_events, read_zip, write_zip

from validation.audit.bundle import build_bundle

RUNNER = """
import importlib.util, runpy, sys
assert importlib.util.find_spec("cryptography") is None, "site-packages is visible: isolation failed"
sys.path.insert(0, {deps!r})
for forbidden in ("validation", "datasets", "evaluators", "dashboards", "clinval"):
    assert importlib.util.find_spec(forbidden) is None, forbidden + " is importable"
sys.argv = {argv!r}
try:
    runpy.run_path({script!r}, run_name="__main__")
finally:
    leaked = [m for m in sys.modules if m.split(".")[0] in ("validation", "datasets", "evaluators", "dashboards")]
    assert not leaked, leaked
"""


@pytest.fixture(scope="module")
def isolated(tmp_path_factory):
    """A directory with a copy of the verifier and a deps dir holding only cryptography (+ its cffi backend)."""
    root = tmp_path_factory.mktemp("regulator")
    script = root / "verify_bundle.py"
    shutil.copy(Path(__file__).resolve().parents[2] / "validation" / "audit" / "verify_bundle.py", script)
    deps = root / "deps"
    deps.mkdir()
    site = Path(cryptography.__file__).resolve().parents[1]
    (deps / "cryptography").symlink_to(site / "cryptography")
    for backend in site.glob("_cffi_backend*"):
        (deps / backend.name).symlink_to(backend)
    return script, deps


def run(isolated, *args):
    script, deps = isolated
    code = RUNNER.format(deps=str(deps), argv=[str(script), *map(str, args)], script=str(script))
    return subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True,
                          cwd=script.parent, timeout=120)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, key):
    log = make_events(30)
    path = tmp_path_factory.mktemp("b") / "bundle.zip"
    build_bundle(path, events=log, all_leaf_hashes_or_events=log, checkpoint_text=checkpoint_for(log, key),
                 public_key_text=key.verifier.to_text(), signing_key=key, artifacts={"report.json": b"{}"})
    kept = path.parent / "kept-checkpoint.txt"
    kept.write_text(checkpoint_for(log, key, 12))
    pinned = path.parent / "pinned-key.txt"
    pinned.write_text(key.verifier.to_text() + "\n")
    return path, pinned, kept


def test_verifier_succeeds_in_isolation(isolated, bundle):
    path, pinned, kept = bundle
    result = run(isolated, path, "--public-key", pinned, "--previous-checkpoint", kept)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("OK: audit bundle verified")
    assert "consistent with the earlier checkpoint of size 12" in result.stdout


def test_verifier_accepts_key_string_and_prints_json(isolated, bundle, key):
    path, _, _ = bundle
    result = run(isolated, path, "--public-key", key.verifier.to_text(), "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["event_count"] == 30 and report["failure"] is None


def test_verifier_names_the_failure_and_exits_nonzero(isolated, bundle, tmp_path):
    path, pinned, _ = bundle
    files = read_zip(path)
    files["events.jsonl"] = files["events.jsonl"].replace(b'"n_cases":120', b'"n_cases":121', 1)
    forged = write_zip(tmp_path / "forged.zip", files)
    result = run(isolated, forged, "--public-key", pinned)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("FAILED at step 'events': seq 12:"), result.stdout


def test_verifier_usage_errors(isolated, bundle, tmp_path):
    _, pinned, _ = bundle
    result = run(isolated, tmp_path / "missing.zip", "--public-key", pinned)
    assert result.returncode == 2 and "not found" in result.stderr
    result = run(isolated, bundle[0], "--public-key", "not-a-key")
    assert result.returncode == 1 and "pinned public key" in result.stdout
