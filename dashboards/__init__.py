"""Streamlit dashboards for vendors, hospital reviewers, regulators and the pilot-base admin.

Pages only present: every read and every write goes through ``validation``'s service functions with the
logged-in principal; nothing here touches the database, MLflow or files directly.

Layout: ``app.py`` (sign-in and ``st.navigation`` with one section per role), ``navigation.py`` (which pages each
role sees), ``views/`` (one script per page), ``data.py`` (cached service reads keyed by caller), ``widgets.py``
(run pickers, results tables, error and success messages), ``charts.py`` (Altair charts, rendered offline by
Streamlit), ``oidc.py`` (single sign-on through ``st.login``: which OIDC identity is which platform user) and
``evaluation.py`` (running an evaluation from a page).
"""

from pathlib import Path

__all__ = ["APP_PATH"]

APP_PATH = Path(__file__).with_name("app.py")
