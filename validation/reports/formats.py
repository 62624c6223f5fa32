"""One entry point for the CLI and the dashboards: a report rendered in a named format, as bytes."""

from __future__ import annotations

from validation.exceptions import InvalidInput
from validation.reports.model import Report

__all__ = ["FORMATS", "render"]

FORMATS = ("json", "html", "pdf", "chai")


def render(report: Report, fmt: str) -> bytes:
    """The report as ``json`` (canonical), ``html`` (UTF-8, self-contained), ``pdf`` or ``chai`` (a CHAI-style
    Applied Model Card, XML) bytes.

    Raises
    ------
    InvalidInput
        ``fmt`` is not one of :data:`FORMATS`.
    """
    from validation.reports.canonical import to_json
    from validation.reports.html import to_html
    from validation.reports.pdf import to_pdf

    if fmt == "json":
        return to_json(report)
    if fmt == "html":
        return to_html(report).encode("utf-8")
    if fmt == "pdf":
        return to_pdf(report)
    if fmt == "chai":
        from validation.reports.chai import to_chai_card

        return to_chai_card(report)
    raise InvalidInput(f"unknown report format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
