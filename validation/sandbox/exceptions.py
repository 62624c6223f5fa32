"""Errors raised by :mod:`validation.sandbox` before or around a sandboxed run.

A model that misbehaves inside the sandbox never raises on the host: its run ends with
``SandboxResult.status == "failed"`` and a reason. The exceptions below are for mistakes of the
caller (bad limits, bad case table, missing directories) and for an isolation mode that cannot be
provided on this machine.
"""

__all__ = [
    "SandboxError",
    "InvalidLimitsError",
    "CaseTableError",
    "IsolationUnavailableError",
    "SessionClosedError",
]


class SandboxError(Exception):
    """Base class of every error raised by :mod:`validation.sandbox`."""


class InvalidLimitsError(SandboxError, ValueError):
    """A :class:`~validation.sandbox.SandboxLimits` field is out of range."""


class CaseTableError(SandboxError, ValueError):
    """The case table or one of the directories handed to ``run_model`` is unusable."""


class IsolationUnavailableError(SandboxError, RuntimeError):
    """The requested isolation mode cannot be provided on this machine."""


class SessionClosedError(SandboxError, RuntimeError):
    """A :class:`~validation.sandbox.SandboxSession` was used after it failed, closed or served its requests."""
