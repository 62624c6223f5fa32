"""Export bundles: building, verifying untouched bundles, and refusing inconsistent inputs."""

from __future__ import annotations

import hashlib
import json
import zipfile

import pytest
from audit_helpers import checkpoint_for, make_events, read_zip, tree_of

from validation.audit import verify_bundle as standalone
from validation.audit.bundle import build_bundle
from validation.audit.canonical import canonical_json
from validation.audit.errors import BundleError

REPORT = json.dumps({"run": "run-2", "auroc": {"estimate": 0.91, "ci_low": 0.88}}).encode()
REPORT_SHA = hashlib.sha256(REPORT).hexdigest()


@pytest.fixture(scope="module")
def log():
    return make_events(40, report_hash=REPORT_SHA)


def test_full_bundle_layout_and_verification(tmp_path, key, log):
    old = checkpoint_for(log, key, 25)
    path = build_bundle(tmp_path / "b.zip", events=log, all_leaf_hashes_or_events=log,
                        checkpoint_text=checkpoint_for(log, key), public_key_text=key.verifier.to_text(),
                        signing_key=key, artifacts={"run-2/report.json": REPORT}, previous_checkpoint_text=old)
    files = read_zip(path)
    assert sorted(files) == ["MANIFEST.sha256", "artifacts/run-2/report.json", "checkpoint.txt", "events.jsonl",
                             "export.txt", "leaf_hashes.bin", "previous_checkpoint.txt", "proofs.json",
                             "public_key.txt", "verify_bundle.py"]
    lines = files["events.jsonl"].split(b"\n")
    assert lines[-1] == b"" and lines[:-1] == [canonical_json(e) for e in log]
    # MANIFEST.sha256 is in sha256sum format and covers every other file
    manifest = dict(reversed(line.split("  ")) for line in files["MANIFEST.sha256"].decode().splitlines())
    assert set(manifest) == set(files) - {"MANIFEST.sha256"}
    assert all(hashlib.sha256(files[p]).hexdigest() == h for p, h in manifest.items())
    assert files["leaf_hashes.bin"] == b"".join(tree_of(log).leaf_hashes())
    proofs = json.loads(files["proofs.json"])
    assert proofs["scope"] == "full" and proofs["inclusion"] == [] and proofs["consistency"]["old_size"] == 25

    report = standalone.verify(path, key.verifier.to_text(), old)
    assert report.ok, report.summary()
    assert report.passed == ("manifest", "checkpoint", "events", "merkle-root", "consistency", "statement")
    assert (report.scope, report.event_count, report.tree_size, report.consistency_from) == ("full", 40, 40, 25)
    assert report.artifacts == ("run-2/report.json",)
    assert any("1 of 1 artifacts" in note for note in report.notes)
    # without the regulator's checkpoint the carried one is used, and the report says so
    report = standalone.verify(path, key.verifier.to_pem().decode())
    assert report.ok and any("carried in the bundle" in note for note in report.notes)


def test_subset_bundle_verifies_with_inclusion_proofs(tmp_path, key, log):
    run = [e for e in log if e["object_id"] == "run-2"]
    old = checkpoint_for(log, key, 25)
    path = build_bundle(tmp_path / "s.zip", events=run, all_leaf_hashes_or_events=tree_of(log),
                        checkpoint_text=checkpoint_for(log, key), public_key_text=key.verifier.to_text(),
                        signing_key=key, artifacts={"run-2/report.json": REPORT}, previous_checkpoint_text=old)
    files = read_zip(path)
    assert "leaf_hashes.bin" not in files
    proofs = json.loads(files["proofs.json"])
    assert [p["seq"] for p in proofs["inclusion"]] == [e["seq"] for e in run]
    report = standalone.verify(path, key.verifier.to_text(), old)
    assert report.ok, report.summary()
    assert report.passed == ("manifest", "checkpoint", "events", "inclusion", "consistency", "statement")
    assert (report.scope, report.event_count, report.first_seq, report.last_seq) == ("subset", len(run), 2, 38)


def test_subset_with_consecutive_events_checks_their_links(tmp_path, key, log):
    since = log[30:]  # `--since 31`: consecutive, so every link after the first is checked
    path = build_bundle(tmp_path / "s.zip", events=since, all_leaf_hashes_or_events=[tree_of(log).leaf_hash(i)
                                                                                     for i in range(40)],
                        checkpoint_text=checkpoint_for(log, key), public_key_text=key.verifier.to_text(),
                        signing_key=key)
    assert standalone.verify(path, key.verifier.to_text()).ok


def test_bundle_of_a_log_larger_than_the_checkpoint(tmp_path, key, log):
    # the log has grown since the checkpoint: the bundle covers the checkpoint's 30 events
    path = build_bundle(tmp_path / "b.zip", events=log[:30], all_leaf_hashes_or_events=log,
                        checkpoint_text=checkpoint_for(log, key, 30), public_key_text=key.verifier.to_text(),
                        signing_key=key)
    report = standalone.verify(path, key.verifier.to_text())
    assert report.ok and report.scope == "full" and report.tree_size == 30


def _build(tmp_path, key, log, **kw):
    args = dict(events=log, all_leaf_hashes_or_events=log, checkpoint_text=checkpoint_for(log, key),
                public_key_text=key.verifier.to_text(), signing_key=key)
    args.update(kw)
    return build_bundle(tmp_path / "x.zip", **args)


def test_build_refuses_inconsistent_inputs(tmp_path, key, attacker_key, log):
    altered = [dict(e) for e in log]
    altered[3]["reason"] = "edited"
    with pytest.raises(BundleError, match="differs from the logged event"):
        _build(tmp_path, key, log, events=altered)
    with pytest.raises(BundleError, match="increasing seq"):
        _build(tmp_path, key, log, events=[log[2], log[1]])
    with pytest.raises(BundleError, match="does not verify"):
        _build(tmp_path, key, log, checkpoint_text=checkpoint_for(log, attacker_key))
    with pytest.raises(BundleError, match="signing_key does not match"):
        _build(tmp_path, key, log, signing_key=attacker_key)
    with pytest.raises(BundleError, match="not the root"):
        _build(tmp_path, key, log, all_leaf_hashes_or_events=altered)
    with pytest.raises(BundleError, match="pass the whole log"):
        _build(tmp_path, key, log, all_leaf_hashes_or_events=log[:10])
    rewritten = make_events(40, rewrite={3: {"reason": "rewritten"}})
    with pytest.raises(BundleError, match="NOT consistent"):
        _build(tmp_path, key, log, previous_checkpoint_text=checkpoint_for(rewritten, key, 20))
    for bad in ["../etc/passwd", "/abs", "a/../b", ".hidden", "a\\b", ""]:
        with pytest.raises(BundleError, match="not safe"):
            _build(tmp_path, key, log, artifacts={bad: b"x"})
    assert not (tmp_path / "x.zip").exists()


def test_bundle_is_deterministic(tmp_path, key, log):
    a = _build(tmp_path, key, log).read_bytes()
    b = _build(tmp_path, key, log).read_bytes()
    assert a == b
    with zipfile.ZipFile(tmp_path / "x.zip") as zf:
        assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in zf.infolist())
