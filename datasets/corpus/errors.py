"""Exceptions raised by :mod:`datasets.corpus`.

All derive from :class:`datasets.exceptions.DatasetsError`. Messages name what was wrong and how to fix it; they
carry relative paths inside a corpus version and counts, never patient data.
"""

from __future__ import annotations

from datasets.exceptions import DatasetsError

__all__ = ["CorpusError", "CorpusInputError", "CorpusIntegrityError", "CorpusOptionError", "PhiLeakError"]


class CorpusError(DatasetsError):
    """Base class of the corpus errors."""


class CorpusOptionError(CorpusError, ValueError):
    """An argument of :func:`datasets.corpus.build_corpus` is invalid (unknown task, bad site code, no secret...)."""


class CorpusInputError(CorpusError):
    """The export directory cannot be ingested at all (missing, no site folder, reference file without its columns).

    Problems with single files or rows are not errors: they are quarantined or counted in the ingest report.
    """


class CorpusIntegrityError(CorpusError):
    """A corpus version on disk does not match its manifest.

    Attributes
    ----------
    path : str
        The first offending file, relative to the corpus version directory (``""`` for the directory itself).
    problem : str
        One of ``"missing"``, ``"extra"``, ``"size"``, ``"sha256"``, ``"manifest"``.
    """

    def __init__(self, message: str, *, path: str = "", problem: str = "manifest") -> None:
        super().__init__(message)
        self.path = path
        self.problem = problem


class PhiLeakError(CorpusError):
    """The PHI leak scan found source tokens in the corpus being written; the version was discarded.

    Attributes
    ----------
    hits : tuple of datasets.phi_scan.Hit
        Token class and file (relative to the version) of each finding; never the token.
    """

    def __init__(self, hits) -> None:
        self.hits = tuple(hits)
        where = "; ".join(f"{h.token_class} in {h.location}" for h in self.hits[:5])
        more = f" (and {len(self.hits) - 5} more)" if len(self.hits) > 5 else ""
        super().__init__(f"PHI leak scan found {len(self.hits)} finding(s): {where}{more}. The corpus version was "
                         "not written; fix the de-identification (or quarantine the inputs) and ingest again.")
