"""Streamlit dashboards for vendors, hospital reviewers, regulators and the pilot-base admin.

Pages only present: every read and every write goes through ``validation``'s service functions with the
logged-in principal; nothing here touches the database, MLflow or files directly.
"""

from pathlib import Path

__all__ = ["APP_PATH"]

APP_PATH = Path(__file__).with_name("app.py")
