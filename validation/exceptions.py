"""Exceptions raised by the platform's service layer.

Every error a user can cause derives from :class:`ClinvalError`; its message names what was wrong and its
``hint`` says how to fix it. The CLI prints ``message`` and ``hint`` on one line each and exits non-zero,
never with a traceback.
"""

from __future__ import annotations

__all__ = [
    "AccessDenied",
    "AuthenticationError",
    "ClinvalError",
    "ConfigError",
    "Conflict",
    "InvalidInput",
    "NotFound",
    "NotInitialised",
    "StorageError",
]


class ClinvalError(Exception):
    """Base class of all errors the platform reports to its users.

    Parameters
    ----------
    message : str
        What was wrong, with the value received (never PHI).
    hint : str, optional
        What to do about it.
    """

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(ClinvalError):
    """A setting is missing or invalid."""

    exit_code = 2


class InvalidInput(ClinvalError):
    """An argument or a file given by the user is not acceptable."""

    exit_code = 2


class NotInitialised(ClinvalError):
    """The platform home has not been created yet."""


class NotFound(ClinvalError):
    """The object named does not exist (or the principal may not know that it exists)."""


class Conflict(ClinvalError):
    """The object already exists or is in a state that does not allow the change."""


class AuthenticationError(ClinvalError):
    """No valid credentials: a missing, unknown, revoked or expired token, or a wrong password."""

    exit_code = 3


class AccessDenied(ClinvalError):
    """The principal may not perform this action on this object. The refusal is recorded in the audit log."""

    exit_code = 4


class StorageError(ClinvalError):
    """The platform database cannot be reached or is not in a usable state."""
