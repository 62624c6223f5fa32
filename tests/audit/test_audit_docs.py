"""The worked example in docs/audit-formats.md is correct: hashes, tree head and checkpoint signature."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from validation.audit import verify_bundle as standalone
from validation.audit.canonical import ZERO_HASH, canonical_json, event_hash
from validation.audit.checkpoint import verify_checkpoint
from validation.audit.merkle import MerkleTree, leaf_hash

DOC = Path(__file__).resolve().parents[2] / "docs" / "audit-formats.md"


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def blocks(doc: str) -> list[str]:
    return re.findall(r"```[a-z]*\n(.*?)```", doc, flags=re.S)


def test_example_events_hashes_and_root(doc):
    lines = next(b for b in blocks(doc) if b.startswith('{"action"')).splitlines()
    events = [json.loads(line) for line in lines]
    assert [canonical_json(e).decode() for e in events] == lines
    assert events[0]["prev_hash"] == ZERO_HASH and events[1]["prev_hash"] == event_hash(events[0])
    for e in events:
        assert event_hash(e) in doc
        assert leaf_hash(canonical_json(e)).hex()[:8] in doc
    root = MerkleTree.from_leaves(line.encode() for line in lines).root()
    assert root.hex() in doc
    assert hashlib.sha256(b"\x01" + leaf_hash(lines[0].encode()) + leaf_hash(lines[1].encode())).digest() == root


def test_example_checkpoint_verifies_with_example_key(doc):
    key = next(b for b in blocks(doc) if b.startswith("pilot.example.org/clinval-audit+")).strip()
    checkpoint = next(b for b in blocks(doc) if b.startswith("pilot.example.org/clinval-audit\n2\n"))
    cp = verify_checkpoint(checkpoint, key)
    assert cp.tree_size == 2 and cp.root_hash.hex() in doc
    name, pub = standalone.parse_public_key(key)
    assert standalone._parse_checkpoint(standalone._open_note(checkpoint, name, pub))[1] == 2


def test_by_hand_snippet_verifies_a_real_bundle(doc, tmp_path, monkeypatch, key):
    from audit_helpers import checkpoint_for, make_events, read_zip

    from validation.audit.bundle import build_bundle

    log = make_events(23)
    bundle = build_bundle(tmp_path / "b.zip", events=log, all_leaf_hashes_or_events=log,
                          checkpoint_text=checkpoint_for(log, key), public_key_text=key.verifier.to_text(),
                          signing_key=key)
    for name, data in read_zip(bundle).items():
        if "/" not in name:
            (tmp_path / name).write_bytes(data)
    (tmp_path / "pinned-key.txt").write_text(key.verifier.to_text())
    snippet = next(b for b in re.findall(r"```python\n(.*?)```", doc, flags=re.S) if "def mth" in b)
    monkeypatch.chdir(tmp_path)
    exec(compile(snippet, "audit-formats.md", "exec"), {})  # raises if anything does not verify
    (tmp_path / "events.jsonl").write_bytes((tmp_path / "events.jsonl").read_bytes().replace(b'"seq":3,', b'"seq":4,'))
    with pytest.raises(AssertionError):
        exec(compile(snippet, "audit-formats.md", "exec"), {})
