"""Reviewer sign-off of a scored run: an e-signature (password re-entered) on the exact results document.

The signed document is the run's canonical report JSON without its sign-off section
(:func:`validation.reports.document_sha256`), as the reviewer sees it: the full, unsuppressed view, the same for
every reviewer and admin. Every sign-off is an audit event carrying the printed name, UTC time, meaning, reason and
the document hash.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from validation.exceptions import Conflict, NotFound
from validation.identity import Principal
from validation.platform import Platform
from validation.schema import AuditEvent, Run

__all__ = ["SignOff", "sign_off", "list_signoffs"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SignOff:
    seq: int
    run_id: str
    signer: str
    printed_name: str
    org: str
    meaning: str
    reason: str
    document_sha256: str
    time: str


def sign_off(platform: Platform, principal: Principal, run_id: str, *, password: str, meaning: str,
             reason: str) -> SignOff:
    """Sign a scored run off (reviewers of a hospital whose data the run used)."""
    from validation.esign import sign
    from validation.runs.service import run_resource

    with platform.db.read() as session:
        row = session.get(Run, run_id)
        if row is None:
            raise NotFound(f"no run {run_id!r}", hint="'clinval runs'")
        resource, state = run_resource(row), row.state
    if state != "scored":
        raise Conflict(f"run {run_id} is {state}; only a scored run can be signed off")
    from validation.policy import enforce
    from validation.reports import build_report, document_sha256

    enforce(platform.db, principal, "signoff.create", resource)
    digest = document_sha256(build_report(platform, principal, run_id))
    event = sign(platform, principal, password=password, resource=resource, document_sha256=digest,
                 meaning=meaning, reason=reason)
    return SignOff(seq=event["seq"], run_id=run_id, signer=event["actor_id"], printed_name=event["actor_name"],
                   org=event["actor_org"], meaning=event["meaning"], reason=event["reason"],
                   document_sha256=digest, time=event["time"])


def list_signoffs(platform: Platform, principal: Principal, run_id: str) -> list[SignOff]:
    """Sign-offs of a run (whoever may read the run)."""
    from validation.runs.service import get_run

    get_run(platform, principal, run_id)  # access check
    with platform.db.read() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.object_type == "run",
                                                        AuditEvent.object_id == run_id,
                                                        AuditEvent.action.like("esign.%"))
                               .order_by(AuditEvent.seq)).all()
        return [SignOff(seq=r.seq, run_id=run_id, signer=r.actor_id, printed_name=r.actor_name, org=r.actor_org,
                        meaning=r.meaning or "", reason=r.reason or "", document_sha256=r.object_sha256 or "",
                        time=r.time) for r in rows]
