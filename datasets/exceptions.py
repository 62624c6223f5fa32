"""Exceptions raised by the ``datasets`` package.

Every exception derives from :class:`DatasetsError`, so callers can catch the whole family at once. Messages say
what was wrong, the value received and how to fix it; they never contain patient data.
"""

__all__ = [
    "DatasetsError",
    "UnknownSiteError",
    "SynthesisOptionError",
    "OutputNotEmptyError",
    "ExportNotFoundError",
]


class DatasetsError(Exception):
    """Base class of every error raised by ``datasets``."""


class UnknownSiteError(DatasetsError, LookupError):
    """A site code is not one of the registered hospitals (``H01`` .. ``H16``, ``DEV``)."""


class SynthesisOptionError(DatasetsError, ValueError):
    """An option passed to the synthetic export generator is out of range or of the wrong type."""


class OutputNotEmptyError(DatasetsError):
    """The output directory of a synthetic export already holds files and ``force`` was not given."""


class ExportNotFoundError(DatasetsError):
    """A path does not hold a synthetic export written by :func:`datasets.synthetic.generate_export`."""
