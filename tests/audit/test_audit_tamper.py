"""Every way a forger would tamper with an export bundle is caught, and the failure names the file or event."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile

import pytest
from audit_helpers import (
    ORIGIN,
    checkpoint_for,
    make_events,
    read_zip,
    resign_statement,
    tree_of,
    write_zip,
)

from validation.audit import verify_bundle as standalone
from validation.audit.bundle import build_bundle
from validation.audit.canonical import ZERO_HASH, canonical_json, event_hash

REPORT = b'{"run":"run-2","verdict":"pass"}'
REPORT_SHA = hashlib.sha256(REPORT).hexdigest()
N, KEPT = 40, 25  # log size; size of the earlier checkpoint the regulator kept


@pytest.fixture(scope="module")
def log():
    return make_events(N, report_hash=REPORT_SHA)


@pytest.fixture(scope="module")
def kept(log, key):
    """The earlier checkpoint the regulator kept."""
    return checkpoint_for(log, key, KEPT)


@pytest.fixture(scope="module")
def full(tmp_path_factory, key, log, kept):
    path = tmp_path_factory.mktemp("full") / "bundle.zip"
    return build_bundle(path, events=log, all_leaf_hashes_or_events=log, checkpoint_text=checkpoint_for(log, key),
                        public_key_text=key.verifier.to_text(), signing_key=key,
                        artifacts={"run-2/report.json": REPORT}, previous_checkpoint_text=kept)


@pytest.fixture(scope="module")
def subset(tmp_path_factory, key, log, kept):
    path = tmp_path_factory.mktemp("subset") / "bundle.zip"
    run = [e for e in log if e["object_id"] == "run-2"]  # seqs 2, 5, 8, ...
    return build_bundle(path, events=run, all_leaf_hashes_or_events=log, checkpoint_text=checkpoint_for(log, key),
                        public_key_text=key.verifier.to_text(), signing_key=key,
                        artifacts={"run-2/report.json": REPORT}, previous_checkpoint_text=kept)


def events_of(files):
    return [json.loads(line) for line in files["events.jsonl"].decode().splitlines()]


def put_events(files, events):
    files["events.jsonl"] = b"".join(canonical_json(e) + b"\n" for e in events)


def rechain(events):
    prev = ZERO_HASH if events[0]["seq"] == 1 else events[0]["prev_hash"]
    for e in events:
        e["prev_hash"] = prev
        prev = event_hash(e)
    return events


def check(path, key, *, step, subject, seq=None, reason=None, previous=None):
    report = standalone.verify(path, key.verifier.to_text(), previous)
    assert not report.ok, "tampering was not detected"
    failure = report.failure
    assert failure.step == step, str(failure)
    assert subject in failure.subject, str(failure)
    if seq is not None:
        assert failure.seq == seq, str(failure)
    if reason is not None:
        assert reason in failure.reason, str(failure)
    assert step not in report.passed
    return report


def tampered(tmp_path, bundle, edit, *, remanifest=True):
    files = read_zip(bundle)
    edit(files)
    return write_zip(tmp_path / "tampered.zip", files, remanifest=remanifest)


# --- change one byte of an event --------------------------------------------------------------------------------

def test_one_byte_of_an_event_changed(tmp_path, full, key):
    def edit(files):
        files["events.jsonl"] = files["events.jsonl"].replace(b'"n_cases":70', b'"n_cases":79', 1)
    # a careless forger: the manifest no longer matches
    check(tampered(tmp_path, full, edit, remanifest=False), key, step="manifest", subject="events.jsonl")
    # a careful forger recomputes the manifest: the chain breaks after seq 7, and seq 7 is named
    check(tampered(tmp_path, full, edit), key, step="events", subject="seq 7", seq=7, reason="differs")


def test_one_byte_of_the_last_event_changed(tmp_path, full, key):
    def edit(files):
        files["events.jsonl"] = files["events.jsonl"].replace(b'"n_cases":400', b'"n_cases":401', 1)
    check(tampered(tmp_path, full, edit), key, step="merkle-root", subject=f"seq {N}", seq=N)


def test_event_edited_out_of_canonical_form(tmp_path, full, key):
    def edit(files):
        files["events.jsonl"] = files["events.jsonl"].replace(b'"seq":9,', b'"seq": 9,', 1)
    check(tampered(tmp_path, full, edit), key, step="events", subject="seq 9", reason="canonical")


def test_one_byte_changed_in_a_subset_export(tmp_path, subset, key):
    def edit(files):
        files["events.jsonl"] = files["events.jsonl"].replace(b"acceptance criteria", b"acceptance criterion", 1)
    check(tampered(tmp_path, subset, edit), key, step="inclusion", subject="seq 5", seq=5)


# --- change an event and rebuild the hash chain -----------------------------------------------------------------

def test_event_changed_and_chain_rebuilt(tmp_path, full, key):
    def edit(files):
        events = events_of(files)
        events[11]["meaning"] = "approve"
        put_events(files, rechain(events))
    check(tampered(tmp_path, full, edit), key, step="merkle-root", subject="seq 12", seq=12)


def test_event_changed_chain_and_leaf_list_rebuilt(tmp_path, full, key):
    def edit(files):
        events = rechain(events_of(files))
        events[11]["meaning"] = "approve"
        put_events(files, rechain(events))
        files["leaf_hashes.bin"] = b"".join(tree_of(events).leaf_hashes())
    check(tampered(tmp_path, full, edit), key, step="merkle-root", subject="events.jsonl", reason="Merkle root")


def test_signoff_changed_in_subset_export(tmp_path, subset, key):
    def edit(files):
        events = events_of(files)
        events[1]["meaning"] = "reject"  # seq 5, the sign-off
        put_events(files, events)
    check(tampered(tmp_path, subset, edit), key, step="inclusion", subject="seq 5", seq=5)


# --- delete an event ---------------------------------------------------------------------------------------------

def test_event_deleted(tmp_path, full, key):
    def edit(files):
        put_events(files, [e for e in events_of(files) if e["seq"] != 20])
    check(tampered(tmp_path, full, edit), key, step="events", subject="seq 21", seq=21, reason="20..20 missing")


def test_event_deleted_and_later_events_renumbered(tmp_path, full, key):
    def edit(files):
        events = [e for e in events_of(files) if e["seq"] != 20]
        for i, e in enumerate(events, 1):
            e["seq"] = i
        put_events(files, rechain(events))
    check(tampered(tmp_path, full, edit), key, step="events", subject="events.jsonl", reason="truncated")


def test_event_deleted_from_subset_export(tmp_path, subset, key):
    def edit(files):
        put_events(files, [e for e in events_of(files) if e["seq"] != 5])
        proofs = json.loads(files["proofs.json"])
        proofs["inclusion"] = [p for p in proofs["inclusion"] if p["seq"] != 5]
        files["proofs.json"] = canonical_json(proofs) + b"\n"
    check(tampered(tmp_path, subset, edit), key, step="statement", subject="seq 5", seq=5, reason="deleted")


# --- reorder two events ------------------------------------------------------------------------------------------

def test_two_events_reordered(tmp_path, full, key):
    def edit(files):
        lines = files["events.jsonl"].split(b"\n")
        lines[9], lines[10] = lines[10], lines[9]
        files["events.jsonl"] = b"\n".join(lines)
    check(tampered(tmp_path, full, edit), key, step="events", subject="seq 10", seq=10, reason="out of order")


def test_two_events_swapped_keeping_seq_numbers_and_chain_rebuilt(tmp_path, full, key):
    def edit(files):
        events = events_of(files)
        a, b = events[9], events[10]
        events[9], events[10] = {**b, "seq": 10}, {**a, "seq": 11}
        put_events(files, rechain(events))
    check(tampered(tmp_path, full, edit), key, step="merkle-root", subject="seq 10", seq=10)


# --- truncate the log --------------------------------------------------------------------------------------------

def test_log_truncated(tmp_path, full, key):
    def edit(files):
        lines = files["events.jsonl"].split(b"\n")
        files["events.jsonl"] = b"\n".join(lines[:35]) + b"\n"
    check(tampered(tmp_path, full, edit), key, step="events", subject="events.jsonl", reason="truncated")


def test_log_truncated_by_key_holder_caught_by_earlier_checkpoint(tmp_path, key, log):
    kept_later = checkpoint_for(log, key, 35)
    short = log[:30]
    path = build_bundle(tmp_path / "short.zip", events=short, all_leaf_hashes_or_events=short,
                        checkpoint_text=checkpoint_for(short, key), public_key_text=key.verifier.to_text(),
                        signing_key=key)
    assert standalone.verify(path, key.verifier.to_text()).ok  # self-consistent...
    check(path, key, step="consistency", subject="your previous checkpoint", reason="truncated",
          previous=kept_later)  # ...but the regulator's checkpoint covers 35 events


# --- replace the checkpoint signature / sign with another key ----------------------------------------------------

def test_checkpoint_signature_replaced(tmp_path, full, key):
    def edit(files):
        text, sig = files["checkpoint.txt"].decode().split("\n\n")
        name, b64 = sig[len("\u2014 "):].strip().split(" ")
        blob = base64.b64decode(b64)
        forged = base64.b64encode(blob[:4] + hashlib.sha512(b"forged").digest()).decode()
        files["checkpoint.txt"] = f"{text}\n\n\u2014 {name} {forged}\n".encode()
    check(tampered(tmp_path, full, edit), key, step="checkpoint", subject="checkpoint.txt", reason="does not verify")


def test_checkpoint_size_edited(tmp_path, full, key):
    def edit(files):
        files["checkpoint.txt"] = files["checkpoint.txt"].replace(f"\n{N}\n".encode(), f"\n{N + 1}\n".encode())
    check(tampered(tmp_path, full, edit), key, step="checkpoint", subject="checkpoint.txt", reason="does not verify")


def test_checkpoint_signed_with_another_key(tmp_path, full, key, attacker_key, log):
    def edit(files):
        files["checkpoint.txt"] = checkpoint_for(log, attacker_key).encode()
        files["public_key.txt"] = (attacker_key.verifier.to_text() + "\n").encode()
    check(tampered(tmp_path, full, edit), key, step="checkpoint", subject="checkpoint.txt",
          reason="not signed by the pinned key")


def test_whole_bundle_forged_with_another_key(tmp_path, key, attacker_key):
    forged = make_events(N, rewrite={3: {"actor_name": "Someone Else"}})
    path = build_bundle(tmp_path / "forged.zip", events=forged, all_leaf_hashes_or_events=forged,
                        checkpoint_text=checkpoint_for(forged, attacker_key),
                        public_key_text=attacker_key.verifier.to_text(), signing_key=attacker_key)
    assert standalone.verify(path, attacker_key.verifier.to_text()).ok
    check(path, key, step="checkpoint", subject="checkpoint.txt", reason="not signed by the pinned key")


def test_bundled_public_key_swapped(tmp_path, full, key, attacker_key):
    def edit(files):
        files["public_key.txt"] = (attacker_key.verifier.to_text() + "\n").encode()
    check(tampered(tmp_path, full, edit), key, step="checkpoint", subject="public_key.txt")


# --- change a carried report -------------------------------------------------------------------------------------

@pytest.mark.parametrize("bundle", ["full", "subset"])
def test_carried_report_changed(tmp_path, key, bundle, request):
    path = request.getfixturevalue(bundle)

    def edit(files):
        files["artifacts/run-2/report.json"] = REPORT.replace(b"pass", b"fail")
    check(tampered(tmp_path, path, edit, remanifest=False), key, step="manifest",
          subject="artifacts/run-2/report.json")
    check(tampered(tmp_path, path, edit), key, step="statement", subject="artifacts/run-2/report.json",
          reason="altered")


def test_carried_report_removed_or_added(tmp_path, full, key):
    check(tampered(tmp_path, full, lambda f: f.pop("artifacts/run-2/report.json")), key, step="statement",
          subject="artifacts/run-2/report.json", reason="missing")
    check(tampered(tmp_path, full, lambda f: f.update({"artifacts/extra.pdf": b"%PDF"})), key, step="statement",
          subject="artifacts/extra.pdf", reason="added")


def test_statement_rewritten_by_someone_without_the_key(tmp_path, full, key, attacker_key):
    def edit(files):
        resign_statement(files, attacker_key, lambda text: text.replace(REPORT_SHA, "0" * 64))
    check(tampered(tmp_path, full, edit), key, step="statement", subject="export.txt", reason="not signed")


# --- history rewritten by someone holding the signing key --------------------------------------------------------

def test_history_rewritten_by_key_holder_full_export(tmp_path, key, kept):
    rewritten = make_events(N, report_hash=REPORT_SHA, rewrite={3: {"reason": "quietly rewritten"}})
    path = build_bundle(tmp_path / "rewritten.zip", events=rewritten, all_leaf_hashes_or_events=rewritten,
                        checkpoint_text=checkpoint_for(rewritten, key), public_key_text=key.verifier.to_text(),
                        signing_key=key, artifacts={"run-2/report.json": REPORT})
    assert standalone.verify(path, key.verifier.to_text()).ok  # internally perfect, freshly signed
    check(path, key, step="consistency", subject="your previous checkpoint", reason="rewritten", previous=kept)


def test_history_rewritten_by_key_holder_subset_export(tmp_path, key, kept):
    rewritten = make_events(N, report_hash=REPORT_SHA, rewrite={3: {"reason": "quietly rewritten"}})
    run = [e for e in rewritten if e["object_id"] == "run-2"]
    common = dict(events=run, all_leaf_hashes_or_events=rewritten, checkpoint_text=checkpoint_for(rewritten, key),
                  public_key_text=key.verifier.to_text(), signing_key=key)
    # with a consistency proof from a fabricated checkpoint of the same size, consistent with the rewritten log
    fabricated = checkpoint_for(rewritten, key, KEPT)
    path = build_bundle(tmp_path / "a.zip", previous_checkpoint_text=fabricated, **common)
    assert standalone.verify(path, key.verifier.to_text()).ok
    check(path, key, step="consistency", subject="your previous checkpoint", reason="rewritten", previous=kept)
    # without any consistency proof
    path = build_bundle(tmp_path / "b.zip", **common)
    check(path, key, step="consistency", subject="proofs.json", reason=f"size {KEPT}", previous=kept)


# --- the bundle's structure and the zip itself -------------------------------------------------------------------

def test_proof_tampering_in_subset_export(tmp_path, subset, key):
    def edit(files):
        proofs = json.loads(files["proofs.json"])
        path = proofs["inclusion"][3]["path"]
        path[0] = ("f" if path[0][0] != "f" else "e") + path[0][1:]
        files["proofs.json"] = canonical_json(proofs) + b"\n"
    check(tampered(tmp_path, subset, edit), key, step="inclusion", subject="seq 11", seq=11)


def test_full_export_relabelled_as_subset(tmp_path, full, key):
    def edit(files):
        proofs = json.loads(files["proofs.json"])
        proofs["scope"] = "subset"
        files["proofs.json"] = canonical_json(proofs) + b"\n"
    check(tampered(tmp_path, full, edit), key, step="inclusion", subject="proofs.json")


def test_files_added_or_removed(tmp_path, full, key):
    check(tampered(tmp_path, full, lambda f: f.update({"notes.txt": b"hi"}), remanifest=False), key,
          step="manifest", subject="notes.txt", reason="not listed")
    check(tampered(tmp_path, full, lambda f: f.pop("proofs.json"), remanifest=False), key,
          step="manifest", subject="proofs.json", reason="missing")
    check(tampered(tmp_path, full, lambda f: f.pop("export.txt")), key,
          step="manifest", subject="export.txt", reason="required")


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/evil", "a/../../evil", "C:evil", "a\\..\\evil"])
def test_unsafe_member_names_refused(tmp_path, full, key, name):
    check(tampered(tmp_path, full, lambda f: f.update({name: b"x"})), key, step="manifest", subject=name[:2],
          reason="unsafe")


def test_oversized_and_bomb_members_refused(tmp_path, full, key):
    report = standalone.verify(full, key.verifier.to_text(), max_member_bytes=1000)
    assert not report.ok and report.failure.step == "manifest" and "exceeds the limit" in report.failure.reason
    files = read_zip(full)
    files["artifacts/bomb.bin"] = bytes(50 << 20)
    path = write_zip(tmp_path / "bomb.zip", files, compression=zipfile.ZIP_BZIP2)
    check(path, key, step="manifest", subject="artifacts/bomb.bin", reason="ratio")


def test_not_a_zip(tmp_path, key):
    path = tmp_path / "x.zip"
    path.write_bytes(b"not a zip")
    check(path, key, step="manifest", subject="x.zip", reason="not a readable zip")


def test_previous_checkpoint_from_another_log_or_key(tmp_path, full, key, attacker_key, log):
    check(full, key, step="consistency", subject="your previous checkpoint", reason="not signed",
          previous=checkpoint_for(log, attacker_key, KEPT))
    check(full, key, step="consistency", subject="your previous checkpoint", reason="for log",
          previous=checkpoint_for(log, key, KEPT, origin="other.example/log"))
    assert ORIGIN in standalone.verify(full, key.verifier.to_text()).summary()
