"""Cached reads through the service layer, keyed by the platform home, the caller and the arguments.

Every function takes the logged-in principal and passes it to a ``validation`` service function, which checks
access on each call; the cache only saves repeated identical calls by the same caller for a short time. Access
errors are never cached (Streamlit does not cache exceptions).
"""

from __future__ import annotations

import streamlit as st

from dashboards.session import get_platform
from validation import Principal

__all__ = [
    "TTL",
    "case_results",
    "check_corpus",
    "clear_signoffs",
    "corpora",
    "events",
    "orgs",
    "protocols",
    "report",
    "report_sha256",
    "results",
    "runs",
    "signoffs",
    "submissions",
    "users",
]

TTL = 20
"""Seconds a cached read stays fresh."""


def _key(principal: Principal) -> tuple[str, str, str, str]:
    """What a cached read depends on besides its arguments: which platform, and who asks."""
    return (str(get_platform().settings.home), principal.user_id, principal.role.value, principal.org)


@st.cache_data(ttl=TTL, show_spinner=False)
def _submissions(key, _principal):
    from validation.registry import list_submissions

    return list_submissions(get_platform(), _principal)


def submissions(principal: Principal):
    """Submissions the caller may see, newest first."""
    return _submissions(_key(principal), principal)


@st.cache_data(ttl=TTL, show_spinner=False)
def _runs(key, _principal):
    from validation.runs import list_runs

    return list_runs(get_platform(), _principal)


def runs(principal: Principal):
    """Runs the caller may read, newest first."""
    return _runs(_key(principal), principal)


@st.cache_data(ttl=TTL, show_spinner=False)
def _results(key, _principal, run_id: str):
    from validation.runs import get_results

    return get_results(get_platform(), _principal, run_id)


def results(principal: Principal, run_id: str):
    """Tidy results and verdicts of a scored run (suppressed for vendors and regulators where small)."""
    return _results(_key(principal), principal, run_id)


@st.cache_data(ttl=TTL, show_spinner=False)
def _case_results(key, _principal, run_id: str, site: str):
    from validation.runs import case_results as service

    return service(get_platform(), _principal, run_id, site)


def case_results(principal: Principal, run_id: str, site: str):
    """Case-level results of one hospital (its reviewers only)."""
    return _case_results(_key(principal), principal, run_id, site)


@st.cache_data(ttl=TTL, show_spinner=False)
def _case_image(key, _principal, run_id: str, site: str, case_id: str):
    from validation.runs import case_image as service

    return service(get_platform(), _principal, run_id, site, case_id)


def case_image(principal: Principal, run_id: str, site: str, case_id: str):
    """The de-identified image of one of the hospital's cases (its reviewers only), or None."""
    return _case_image(_key(principal), principal, run_id, site, case_id)


@st.cache_data(ttl=TTL, show_spinner=False)
def _report(key, _principal, run_id: str):
    from validation.reports import build_report

    return build_report(get_platform(), _principal, run_id)


def report(principal: Principal, run_id: str):
    """The run's :class:`validation.reports.Report` as the caller may see it (curves, 2x2 table, sections)."""
    return _report(_key(principal), principal, run_id)


def report_sha256(principal: Principal, run_id: str) -> str:
    """SHA-256 of the run's canonical report document as the caller sees it (what a sign-off signs)."""
    from validation.reports import document_sha256

    return document_sha256(report(principal, run_id))


@st.cache_data(ttl=TTL, show_spinner=False)
def _signoffs(key, _principal, run_id: str):
    from validation.signoff import list_signoffs

    return list_signoffs(get_platform(), _principal, run_id)


def signoffs(principal: Principal, run_id: str):
    """Sign-offs of a run."""
    return _signoffs(_key(principal), principal, run_id)


def clear_signoffs() -> None:
    """Forget cached sign-off lists (after a new signature)."""
    _signoffs.clear()


@st.cache_data(ttl=TTL, show_spinner=False)
def _corpora(key, _principal):
    from validation.corpora import list_corpora

    return list_corpora(get_platform(), _principal)


def corpora(principal: Principal):
    """Corpus versions the caller may see."""
    return _corpora(_key(principal), principal)


@st.cache_data(ttl=TTL, show_spinner=False)
def _check_corpus(key, _principal, corpus_id: str):
    from validation.corpora import check_corpus as service

    return service(get_platform(), _principal, corpus_id)


def check_corpus(principal: Principal, corpus_id: str):
    """(corpus info, {"integrity": ..., "quality": ...}) after re-verifying every file against the manifest."""
    return _check_corpus(_key(principal), principal, corpus_id)


@st.cache_data(ttl=TTL, show_spinner=False)
def _protocols(key, _principal):
    from validation.protocols import list_protocols

    return list_protocols(get_platform(), _principal)


def protocols(principal: Principal):
    """Every published protocol version."""
    return _protocols(_key(principal), principal)


@st.cache_data(ttl=TTL, show_spinner=False)
def _users(key, _principal):
    from validation.accounts import list_users

    return list_users(get_platform(), _principal)


def users(principal: Principal):
    """User accounts (admin)."""
    return _users(_key(principal), principal)


@st.cache_data(ttl=TTL, show_spinner=False)
def _orgs(key, _principal):
    from validation.accounts import list_orgs

    return list_orgs(get_platform(), _principal)


def orgs(principal: Principal):
    """Organisations."""
    return _orgs(_key(principal), principal)


@st.cache_data(ttl=5, show_spinner=False)
def _events(key, _principal, since: int, limit: int):
    from validation.audit.trail import list_events

    return list_events(get_platform(), _principal, since=since, limit=limit)


def events(principal: Principal, *, since: int = 1, limit: int = 100_000):
    """Audit events from ``since``, oldest first (regulator or admin)."""
    return _events(_key(principal), principal, since, limit)
