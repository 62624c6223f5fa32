"""Evaluation runs: per-site sandboxed inference (local processes or a Dask cluster), checkpointed batches,
resumable after any crash, scoring against labels outside the sandbox, acceptance verdicts, MLflow tracking."""

from validation.runs.executors import DaskExecutor, LocalExecutor, make_executor, site_resource
from validation.runs.service import (
    RunInfo,
    RunResults,
    SiteInfo,
    cancel_run,
    case_image,
    case_results,
    create_run,
    evaluate,
    execute_run,
    get_results,
    get_run,
    list_runs,
    run_dir,
)
from validation.runs.work import SiteJob, SiteOutcome, run_site

__all__ = [
    "DaskExecutor",
    "LocalExecutor",
    "RunInfo",
    "RunResults",
    "SiteInfo",
    "SiteJob",
    "SiteOutcome",
    "cancel_run",
    "case_image",
    "case_results",
    "create_run",
    "evaluate",
    "execute_run",
    "get_results",
    "get_run",
    "list_runs",
    "make_executor",
    "run_dir",
    "run_site",
    "site_resource",
]
