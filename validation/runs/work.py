"""One hospital's part of a run: stream its cases in batches through the sandboxed model, checkpointing each
batch of predictions, so that a killed worker or runner resumes without losing or repeating a case.

This module runs where the site's data is (a local worker process, or a Dask worker at the hospital); it needs
the corpus files and the model, never the platform database, and it never reads labels.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SiteJob", "SiteOutcome", "site_cases", "batch_file", "completed_batches", "run_site"]

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


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteOutcome:
    """What became of one site: ``done`` with every batch predicted, or ``failed`` with a reason."""

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


def _where() -> str:
    """Which worker ran the job: the Dask worker's address, else this host and process."""
    try:
        from distributed import get_worker

        return f"dask:{get_worker().address}"
    except (ImportError, ValueError):
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


def run_site(job: SiteJob) -> SiteOutcome:
    """Predict every not-yet-checkpointed batch of one site in the sandbox.

    Returns a failed outcome (never raises) when the model misbehaves; batches already checkpointed stay.
    """
    import pandas as pd

    from validation.sandbox import SandboxLimits, run_model

    started = time.monotonic()
    where = _where()
    try:
        cases = site_cases(job.corpus_dir, job.site, job.task, job.split, job.max_cases)
    except (OSError, ValueError, KeyError) as exc:
        return SiteOutcome(site=job.site, state="failed", n_cases=0, n_batches=0, batches_done=0,
                           reason=f"cannot read the site's corpus index ({type(exc).__name__})")
    n_batches = (len(cases) + job.batch_size - 1) // job.batch_size
    done = completed_batches(job, cases)
    isolation, warnings = "", []
    input_root = Path(job.corpus_dir) / "sites" / job.site / "inputs"
    limits = job.limits or SandboxLimits()
    for k in range(n_batches):
        if k in done:
            continue
        batch = cases.iloc[k * job.batch_size:(k + 1) * job.batch_size].reset_index(drop=True)
        with tempfile.TemporaryDirectory(prefix=f"clinval-{job.site}-") as out:
            result = run_model(job.model_dir, batch, input_root=input_root, out_dir=out, limits=limits,
                               batch_size=job.batch_size, path_columns=[_PATH_COLUMN], isolation=job.isolation)
            isolation = result.isolation
            warnings.extend(w for w in result.warnings if w not in warnings)
            if result.status != "ok":
                return SiteOutcome(site=job.site, state="failed", n_cases=len(cases), n_batches=n_batches,
                                   batches_done=len(done), reason=result.reason, isolation=isolation,
                                   elapsed=time.monotonic() - started, warnings=tuple(warnings), where=where)
            predictions = pd.read_parquet(result.predictions)[["case_id", "score"]]
            if list(predictions["case_id"]) != list(batch["case_id"]):
                predictions = predictions.set_index("case_id").loc[batch["case_id"]].reset_index()
            _write_atomically(predictions, batch_file(job.run_dir, job.site, k))
            done.add(k)
    return SiteOutcome(site=job.site, state="done", n_cases=len(cases), n_batches=n_batches, batches_done=len(done),
                       isolation=isolation, elapsed=time.monotonic() - started, warnings=tuple(warnings),
                       where=where)
