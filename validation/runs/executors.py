"""Where per-site work runs: local worker processes (the embedded default), or a Dask cluster whose workers sit
at the hospitals and advertise a resource ``site-HNN``, so that a site's tasks only run where its data is."""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import multiprocessing
from collections.abc import Callable, Sequence

from validation.exceptions import ConfigError
from validation.runs.work import SiteJob, SiteOutcome, run_site

__all__ = ["Executor", "LocalExecutor", "DaskExecutor", "make_executor", "site_resource"]


def site_resource(site: str) -> str:
    """The Dask worker resource a hospital's worker advertises (``site-H01``)."""
    return f"site-{site}"


class Executor:
    """Runs site jobs and reports each outcome as it arrives."""

    name = "executor"

    def run(self, jobs: Sequence[SiteJob], on_done: Callable[[SiteOutcome], None]) -> list[SiteOutcome]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the executor holds."""


def _failed(job: SiteJob, why: str) -> SiteOutcome:
    return SiteOutcome(site=job.site, state="failed", n_cases=0, n_batches=0, batches_done=0, reason=why)


class LocalExecutor(Executor):
    """Worker processes on this machine (spawned, so a killed worker never corrupts the runner).

    Each worker keeps one sandbox session for the run: the model is loaded once per worker, and the session
    mounts the input folders of every site of this call (never labels, never another corpus), so that it can
    serve whichever site the worker is handed next. A failure closes it; the next site starts a fresh one.
    """

    def __init__(self, workers: int = 2) -> None:
        self.workers = max(1, int(workers))
        self.name = f"local ({self.workers} worker processes)"

    def run(self, jobs: Sequence[SiteJob], on_done: Callable[[SiteOutcome], None]) -> list[SiteOutcome]:
        outcomes = []
        sites = tuple(sorted({job.site for job in jobs}))
        jobs = [dataclasses.replace(job, session_sites=sites, keep_session=True) for job in jobs]
        context = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(max_workers=min(self.workers, max(1, len(jobs))), mp_context=context) as pool:
            futures = {pool.submit(run_site, job): job for job in jobs}
            for future in cf.as_completed(futures):
                job = futures[future]
                try:
                    outcome = future.result()
                except cf.process.BrokenProcessPool:
                    outcome = _failed(job, "the worker process died; resume the run to finish this site")
                except Exception as exc:  # a bug in the worker, not the model: keep the run going
                    outcome = _failed(job, f"worker error ({type(exc).__name__}); resume the run to retry")
                outcomes.append(outcome)
                on_done(outcome)
        return outcomes


class DaskExecutor(Executor):
    """A Dask distributed cluster: each site's job is restricted to workers carrying ``site-<SITE>``.

    A worker lost mid-task is replaced by the scheduler's retry on another worker with the resource; the job
    resumes from its checkpointed batches. A job's sandbox session mounts only its own site's inputs and lasts
    for that job (all of the site's batches); it never outlives the task on the hospital's worker.
    """

    def __init__(self, address: str, *, timeout: float = 30.0) -> None:
        from distributed import Client

        try:
            self.client = Client(address, timeout=timeout, set_as_default=False)
        except OSError as exc:
            raise ConfigError(
                f"cannot reach the Dask scheduler at {address} ({type(exc).__name__})",
                hint="check --scheduler / CLINVAL_SCHEDULER and that the scheduler is running",
            ) from None
        self.name = f"dask ({address})"

    def _check_resources(self, jobs: Sequence[SiteJob]) -> list[str]:
        try:
            info = self.client.scheduler_info(n_workers=-1)
        except TypeError:  # older distributed: every worker is listed anyway
            info = self.client.scheduler_info()
        offered = set()
        for worker in info.get("workers", {}).values():
            offered.update(worker.get("resources", {}))
        return [job.site for job in jobs if site_resource(job.site) not in offered]

    def run(self, jobs: Sequence[SiteJob], on_done: Callable[[SiteOutcome], None]) -> list[SiteOutcome]:
        from distributed import as_completed

        outcomes = []
        missing = set(self._check_resources(jobs))
        runnable = []
        for job in jobs:
            if job.site in missing:
                outcome = _failed(job, f"no Dask worker offers resource {site_resource(job.site)}; "
                                       "start the hospital's worker with --resources")
                outcomes.append(outcome)
                on_done(outcome)
            else:
                runnable.append(job)
        futures = {
            self.client.submit(run_site, dataclasses.replace(job, session_sites=(), keep_session=False),
                               resources={site_resource(job.site): 1}, pure=False, retries=2,
                               key=f"clinval-{job.run_id}-{job.site}-{id(job)}"): job
            for job in runnable
        }
        if not futures:
            return outcomes
        for future in as_completed(list(futures), loop=self.client.loop):
            job = futures[future]
            try:
                outcome = future.result()
            except Exception as exc:
                outcome = _failed(job, f"Dask task failed ({type(exc).__name__}); resume the run to retry")
            outcomes.append(outcome)
            on_done(outcome)
        return outcomes

    def close(self) -> None:
        self.client.close()


def make_executor(scheduler: str | None, *, workers: int = 2) -> Executor:
    """A Dask executor for ``tcp://...``, else local worker processes."""
    return DaskExecutor(scheduler) if scheduler else LocalExecutor(workers)
