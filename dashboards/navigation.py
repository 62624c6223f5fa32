"""Which pages each role sees. Pages only present: the service layer still checks every call they make."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from validation import Role

__all__ = ["PageSpec", "SECTIONS", "VIEWS_DIR", "pages_for"]

VIEWS_DIR = Path(__file__).with_name("views")


@dataclass(frozen=True, slots=True, kw_only=True)
class PageSpec:
    """One page of a role's section: the script under ``views/``, its title and its URL path."""

    script: str
    title: str
    url_path: str
    icon: str

    @property
    def path(self) -> Path:
        return VIEWS_DIR / self.script


def _p(script: str, title: str, url_path: str, icon: str) -> PageSpec:
    return PageSpec(script=script, title=title, url_path=url_path, icon=icon)


_OVERVIEW = _p("overview.py", "Overview", "overview", ":material/dashboard:")
_REPORT = _p("report.py", "Run report", "report", ":material/analytics:")
_SIGNOFFS = _p("signoffs.py", "Sign-offs", "signoffs", ":material/draw:")
_QUALITY = _p("quality.py", "Data quality", "quality", ":material/fact_check:")
_AUDIT = _p("audit_log.py", "Audit log", "audit-log", ":material/receipt_long:")
_BUNDLE = _p("audit_bundle.py", "Audit bundle", "audit-bundle", ":material/download:")

SECTIONS: dict[Role, tuple[str, tuple[PageSpec, ...]]] = {
    Role.VENDOR: ("Vendor", (
        _p("vendor_submissions.py", "My submissions", "submissions", ":material/upload_file:"),
        _p("runs.py", "My runs", "runs", ":material/play_circle:"),
        _OVERVIEW, _REPORT,
    )),
    Role.REVIEWER: ("Hospital reviewer", (
        _p("runs.py", "Runs on my hospital's data", "runs", ":material/play_circle:"),
        _OVERVIEW, _REPORT,
        _p("reviewer_cases.py", "Failure cases", "cases", ":material/search:"),
        _p("reviewer_signoff.py", "Sign off", "sign-off", ":material/approval:"),
    )),
    Role.REGULATOR: ("Regulator", (
        _p("runs.py", "All runs", "runs", ":material/play_circle:"),
        _OVERVIEW, _REPORT, _SIGNOFFS, _QUALITY, _AUDIT, _BUNDLE,
    )),
    Role.ADMIN: ("Pilot-base admin", (
        _p("admin_corpora.py", "Corpora", "corpora", ":material/database:"),
        _p("admin_protocols.py", "Protocols", "protocols", ":material/rule:"),
        _p("admin_users.py", "Users", "users", ":material/group:"),
        _p("admin_evaluate.py", "Start an evaluation", "evaluate", ":material/rocket_launch:"),
        _p("runs.py", "Runs", "runs", ":material/play_circle:"),
        _OVERVIEW, _REPORT, _SIGNOFFS, _QUALITY, _AUDIT, _BUNDLE,
    )),
}
"""Section title and pages per role; a signed-in user sees only the section of its own role."""


def pages_for(role: Role | str) -> tuple[str, tuple[PageSpec, ...]]:
    """The section title and pages of ``role``."""
    return SECTIONS[Role(role)]
