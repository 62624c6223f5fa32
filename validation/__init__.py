"""The clinval platform: settings, storage, identities and access control, audit trail, and the service
functions that the CLI and the dashboards call with the caller's principal.

Every service function checks the policy (:mod:`validation.policy`) and records each state change in the
append-only audit log (:mod:`validation.audit`) in the same transaction.
"""

from validation._lazy import lazy_names

_WHERE = {
    "Settings": "validation.config",
    "load_settings": "validation.config",
    "AccessDenied": "validation.exceptions",
    "AuthenticationError": "validation.exceptions",
    "ClinvalError": "validation.exceptions",
    "ConfigError": "validation.exceptions",
    "Conflict": "validation.exceptions",
    "InvalidInput": "validation.exceptions",
    "NotFound": "validation.exceptions",
    "NotInitialised": "validation.exceptions",
    "StorageError": "validation.exceptions",
    "OrgKind": "validation.identity",
    "Principal": "validation.identity",
    "Role": "validation.identity",
    "Platform": "validation.platform",
    "open_platform": "validation.platform",
    "resolve_principal": "validation.platform",
}

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


# Each public name is imported on first use, so that importing one submodule (a sandbox worker, the CLI's --help)
# does not pay for the whole platform (SQLAlchemy, the services).
__getattr__, __dir__ = lazy_names(__name__, _WHERE, __all__)
