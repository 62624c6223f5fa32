"""Run reports: one report model per evaluation run (STARD-AI / TRIPOD+AI / CLAIM sections), access-controlled
like the run's results, rendered as canonical JSON (hashed), self-contained HTML (inline CSS and SVG) and PDF."""

from validation.reports.canonical import document_json, document_sha256, report_sha256, to_json
from validation.reports.formats import FORMATS, render
from validation.reports.html import to_html
from validation.reports.model import Report, build_report
from validation.reports.pdf import to_pdf

__all__ = [
    "FORMATS",
    "Report",
    "build_report",
    "document_json",
    "document_sha256",
    "render",
    "report_sha256",
    "to_html",
    "to_json",
    "to_pdf",
]
