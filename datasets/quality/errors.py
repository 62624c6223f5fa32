"""Exceptions raised by :mod:`datasets.quality` (derived from :class:`datasets.exceptions.DatasetsError`)."""

from __future__ import annotations

from datasets.exceptions import DatasetsError

__all__ = ["QualityError"]


class QualityError(DatasetsError):
    """The quality suites cannot run (unreadable tables) or stored results cannot be read."""
