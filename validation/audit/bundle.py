"""Build the audit export bundle that a regulator verifies offline.

A bundle is a zip archive (format in docs/audit-formats.md)::

    events.jsonl              exported events, canonical JSON, one per line, in seq order
    checkpoint.txt            the signed checkpoint the events are proven against
    public_key.txt            the platform's note verifier string (the regulator should pin its own copy)
    proofs.json               scope, tree size and root, per-event inclusion proofs (subset exports) and the
                              consistency proof from an earlier checkpoint (when asked for)
    leaf_hashes.bin           full exports only: the 32-byte leaf hash of every event, to name a changed event
    previous_checkpoint.txt   when a consistency proof was asked for: the earlier checkpoint
    export.txt                signed statement of what the bundle holds (scope, every event of a subset export
                              with its hash, every artifact with its hash), signed with the log's key
    artifacts/<name>          carried reports and manifests
    verify_bundle.py          the standalone verifier (standard library + cryptography only)
    MANIFEST.sha256           sha256 of every other file, in ``sha256sum`` format

A **full** export carries events 1..N of a checkpoint of size N: the verifier checks every chain link and recomputes
the root. A **subset** export (``--since``, ``--run``) carries some events: links are checked between consecutive
seqs, and every event carries an inclusion proof against the checkpoint (which binds its bytes, including its
``prev_hash``, to its position ``seq - 1``); the signed statement lists the events so that none can be dropped.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from validation.audit.canonical import ZERO_HASH, canonical_json, check_event
from validation.audit.checkpoint import (
    Checkpoint,
    SigningKey,
    parse_public_key,
    sign_note,
    verify_checkpoint,
)
from validation.audit.errors import AuditError, BundleError
from validation.audit.merkle import MerkleTree, leaf_hash

FORMAT = "clinval-audit-export/1"
PROOFS_FORMAT = "clinval-audit-proofs/1"
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _artifact_path(name: str) -> str:
    segments = name.split("/") if isinstance(name, str) else [None]
    if not 1 <= len(segments) <= 4 or not all(
        isinstance(s, str) and _SEGMENT.fullmatch(s) and ".." not in s for s in segments
    ):
        raise BundleError(
            f"artifact name {name!r} is not safe; use up to 4 '/'-separated parts of letters, digits, '.', '_' "
            "and '-', each starting with a letter or digit and without '..'"
        )
    return "artifacts/" + name


def _as_tree(log: MerkleTree | Sequence[bytes] | Sequence[Mapping[str, Any]]) -> MerkleTree:
    if isinstance(log, MerkleTree):
        return log
    items = list(log)
    if items and all(isinstance(x, (bytes, bytearray)) for x in items):
        return MerkleTree(items)
    if all(isinstance(x, Mapping) for x in items):
        return MerkleTree(leaf_hash(canonical_json(e)) for e in items)
    raise BundleError("all_leaf_hashes_or_events must be a MerkleTree, a list of 32-byte leaf hashes or a list of "
                      "event dicts (the whole log, in seq order)")


def _hex(h: bytes) -> str:
    return h.hex()


def build_bundle(
    out_path: str | os.PathLike[str],
    *,
    events: Sequence[Mapping[str, Any]],
    all_leaf_hashes_or_events: MerkleTree | Sequence[bytes] | Sequence[Mapping[str, Any]],
    checkpoint_text: str,
    public_key_text: str,
    signing_key: SigningKey,
    artifacts: Mapping[str, bytes] | None = None,
    previous_checkpoint_text: str | None = None,
) -> Path:
    """Write an export bundle that can be verified offline with ``verify_bundle.py``.

    Parameters
    ----------
    out_path : path
        Where to write the zip (written to a temporary file, then renamed).
    events : sequence of dict
        The exported events, in increasing seq order: all of 1..N for a full export, any subset otherwise.
    all_leaf_hashes_or_events : MerkleTree or sequence
        The whole log (at least the first N events of the checkpoint): a :class:`MerkleTree`, the leaf hashes, or
        the event dicts. Used to compute the root and the proofs.
    checkpoint_text : str
        Signed checkpoint of size N (normally the latest).
    public_key_text : str
        The log's public key (note verifier string), as published.
    signing_key : SigningKey
        The log's signing key; signs the export statement ``export.txt``. Must match `public_key_text`.
    artifacts : mapping of str to bytes, optional
        Reports and manifests to carry, by safe relative name (e.g. ``"run-7/report.json"``).
    previous_checkpoint_text : str, optional
        An earlier signed checkpoint; the bundle then carries the consistency proof from it to the checkpoint.

    Returns
    -------
    Path
        `out_path`.

    Raises
    ------
    BundleError
        If the checkpoint does not verify or does not match the log, an event differs from the logged one or is out
        of order, the keys do not match, or an artifact name is unsafe.
    """
    try:
        verifier = parse_public_key(public_key_text)
        cp = verify_checkpoint(checkpoint_text, verifier)
    except AuditError as exc:
        raise BundleError(f"checkpoint does not verify with the public key given: {exc}") from None
    if signing_key.verifier.to_text() != verifier.to_text():
        raise BundleError("signing_key does not match public_key_text; pass the log's own key pair")
    tree = _as_tree(all_leaf_hashes_or_events)
    n = cp.tree_size
    if tree.size < n:
        raise BundleError(f"the log given has {tree.size} events but the checkpoint covers {n}; pass the whole log")
    if tree.root(n) != cp.root_hash:
        raise BundleError(f"the checkpoint's root is not the root of the first {n} events of the log given; "
                          "the checkpoint is for another log or the log was altered (run `clinval audit check`)")

    lines: list[bytes] = []
    seqs: list[int] = []
    hashes: list[str] = []
    last_seq = 0
    for event in events:
        try:
            check_event(event)
            line = canonical_json(event)
        except AuditError as exc:
            raise BundleError(f"cannot export event: {exc}") from None
        seq = event["seq"]
        if seq <= last_seq:
            raise BundleError(f"events must be in increasing seq order; seq {seq} follows seq {last_seq}")
        if seq > n:
            raise BundleError(f"event seq {seq} is beyond the checkpoint's tree size {n}; sign a newer checkpoint")
        if leaf_hash(line) != tree.leaf_hash(seq - 1):
            raise BundleError(f"event seq {seq} differs from the logged event at that position")
        if seq == 1 and event["prev_hash"] != ZERO_HASH:
            raise BundleError("event seq 1 must have prev_hash of 64 zeros")
        if seqs and seq == seqs[-1] + 1 and event["prev_hash"] != hashes[-1]:
            raise BundleError(f"event seq {seq}: prev_hash is not the hash of seq {seq - 1}")
        lines.append(line)
        seqs.append(seq)
        hashes.append(hashlib.sha256(line).hexdigest())
        last_seq = seq
    full = len(seqs) == n  # increasing seqs in 1..n, n of them: exactly 1..n
    scope = "full" if full else "subset"

    previous: Checkpoint | None = None
    consistency: dict[str, Any] | None = None
    if previous_checkpoint_text is not None:
        try:
            previous = verify_checkpoint(previous_checkpoint_text, verifier)
        except AuditError as exc:
            raise BundleError(f"previous checkpoint does not verify with the log's key: {exc}") from None
        if previous.origin != cp.origin:
            raise BundleError(f"previous checkpoint is for log {previous.origin!r}, not {cp.origin!r}")
        if previous.tree_size > n:
            raise BundleError(f"previous checkpoint (size {previous.tree_size}) is newer than the checkpoint ({n})")
        if tree.root(previous.tree_size) != previous.root_hash:
            raise BundleError(f"the log is NOT consistent with the previous checkpoint of size {previous.tree_size}: "
                              "the history was rewritten. Run `clinval audit check` and investigate.")
        consistency = {
            "old_size": previous.tree_size,
            "old_root": _hex(previous.root_hash),
            "path": [_hex(h) for h in tree.consistency_proof(previous.tree_size, n)],
        }

    proofs: dict[str, Any] = {
        "format": PROOFS_FORMAT,
        "scope": scope,
        "tree_size": n,
        "root_hash": _hex(cp.root_hash),
        "inclusion": [] if full else [
            {"seq": s, "path": [_hex(h) for h in tree.inclusion_proof(s - 1, n)]} for s in seqs
        ],
        "consistency": consistency,
    }

    files: dict[str, bytes] = {
        "events.jsonl": b"".join(line + b"\n" for line in lines),
        "checkpoint.txt": checkpoint_text.encode("utf-8"),
        "public_key.txt": (verifier.to_text() + "\n").encode("utf-8"),
        "proofs.json": canonical_json(proofs) + b"\n",
        "verify_bundle.py": Path(__file__).with_name("verify_bundle.py").read_bytes(),
    }
    if full:
        files["leaf_hashes.bin"] = b"".join(tree.leaf_hash(i) for i in range(n)) if n else b""
    if previous_checkpoint_text is not None:
        files["previous_checkpoint.txt"] = previous_checkpoint_text.encode("utf-8")
    artifact_lines = []
    for name, data in sorted((artifacts or {}).items()):
        path = _artifact_path(name)
        if not isinstance(data, (bytes, bytearray)):
            raise BundleError(f"artifact {name!r} must be bytes, got {type(data).__name__}")
        files[path] = bytes(data)
        artifact_lines.append(f"artifact {hashlib.sha256(data).hexdigest()} {name}\n")

    statement = [
        f"{FORMAT}\n",
        f"origin {cp.origin}\n",
        f"tree-size {n}\n",
        f"root {base64.b64encode(cp.root_hash).decode()}\n",
        f"scope {scope}\n",
        f"events {len(seqs)}\n",
    ]
    if not full:
        statement.extend(f"event {s} {h}\n" for s, h in zip(seqs, hashes, strict=True))
    statement.extend(artifact_lines)
    if previous is not None:
        statement.append(f"consistency-from {previous.tree_size}\n")
    files["export.txt"] = sign_note("".join(statement), signing_key).encode("utf-8")

    manifest = "".join(f"{hashlib.sha256(files[p]).hexdigest()}  {p}\n" for p in sorted(files))
    files["MANIFEST.sha256"] = manifest.encode("utf-8")
    return _write_zip(Path(out_path), files)


def _write_zip(out_path: Path, files: Mapping[str, bytes]) -> Path:
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".bundle-", suffix=".zip", dir=out_path.parent)
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(files):
                info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, files[name])
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out_path
