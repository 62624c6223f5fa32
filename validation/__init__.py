"""The clinval platform: settings, storage, identities and access control, audit trail, and the service
functions that the CLI and the dashboards call with the caller's principal.

Every service function checks the policy (:mod:`validation.policy`) and records each state change in the
append-only audit log (:mod:`validation.audit`) in the same transaction.
"""

from validation.config import Settings, load_settings
from validation.exceptions import (
    AccessDenied,
    AuthenticationError,
    ClinvalError,
    ConfigError,
    Conflict,
    InvalidInput,
    NotFound,
    NotInitialised,
    StorageError,
)
from validation.identity import OrgKind, Principal, Role
from validation.platform import Platform, open_platform, resolve_principal

__all__ = [
    "AccessDenied",
    "AuthenticationError",
    "ClinvalError",
    "ConfigError",
    "Conflict",
    "InvalidInput",
    "NotFound",
    "NotInitialised",
    "OrgKind",
    "Platform",
    "Principal",
    "Role",
    "Settings",
    "StorageError",
    "load_settings",
    "open_platform",
    "resolve_principal",
]
