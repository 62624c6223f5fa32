"""Run vendor model code sealed off from the platform: bubblewrap, rlimits, a checked harness.

The sandbox loads an MLflow pyfunc model only inside an isolated process that sees the model
(read-only), its inputs (read-only) and a private, size-limited scratch space; it has no
network, no capabilities and an unprivileged uid, and it is killed at its resource limits or
wall-clock timeout. The only data that flows back is one parquet file of predictions, checked
on both sides of the boundary.
"""

from validation.sandbox.exceptions import (
    CaseTableError,
    InvalidLimitsError,
    IsolationUnavailableError,
    SandboxError,
)
from validation.sandbox.limits import SandboxLimits
from validation.sandbox.result import SandboxResult
from validation.sandbox.run import ISOLATION_MODES, run_model
from validation.sandbox.scrub import scrub_text
from validation.sandbox.bwrap import bwrap_executable, bwrap_problem

__all__ = [
    "ISOLATION_MODES",
    "CaseTableError",
    "InvalidLimitsError",
    "IsolationUnavailableError",
    "SandboxError",
    "SandboxLimits",
    "SandboxResult",
    "bwrap_executable",
    "bwrap_problem",
    "run_model",
    "scrub_text",
]
