"""One open platform: its settings and its database, and who is calling."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from validation.config import Settings, load_settings
from validation.exceptions import AuthenticationError, NotInitialised
from validation.identity import Principal
from validation.storage import Database

__all__ = ["Platform", "open_platform", "resolve_principal"]


@dataclass(slots=True)
class Platform:
    """Settings plus database of an initialised platform; pass it to every service function."""

    settings: Settings
    db: Database

    @property
    def home(self) -> Path:
        return self.settings.home

    def close(self) -> None:
        """Release database connections."""
        self.db.dispose()


def open_platform(settings: Settings | None = None) -> Platform:
    """Open an initialised platform (migrating its schema if older than the code).

    Raises
    ------
    NotInitialised
        ``clinval init`` has not been run for this home / database.
    """
    settings = settings or load_settings()
    if not settings.home.is_dir():
        raise NotInitialised(
            f"no platform home at {settings.home}",
            hint="run 'clinval init' first, or set CLINVAL_HOME to an existing home",
        )
    db = Database(settings)
    db.require_ready()
    return Platform(settings=settings, db=db)


def resolve_principal(platform: Platform, token: str | None = None) -> Principal:
    """The caller: the holder of ``token``, or, with no token, the local operator who can read the admin token
    file written by ``clinval init``.

    Raises
    ------
    AuthenticationError
        No token and no readable admin token file, or the token is unknown, revoked or expired.
    """
    from validation.accounts import authenticate

    if token:
        return authenticate(platform, token)
    path = platform.settings.admin_token_file
    if path.is_file() and os.access(path, os.R_OK):
        return authenticate(platform, path.read_text(encoding="utf-8").strip())
    raise AuthenticationError(
        "no credentials: set CLINVAL_TOKEN or pass --token",
        hint="ask the pilot-base admin for a token ('clinval token create --user YOU')",
    )
