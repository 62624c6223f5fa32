"""Submissions: the service functions behind ``clinval submit`` and ``clinval submission ...``."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from validation.audit.log import append_event
from validation.exceptions import Conflict, InvalidInput, NotFound
from validation.identity import Principal
from validation.platform import Platform
from validation.policy import Resource, decide, enforce
from validation.protocols import get_protocol
from validation.registry.card import ModelCard
from validation.registry.checks import StaticReport, check_model_dir
from validation.schema import Submission

__all__ = ["SubmissionInfo", "submit_model", "verify_model", "list_submissions", "get_submission", "model_path", "set_state", "STATES"]

STATES = ("submitted", "ready", "rejected")


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmissionInfo:
    """A submission as its vendor (and the platform's readers) see it."""

    id: str
    org: str
    model_name: str
    model_version: str
    protocol_id: str
    protocol_version: int
    model_sha256: str
    threshold: float
    state: str
    reasons: tuple[str, ...]
    mlflow_name: str | None
    mlflow_version: str | None
    created_at: str


def _info(row: Submission) -> SubmissionInfo:
    at = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    return SubmissionInfo(
        id=row.id, org=row.org, model_name=row.model_name, model_version=row.model_version,
        protocol_id=row.protocol_id, protocol_version=row.protocol_version, model_sha256=row.model_sha256,
        threshold=row.threshold, state=row.state, reasons=tuple(row.reasons), mlflow_name=row.mlflow_name,
        mlflow_version=row.mlflow_version, created_at=at.isoformat(timespec="seconds"),
    )


def model_path(platform: Platform, model_sha256: str) -> Path:
    """Where the platform keeps its own read-only copy of a submitted model (by content hash)."""
    if len(model_sha256) != 64 or any(c not in "0123456789abcdef" for c in model_sha256):
        raise InvalidInput("not a model hash")
    return platform.home / "models" / model_sha256


def verify_model(platform: Platform, model_sha256: str) -> Path:
    """The stored model, re-hashed: raises :class:`Conflict` if any byte changed since submission."""
    path = model_path(platform, model_sha256)
    if not path.is_dir():
        raise Conflict("the submitted model's files are missing from the platform's store",
                       hint="restore the models/ folder from backup, or ask the vendor to submit again")
    if check_model_dir(path, view="dicom").sha256 != model_sha256:
        raise Conflict("the model's files changed since submission (hash mismatch); refusing to run them",
                       hint="investigate the store; the vendor must submit again")
    return path


def _store_copy(platform: Platform, source: Path, report: StaticReport) -> Path:
    """Copy the checked files into the content-addressed store, re-hash the copy, make it read-only."""
    target = model_path(platform, report.sha256)
    if target.is_dir():
        return target
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=target.parent))
    try:
        for rel in report.manifest:
            dest = staging / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / rel, dest, follow_symlinks=False)
        again = check_model_dir(staging, view="dicom")
        if again.sha256 != report.sha256:
            raise Conflict("the model directory changed while it was being submitted", hint="submit it again")
        for path in sorted(staging.rglob("*"), reverse=True):
            mode = path.stat().st_mode
            path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) | stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
                       | (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH if path.is_dir() else 0))
        os.replace(staging, target)
        target.chmod(0o555)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def submit_model(
    platform: Platform, principal: Principal, model_dir: str | Path, card: ModelCard
) -> SubmissionInfo:
    """Submit a model (vendor, for its own organisation).

    The static checks run first (nothing is loaded); a submission that fails them is recorded as ``rejected`` with
    the reasons, so the vendor can read them. One that passes is copied into the platform's store by hash,
    registered in MLflow (tags: vendor, protocol, hash; alias ``submitted``) and recorded as ``submitted``; the
    smoke test in the sandbox then makes it ``ready`` or ``rejected``.

    Raises
    ------
    AccessDenied
        The caller is not a vendor, or the card names another organisation (recorded).
    NotFound
        The protocol named by the card is not published.
    """
    enforce(platform.db, principal, "submission.create", Resource(kind="submission", org=card.vendor))
    published = get_protocol(platform, principal, card.protocol_id, card.protocol_version)
    protocol = published.protocol
    report = check_model_dir(model_dir, view=protocol.input.view)
    reasons = [*report.problems, *(f"requirement not satisfiable: {u}" for u in report.unmet_requirements)]
    now = datetime.now(UTC)
    stored = None
    if not reasons:
        stored = _store_copy(platform, Path(model_dir), report)
    with platform.db.write() as session:
        n = session.scalar(select(func.count()).select_from(Submission)) or 0
        sub_id = f"sub-{n + 1:05d}"
        row = Submission(
            id=sub_id, org=card.vendor, model_name=card.model_name, model_version=card.model_version,
            protocol_id=protocol.id, protocol_version=protocol.version, protocol_sha256=published.sha256,
            model_sha256=report.sha256, threshold=card.operating_threshold, card=card.model_dump(mode="json"),
            state="rejected" if reasons else "submitted", reasons=reasons, created_at=now,
            created_by=principal.user_id, updated_at=now,
        )
        session.add(row)
        append_event(
            session, principal, "submission.create", "submission", sub_id, object_sha256=report.sha256,
            details={"protocol": f"{protocol.id}@{protocol.version}", "state": row.state,
                     "files": len(report.manifest), "bytes": report.total_bytes, "problems": len(reasons)},
        )
    if stored is not None:
        from validation.registry.mlflow_store import register_model_version

        version = register_model_version(
            platform.settings, model_dir=stored, name=f"{card.vendor}.{card.model_name}", alias="submitted",
            tags={"submission": sub_id, "vendor": card.vendor, "protocol": f"{protocol.id}@{protocol.version}",
                  "sha256": report.sha256, "model_version": card.model_version},
        )
        with platform.db.write() as session:
            row = session.get(Submission, sub_id)
            row.mlflow_name, row.mlflow_version = version.name, version.version
            append_event(session, principal, "submission.register", "submission", sub_id,
                         object_sha256=report.sha256,
                         details={"mlflow_name": version.name, "mlflow_version": version.version})
    return get_submission(platform, principal, sub_id)


def _resource(row: Submission) -> Resource:
    return Resource(kind="submission", id=row.id, org=row.org)


def get_submission(platform: Platform, principal: Principal, submission_id: str) -> SubmissionInfo:
    """One submission (its vendor, admins and regulators)."""
    with platform.db.read() as session:
        row = session.get(Submission, submission_id)
        resource = _resource(row) if row else Resource(kind="submission", id=str(submission_id), org="-")
        info = _info(row) if row else None
    enforce(platform.db, principal, "submission.read", resource)
    if info is None:
        raise NotFound(f"no submission {submission_id!r}", hint="'clinval submission list' shows yours")
    return info


def list_submissions(platform: Platform, principal: Principal) -> list[SubmissionInfo]:
    """Submissions the caller may see, newest first."""
    with platform.db.read() as session:
        rows = session.scalars(select(Submission).order_by(Submission.created_at.desc(), Submission.id.desc())).all()
        return [_info(r) for r in rows if decide(principal, "submission.read", _resource(r)).allowed]


def set_state(platform: Platform, actor: Principal, submission_id: str, state: str, reasons: list[str]) -> None:
    """Move a submission to ``ready`` or ``rejected`` (the smoke test's outcome), with an audit event."""
    if state not in STATES:
        raise InvalidInput(f"unknown submission state {state!r}")
    with platform.db.write() as session:
        row = session.get(Submission, submission_id)
        if row is None:
            raise NotFound(f"no submission {submission_id!r}")
        before = row.state
        row.state, row.reasons, row.updated_at = state, list(reasons), datetime.now(UTC)
        append_event(session, actor, f"submission.{state}", "submission", submission_id,
                     object_sha256=row.model_sha256, details={"before": before, "reasons": len(reasons)})
