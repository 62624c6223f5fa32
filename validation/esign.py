"""Electronic signatures in the style of 21 CFR Part 11: the signer re-enters the password, and the signature
event carries the printed name, UTC time, meaning, reason and the hash of the exact document signed.

The review workflow (which runs, which report) builds on :func:`sign`; the event shape is fixed here.
"""

from __future__ import annotations

import re
from enum import Enum

from validation.audit.log import append_event
from validation.exceptions import AuthenticationError, InvalidInput
from validation.identity import Principal
from validation.platform import Platform
from validation.policy import Resource, enforce

__all__ = ["Meaning", "sign"]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_REASON = 2000


class Meaning(str, Enum):
    """What a signature means (the e-signature's stated meaning)."""

    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_CHANGES = "request-changes"


def sign(
    platform: Platform,
    principal: Principal,
    *,
    password: str,
    resource: Resource,
    document_sha256: str,
    meaning: str | Meaning,
    reason: str,
    action: str = "signoff.create",
) -> dict:
    """Record an e-signature of ``principal`` on the document with hash ``document_sha256``.

    Parameters
    ----------
    password : str
        The signer's password, re-entered at signing time (checked; never stored or logged).
    resource : Resource
        What is signed off (e.g. a run, with the hospitals whose data it used); the policy decides who may sign.
    document_sha256 : str
        SHA-256 (hex) of the exact bytes signed (the canonical JSON report).
    meaning : Meaning or str
        ``approve``, ``reject`` or ``request-changes``.
    reason : str
        Why; required.

    Returns
    -------
    dict
        The signature event as stored in the audit log.

    Raises
    ------
    AccessDenied
        The principal may not sign this object (recorded).
    AuthenticationError
        The re-entered password is wrong (recorded).
    InvalidInput
        Unknown meaning, empty reason, or not a SHA-256.
    """
    from validation.accounts import login

    enforce(platform.db, principal, action, resource)
    try:
        meaning = Meaning(meaning)
    except ValueError:
        raise InvalidInput(
            f"unknown signature meaning {meaning!r}", hint=f"use one of {', '.join(m.value for m in Meaning)}"
        ) from None
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise InvalidInput(f"a signature needs a reason of 1 to {MAX_REASON} characters", hint="say why you sign")
    if not isinstance(document_sha256, str) or not _SHA256.match(document_sha256):
        raise InvalidInput("document_sha256 must be 64 lower-case hex characters (SHA-256 of the signed document)")
    signer = login(platform, principal.username, password)
    if signer.user_id != principal.user_id:  # pragma: no cover - login returns the same account by construction
        raise AuthenticationError("the re-entered password belongs to another account")
    with platform.db.write() as session:
        return append_event(
            session,
            principal,
            "esign." + meaning.value,
            resource.kind,
            resource.id,
            object_sha256=document_sha256,
            reason=reason,
            meaning=meaning.value,
            details={"signer": principal.user_id, "printed_name": principal.printed_name, "role": principal.role.value},
        )
