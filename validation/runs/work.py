"""One hospital's part of a run: stream its cases in batches through the sandboxed model, checkpointing each
batch of predictions, so that a killed worker or runner resumes without losing or repeating a case.

This module runs where the site's data is (a local worker process, or a Dask worker at the hospital); it needs
the corpus files and the model, never the platform database, and it never reads labels.

The model runs in a :class:`~validation.sandbox.SandboxSession`: started and loaded once, then fed batch after
batch. The session mounts the input folders of ``SiteJob.session_sites`` (by default only the job's own site) at
``/input/<site>``; with ``keep_session`` a worker process keeps it for the next site of the same run (the local
executor does this). After any failure the session is gone and the next batch or site starts a fresh one.
"""

from __future__ import annotations

import atexit
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SiteJob", "SiteOutcome", "site_cases", "batch_file", "completed_batches", "run_site",
           "close_session"]

_PATH_COLUMN = "path"


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteJob:
    """Everything a worker needs to score one site (plain values, so it pickles to a Dask worker)."""

    run_id: str
    site: str
    task: str
    split: str
    corpus_dir: str
    run_dir: str
    model_dir: str
    batch_size: int
    isolation: str
    limits: object = None
    max_cases: int | None = None
    session_sites: tuple[str, ...] = ()
    keep_session: bool = False

    @property
    def mounted_sites(self) -> tuple[str, ...]:
        """Sites whose inputs the job's sandbox session mounts: ``session_sites``, or only its own site."""
        return tuple(sorted(set(self.session_sites) | {self.site}))


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteOutcome:
    """What became of one site: ``done`` with every batch predicted, or ``failed`` with a reason.

    The ``*_seconds`` fields split the site's wall time for benchmarks: waiting for a sandbox session to start
    (``start_seconds``), inside the model's ``predict`` as the harness measured it (``model_seconds``), the rest
    of each exchange with the sandbox, i.e. transfer and checks (``exchange_seconds``), and committing
    checkpoints (``checkpoint_seconds``).
    """

    site: str
    state: str
    n_cases: int
    n_batches: int
    batches_done: int
    reason: str = ""
    isolation: str = ""
    elapsed: float = 0.0
    warnings: tuple[str, ...] = field(default_factory=tuple)
    where: str = ""
    start_seconds: float = 0.0
    model_seconds: float = 0.0
    exchange_seconds: float = 0.0
    checkpoint_seconds: float = 0.0


def _where() -> str:
    """Which worker ran the job: the Dask worker's address, else this host and process.

    A Dask worker has ``distributed`` imported already; a local worker process must not pay for importing it.
    """
    import sys

    distributed = sys.modules.get("distributed")
    if distributed is not None:
        try:
            return f"dask:{distributed.get_worker().address}"
        except (AttributeError, ValueError):
            pass
    import socket

    return f"local:{socket.gethostname()}:{os.getpid()}"


def site_cases(corpus_dir: str | Path, site: str, task: str, split: str, max_cases: int | None = None):
    """The site's cases of ``task`` in ``split`` as the model may see them: ``case_id`` and ``path`` (relative to
    the site's ``inputs`` folder), sorted by case id so that batches are the same on every attempt."""
    import pandas as pd

    corpus_dir = Path(corpus_dir)
    index = pd.read_parquet(corpus_dir / "sites" / site / "index.parquet", columns=["case_id", "task", "split",
                                                                                  "input_path"])
    index = index[(index["task"] == task) & (index["split"] == split)].sort_values("case_id", kind="stable")
    prefix = f"sites/{site}/inputs/"
    bad = ~index["input_path"].str.startswith(prefix) | index["input_path"].str.contains("..", regex=False)
    if bad.any():
        raise ValueError(f"corpus index of {site} has {int(bad.sum())} input path(s) outside the site's inputs")
    cases = pd.DataFrame({"case_id": index["case_id"].to_numpy(),
                          _PATH_COLUMN: index["input_path"].str.slice(len(prefix)).to_numpy()})
    if max_cases is not None:
        cases = cases.head(max_cases)
    return cases.reset_index(drop=True)


def batch_file(run_dir: str | Path, site: str, k: int) -> Path:
    """Where batch ``k`` (from 0) of ``site`` keeps its checked predictions."""
    return Path(run_dir) / "predictions" / site / f"batch-{k:05d}.parquet"


def _read_batch(path: Path, expected_ids) -> bool:
    import pandas as pd

    try:
        got = pd.read_parquet(path)
    except Exception:  # a torn or foreign file: recompute the batch
        return False
    return list(got["case_id"]) == list(expected_ids) and got["score"].notna().all()


def completed_batches(job: SiteJob, cases) -> set[int]:
    """Batches whose checkpoint exists and holds exactly the batch's case ids (in order)."""
    done = set()
    for k, start in enumerate(range(0, len(cases), job.batch_size)):
        path = batch_file(job.run_dir, job.site, k)
        if path.exists() and _read_batch(path, cases["case_id"].iloc[start:start + job.batch_size]):
            done.add(k)
    return done


def _write_atomically(frame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".batch-", suffix=".parquet", dir=path.parent)
    os.close(fd)
    try:
        frame.to_parquet(tmp, index=False)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# The session a local worker process keeps between the sites of one run: (key, session).
_KEPT: list = []


def close_session() -> None:
    """Close the sandbox session this process keeps, if any (also done at process exit)."""
    while _KEPT:
        _, session = _KEPT.pop()
        session.close()


def _session_key(job: SiteJob) -> tuple:
    return (job.run_id, job.model_dir, job.corpus_dir, job.isolation, repr(job.limits), job.mounted_sites)


# How many batches a session serves per mounted site before the runner replaces it with a fresh one. It sizes the
# kernel's CPU-time backstop of the session (cpu_seconds x requests); the host watches each batch's CPU anyway.
_REQUESTS_PER_SITE = 100


def _open_session(job: SiteJob, limits):
    """A live session for ``job``: the one this process keeps, if it fits, else a new one (launched, loading)."""
    from validation.sandbox import SandboxSession

    key = _session_key(job)
    if _KEPT and (_KEPT[0][0] != key or not _KEPT[0][1].alive):
        close_session()
    if _KEPT:
        return _KEPT[0][1]
    corpus = Path(job.corpus_dir)
    roots = {site: corpus / "sites" / site / "inputs" for site in job.mounted_sites}
    roots = {site: root for site, root in roots.items() if root.is_dir() or site == job.site}
    session = SandboxSession(job.model_dir, input_roots=roots, limits=limits, isolation=job.isolation,
                             max_requests=_REQUESTS_PER_SITE * len(job.mounted_sites))
    session.launch()
    if job.keep_session:
        if not _KEPT:
            atexit.register(close_session)
        _KEPT.append((key, session))
    return session


def run_site(job: SiteJob) -> SiteOutcome:
    """Predict every not-yet-checkpointed batch of one site in the sandbox.

    Returns a failed outcome (never raises) when the model misbehaves; batches already checkpointed stay. If
    anything else escapes (a checkpoint that cannot be written, an interrupt), a session that is not kept for
    the next task is closed first: no sandbox outlives its task.
    """
    opened: list = []
    try:
        return _run_site(job, opened)
    except BaseException:
        if not job.keep_session:
            for session in opened:
                session.close()
        raise


def _run_site(job: SiteJob, opened: list) -> SiteOutcome:
    from validation.sandbox import SandboxError, SandboxLimits

    started = time.monotonic()
    where = _where()
    limits = job.limits or SandboxLimits()
    try:  # launched first, the sandbox loads the model while this process reads the site's cases
        session = _open_session(job, limits)
        opened.append(session)
    except SandboxError as exc:
        return SiteOutcome(site=job.site, state="failed", n_cases=0, n_batches=0, batches_done=0,
                           reason=_unprepared(exc), elapsed=time.monotonic() - started, where=where)
    try:
        cases = site_cases(job.corpus_dir, job.site, job.task, job.split, job.max_cases)
    except (OSError, ValueError, KeyError) as exc:
        if not job.keep_session:
            session.close()
        return SiteOutcome(site=job.site, state="failed", n_cases=0, n_batches=0, batches_done=0,
                           reason=f"cannot read the site's corpus index ({type(exc).__name__})", where=where)
    n_batches = (len(cases) + job.batch_size - 1) // job.batch_size
    done = completed_batches(job, cases)
    isolation, warnings = "", []
    clock = {"start": 0.0, "model": 0.0, "exchange": 0.0, "checkpoint": 0.0}

    def outcome(state: str, reason: str = "") -> SiteOutcome:
        if not job.keep_session:
            session.close()
        return SiteOutcome(site=job.site, state=state, n_cases=len(cases), n_batches=n_batches,
                           batches_done=len(done), reason=reason, isolation=isolation,
                           elapsed=time.monotonic() - started, warnings=tuple(warnings), where=where,
                           start_seconds=clock["start"], model_seconds=clock["model"],
                           exchange_seconds=clock["exchange"], checkpoint_seconds=clock["checkpoint"])

    for k in range(n_batches):
        if k in done:
            continue
        batch = cases.iloc[k * job.batch_size:(k + 1) * job.batch_size].reset_index(drop=True)
        try:
            if not session.alive:
                session = _open_session(job, limits)
                opened.append(session)
            isolation = session.isolation
            warnings.extend(w for w in session.warnings if w not in warnings)
            t0 = time.monotonic()
            ready = session.start()
            clock["start"] += time.monotonic() - t0
            result = session.predict(batch, input_name=job.site, path_columns=[_PATH_COLUMN],
                                     batch_size=job.batch_size) if ready.ok else ready
        except SandboxError as exc:  # the case table or this site's inputs are unusable; other sites go on
            return outcome("failed", _unprepared(exc))
        if not result.ok:
            return outcome("failed", result.reason)
        clock["model"] += result.model_seconds
        clock["exchange"] += max(0.0, result.elapsed - result.model_seconds)
        t0 = time.monotonic()
        _write_atomically(result.predictions, batch_file(job.run_dir, job.site, k))
        clock["checkpoint"] += time.monotonic() - t0
        done.add(k)
    return outcome("done")


def _unprepared(exc: Exception) -> str:
    """The site's reason when the sandbox could not be prepared: the class only, since the message names host
    paths (the corpus, the model store) that vendors and the audit log must not see."""
    what = "the site's case table or input files" if type(exc).__name__ == "CaseTableError" else "the sandbox"
    return f"{what} could not be prepared for the model ({type(exc).__name__}); the platform operator can rerun it"
