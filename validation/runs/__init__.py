"""Evaluation runs: per-site sandboxed inference (local processes or a Dask cluster), checkpointed batches,
resumable after any crash, scoring against labels outside the sandbox, acceptance verdicts, MLflow tracking."""

from validation._lazy import lazy_names

_WHERE = {
    "DaskExecutor": "validation.runs.executors",
    "LocalExecutor": "validation.runs.executors",
    "make_executor": "validation.runs.executors",
    "site_resource": "validation.runs.executors",
    "RunInfo": "validation.runs.service",
    "RunResults": "validation.runs.service",
    "SiteInfo": "validation.runs.service",
    "cancel_run": "validation.runs.service",
    "case_image": "validation.runs.service",
    "case_results": "validation.runs.service",
    "create_run": "validation.runs.service",
    "evaluate": "validation.runs.service",
    "execute_run": "validation.runs.service",
    "get_results": "validation.runs.service",
    "get_run": "validation.runs.service",
    "list_runs": "validation.runs.service",
    "run_dir": "validation.runs.service",
    "SiteJob": "validation.runs.work",
    "SiteOutcome": "validation.runs.work",
    "run_site": "validation.runs.work",
}

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


# Each public name is imported on first use, so that importing one submodule (a sandbox worker, the CLI's --help)
# does not pay for the whole platform (SQLAlchemy, the services).
__getattr__, __dir__ = lazy_names(__name__, _WHERE, __all__)
