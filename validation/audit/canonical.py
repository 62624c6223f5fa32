"""Canonical JSON bytes of audit events, event hashes and the hash chain that links them.

The canonical form is ``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` encoded as
UTF-8, with NaN and infinities refused. Anyone can recompute it; the Merkle leaf of an event is exactly these bytes,
and the event hash is their SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from validation.audit.errors import CanonicalFormError, ChainError, EventFormError

#: ``prev_hash`` of the first event (seq 1): 64 hexadecimal zeros.
ZERO_HASH = "0" * 64

#: Keys every event carries (the event contract).
EVENT_KEYS = frozenset(
    {
        "seq",
        "time",
        "actor_id",
        "actor_role",
        "actor_org",
        "actor_name",
        "action",
        "object_type",
        "object_id",
        "object_sha256",
        "details",
        "reason",
        "meaning",
        "prev_hash",
    }
)

_HEX = frozenset("0123456789abcdef")


def _check_value(obj: Any, where: str) -> None:
    if obj is None or isinstance(obj, (str, bool, int)):
        return
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise CanonicalFormError(
                f"non-finite number {obj!r} at {where}; canonical JSON has no NaN or infinity. "
                "Store it as a string or null."
            )
        return
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            if not isinstance(key, str):
                raise CanonicalFormError(
                    f"object key of type {type(key).__name__} at {where}; canonical JSON keys must be strings. "
                    "Convert the key with str() before logging."
                )
            _check_value(value, f"{where}.{key}")
        return
    if isinstance(obj, list):
        for i, value in enumerate(obj):
            _check_value(value, f"{where}[{i}]")
        return
    raise CanonicalFormError(
        f"value of type {type(obj).__name__} at {where} has no canonical JSON form; use dict, list, str, int, "
        "finite float, bool or None (tuples and sets must be converted to lists)."
    )


def _plain_json(obj: Any) -> bool:
    # Fast iterative check for the common case (exact dict/list/str/int/bool/None/finite float); anything else,
    # including subclasses, goes through _check_value, which accepts or names the problem.
    stack = [obj]
    while stack:
        x = stack.pop()
        t = type(x)
        if t is str or t is int or t is bool or x is None:
            continue
        if t is float:
            if x - x != 0.0:  # NaN or an infinity
                return False
        elif t is dict:
            for k in x:
                if type(k) is not str:
                    return False
            stack.extend(x.values())
        elif t is list:
            stack.extend(x)
        else:
            return False
    return True


def canonical_json(obj: Any) -> bytes:
    """Return the canonical JSON bytes of `obj`.

    Parameters
    ----------
    obj : dict, list, str, int, float, bool or None
        A JSON value. Mappings must have string keys; floats must be finite.

    Returns
    -------
    bytes
        ``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")``.

    Raises
    ------
    CanonicalFormError
        If `obj` holds NaN or an infinity, a non-string key, a type JSON cannot represent without loss (tuple, set,
        bytes, ...) or a string that is not valid Unicode (lone surrogate).

    Examples
    --------
    >>> canonical_json({"b": 1, "a": "é"})
    b'{"a":"\\xc3\\xa9","b":1}'
    """
    if not _plain_json(obj):
        _check_value(obj, "$")
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalFormError(
            f"string holds a code point that is not valid Unicode (position {exc.start}); "
            "lone surrogates cannot be written as UTF-8. Clean the text before logging."
        ) from None


def event_hash(event: Mapping[str, Any]) -> str:
    """Return the hash of an event: hex SHA-256 of its canonical JSON bytes.

    Parameters
    ----------
    event : mapping
        The event, including its ``prev_hash``.

    Returns
    -------
    str
        64 lowercase hexadecimal characters.
    """
    return hashlib.sha256(canonical_json(event)).hexdigest()


def _is_hex64(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and set(value) <= _HEX


def check_event(event: Mapping[str, Any]) -> None:
    """Check that `event` follows the event contract.

    Parameters
    ----------
    event : mapping
        Candidate event.

    Raises
    ------
    EventFormError
        If a contract key is missing, ``seq`` is not a positive int, a hash is not 64 lowercase hex characters,
        ``details`` is not an object or a text field has the wrong type. Extra keys are allowed.
    """
    if not isinstance(event, Mapping):
        raise EventFormError(f"event must be a dict, got {type(event).__name__}")
    missing = EVENT_KEYS - event.keys()
    if missing:
        raise EventFormError(f"event is missing keys {sorted(missing)}; every event carries {sorted(EVENT_KEYS)}")
    seq = event["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise EventFormError(f"event seq must be an int >= 1, got {seq!r}")
    if not _is_hex64(event["prev_hash"]):
        raise EventFormError(f"event seq {seq}: prev_hash must be 64 lowercase hex characters")
    if event["object_sha256"] is not None and not _is_hex64(event["object_sha256"]):
        raise EventFormError(f"event seq {seq}: object_sha256 must be null or 64 lowercase hex characters")
    if not isinstance(event["details"], Mapping):
        raise EventFormError(f"event seq {seq}: details must be a JSON object (use {{}} when empty)")
    time = event["time"]
    if not isinstance(time, str) or not time.endswith("Z"):
        raise EventFormError(f"event seq {seq}: time must be a UTC ISO-8601 string ending in 'Z', got {time!r}")
    for key in ("actor_id", "actor_role", "action", "object_type"):
        if not isinstance(event[key], str):
            raise EventFormError(f"event seq {seq}: {key} must be a string")
    for key in ("reason", "meaning"):
        if event[key] is not None and not isinstance(event[key], str):
            raise EventFormError(f"event seq {seq}: {key} must be a string or null")


def verify_chain(events: Iterable[Mapping[str, Any]], *, prev_hash: str = ZERO_HASH, first_seq: int = 1) -> str:
    """Walk consecutive events and check every ``prev_hash`` link.

    Parameters
    ----------
    events : iterable of mapping
        Consecutive events in seq order, starting at `first_seq`.
    prev_hash : str, default ZERO_HASH
        Hash of the event before `first_seq` (64 zeros when starting at seq 1).
    first_seq : int, default 1
        Expected seq of the first event.

    Returns
    -------
    str
        Hash of the last event (or `prev_hash` when `events` is empty): the value the next event must link to.

    Raises
    ------
    ChainError
        Naming the first event whose seq is out of order or whose ``prev_hash`` does not match.
    """
    expected_seq = first_seq
    for event in events:
        seq = event.get("seq")
        if seq != expected_seq:
            raise ChainError(f"expected event seq {expected_seq}, found seq {seq!r}: the log has a gap or is "
                             "out of order", seq=expected_seq)
        if event.get("prev_hash") != prev_hash:
            raise ChainError(f"event seq {seq}: prev_hash does not equal the hash of the event before it; "
                             "the log was altered at or before this event", seq=seq)
        prev_hash = event_hash(event)
        expected_seq += 1
    return prev_hash
