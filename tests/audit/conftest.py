"""Fixtures for the audit-trail tests."""

from __future__ import annotations

import pytest
from audit_helpers import key_from_seed

from validation.audit.checkpoint import SigningKey


@pytest.fixture(scope="session")
def key() -> SigningKey:
    return key_from_seed("clinval test audit key")


@pytest.fixture(scope="session")
def attacker_key() -> SigningKey:
    return key_from_seed("someone else's key")
