"""Run vendor model code sealed off from the platform: bubblewrap, rlimits, a checked harness.

The sandbox loads an MLflow pyfunc model only inside an isolated process that sees the model
(read-only), its inputs (read-only) and a private, size-limited scratch space; it has no
network, no capabilities and an unprivileged uid, and it is killed at its resource limits or
wall-clock timeout. The only data that flows back is one score per case, checked on both sides
of the boundary. ``run_model`` runs one case table; a ``SandboxSession`` loads the model once
and serves many batches over a pipe, with the limits applied per batch.
"""

from validation.sandbox.exceptions import (
    CaseTableError,
    InvalidLimitsError,
    IsolationUnavailableError,
    SandboxError,
    SessionClosedError,
)
from validation.sandbox.limits import SandboxLimits
from validation.sandbox.result import BatchResult, SandboxResult
from validation.sandbox.run import ISOLATION_MODES, run_model
from validation.sandbox.session import SandboxSession
from validation.sandbox.scrub import scrub_text
from validation.sandbox.bwrap import bwrap_executable, bwrap_problem

__all__ = [
    "ISOLATION_MODES",
    "BatchResult",
    "CaseTableError",
    "InvalidLimitsError",
    "IsolationUnavailableError",
    "SandboxError",
    "SandboxLimits",
    "SandboxResult",
    "SandboxSession",
    "SessionClosedError",
    "bwrap_executable",
    "bwrap_problem",
    "run_model",
    "scrub_text",
]
