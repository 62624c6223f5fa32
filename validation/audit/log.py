"""The append-only audit log: one function appends an event, in the caller's transaction.

Every state change of the platform goes through :func:`append_event` inside the same database transaction as the
change, so a change without its event (or an event without its change) cannot be committed. Events carry ids,
hashes and counts, never PHI. Each event stores the SHA-256 of the previous event's canonical JSON (a hash chain);
the Merkle tree, checkpoints and export build on the same canonical bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from validation.audit.canonical import EVENT_KEYS, canonical_json
from validation.identity import Principal
from validation.schema import AuditEvent

__all__ = [
    "GENESIS_HASH",
    "EVENT_FIELDS",
    "append_event",
    "event_dict",
    "event_hash",
    "canonical_event_bytes",
    "iter_events",
    "ChainBreak",
    "check_chain",
]

GENESIS_HASH = "0" * 64
_TAIL_KEY = "clinval.audit_tail"
EVENT_FIELDS = tuple(sorted(EVENT_KEYS))  # the event contract, defined once in validation.audit.canonical


def _jsonable(value: Any) -> Any:
    """Tuples become lists (as they will read back from the database); everything else is checked as it is."""
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def canonical_event_bytes(event: Mapping[str, Any]) -> bytes:
    """The canonical JSON of an event: sorted keys, UTF-8, no insignificant whitespace (the Merkle leaf)."""
    return canonical_json(event)


def event_hash(event: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of an event's canonical JSON; the next event's ``prev_hash``."""
    return hashlib.sha256(canonical_json(event)).hexdigest()


def event_dict(row: AuditEvent) -> dict[str, Any]:
    """The event as the plain dict that is hashed, exported and verified."""
    return {name: getattr(row, name) for name in EVENT_FIELDS}


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def append_event(
    session: Session,
    actor: Principal,
    action: str,
    object_type: str,
    object_id: str,
    *,
    object_sha256: str | None = None,
    details: Mapping[str, Any] | None = None,
    reason: str | None = None,
    meaning: str | None = None,
) -> dict[str, Any]:
    """Append one event to the log in the session's (writing) transaction.

    Parameters
    ----------
    session : Session
        A session from :meth:`validation.storage.Database.write`; writers are serialised, so ``seq`` is gap-free.
    actor : Principal
        Who acted.
    action : str
        Dotted verb, e.g. ``user.create``, ``access.denied``.
    object_type, object_id : str
        What was acted on (ids only, never PHI).
    object_sha256 : str, optional
        Hash of the exact bytes acted on (a report, a manifest).
    details : Mapping, optional
        JSON values (ids, hashes, counts, states); checked to be JSON-safe.
    reason, meaning : str, optional
        Free-text reason given by the actor; e-signature meaning for sign-offs.

    Returns
    -------
    dict
        The event as stored (with ``seq`` and ``prev_hash``).
    """
    details = _jsonable(dict(details or {}))
    canonical_json(details)  # refuses NaN, non-string keys, bytes...: an event must always be hashable
    # Writers are serialised, so within one transaction the tail of the log is known after the first look-up.
    tail = session.info.get(_TAIL_KEY)
    if tail is None:
        last = session.execute(
            select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
        ).first()
        tail = (0, GENESIS_HASH) if last is None else (last.seq, last.hash)
    seq, prev = tail[0] + 1, tail[1]
    event = {
        "seq": seq,
        "time": _utc_now(),
        "actor_id": actor.user_id,
        "actor_role": actor.role.value,
        "actor_org": actor.org,
        "actor_name": actor.printed_name,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "object_sha256": object_sha256,
        "details": details,
        "reason": reason,
        "meaning": meaning,
        "prev_hash": prev,
    }
    digest = event_hash(event)
    session.add(AuditEvent(**event, hash=digest))
    session.info[_TAIL_KEY] = (seq, digest)
    return event


def _iter_rows(session: Session, since: int, batch: int) -> Iterator[AuditEvent]:
    next_seq = since
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.seq >= next_seq).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        next_seq = rows[-1].seq + 1


def iter_events(session: Session, *, since: int = 1, batch: int = 5000) -> Iterator[dict[str, Any]]:
    """Yield events in ``seq`` order from ``since``, in batches (constant memory)."""
    for row in _iter_rows(session, since, batch):
        yield event_dict(row)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainBreak:
    """The first place where the stored log does not hold together."""

    seq: int
    problem: str


def check_chain(session: Session) -> tuple[int, ChainBreak | None]:
    """Walk the whole log: gap-free ``seq``, each ``prev_hash`` equal to the previous event's hash, and each
    stored hash equal to the recomputed one.

    Returns
    -------
    (int, ChainBreak or None)
        Number of events checked and the first break, if any.
    """
    expected_seq, prev = 1, GENESIS_HASH
    n = 0
    for row in _iter_rows(session, 1, 5000):
        event, stored = event_dict(row), row.hash
        n += 1
        seq = event["seq"]
        if seq != expected_seq:
            return n, ChainBreak(seq=seq, problem=f"sequence jumps from {expected_seq - 1} to {seq}")
        if event["prev_hash"] != prev:
            return n, ChainBreak(seq=seq, problem="prev_hash does not match the previous event")
        digest = event_hash(event)
        if stored != digest:
            return n, ChainBreak(seq=seq, problem="stored hash does not match the event's content")
        prev, expected_seq = digest, seq + 1
    return n, None
