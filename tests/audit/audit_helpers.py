"""Helpers for the audit-trail tests: deterministic keys, synthetic event logs, bundle rewriting."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from validation.audit.canonical import ZERO_HASH, canonical_json, event_hash
from validation.audit.checkpoint import SigningKey, sign_checkpoint, sign_note
from validation.audit.merkle import MerkleTree, leaf_hash

ORIGIN = "pilot.example.org/clinval-audit"
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def key_from_seed(label: str, name: str = ORIGIN) -> SigningKey:
    """A deterministic Ed25519 key (tests only): seed = SHA-256(label)."""
    seed = hashlib.sha256(label.encode()).digest()
    return SigningKey(name=name, private_key=Ed25519PrivateKey.from_private_bytes(seed))


def make_events(n: int, *, report_hash: str | None = None, rewrite: dict[int, dict] | None = None) -> list[dict]:
    """A chained log of `n` synthetic events; runs r0..r2 alternate; seq 5 signs off the report (if given).

    `rewrite` maps seq -> fields to change before chaining (a history rewritten by someone holding the key).
    """
    events, prev = [], ZERO_HASH
    for seq in range(1, n + 1):
        event = {
            "seq": seq,
            "time": (T0 + timedelta(seconds=seq, microseconds=seq)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "actor_id": f"user-{seq % 4}",
            "actor_role": ["admin", "reviewer", "vendor", "regulator"][seq % 4],
            "actor_org": "site-H03" if seq % 4 == 1 else "pilot-base",
            "actor_name": "Zoë Ångström 审核员" if seq % 4 == 1 else "Operator One",
            "action": "run.start" if seq % 3 else "report.publish",
            "object_type": "run",
            "object_id": f"run-{seq % 3}",
            "object_sha256": None,
            "details": {"site": f"H{seq % 16:02d}", "n_cases": seq * 10, "nested": {"b": [1, 2], "a": None}},
            "reason": None,
            "meaning": None,
            "prev_hash": prev,
        }
        if seq == 5 and report_hash is not None:
            event.update(action="report.signoff", object_type="report", object_id="run-2", object_sha256=report_hash,
                         reason="metrics meet the protocol's acceptance criteria", meaning="approve")
        if rewrite and seq in rewrite:
            event.update(rewrite[seq])
        prev = event_hash(event)
        events.append(event)
    return events


def tree_of(events: list[dict]) -> MerkleTree:
    return MerkleTree(leaf_hash(canonical_json(e)) for e in events)


def checkpoint_for(events: list[dict], key: SigningKey, size: int | None = None, *, origin: str = ORIGIN) -> str:
    tree = tree_of(events)
    size = tree.size if size is None else size
    return sign_checkpoint(origin=origin, tree_size=size, root_hash=tree.root(size),
                           time=T0 + timedelta(hours=size), key=key)


def read_zip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def write_zip(path: Path, files: dict[str, bytes], *, remanifest: bool = True,
              compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """Write `files` as a bundle; with `remanifest`, recompute MANIFEST.sha256 as a forger would."""
    files = dict(files)
    if remanifest:
        files.pop("MANIFEST.sha256", None)
        files["MANIFEST.sha256"] = "".join(
            f"{hashlib.sha256(files[p]).hexdigest()}  {p}\n" for p in sorted(files)).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    path.write_bytes(buf.getvalue())
    return path


def resign_statement(files: dict[str, bytes], key: SigningKey, edit: Callable[[str], str]) -> None:
    """Rewrite the export statement's text with `edit` and sign it with `key` (a forger holding the key)."""
    note = files["export.txt"].decode()
    text = note[: note.rfind("\n\n") + 1]
    files["export.txt"] = sign_note(edit(text), key).encode()
