"""The audit trail as a service: signed checkpoints of the live log, the live check, export and verification.

Glue between the events table (:mod:`validation.audit.log`) and the pure pieces: the RFC 9162 tree
(:mod:`validation.audit.merkle`), signed-note checkpoints (:mod:`validation.audit.checkpoint`), export bundles
(:mod:`validation.audit.bundle`) and the standalone verifier (:mod:`validation.audit.verify_bundle`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from validation.audit.canonical import canonical_json
from validation.audit.checkpoint import (
    PUBLIC_KEY_FILE,
    generate_signing_key,
    load_signing_key,
    sign_checkpoint,
    verify_checkpoint,
    write_signing_key,
)
from validation.audit.errors import AuditError
from validation.audit.log import append_event, check_chain, iter_events
from validation.audit.merkle import MerkleTree, leaf_hash
from validation.exceptions import ClinvalError, InvalidInput, StorageError
from validation.identity import Principal
from validation.platform import Platform
from validation.policy import enforce
from validation.schema import AuditCheckpoint, AuditEvent

__all__ = [
    "ORIGIN",
    "CheckReport",
    "ExportResult",
    "create_signing_key",
    "public_key_text",
    "log_size",
    "write_checkpoint",
    "latest_checkpoint",
    "check_log",
    "export_bundle",
    "list_events",
]

#: The log's identity: checkpoint origin and signed-note key name.
ORIGIN = "clinval.pilot-base/audit"


def create_signing_key(keys_dir: Path) -> None:
    """Create the platform's Ed25519 audit key pair in ``keys_dir`` (private key 0600); never overwrites."""
    write_signing_key(generate_signing_key(name=ORIGIN), keys_dir)


def public_key_text(platform: Platform) -> str:
    """The log's public key as a note verifier string (what regulators pin)."""
    path = platform.settings.keys_dir / PUBLIC_KEY_FILE
    if not path.is_file():
        raise StorageError(f"audit public key missing at {path}", hint="restore keys/ from the backup of this home")
    return path.read_text(encoding="utf-8").strip()


def log_size(platform: Platform) -> int:
    """Number of events in the log."""
    with platform.db.read() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def _tree(session) -> tuple[MerkleTree, list[dict]]:
    events = list(iter_events(session))
    return MerkleTree(leaf_hash(canonical_json(e)) for e in events), events


def _signing_key(platform: Platform):
    try:
        return load_signing_key(platform.settings.keys_dir)
    except AuditError as exc:
        raise StorageError(f"audit signing key unusable: {exc}", hint="restore keys/ from the backup") from None


def write_checkpoint(platform: Platform) -> str:
    """Sign and store a checkpoint of the whole log as it is now; returns the signed note text.

    Written by the platform itself after every state-changing command (no principal: signing a checkpoint
    changes nothing the log describes) and on demand by ``clinval audit checkpoint``.
    """
    key = _signing_key(platform)
    with platform.db.write() as session:
        tree, _ = _tree(session)
        now = datetime.now(UTC)
        note = sign_checkpoint(origin=ORIGIN, tree_size=tree.size, root_hash=tree.root(), time=now, key=key)
        session.add(
            AuditCheckpoint(tree_size=tree.size, root_hash=tree.root().hex(), time=now.isoformat(), note=note)
        )
    return note


def latest_checkpoint(platform: Platform) -> str | None:
    """The newest stored checkpoint, or None."""
    with platform.db.read() as session:
        row = session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1)).first()
        return row.note if row else None


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckReport:
    """Outcome of walking the live log."""

    events: int
    checkpoints: int
    ok: bool
    problem: str | None = None
    seq: int | None = None


def check_log(platform: Platform, principal: Principal) -> CheckReport:
    """Walk the live log (admin): the hash chain of every event, and every stored checkpoint's signature and
    root against the events it covers. Names the first break."""
    enforce(platform.db, principal, "audit.check")
    pub = public_key_text(platform)
    with platform.db.read() as session:
        n, chain_break = check_chain(session)
        if chain_break is not None:
            return CheckReport(events=n, checkpoints=0, ok=False, problem=chain_break.problem, seq=chain_break.seq)
        tree, _ = _tree(session)
        rows = session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id)).all()
        previous = 0
        for row in rows:
            try:
                cp = verify_checkpoint(row.note, pub)
            except AuditError as exc:
                return CheckReport(events=n, checkpoints=len(rows), ok=False, problem=f"checkpoint {row.id}: {exc}")
            if cp.tree_size > tree.size or cp.tree_size < previous:
                return CheckReport(
                    events=n, checkpoints=len(rows), ok=False,
                    problem=f"checkpoint {row.id} covers {cp.tree_size} events; the log has {tree.size}",
                )
            if tree.root(cp.tree_size) != cp.root_hash:
                return CheckReport(
                    events=n, checkpoints=len(rows), ok=False,
                    problem=f"checkpoint {row.id} (size {cp.tree_size}) does not match the log: history was rewritten",
                    seq=cp.tree_size,
                )
            previous = cp.tree_size
    return CheckReport(events=n, checkpoints=len(rows), ok=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportResult:
    path: Path
    events: int
    tree_size: int
    scope: str


def _run_events(events: list[dict], run_id: str) -> list[dict]:
    def touches(e: dict) -> bool:
        if e["object_type"] == "run" and e["object_id"] == run_id:
            return True
        details = e.get("details") or {}
        return details.get("run") == run_id

    return [e for e in events if touches(e)]


def _artifacts_for(platform: Platform, events: list[dict]) -> dict[str, bytes]:
    """The documents the exported events name by hash (corpus manifests, published protocols, run results), each
    carried only if its bytes still hash to what the event recorded."""
    import hashlib

    from validation.schema import ProtocolRecord

    out: dict[str, bytes] = {}
    for e in events:
        digest, kind, oid = e.get("object_sha256"), e["action"], e["object_id"]
        if not digest:
            continue
        data, name = None, None
        if kind == "corpus.ingest" and len(oid) == 64 and all(c in "0123456789abcdef" for c in oid):
            path = platform.home / "corpora" / oid / "manifest.json"
            name = f"corpora/{oid}/manifest.json"
            data = path.read_bytes() if path.is_file() else None
        elif kind == "run.scored" and oid.startswith("run-") and oid[4:].isdigit():
            path = platform.home / "runs" / oid / "results.json"
            name = f"runs/{oid}/results.json"
            data = path.read_bytes() if path.is_file() else None
        elif kind == "protocol.publish" and "@" in oid:
            pid, _, version = oid.partition("@")
            with platform.db.read() as session:
                row = session.scalars(select(ProtocolRecord).where(ProtocolRecord.protocol_id == pid,
                                                                  ProtocolRecord.version == int(version))).first()
                data = canonical_json(row.body) if row else None
            name = f"protocols/{pid}-v{version}.json"
        if data is not None and hashlib.sha256(data).hexdigest() == digest:
            out[name] = data
    return out


def export_bundle(
    platform: Platform,
    principal: Principal,
    out: Path,
    *,
    since: int | None = None,
    run_id: str | None = None,
    from_checkpoint: str | None = None,
    artifacts: dict[str, bytes] | None = None,
) -> ExportResult:
    """Write an audit bundle (regulator or admin) that ``clinval audit verify`` checks offline.

    Parameters
    ----------
    since : int, optional
        Export only events with ``seq >= since`` (proofs still tie them to the whole log).
    run_id : str, optional
        Export only the events of one run.
    from_checkpoint : str, optional
        Text of an earlier checkpoint the recipient kept; the bundle carries a consistency proof from it.
    """
    from validation.audit.bundle import build_bundle

    enforce(platform.db, principal, "audit.export")
    if since is not None and since < 1:
        raise InvalidInput(f"--since must be a sequence number >= 1, got {since}")
    out = Path(out)
    if out.exists() and out.is_dir():
        raise InvalidInput(f"{out} is a directory", hint="give a file name such as bundle.zip")
    with platform.db.write() as session:
        append_event(
            session, principal, "audit.export", "audit", "log",
            details={"since": since, "run": run_id, "from_checkpoint": from_checkpoint is not None},
        )
    checkpoint = write_checkpoint(platform)
    with platform.db.read() as session:
        tree, events = _tree(session)
    size = verify_checkpoint(checkpoint, public_key_text(platform)).tree_size
    events = events[:size]
    selected = events
    scope = "full"
    if since is not None:
        selected = [e for e in selected if e["seq"] >= since]
        scope = "since"
    if run_id is not None:
        selected = _run_events(selected, run_id)
        scope = "run"
    try:
        build_bundle(
            out,
            events=selected,
            all_leaf_hashes_or_events=tree,
            checkpoint_text=checkpoint,
            public_key_text=public_key_text(platform),
            signing_key=_signing_key(platform),
            artifacts={**_artifacts_for(platform, selected), **(artifacts or {})},
            previous_checkpoint_text=from_checkpoint,
        )
    except AuditError as exc:
        raise ClinvalError(f"cannot build the bundle: {exc}", hint="check --from-checkpoint and run 'clinval audit check'") from None
    return ExportResult(path=out, events=len(selected), tree_size=size, scope=scope)


def list_events(
    platform: Platform, principal: Principal, *, since: int = 1, limit: int = 100
) -> list[dict]:
    """Events for reading (regulator or admin), oldest first."""
    enforce(platform.db, principal, "audit.read")
    out = []
    with platform.db.read() as session:
        for event in iter_events(session, since=max(1, since)):
            out.append(event)
            if len(out) >= limit:
                break
    return out


