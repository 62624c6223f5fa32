"""A refusal from the service layer reaches the page as an error message, and the page stops there."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _page():
    import streamlit as st

    from dashboards.widgets import call
    from validation import AccessDenied

    def refuse():
        raise AccessDenied("vendor acme-ai may not read run run-00009")

    call(refuse)
    st.write("after the refusal")


def test_access_denied_is_shown_and_stops_the_page():
    at = AppTest.from_function(_page, default_timeout=30).run()
    assert not at.exception
    assert [e.value for e in at.error] == ["vendor acme-ai may not read run run-00009"]
    assert not [m for m in at.markdown if "after the refusal" in m.value]
