#!/usr/bin/env python3
"""Verify a clinval audit export bundle offline.

Usage::

    python verify_bundle.py bundle.zip --public-key KEY [--previous-checkpoint FILE] [--json]

``KEY`` is the log's public key you pinned beforehand: a file holding the note verifier string
(``<name>+<key id>+<base64 key>``) or Ed25519 PEM, or the verifier string itself. ``--previous-checkpoint`` is a
checkpoint you kept from earlier; the bundle must prove the log still extends it.

Checks, in order, stopping at the first failure, which is named (file or event seq) with the reason:

1. manifest     every file's sha256 equals MANIFEST.sha256; no file missing or added; zip members are safe
2. checkpoint   checkpoint.txt is signed by the pinned key; public_key.txt is the pinned key
3. events       every line of events.jsonl is canonical JSON; seqs increase; each prev_hash links to the event
                before it where both are present (a full export must hold every event 1..N)
4. merkle-root  full export: the root recomputed from all events equals the checkpoint root
5. inclusion    subset export: each event's inclusion proof leads to the checkpoint root
6. consistency  the log extends the earlier checkpoint (yours if given, else the one carried in the bundle)
7. statement    export.txt is signed by the pinned key and lists exactly the events and artifacts carried

Exit status 0 when every check passes, 1 when one fails, 2 on a usage error.

This file is self-contained on purpose: it needs only the Python standard library and ``cryptography`` and does not
import clinval, so that a regulator can run it without installing the platform. Formats: docs/audit-formats.md.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import os
import re
import stat
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = ["Failure", "VerifyReport", "verify", "main"]

STEPS = ("manifest", "checkpoint", "events", "merkle-root", "inclusion", "consistency", "statement")
REQUIRED = ("MANIFEST.sha256", "events.jsonl", "checkpoint.txt", "public_key.txt", "proofs.json", "export.txt")
EXPORT_FORMAT = "clinval-audit-export/1"
PROOFS_FORMAT = "clinval-audit-proofs/1"
ZERO_HASH = "0" * 64
EVENT_KEYS = frozenset({"seq", "time", "actor_id", "actor_role", "actor_org", "actor_name", "action", "object_type",
                        "object_id", "object_sha256", "details", "reason", "meaning", "prev_hash"})
MAX_MEMBER_BYTES = 2 << 30
MAX_TOTAL_BYTES = 8 << 30
MAX_MEMBERS = 10_000
MAX_RATIO = 1000
EMPTY_ROOT = hashlib.sha256(b"").digest()
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """The first check that failed: which step, which file or event, and why."""

    step: str
    subject: str
    reason: str
    seq: int | None = None

    def __str__(self) -> str:
        return f"[{self.step}] {self.subject}: {self.reason}"


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyReport:
    """Outcome of :func:`verify`. ``ok`` is True only when every step passed."""

    ok: bool
    failure: Failure | None
    passed: tuple[str, ...]
    origin: str | None = None
    tree_size: int | None = None
    root_hash: str | None = None
    checkpoint_time: str | None = None
    scope: str | None = None
    event_count: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    artifacts: tuple[str, ...] = ()
    consistency_from: int | None = None
    notes: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        """Human-readable multi-line summary."""
        lines = []
        if self.ok:
            lines.append("OK: audit bundle verified")
        else:
            lines.append(f"FAILED at step '{self.failure.step}': {self.failure.subject}: {self.failure.reason}")
        if self.origin is not None:
            lines.append(f"  log {self.origin}, checkpoint size {self.tree_size} at {self.checkpoint_time}")
            lines.append(f"  root {self.root_hash}")
        if self.scope is not None:
            span = f"seq {self.first_seq}..{self.last_seq}" if self.event_count else "no events"
            lines.append(f"  {self.scope} export: {self.event_count} events ({span}), {len(self.artifacts)} artifacts")
        if self.consistency_from is not None:
            lines.append(f"  consistent with the earlier checkpoint of size {self.consistency_from}")
        lines.append("  checks passed: " + (", ".join(self.passed) or "none"))
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-serialisable form."""
        out = {k: getattr(self, k) for k in ("ok", "origin", "tree_size", "root_hash", "checkpoint_time", "scope",
                                             "event_count", "first_seq", "last_seq", "consistency_from")}
        out["passed"] = list(self.passed)
        out["artifacts"] = list(self.artifacts)
        out["notes"] = list(self.notes)
        out["failure"] = None if self.failure is None else {
            "step": self.failure.step, "subject": self.failure.subject, "reason": self.failure.reason,
            "seq": self.failure.seq}
        return out


class _Fail(Exception):
    def __init__(self, step: str, subject: str, reason: str, seq: int | None = None) -> None:
        super().__init__(reason)
        self.failure = Failure(step=step, subject=subject, reason=reason, seq=seq)


# --- hashing and Merkle verification (RFC 9162 section 2.1) ----------------------------------------------------

def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _root_of(leaf_hashes) -> bytes:
    peaks: list[tuple[int, bytes]] = []
    for h in leaf_hashes:
        height = 0
        while peaks and peaks[-1][0] == height:
            h = _node(peaks.pop()[1], h)
            height += 1
        peaks.append((height, h))
    if not peaks:
        return EMPTY_ROOT
    root = peaks[-1][1]
    for _, peak in reversed(peaks[:-1]):
        root = _node(peak, root)
    return root


def _inclusion_ok(leaf_hash: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    # RFC 9162 section 2.1.3.2.
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def _consistency_ok(m: int, n: int, old_root: bytes, new_root: bytes, path: list[bytes]) -> bool:
    # RFC 9162 section 2.1.4.2, with the trivial sizes made explicit.
    if not 0 <= m <= n:
        return False
    if m == 0:
        return not path and old_root == EMPTY_ROOT
    if m == n:
        return not path and old_root == new_root
    if not path:
        return False
    path = list(path)
    if m & (m - 1) == 0:
        path.insert(0, old_root)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


# --- keys, signed notes, checkpoints (C2SP signed-note, tlog-checkpoint) -----------------------------------------

def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n\x01" + _raw(public_key)).digest()[:4]


def _valid_name(name: str) -> bool:
    return bool(name) and not any(ch.isspace() or ch == "+" for ch in name)


def parse_public_key(text: str) -> tuple[str | None, Ed25519PublicKey]:
    """Parse a note verifier string or Ed25519 PEM; return (name or None, key). Raises ValueError."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode("ascii"))
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("PEM key is not Ed25519")
        return None, key
    parts = text.split("+", 2)
    if len(parts) != 3 or not _valid_name(parts[0]):
        raise ValueError("not a note verifier string '<name>+<8 hex key id>+<base64 key>' nor PEM")
    try:
        raw = base64.b64decode(parts[2], validate=True)
        wanted = bytes.fromhex(parts[1])
    except (binascii.Error, ValueError):
        raise ValueError("verifier string has a malformed key id or key") from None
    if len(wanted) != 4 or len(raw) != 33 or raw[0] != 1:
        raise ValueError("verifier string is not an Ed25519 key")
    key = Ed25519PublicKey.from_public_bytes(raw[1:])
    if _key_id(parts[0], key) != wanted:
        raise ValueError("verifier string key id does not match its key (altered)")
    return parts[0], key


def _open_note(note: str, name: str | None, key: Ed25519PublicKey, max_bytes: int = 1 << 20) -> str:
    """Verify a signed note; return its text. Raises ValueError with the reason."""
    if len(note.encode("utf-8", "surrogatepass")) > max_bytes:
        raise ValueError(f"signed note is larger than {max_bytes} bytes")
    if any(ord(ch) < 0x20 and ch != "\n" for ch in note):
        raise ValueError("signed note contains control characters other than newline")
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise ValueError("no blank line between the note text and its signatures")
    text, block = note[: split + 1], note[split + 2:-1]
    matched = False
    for line in block.split("\n"):
        if not line.startswith("\u2014 "):
            raise ValueError("malformed signature line (must start with an em dash and a space)")
        parts = line[2:].split(" ")
        if len(parts) != 2 or not _valid_name(parts[0]):
            raise ValueError("malformed signature line")
        try:
            blob = base64.b64decode(parts[1], validate=True)
        except binascii.Error:
            raise ValueError("signature is not base64") from None
        if len(blob) < 5:
            raise ValueError("signature too short")
        if (name is not None and parts[0] != name) or blob[:4] != _key_id(parts[0], key):
            continue  # another key's signature: ignored, as C2SP signed-note requires
        matched = True
        try:
            key.verify(blob[4:], text.encode("utf-8"))
        except InvalidSignature:
            raise ValueError(f"signature by {parts[0]} does not verify (text or signature altered)") from None
    if not matched:
        raise ValueError("not signed by the pinned key (signed by another key, or the signature was replaced)")
    return text


def _parse_checkpoint(text: str) -> tuple[str, int, bytes, str]:
    lines = text[:-1].split("\n")
    if len(lines) != 4:
        raise ValueError(f"checkpoint text has {len(lines)} lines, expected 4")
    origin, size, root_b64, time = lines
    if not origin or not re.fullmatch(r"0|[1-9][0-9]{0,19}", size):
        raise ValueError("malformed origin or tree size line")
    try:
        root = base64.b64decode(root_b64, validate=True)
    except binascii.Error:
        raise ValueError("root hash line is not base64") from None
    if len(root) != 32:
        raise ValueError("root hash is not 32 bytes")
    if not re.fullmatch(r"time \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", time):
        raise ValueError("fourth line is not 'time <YYYY-MM-DDTHH:MM:SS.ffffffZ>'")
    return origin, int(size), root, time[5:]


# --- the zip --------------------------------------------------------------------------------------------------

def _safe_name(name: str) -> bool:
    if not name or name.startswith("/") or "\\" in name or ":" in name or "\x00" in name:
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


def _read_members(path: Path, max_member: int, max_total: int) -> dict[str, bytes]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _Fail("manifest", str(path), f"not a readable zip archive ({exc})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise _Fail("manifest", str(path), f"{len(infos)} members; refusing more than {MAX_MEMBERS}")
        total, out = 0, {}
        for info in infos:
            name = info.filename
            if not _safe_name(name):
                raise _Fail("manifest", repr(name), "unsafe member name (absolute, '..', backslash or drive)")
            if name in out:
                raise _Fail("manifest", name, "duplicate member name")
            if info.is_dir() or stat.S_ISLNK(info.external_attr >> 16):
                raise _Fail("manifest", name, "directories and symbolic links are not allowed in a bundle")
            if info.flag_bits & 0x1:
                raise _Fail("manifest", name, "encrypted members are not allowed")
            if info.file_size > max_member:
                raise _Fail("manifest", name, f"declared size {info.file_size} exceeds the limit {max_member}")
            if info.file_size > (1 << 20) and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise _Fail("manifest", name, "compression ratio too high (zip bomb?)")
            total += info.file_size
            if total > max_total:
                raise _Fail("manifest", name, f"bundle expands beyond {max_total} bytes")
            chunks, got = [], 0
            try:
                with zf.open(info) as fh:
                    while chunk := fh.read(1 << 20):
                        got += len(chunk)
                        if got > info.file_size:
                            raise _Fail("manifest", name, "member is larger than its declared size")
                        chunks.append(chunk)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise _Fail("manifest", name, f"cannot be read ({exc})") from None
            out[name] = b"".join(chunks)
        return out


def _text(files: dict[str, bytes], name: str, step: str) -> str:
    try:
        return files[name].decode("utf-8")
    except UnicodeDecodeError:
        raise _Fail(step, name, "not valid UTF-8") from None


def _hexes(value, what: str) -> list[bytes]:
    if not isinstance(value, list) or not all(isinstance(h, str) and _HEX64.fullmatch(h) for h in value):
        raise ValueError(f"{what} must be a list of 64-hex-character hashes")
    return [bytes.fromhex(h) for h in value]


# --- verification ----------------------------------------------------------------------------------------------

def _duplicate_check(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise ValueError(f"duplicate key {k!r}")
        obj[k] = v
    return obj


def _no_constants(name):
    raise ValueError(f"{name} is not valid JSON")


def _canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def verify(bundle_path, public_key_text: str, previous_checkpoint_text: str | None = None, *,
           max_member_bytes: int = MAX_MEMBER_BYTES, max_total_bytes: int = MAX_TOTAL_BYTES) -> VerifyReport:
    """Verify an audit export bundle against a pinned public key.

    Parameters
    ----------
    bundle_path : path
        The bundle zip.
    public_key_text : str
        The log's public key you trust: note verifier string or Ed25519 PEM.
    previous_checkpoint_text : str, optional
        An earlier signed checkpoint you kept; the log must be consistent with it.

    Returns
    -------
    VerifyReport
        ``ok`` and, on failure, the first failing step, file or event seq, and the reason.
    """
    info: dict = {"passed": [], "notes": []}
    try:
        _verify(Path(bundle_path), public_key_text, previous_checkpoint_text, max_member_bytes, max_total_bytes,
                info)
    except _Fail as exc:
        return _report(info, exc.failure)
    return _report(info, None)


def _report(info: dict, failure: Failure | None) -> VerifyReport:
    return VerifyReport(
        ok=failure is None, failure=failure, passed=tuple(info.pop("passed")), notes=tuple(info.pop("notes")),
        **info)


def _verify(path: Path, public_key_text: str, previous_text: str | None, max_member: int, max_total: int,
            info: dict) -> None:
    passed, notes = info["passed"], info["notes"]
    # 1. manifest ------------------------------------------------------------------------------------------------
    files = _read_members(path, max_member, max_total)
    if "MANIFEST.sha256" not in files:
        raise _Fail("manifest", "MANIFEST.sha256", "missing from the bundle")
    listed: dict[str, str] = {}
    for i, line in enumerate(_text(files, "MANIFEST.sha256", "manifest").split("\n")[:-1], 1):
        m = re.fullmatch(r"([0-9a-f]{64})  (\S+)", line)
        if not m or m.group(2) in listed or m.group(2) == "MANIFEST.sha256":
            raise _Fail("manifest", "MANIFEST.sha256", f"line {i} is malformed or repeats a file")
        listed[m.group(2)] = m.group(1)
    for name in sorted(files):
        if name != "MANIFEST.sha256" and name not in listed:
            raise _Fail("manifest", name, "not listed in MANIFEST.sha256 (file added)")
    for name, digest in listed.items():
        if name not in files:
            raise _Fail("manifest", name, "listed in MANIFEST.sha256 but missing from the bundle (file removed)")
        if hashlib.sha256(files[name]).hexdigest() != digest:
            raise _Fail("manifest", name, "sha256 does not match MANIFEST.sha256 (file altered)")
    for name in REQUIRED:
        if name not in files:
            raise _Fail("manifest", name, "required file missing from the bundle")
    passed.append("manifest")

    # 2. checkpoint ----------------------------------------------------------------------------------------------
    try:
        key_name, key = parse_public_key(public_key_text)
    except ValueError as exc:
        raise _Fail("checkpoint", "pinned public key", f"cannot be read: {exc}") from None
    try:
        cp_text = _open_note(_text(files, "checkpoint.txt", "checkpoint"), key_name, key)
        origin, n, root, cp_time = _parse_checkpoint(cp_text)
    except ValueError as exc:
        raise _Fail("checkpoint", "checkpoint.txt", str(exc)) from None
    info.update(origin=origin, tree_size=n, root_hash=root.hex(), checkpoint_time=cp_time)
    try:
        _, bundled_key = parse_public_key(_text(files, "public_key.txt", "checkpoint"))
    except ValueError as exc:
        raise _Fail("checkpoint", "public_key.txt", f"cannot be read: {exc}") from None
    if _raw(bundled_key) != _raw(key):
        raise _Fail("checkpoint", "public_key.txt", "is not the pinned public key")
    passed.append("checkpoint")

    # 3. events --------------------------------------------------------------------------------------------------
    try:
        proofs = json.loads(_text(files, "proofs.json", "events"), object_pairs_hook=_duplicate_check,
                            parse_constant=_no_constants)
        if not isinstance(proofs, dict) or proofs.get("format") != PROOFS_FORMAT:
            raise ValueError(f"not a {PROOFS_FORMAT} document")
        scope = proofs.get("scope")
        if scope not in ("full", "subset"):
            raise ValueError(f"scope must be 'full' or 'subset', got {scope!r}")
        if proofs.get("tree_size") != n or proofs.get("root_hash") != root.hex():
            raise ValueError("tree size or root hash differs from checkpoint.txt")
    except ValueError as exc:
        raise _Fail("events", "proofs.json", str(exc)) from None
    info["scope"] = scope
    raw_events = files["events.jsonl"]
    if raw_events and not raw_events.endswith(b"\n"):
        raise _Fail("events", "events.jsonl", "last line does not end with a newline (file truncated?)")
    seqs: list[int] = []
    leaf_hashes: list[bytes] = []
    event_hashes: list[str] = []
    object_hashes: dict[str, list[int]] = {}
    prev_seq, prev_hash = 0, None
    for lineno, line in enumerate(raw_events.split(b"\n")[:-1] if raw_events else [], 1):
        where = f"events.jsonl line {lineno}"
        try:
            event = json.loads(line.decode("utf-8"), object_pairs_hook=_duplicate_check, parse_constant=_no_constants)
        except (UnicodeDecodeError, ValueError) as exc:
            raise _Fail("events", where, f"not valid JSON: {exc}") from None
        seq = event.get("seq") if isinstance(event, dict) else None
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise _Fail("events", where, "not an event object with an integer seq >= 1")
        subject = f"seq {seq} ({where})"
        missing = EVENT_KEYS - event.keys()
        if missing:
            raise _Fail("events", subject, f"missing keys {sorted(missing)}", seq)
        if not isinstance(event["prev_hash"], str) or not _HEX64.fullmatch(event["prev_hash"]):
            raise _Fail("events", subject, "prev_hash is not 64 lowercase hex characters", seq)
        try:
            canonical = _canonical(event)
        except UnicodeEncodeError:
            canonical = None
        if canonical != line:
            raise _Fail("events", subject, "not in canonical JSON form (sorted keys, no spaces, UTF-8); "
                                           "the line was edited", seq)
        if seq <= prev_seq:
            raise _Fail("events", subject, f"out of order: follows seq {prev_seq} (events reordered or repeated)", seq)
        if seq > n:
            raise _Fail("events", subject, f"beyond the checkpoint's tree size {n}", seq)
        if seq == 1 and event["prev_hash"] != ZERO_HASH:
            raise _Fail("events", subject, "first event's prev_hash is not 64 zeros", seq)
        if seq != prev_seq + 1 and scope == "full":
            if _appears_later(raw_events, lineno, prev_seq + 1):
                raise _Fail("events", f"seq {prev_seq + 1}", f"out of order: appears after seq {seq} "
                                                             "(events reordered)", prev_seq + 1)
            raise _Fail("events", subject, f"seq {prev_seq + 1}..{seq - 1} missing from a full export "
                                           "(events deleted)", seq)
        if seq == prev_seq + 1 and prev_hash is not None and event["prev_hash"] != prev_hash:
            if not _matches_signed_log(files, proofs, scope, n, root, len(seqs) - 1, prev_seq, leaf_hashes[-1]):
                raise _Fail("events", f"seq {prev_seq}", "this event differs from the event the signed checkpoint "
                                                         f"commits to (altered; the chain breaks at seq {seq})",
                            prev_seq)
            raise _Fail("events", subject, f"prev_hash is not the hash of seq {prev_seq}: the chain is broken "
                                           "(this event was altered, or events before it were removed)", seq)
        event_hash = hashlib.sha256(line).hexdigest()
        seqs.append(seq)
        leaf_hashes.append(_leaf(line))
        if scope == "subset":  # only a subset statement lists event hashes
            event_hashes.append(event_hash)
        if isinstance(event.get("object_sha256"), str):
            object_hashes.setdefault(event["object_sha256"], []).append(seq)
        prev_seq, prev_hash = seq, event_hash
    info.update(event_count=len(seqs), first_seq=seqs[0] if seqs else None, last_seq=seqs[-1] if seqs else None)
    if scope == "full" and len(seqs) != n:
        raise _Fail("events", "events.jsonl", f"holds {len(seqs)} events but the checkpoint covers {n} "
                                              "(log truncated)", prev_seq + 1 if prev_seq < n else None)
    passed.append("events")

    # 4. merkle root ---------------------------------------------------------------------------------------------
    if scope == "full":
        if _root_of(leaf_hashes) != root:
            raise _Fail("merkle-root", *_locate_change(files.get("leaf_hashes.bin"), leaf_hashes, n, root))
        passed.append("merkle-root")
    else:
        notes.append("subset export: the root is checked through each event's inclusion proof")

    # 5. inclusion -----------------------------------------------------------------------------------------------
    if scope == "subset":
        entries = proofs.get("inclusion")
        if not isinstance(entries, list) or len(entries) != len(seqs):
            raise _Fail("inclusion", "proofs.json", "needs exactly one inclusion proof per exported event")
        for seq, lh, entry in zip(seqs, leaf_hashes, entries, strict=True):
            try:
                if not isinstance(entry, dict) or entry.get("seq") != seq:
                    raise ValueError(f"inclusion proof for seq {seq} missing or out of order in proofs.json")
                path_ = _hexes(entry.get("path"), "inclusion path")
            except ValueError as exc:
                raise _Fail("inclusion", f"seq {seq}", str(exc), seq) from None
            if not _inclusion_ok(lh, seq - 1, n, path_, root):
                raise _Fail("inclusion", f"seq {seq}", "inclusion proof does not lead to the checkpoint root: this "
                                                       "event is not the one the signed log holds at this seq", seq)
        passed.append("inclusion")

    # 6. consistency ---------------------------------------------------------------------------------------------
    consistency = proofs.get("consistency")
    if previous_text is not None:
        old_size = _check_previous(previous_text, "your previous checkpoint", key_name, key, origin, n)
        info["consistency_from"] = old_size[0]
        _check_consistency(old_size, n, root, scope, leaf_hashes, consistency, "your previous checkpoint")
        passed.append("consistency")
    elif consistency is not None:
        if "previous_checkpoint.txt" not in files:
            raise _Fail("consistency", "previous_checkpoint.txt", "missing although proofs.json has a proof")
        old = _check_previous(_text(files, "previous_checkpoint.txt", "consistency"), "previous_checkpoint.txt",
                              key_name, key, origin, n)
        info["consistency_from"] = old[0]
        _check_consistency(old, n, root, scope, leaf_hashes, consistency, "previous_checkpoint.txt")
        passed.append("consistency")
        notes.append("consistency checked against the earlier checkpoint carried in the bundle; pass "
                     "--previous-checkpoint with one you kept to make this check independent of the bundle")
    else:
        notes.append("no earlier checkpoint given: consistency with past checkpoints not checked")

    # 7. export statement ----------------------------------------------------------------------------------------
    _check_statement(files, key_name, key, origin, n, root, scope, seqs, event_hashes, consistency,
                     info)
    referenced = [a for a in info["artifacts"]
                  if hashlib.sha256(files["artifacts/" + a]).hexdigest() in object_hashes]
    if info["artifacts"]:
        notes.append(f"{len(referenced)} of {len(info['artifacts'])} artifacts are the object of an exported event")
    passed.append("statement")


def _appears_later(raw_events: bytes, lineno: int, seq: int) -> bool:
    """Whether an event with `seq` occurs after line `lineno` (only called to word a failure)."""
    for line in raw_events.split(b"\n")[lineno:]:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("seq") == seq:
            return True
    return False


def _matches_signed_log(files, proofs, scope, n, root, position, seq, leaf_hash) -> bool:
    """Whether the event at `seq` is the one the signed checkpoint commits to (True when it cannot be told)."""
    if scope == "full":
        blob = files.get("leaf_hashes.bin")
        if blob is None or len(blob) != 32 * n:
            return True
        if _root_of(blob[32 * i: 32 * i + 32] for i in range(n)) != root:
            return True
        return blob[32 * (seq - 1): 32 * seq] == leaf_hash
    entries = proofs.get("inclusion")
    try:
        entry = entries[position]
        if entry.get("seq") != seq:
            return True
        return _inclusion_ok(leaf_hash, seq - 1, n, _hexes(entry.get("path"), "inclusion path"), root)
    except (TypeError, IndexError, AttributeError, ValueError):
        return True


def _locate_change(leaf_blob: bytes | None, leaf_hashes: list[bytes], n: int, root: bytes):
    if leaf_blob is not None and len(leaf_blob) == 32 * n:
        signed = [leaf_blob[32 * i: 32 * i + 32] for i in range(n)]
        if _root_of(signed) == root:
            for i, (a, b) in enumerate(zip(signed, leaf_hashes, strict=True)):
                if a != b:
                    return (f"seq {i + 1}", "this event differs from the event the signed checkpoint commits to "
                                            "(altered, with the hash chain rebuilt after it)", i + 1)
    return ("events.jsonl", f"the Merkle root of the {n} events does not equal the signed checkpoint root "
                            "(events altered and the chain rebuilt)", None)


def _check_previous(text: str, label: str, key_name, key, origin: str, n: int) -> tuple[int, bytes]:
    try:
        old_origin, old_size, old_root, _ = _parse_checkpoint(_open_note(text, key_name, key))
    except ValueError as exc:
        raise _Fail("consistency", label, str(exc)) from None
    if old_origin != origin:
        raise _Fail("consistency", label, f"is for log {old_origin!r}, not {origin!r}")
    if old_size > n:
        raise _Fail("consistency", label, f"covers {old_size} events but the bundle's checkpoint only {n}: the log "
                                          "was truncated or rolled back")
    return old_size, old_root


def _check_consistency(old: tuple[int, bytes], n: int, root: bytes, scope: str, leaf_hashes: list[bytes],
                       consistency, label: str) -> None:
    old_size, old_root = old
    rewritten = (f"the log in this bundle does not extend {label} (size {old_size}): history before seq "
                 f"{old_size + 1} was rewritten")
    if scope == "full":
        if _root_of(leaf_hashes[:old_size]) != old_root:
            raise _Fail("consistency", label, rewritten)
        return
    if old_size == n:
        if old_root != root:
            raise _Fail("consistency", label, rewritten)
        return
    try:
        if not isinstance(consistency, dict) or consistency.get("old_size") != old_size:
            raise ValueError(f"proofs.json has no consistency proof from size {old_size}; ask for an export "
                             "with --from-checkpoint set to this checkpoint")
        path_ = _hexes(consistency.get("path"), "consistency path")
    except ValueError as exc:
        raise _Fail("consistency", "proofs.json", str(exc)) from None
    if not _consistency_ok(old_size, n, old_root, root, path_):
        raise _Fail("consistency", label, rewritten)


def _check_statement(files, key_name, key, origin, n, root, scope, seqs, event_hashes, consistency, info) -> None:
    try:
        text = _open_note(_text(files, "export.txt", "statement"), key_name, key, max_bytes=1 << 28)
    except ValueError as exc:
        raise _Fail("statement", "export.txt", str(exc)) from None
    lines = text[:-1].split("\n")
    header = [EXPORT_FORMAT, f"origin {origin}", f"tree-size {n}", f"root {base64.b64encode(root).decode()}",
              f"scope {scope}", f"events {len(seqs)}"]
    for i, want in enumerate(header[:-1]):  # the event count is compared after the event list
        if i >= len(lines) or lines[i] != want:
            got = lines[i] if i < len(lines) else "nothing"
            raise _Fail("statement", "export.txt", f"signed statement says {got!r} but the bundle has {want!r}")
    if len(lines) < len(header) or not lines[len(header) - 1].startswith("events "):
        raise _Fail("statement", "export.txt", "signed statement has no 'events <count>' line")
    listed: list[tuple[int, str]] = []
    artifacts: dict[str, str] = {}
    consistency_from = None
    for line in lines[len(header):]:
        parts = line.split(" ")
        if parts[0] == "event" and len(parts) == 3 and parts[1].isdigit():
            listed.append((int(parts[1]), parts[2]))
        elif parts[0] == "artifact" and len(parts) == 3:
            artifacts[parts[2]] = parts[1]
        elif parts[0] == "consistency-from" and len(parts) == 2 and parts[1].isdigit():
            consistency_from = int(parts[1])
        else:
            raise _Fail("statement", "export.txt", f"unknown line {line[:40]!r}")
    if scope == "subset":
        have = dict(zip(seqs, event_hashes, strict=True))
        for seq, h in listed:
            if seq not in have:
                raise _Fail("statement", f"seq {seq}", "listed in the signed export statement but missing from "
                                                       "events.jsonl (event deleted)", seq)
            if have[seq] != h:
                raise _Fail("statement", f"seq {seq}", "hash differs from the signed export statement", seq)
        wanted = {s for s, _ in listed}
        for seq in seqs:
            if seq not in wanted:
                raise _Fail("statement", f"seq {seq}", "in events.jsonl but not in the signed export statement "
                                                       "(event added)", seq)
    elif listed:
        raise _Fail("statement", "export.txt", "a full export statement must not list events")
    if lines[len(header) - 1] != header[-1]:
        raise _Fail("statement", "export.txt", f"signed statement says {lines[len(header) - 1]!r} but the bundle "
                                               f"has {header[-1]!r}")
    carried = sorted(name[len("artifacts/"):] for name in files if name.startswith("artifacts/"))
    for name in carried:
        if name not in artifacts:
            raise _Fail("statement", "artifacts/" + name, "not in the signed export statement (file added)")
        if hashlib.sha256(files["artifacts/" + name]).hexdigest() != artifacts[name]:
            raise _Fail("statement", "artifacts/" + name, "sha256 differs from the signed export statement "
                                                          "(artifact altered)")
    for name in artifacts:
        if name not in carried:
            raise _Fail("statement", "artifacts/" + name, "listed in the signed export statement but missing")
    bundled_from = consistency.get("old_size") if isinstance(consistency, dict) else None
    if consistency_from != bundled_from:
        raise _Fail("statement", "export.txt", "consistency proof in proofs.json does not match the statement")
    info["artifacts"] = tuple(carried)


# --- command line ---------------------------------------------------------------------------------------------

def _read_key_arg(value: str) -> str:
    if os.path.isfile(value):
        return Path(value).read_text(encoding="utf-8")
    return value


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="verify_bundle.py", description="Verify a clinval audit export bundle "
                                     "offline against a public key you trust.")
    parser.add_argument("bundle", help="the bundle zip")
    parser.add_argument("--public-key", required=True,
                        help="file with the log's public key (note verifier string or PEM), or the string itself")
    parser.add_argument("--previous-checkpoint", help="a signed checkpoint you kept earlier")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        key_text = _read_key_arg(args.public_key)
        previous = None
        if args.previous_checkpoint:
            previous = Path(args.previous_checkpoint).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read an input file: {exc}", file=sys.stderr)
        return 2
    if not Path(args.bundle).is_file():
        print(f"error: bundle {args.bundle} not found", file=sys.stderr)
        return 2
    report = verify(args.bundle, key_text, previous)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, sort_keys=True))
    else:
        print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
