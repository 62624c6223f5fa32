"""Exceptions raised by :mod:`datasets.deid` for caller errors (never for bad input data).

Input data that cannot be de-identified is not an error: it becomes a
:class:`datasets.deid.quarantine.Quarantined` record. These exceptions are for
programming or configuration mistakes (a missing secret, an unknown option).
They derive from :class:`datasets.exceptions.DatasetsError`, so ``except DatasetsError`` catches them with the
rest of the package's errors. Messages never contain PHI.
"""

from datasets.exceptions import DatasetsError

__all__ = ["DeidError", "SecretError", "ProfileError", "OptionsError"]


class DeidError(DatasetsError):
    """Base class of every exception raised by :mod:`datasets.deid`."""


class SecretError(DeidError, ValueError):
    """The pseudonymisation secret is missing, too short or of the wrong type."""


class ProfileError(DeidError):
    """The packaged Annex E profile table is missing or malformed."""


class OptionsError(DeidError, ValueError):
    """A de-identification option has an invalid value."""
