"""The canonical JSON form of a report: sorted keys, compact separators, UTF-8, no NaN; and its SHA-256.

The canonical bytes are what gets hashed, referenced by sign-offs and the audit log. ``document_json`` leaves the
sign-offs out: a sign-off names the hash of the document it signs, so that document cannot contain it.
"""

from __future__ import annotations

import hashlib
import json

from validation.reports.model import Report

__all__ = ["to_json", "report_sha256", "document_json", "document_sha256"]


def _canonical(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def to_json(report: Report) -> bytes:
    """The whole report (sign-offs included) as canonical JSON bytes (``allow_nan=False``: NaN is ``null``)."""
    return _canonical(report.to_dict())


def report_sha256(report: Report) -> str:
    """SHA-256 hex digest of :func:`to_json`."""
    return hashlib.sha256(to_json(report)).hexdigest()


def document_json(report: Report) -> bytes:
    """The report without its ``signoffs`` section: the document a reviewer signs (stable across sign-offs)."""
    body = report.to_dict()
    body.pop("signoffs", None)
    return _canonical(body)


def document_sha256(report: Report) -> str:
    """SHA-256 hex digest of :func:`document_json`."""
    return hashlib.sha256(document_json(report)).hexdigest()
