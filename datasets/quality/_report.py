"""The records of a data-quality run and their JSON form (``quality.json`` beside a corpus manifest)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from datasets.quality.errors import QualityError

__all__ = ["ExpectationResult", "SuiteResult", "QualityReport", "QUALITY_FORMAT_VERSION", "MAX_IDS"]

QUALITY_FORMAT_VERSION = 1
MAX_IDS = 1000
"""At most this many unexpected ids are kept per expectation (``ids_truncated`` says when more failed)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpectationResult:
    """One expectation's outcome.

    Attributes
    ----------
    id : str
        Stable clinval id, e.g. ``"index.case_id_unique"``.
    suite : str
        Logical suite: ``index``, ``labels``, ``dicom_metadata``, ``clinical`` or ``privacy``.
    expectation_type : str
        The great-expectations type (``expect_column_values_to_be_unique``) or ``clinval:<check>`` for the checks
        done in pandas (cross-table consistency).
    description : str
        What is expected, in words.
    critical : bool
        A failed critical expectation makes the corpus unusable until an admin accepts it.
    success : bool
    element_count, unexpected_count : int
    id_column : str
        What ``unexpected_ids`` are: ``case_id`` (or ``column`` for the privacy suite's column-name checks).
    unexpected_ids : tuple of str
        Pseudonymous case ids (or column names) of the failing rows, sorted, unique, at most :data:`MAX_IDS`.
        Never values: they could be PHI.
    ids_truncated : bool
    error : str
        Why the expectation could not be evaluated (exception class, missing column), else ``""``.
    """

    id: str
    suite: str
    expectation_type: str
    description: str
    critical: bool
    success: bool
    element_count: int = 0
    unexpected_count: int = 0
    id_column: str = "case_id"
    unexpected_ids: tuple[str, ...] = ()
    ids_truncated: bool = False
    error: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "unexpected_ids", tuple(self.unexpected_ids))

    def to_dict(self) -> dict:
        return {"id": self.id, "suite": self.suite, "expectation_type": self.expectation_type,
                "description": self.description, "critical": self.critical, "success": self.success,
                "element_count": self.element_count, "unexpected_count": self.unexpected_count,
                "id_column": self.id_column, "unexpected_ids": list(self.unexpected_ids),
                "ids_truncated": self.ids_truncated, "error": self.error}

    @classmethod
    def from_dict(cls, d: dict) -> ExpectationResult:
        return cls(**{**d, "unexpected_ids": tuple(d.get("unexpected_ids", ()))})


@dataclass(frozen=True, slots=True, kw_only=True)
class SuiteResult:
    """The expectations of one logical suite."""

    name: str
    expectations: tuple[ExpectationResult, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "expectations", tuple(self.expectations))

    @property
    def success(self) -> bool:
        """Every expectation of the suite passed (warnings included)."""
        return all(e.success for e in self.expectations)

    def to_dict(self) -> dict:
        return {"name": self.name, "success": self.success,
                "expectations": [e.to_dict() for e in self.expectations]}

    @classmethod
    def from_dict(cls, d: dict) -> SuiteResult:
        return cls(name=d["name"], expectations=tuple(ExpectationResult.from_dict(e) for e in d["expectations"]))


@dataclass(frozen=True, slots=True, kw_only=True)
class QualityReport:
    """Data-quality results of one corpus version.

    Attributes
    ----------
    corpus_id : str
    suites : tuple of SuiteResult
        In the order ``index``, ``labels``, ``dicom_metadata``, ``clinical``, ``privacy``.
    engine : str
        ``"great_expectations <version>"``.
    """

    corpus_id: str
    suites: tuple[SuiteResult, ...]
    engine: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "suites", tuple(self.suites))

    @property
    def usable(self) -> bool:
        """No critical expectation failed: the corpus may be used for evaluation without an admin's acceptance."""
        return not self.critical_failures()

    def expectations(self) -> tuple[ExpectationResult, ...]:
        """Every expectation result, suite by suite."""
        return tuple(e for s in self.suites for e in s.expectations)

    def critical_failures(self) -> tuple[ExpectationResult, ...]:
        """Failed critical expectations."""
        return tuple(e for e in self.expectations() if e.critical and not e.success)

    def warnings(self) -> tuple[ExpectationResult, ...]:
        """Failed non-critical expectations."""
        return tuple(e for e in self.expectations() if not e.critical and not e.success)

    def get(self, expectation_id: str) -> ExpectationResult:
        """The result of one expectation by id.

        Raises
        ------
        KeyError
            If no expectation has that id.
        """
        for e in self.expectations():
            if e.id == expectation_id:
                return e
        raise KeyError(f"no expectation {expectation_id!r}; ids: {[e.id for e in self.expectations()]}")

    def to_dict(self) -> dict:
        return {"format_version": QUALITY_FORMAT_VERSION, "corpus_id": self.corpus_id, "engine": self.engine,
                "usable": self.usable,
                "summary": {"expectations": len(self.expectations()),
                            "critical_failures": [e.id for e in self.critical_failures()],
                            "warnings": [e.id for e in self.warnings()]},
                "suites": [s.to_dict() for s in self.suites]}

    @classmethod
    def from_dict(cls, d: dict) -> QualityReport:
        if d.get("format_version") != QUALITY_FORMAT_VERSION:
            raise QualityError(f"quality results have format_version {d.get('format_version')!r}; this clinval "
                               f"reads {QUALITY_FORMAT_VERSION}. Re-run the quality suites (clinval corpus check).")
        return cls(corpus_id=d["corpus_id"], engine=d["engine"],
                   suites=tuple(SuiteResult.from_dict(s) for s in d["suites"]))

    def write(self, path: str | os.PathLike) -> None:
        """Write as JSON (atomically: a temporary file renamed over ``path``)."""
        p = Path(path)
        tmp = p.with_name(f".{p.name}.tmp-{os.getpid()}")
        data = json.dumps(self.to_dict(), sort_keys=True, indent=1, ensure_ascii=False) + "\n"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)

    @classmethod
    def read(cls, path: str | os.PathLike) -> QualityReport:
        """Read a report written by :meth:`write`.

        Raises
        ------
        QualityError
            If the file is missing, not JSON or of another format version.
        """
        p = Path(path)
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise QualityError(f"{p} does not exist; run the quality suites first (run_quality / clinval corpus "
                               "check).") from None
        except ValueError:
            raise QualityError(f"{p} is not JSON; re-run the quality suites.") from None
        return cls.from_dict(d)
