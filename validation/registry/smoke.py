"""The smoke test: a submitted model runs in the sandbox on a small public DEV sample of its protocol's task;
the submission becomes ``ready`` or ``rejected`` with a reason the vendor can read (scrubbed of data)."""

from __future__ import annotations

import tempfile

from sqlalchemy import select

from validation.exceptions import Conflict, NotFound
from validation.identity import SYSTEM, Principal
from validation.platform import Platform
from validation.policy import Resource, enforce
from validation.registry.service import SubmissionInfo, get_submission, model_path, set_state
from validation.schema import Corpus, Submission

__all__ = ["smoke_test", "SMOKE_CASES", "dev_corpus_for"]

SMOKE_CASES = 24


def dev_corpus_for(platform: Platform, task: str) -> str | None:
    """The newest usable corpus with DEV cases of ``task``, if any."""
    with platform.db.read() as session:
        for row in session.scalars(select(Corpus).order_by(Corpus.created_at.desc())):
            if row.usable and "DEV" in row.sites and (row.counts.get("DEV") or {}).get(task):
                return row.id
    return None


def smoke_test(platform: Platform, principal: Principal, submission_id: str, *,
               corpus_id: str | None = None) -> SubmissionInfo:
    """Run the smoke test of a ``submitted`` model (its vendor or an admin may ask for it).

    Raises
    ------
    Conflict
        The submission is not waiting for a smoke test, or no usable corpus has DEV cases of its task.
    """
    from validation.corpora import corpus_dir
    from validation.protocols import get_protocol
    from validation.runs.work import SiteJob, run_site, site_cases

    with platform.db.read() as session:
        row = session.get(Submission, submission_id)
        if row is None:
            raise NotFound(f"no submission {submission_id!r}")
        resource = Resource(kind="submission", id=row.id, org=row.org)
        state, model_sha = row.state, row.model_sha256
        protocol_ref = (row.protocol_id, row.protocol_version)
    enforce(platform.db, principal, "submission.read", resource)
    if state != "submitted":
        raise Conflict(f"submission {submission_id} is {state}; only a submitted model is smoke-tested")
    task = get_protocol(platform, principal, *protocol_ref).protocol.task
    corpus_id = corpus_id or dev_corpus_for(platform, task)
    if corpus_id is None:
        raise Conflict(f"no usable corpus has DEV cases of {task} for the smoke test",
                       hint="an admin must ingest a corpus that includes the DEV site")
    cdir = corpus_dir(platform, corpus_id)
    from validation.registry.service import verify_model

    try:
        verify_model(platform, model_sha)
    except Conflict as exc:
        set_state(platform, SYSTEM, submission_id, "rejected", [f"smoke test refused: {exc.message}"])
        return get_submission(platform, principal, submission_id)
    from validation.runs.service import _isolation

    isolation = _isolation(platform)
    with tempfile.TemporaryDirectory(prefix="clinval-smoke-", dir=platform.home / "runs") as tmp:
        job = SiteJob(run_id=f"smoke-{submission_id}", site="DEV", task=task, split="dev", corpus_dir=str(cdir),
                      run_dir=tmp, model_dir=str(model_path(platform, model_sha)), batch_size=SMOKE_CASES,
                      isolation=isolation, max_cases=SMOKE_CASES)
        n = len(site_cases(cdir, "DEV", task, "dev", SMOKE_CASES))
        outcome = run_site(job)
    if outcome.state == "done" and n > 0:
        reasons = [f"smoke test passed on {n} DEV cases (isolation: {outcome.isolation})", *outcome.warnings]
        set_state(platform, SYSTEM, submission_id, "ready", reasons)
        _alias(platform, submission_id, "ready")
    else:
        why = outcome.reason or "the DEV sample is empty"
        set_state(platform, SYSTEM, submission_id, "rejected", [f"smoke test failed: {why}"])
    return get_submission(platform, principal, submission_id)


def _alias(platform: Platform, submission_id: str, alias: str) -> None:
    from validation.registry.mlflow_store import set_alias

    with platform.db.read() as session:
        row = session.get(Submission, submission_id)
        name, version = row.mlflow_name, row.mlflow_version
    if name and version:
        set_alias(platform.settings, name=name, version=version, alias=alias, tags={"state": alias})
