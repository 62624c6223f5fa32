"""Evaluation runs: create, execute (or resume), score, and read results with access control and suppression."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform as _platform_mod
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from sqlalchemy import delete, func, select

from validation.audit.log import append_event
from validation.exceptions import Conflict, InvalidInput, NotFound
from validation.identity import Principal, Role
from validation.platform import Platform
from validation.policy import Resource, enforce
from validation.schema import ResultRow, Run, RunSite, Submission, VerdictRow

__all__ = [
    "RunInfo",
    "SiteInfo",
    "RunResults",
    "create_run",
    "execute_run",
    "evaluate",
    "cancel_run",
    "get_run",
    "list_runs",
    "get_results",
    "case_results",
    "case_image",
    "run_dir",
    "run_resource",
]

STATES = ("queued", "running", "scored", "failed", "cancelled")
DEFAULT_BATCH = 256


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteInfo:
    site: str
    state: str
    n_cases: int
    n_batches: int
    batches_done: int
    reason: str | None
    isolation: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunInfo:
    id: str
    submission_id: str
    org: str
    protocol_id: str
    protocol_version: int
    protocol_sha256: str
    corpus_id: str
    model_sha256: str
    threshold: float
    state: str
    complete: bool | None
    isolation: str | None
    executor: str | None
    error: str | None
    results_sha256: str | None
    mlflow_run_id: str | None
    versions: dict
    created_at: str
    sites: tuple[SiteInfo, ...]


def run_resource(row: Run) -> Resource:
    return Resource(kind="run", id=row.id, org=row.org, sites=frozenset(row.sites))


def run_dir(platform: Platform, run_id: str) -> Path:
    if not isinstance(run_id, str) or not run_id.startswith("run-") or not run_id[4:].isdigit():
        raise NotFound(f"no run {run_id!r}", hint="run ids look like run-00001; 'clinval run list'")
    return platform.home / "runs" / run_id


def _iso(value: datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat(timespec="seconds")


def _info(session, row: Run) -> RunInfo:
    sites = session.scalars(select(RunSite).where(RunSite.run_id == row.id).order_by(RunSite.site)).all()
    return RunInfo(
        id=row.id, submission_id=row.submission_id, org=row.org, protocol_id=row.protocol_id,
        protocol_version=row.protocol_version, protocol_sha256=row.protocol_sha256, corpus_id=row.corpus_id,
        model_sha256=row.model_sha256, threshold=row.threshold, state=row.state, complete=row.complete,
        isolation=row.isolation, executor=row.executor, error=row.error, results_sha256=row.results_sha256,
        mlflow_run_id=row.mlflow_run_id, versions=dict(row.versions), created_at=_iso(row.created_at),
        sites=tuple(SiteInfo(site=s.site, state=s.state, n_cases=s.n_cases, n_batches=s.n_batches,
                             batches_done=s.batches_done, reason=s.reason, isolation=s.isolation) for s in sites),
    )


def _versions() -> dict:
    def v(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "unknown"

    return {"clinval": v("clinval"), "evaluators": v("clinval"), "python": _platform_mod.python_version(),
            "numpy": v("numpy"), "scipy": v("scipy"), "pandas": v("pandas"), "mlflow": v("mlflow")}


def _isolation(platform: Platform) -> str:
    """The sandbox mode for vendor code; ``none`` only if an admin allowed it in the configuration."""
    mode = platform.settings.sandbox
    if mode == "none" and not platform.settings.allow_unsandboxed:
        raise Conflict("CLINVAL_SANDBOX=none would run vendor code without isolation; refused",
                       hint="use bwrap (apt-get install bubblewrap) or process; set allow_unsandboxed only for "
                            "trusted code")
    return mode


def create_run(platform: Platform, principal: Principal, submission_id: str, corpus_id: str, *,
               sites: list[str] | None = None, batch_size: int = DEFAULT_BATCH) -> RunInfo:
    """Create a queued run bound to exact versions (admin).

    Raises
    ------
    Conflict
        The submission is not ``ready``, or the corpus is not usable or lacks the protocol's task.
    InvalidInput
        Unknown sites, or a bad batch size.
    """
    from validation.corpora import corpus_dir, require_usable
    from validation.protocols import get_protocol
    from validation.runs.work import site_cases

    enforce(platform.db, principal, "run.create", Resource(kind="run", id="new"))
    if not 1 <= int(batch_size) <= 100_000:
        raise InvalidInput(f"batch size must be between 1 and 100000, got {batch_size}")
    with platform.db.read() as session:
        sub = session.get(Submission, submission_id)
        if sub is None:
            raise NotFound(f"no submission {submission_id!r}", hint="'clinval submission list'")
        sub_state, sub_org, protocol_id, protocol_version = sub.state, sub.org, sub.protocol_id, sub.protocol_version
        model_sha, threshold = sub.model_sha256, sub.threshold
    if sub_state != "ready":
        raise Conflict(f"submission {submission_id} is {sub_state}, not ready",
                       hint="only a submission that passed its smoke test can be evaluated")
    corpus = require_usable(platform, principal, corpus_id)
    published = get_protocol(platform, principal, protocol_id, protocol_version)
    task = published.protocol.task
    if task not in corpus.tasks:
        raise Conflict(f"corpus {corpus.id[:12]} has no {task} cases", hint="ingest an export with that task")
    hospitals = [s for s in corpus.sites if s != "DEV"]
    chosen = hospitals if not sites else list(dict.fromkeys(sites))
    unknown = [s for s in chosen if s not in hospitals]
    if unknown:
        raise InvalidInput(f"site(s) {', '.join(unknown)} not in the corpus's sequestered sites",
                           hint=f"choose from {', '.join(hospitals)}")
    if not chosen:
        raise InvalidInput("the corpus has no sequestered hospital sites to evaluate on")
    cdir = corpus_dir(platform, corpus.id)
    plans = {s: len(site_cases(cdir, s, task, "test")) for s in chosen}
    now = datetime.now(UTC)
    with platform.db.write() as session:
        n = session.scalar(select(func.count()).select_from(Run)) or 0
        run_id = f"run-{n + 1:05d}"
        row = Run(id=run_id, submission_id=submission_id, org=sub_org, protocol_id=protocol_id,
                  protocol_version=protocol_version, protocol_sha256=published.sha256, corpus_id=corpus.id,
                  model_sha256=model_sha, threshold=threshold, sites=chosen, batch_size=int(batch_size),
                  versions=_versions(), state="queued", created_at=now, created_by=principal.user_id,
                  updated_at=now)
        session.add(row)
        for site, n_cases in plans.items():
            session.add(RunSite(run_id=run_id, site=site, state="pending", n_cases=n_cases,
                                n_batches=(n_cases + int(batch_size) - 1) // int(batch_size), batches_done=0))
        append_event(session, principal, "run.create", "run", run_id, object_sha256=model_sha,
                     details={"submission": submission_id, "protocol_sha256": published.sha256,
                              "corpus": corpus.id, "sites": chosen, "cases": sum(plans.values()),
                              "versions": row.versions})
        session.flush()
        return _info(session, row)


@contextmanager
def _run_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict("this run is being executed by another process",
                           hint="wait for it, or check 'clinval run show ID'") from None
        yield
    finally:
        os.close(fd)


def _set_state(platform: Platform, actor: Principal, run_id: str, state: str, **fields) -> None:
    with platform.db.write() as session:
        row = session.get(Run, run_id)
        before = row.state
        row.state, row.updated_at = state, datetime.now(UTC)
        for key, value in fields.items():
            setattr(row, key, value)
        details = {"before": before, **{k: v for k, v in fields.items() if k in ("complete", "isolation", "executor")}}
        append_event(session, actor, f"run.{state}", "run", run_id, details=details)


def execute_run(platform: Platform, principal: Principal, run_id: str, *, scheduler: str | None = None,
                progress: Callable[[str, object], None] | None = None, workers: int = 2) -> RunInfo:
    """Run (or resume) every unfinished site of a run in the sandbox, then score it (admin).

    Safe to call again after any crash: finished batches are kept, missing ones are predicted, and scoring checks
    that every planned case has exactly one prediction.
    """
    from validation.corpora import corpus_dir
    from validation.protocols import get_protocol
    from validation.registry import model_path, verify_model
    from validation.runs.executors import make_executor
    from validation.runs.work import SiteJob

    with platform.db.read() as session:
        row = session.get(Run, run_id)
        if row is None:
            raise NotFound(f"no run {run_id!r}", hint="'clinval run list'")
        resource = run_resource(row)
        state, complete = row.state, row.complete
    enforce(platform.db, principal, "run.create", resource)
    if state == "cancelled" or (state == "scored" and complete):
        raise Conflict(f"run {run_id} is {state}; nothing to resume", hint="create a new run to evaluate again")
    rdir = run_dir(platform, run_id)
    with _run_lock(rdir / ".lock"):
        with platform.db.read() as session:
            row = session.get(Run, run_id)
            protocol = get_protocol(platform, principal, row.protocol_id, row.protocol_version).protocol
            pending = [s.site for s in session.scalars(select(RunSite).where(RunSite.run_id == run_id))
                       if s.state != "done"]
            cdir, model_dir = corpus_dir(platform, row.corpus_id), model_path(platform, row.model_sha256)
            batch_size, corpus_id, row_model_sha = row.batch_size, row.corpus_id, row.model_sha256
        scheduler = scheduler if scheduler is not None else platform.settings.scheduler
        isolation = _isolation(platform)
        try:
            verify_model(platform, row_model_sha)
        except Conflict as exc:
            _set_state(platform, principal, run_id, "failed", complete=False, error=exc.message)
            return get_run(platform, principal, run_id)
        executor = make_executor(scheduler, workers=workers)
        _set_state(platform, principal, run_id, "running", executor=executor.name)
        jobs = [SiteJob(run_id=run_id, site=site, task=protocol.task, split="test", corpus_dir=str(cdir),
                        run_dir=str(rdir), model_dir=str(model_dir), batch_size=batch_size,
                        isolation=isolation) for site in pending]

        def on_done(outcome) -> None:
            with platform.db.write() as session:
                site_row = session.get(RunSite, (run_id, outcome.site))
                site_row.state, site_row.batches_done = outcome.state, outcome.batches_done
                site_row.reason, site_row.isolation, site_row.elapsed = (outcome.reason or None, outcome.isolation
                                                                        or None, outcome.elapsed)
                append_event(session, principal, f"run.site.{outcome.state}", "run", run_id,
                             details={"run": run_id, "site": outcome.site, "cases": outcome.n_cases,
                                      "batches": outcome.batches_done, "isolation": outcome.isolation,
                                      "worker": outcome.where,
                                      "reason": (outcome.reason or "")[:300]})
            if progress is not None:
                progress(outcome.site, outcome)

        try:
            executor.run(jobs, on_done)
        finally:
            executor.close()
        _score(platform, principal, run_id, cdir, rdir, protocol, corpus_id)
    return get_run(platform, principal, run_id)


def _score(platform, principal, run_id, cdir, rdir, protocol, corpus_id) -> None:
    from validation.runs.curves import run_curves
    from validation.runs.scoring import load_scoring_frame, score
    from validation.runs.work import site_cases

    with platform.db.read() as session:
        row = session.get(Run, run_id)
        threshold = row.threshold
        # Bootstrap seeds follow from what was evaluated (model, protocol, corpus, sites), not from the run id:
        # evaluating the same things again gives the same intervals.
        seed_key = f"{row.model_sha256}/{row.protocol_sha256}/{row.corpus_id}/{','.join(sorted(row.sites))}"
        site_rows = session.scalars(select(RunSite).where(RunSite.run_id == run_id)).all()
        done = [s.site for s in site_rows if s.state == "done"]
        failed = [s.site for s in site_rows if s.state != "done"]
        isolations = sorted({s.isolation for s in site_rows if s.isolation})
    if not done:
        _set_state(platform, principal, run_id, "failed", complete=False,
                   error=f"no site finished; failed: {', '.join(failed)}")
        return
    plans = {s: list(site_cases(cdir, s, protocol.task, "test")["case_id"]) for s in done}
    try:
        frame = load_scoring_frame(cdir, rdir, done, protocol.task, plans)
    except ValueError as exc:
        _set_state(platform, principal, run_id, "failed", complete=False, error=f"scoring refused: {exc}")
        return
    scored = score(frame, metrics=protocol.metrics, subgroups=protocol.subgroups, threshold=threshold,
                   min_n=protocol.min_cases_per_group,
                   rules=[(c.id, c.rule) for c in protocol.acceptance], run_id=seed_key)
    results = scored.results
    curves = run_curves(frame["label"].to_numpy(dtype=int), frame["score"].to_numpy(dtype=float), seed_key=seed_key,
                        min_cell=max(platform.settings.min_cell, protocol.min_cases_per_group))
    results_json = json.dumps({"results": results.to_dict(orient="records"), "verdicts": scored.verdicts,
                               "table_2x2": scored.table_2x2, "curves": curves},
                              sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(results_json.encode()).hexdigest()
    (rdir / "results.json").write_text(results_json, encoding="utf-8")
    mlflow_id = _log_mlflow(platform, run_id, protocol, corpus_id, results, scored, rdir)
    isolation = "bwrap" if isolations == ["bwrap"] else ",".join(isolations) or None
    with platform.db.write() as session:
        session.execute(delete(ResultRow).where(ResultRow.run_id == run_id))
        session.execute(delete(VerdictRow).where(VerdictRow.run_id == run_id))
        for record in results.to_dict(orient="records"):
            session.add(ResultRow(run_id=run_id, **{k: (None if isinstance(v, float) and v != v else v)
                                                    for k, v in record.items()}))
        for v in scored.verdicts:
            session.add(VerdictRow(run_id=run_id, criterion=v["criterion"], rule=v["rule"], status=v["status"],
                                   detail=json.loads(json.dumps(v["detail"], default=str))))
        row = session.get(Run, run_id)
        before = row.state
        row.state, row.complete, row.results_sha256 = "scored", not failed, digest
        row.isolation, row.mlflow_run_id, row.updated_at = isolation, mlflow_id, datetime.now(UTC)
        row.error = f"partial: site(s) {', '.join(failed)} failed" if failed else None
        append_event(session, principal, "run.scored", "run", run_id, object_sha256=digest,
                     details={"before": before, "complete": not failed, "failed_sites": failed,
                              "cases": scored.n_cases, "isolation": isolation,
                              "verdicts": {v["criterion"]: v["status"] for v in scored.verdicts}})


def _log_mlflow(platform, run_id, protocol, corpus_id, results, scored, rdir) -> str | None:
    """Track the run in MLflow (aggregates only): one experiment per protocol; params (versions, hashes,
    threshold), metrics (pooled and per site, CI bounds as separate metrics), tags (vendor, submission, verdicts)
    and the results/verdicts JSON as an artifact; the registered model version gets a tag pointing at the run."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=platform.settings.mlflow_tracking_uri,
                          registry_uri=platform.settings.mlflow_tracking_uri)
    experiment = f"clinval-evaluations-{protocol.id}"
    try:
        exp = client.get_experiment_by_name(experiment)
        if exp is None:
            root = platform.home / "mlartifacts" / "evaluations" / protocol.id
            root.mkdir(parents=True, exist_ok=True)
            exp_id = client.create_experiment(experiment, artifact_location=root.as_uri())
        else:
            exp_id = exp.experiment_id
        with platform.db.read() as session:
            row = session.get(Run, run_id)
            sub = session.get(Submission, row.submission_id)
            params = {"run": run_id, "submission": row.submission_id, "protocol": f"{row.protocol_id}@"
                      f"{row.protocol_version}", "protocol_sha256": row.protocol_sha256, "corpus": corpus_id,
                      "model_sha256": row.model_sha256, "threshold": row.threshold, "sites": ",".join(row.sites),
                      **{f"version.{k}": v for k, v in row.versions.items()}}
            model_name, model_version, vendor = sub.mlflow_name, sub.mlflow_version, row.org
        verdicts = {v["criterion"]: v["status"] for v in scored.verdicts}
        tags = {"clinval.run": run_id, "clinval.vendor": vendor, "clinval.submission": params["submission"],
                "clinval.verdict": "pass" if verdicts and all(v == "pass" for v in verdicts.values()) else "not-pass",
                **{f"clinval.verdict.{k}": v for k, v in verdicts.items()}}
        run = client.create_run(exp_id, run_name=run_id, tags=tags)
        for key, value in params.items():
            client.log_param(run.info.run_id, key, str(value)[:500])
        for record in results[results["group_kind"].isin(["overall", "site"])].to_dict(orient="records"):
            suffix = "" if record["group_kind"] == "overall" else f".site.{record['group']}"
            for field in ("estimate", "ci_low", "ci_high"):
                value = record[field]
                if value is not None and value == value:
                    name = record["metric"] + ("" if field == "estimate" else f".{field}") + suffix
                    client.log_metric(run.info.run_id, name, float(value))
        client.log_artifact(run.info.run_id, str(rdir / "results.json"))
        client.set_terminated(run.info.run_id)
        if model_name and model_version:
            client.set_model_version_tag(model_name, model_version, f"clinval.run.{run_id}", run.info.run_id)
        return run.info.run_id
    except MlflowException:
        return None


def evaluate(platform: Platform, principal: Principal, submission_id: str, corpus_id: str, *,
             sites: list[str] | None = None, scheduler: str | None = None, progress=None,
             batch_size: int = DEFAULT_BATCH, workers: int = 2) -> RunInfo:
    """Create a run and execute it (``clinval evaluate``)."""
    info = create_run(platform, principal, submission_id, corpus_id, sites=sites, batch_size=batch_size)
    return execute_run(platform, principal, info.id, scheduler=scheduler, progress=progress, workers=workers)


def cancel_run(platform: Platform, principal: Principal, run_id: str, *, reason: str) -> RunInfo:
    with platform.db.read() as session:
        row = session.get(Run, run_id)
        if row is None:
            raise NotFound(f"no run {run_id!r}")
        resource, state = run_resource(row), row.state
    enforce(platform.db, principal, "run.cancel", resource)
    if state in ("scored", "cancelled"):
        raise Conflict(f"run {run_id} is already {state}")
    _set_state(platform, principal, run_id, "cancelled", error=(reason or "cancelled")[:500])
    return get_run(platform, principal, run_id)


def get_run(platform: Platform, principal: Principal, run_id: str) -> RunInfo:
    with platform.db.read() as session:
        row = session.get(Run, run_id)
        info = _info(session, row) if row else None
        resource = run_resource(row) if row else Resource(kind="run", id=str(run_id), org="-")
    enforce(platform.db, principal, "run.read", resource)
    if info is None:
        raise NotFound(f"no run {run_id!r}", hint="'clinval run list'")
    return info


def list_runs(platform: Platform, principal: Principal) -> list[RunInfo]:
    from validation.policy import decide

    with platform.db.read() as session:
        rows = session.scalars(select(Run).order_by(Run.created_at.desc(), Run.id.desc())).all()
        return [_info(session, r) for r in rows if decide(principal, "run.read", run_resource(r)).allowed]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResults:
    run: RunInfo
    results: list[dict]
    verdicts: list[dict]
    suppressed: int
    min_cell: int


UNSUPPRESSED_KINDS = ("overall", "site_gap", "random_effects")


def _suppressed_groups(rows, limit: int) -> set[tuple[str, str]]:
    """The (group_kind, group) pairs whose rows are hidden: every group with fewer than ``limit`` cases, and, in a
    breakdown (all sites, or all values of one subgroup attribute) where exactly one group is hidden, also the next
    smallest group, so that no hidden count can be recovered as the overall count minus the shown ones."""
    if limit <= 0:
        return set()
    sizes: dict[tuple[str, str], int] = {}
    for r in rows:
        if r.group_kind in UNSUPPRESSED_KINDS:
            continue
        key = (r.group_kind, r.group)
        sizes[key] = max(sizes.get(key, 0), int(r.n or 0), int(r.n_pos or 0) + int(r.n_neg or 0))
    hidden = {key for key, n in sizes.items() if n < limit}
    for kind in {k for k, _ in sizes}:
        groups = sorted(((n, g) for (k, g), n in sizes.items() if k == kind))
        primary = [g for n, g in groups if (kind, g) in hidden]
        if len(primary) == 1 and len(groups) > 1:
            n, g = next((n, g) for n, g in groups if (kind, g) not in hidden)
            hidden.add((kind, g))
    return hidden


def get_results(platform: Platform, principal: Principal, run_id: str) -> RunResults:
    """The tidy results and verdicts of a scored run. For vendors and regulators, groups with fewer cases than
    ``min_cell`` (and than the protocol's minimum) are suppressed: estimate, interval and counts removed, note says
    so; where that hides a single group of a breakdown, the next smallest group is hidden too (complementary
    suppression), so the hidden counts cannot be recovered by subtraction from the overall row."""
    from validation.protocols import get_protocol

    with platform.db.read() as session:
        row = session.get(Run, run_id)
        resource = run_resource(row) if row else Resource(kind="run", id=str(run_id), org="-")
    enforce(platform.db, principal, "results.read", resource)
    info = get_run(platform, principal, run_id)
    if info.state != "scored":
        raise Conflict(f"run {run_id} is {info.state}; results exist once it is scored")
    min_n = get_protocol(platform, principal, info.protocol_id, info.protocol_version).protocol.min_cases_per_group
    limit = max(platform.settings.min_cell, min_n) if principal.role in (Role.VENDOR, Role.REGULATOR) else 0
    suppressed = 0
    out = []
    with platform.db.read() as session:
        rows = session.scalars(select(ResultRow).where(ResultRow.run_id == run_id).order_by(ResultRow.pk)).all()
        hidden = _suppressed_groups(rows, limit)
        for r in rows:
            record = {c: getattr(r, c) for c in ("metric", "group_kind", "group", "estimate", "ci_low", "ci_high",
                                                 "ci_method", "n", "n_pos", "n_neg", "note")}
            small = r.group_kind not in UNSUPPRESSED_KINDS and (r.n < limit or (r.group_kind, r.group) in hidden)
            if small:
                suppressed += 1
                why = (f"suppressed: fewer than {limit} cases" if r.n < limit
                       else "suppressed: complementary (another group of this breakdown is under the minimum)")
                record.update(estimate=None, ci_low=None, ci_high=None, n_pos=None, n_neg=None, note=why)
                record["n"] = None
            out.append(record)
        verdicts = [{"criterion": v.criterion, "rule": v.rule, "status": v.status, "detail": v.detail}
                    for v in session.scalars(select(VerdictRow).where(VerdictRow.run_id == run_id)
                                             .order_by(VerdictRow.pk))]
    return RunResults(run=info, results=out, verdicts=verdicts, suppressed=suppressed, min_cell=limit)


def case_results(platform: Platform, principal: Principal, run_id: str, site: str):
    """Case-level predictions with labels for one hospital (reviewers of that hospital only).

    Returns a DataFrame with ``case_id, score, label, predicted, correct, age_band, sex, manufacturer,
    input_path`` (de-identified ids; ``input_path`` relative to the corpus, for showing the image)."""
    import pandas as pd

    from validation.corpora import corpus_dir

    with platform.db.read() as session:
        row = session.get(Run, run_id)
        resource = run_resource(row) if row else Resource(kind="run", id=str(run_id), org="-")
        threshold = row.threshold if row else None
        corpus_id = row.corpus_id if row else None
        site_ok = row is not None and site in row.sites
    # Case-level data of one hospital: the object involves that hospital only if the run used it.
    enforce(platform.db, principal, "results.read_cases",
            Resource(kind="run", id=str(run_id), org=resource.org, sites=frozenset([site]) & resource.sites))
    if not site_ok:
        raise NotFound(f"run {run_id} has no site {site}")
    rdir, cdir = run_dir(platform, run_id), corpus_dir(platform, corpus_id)
    files = sorted((rdir / "predictions" / site).glob("batch-*.parquet"))
    if not files:
        return pd.DataFrame(columns=["case_id", "score", "label", "predicted", "correct"])
    preds = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    labels = pd.read_parquet(cdir / "labels" / site / "labels.parquet", columns=["case_id", "label"])
    index = pd.read_parquet(cdir / "sites" / site / "index.parquet")
    keep = [c for c in ("case_id", "age_band", "sex", "manufacturer", "input_path") if c in index.columns]
    frame = preds.merge(labels, on="case_id", how="left").merge(index[keep], on="case_id", how="left")
    frame["predicted"] = (frame["score"] >= threshold).astype(int)
    frame["correct"] = frame["predicted"] == frame["label"]
    return frame


def case_image(platform: Platform, principal: Principal, run_id: str, site: str, case_id: str):
    """The de-identified image of one case, ready to display (reviewers of that hospital only).

    Returns an 8-bit grayscale array (MONOCHROME1 inverted so that bright means dense, scaled to the stored bit
    depth), or None when the case's input is not an image.

    Raises
    ------
    AccessDenied
        Not a reviewer of ``site`` (recorded).
    NotFound
        The run has no such site or the site no such case.
    """
    import numpy as np
    import pandas as pd

    from validation.corpora import corpus_dir

    with platform.db.read() as session:
        row = session.get(Run, run_id)
        resource = run_resource(row) if row else Resource(kind="run", id=str(run_id), org="-")
        corpus_id = row.corpus_id if row else None
    enforce(platform.db, principal, "results.read_cases",
            Resource(kind="run", id=str(run_id), org=resource.org, sites=frozenset([site]) & resource.sites))
    if corpus_id is None or site not in resource.sites:
        raise NotFound(f"run {run_id} has no site {site}")
    cdir = corpus_dir(platform, corpus_id)
    index = pd.read_parquet(cdir / "sites" / site / "index.parquet", columns=["case_id", "modality", "input_path"])
    match = index[index["case_id"] == case_id]
    if match.empty:
        raise NotFound(f"site {site} has no case {case_id!r} in this corpus")
    rel = str(match["input_path"].iloc[0])
    if not rel.startswith(f"sites/{site}/inputs/") or ".." in rel or not rel.endswith(".dcm"):
        return None
    import pydicom

    ds = pydicom.dcmread(cdir / rel)
    pixels = ds.pixel_array.astype(np.float64)
    top = float(2 ** int(getattr(ds, "BitsStored", 8)) - 1)
    pixels = np.clip(pixels / top, 0.0, 1.0)
    if str(getattr(ds, "PhotometricInterpretation", "")) == "MONOCHROME1":
        pixels = 1.0 - pixels
    return (pixels * 255).round().astype(np.uint8)
