"""Creating a platform home: folders, secrets, database, organisations and the first admin account."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from validation.audit.log import append_event
from validation.config import Settings
from validation.exceptions import Conflict
from validation.identity import SYSTEM, OrgKind, Role, hash_password, new_token, token_digest
from validation.schema import ApiToken, Organisation, User
from validation.storage import Database, migrate

__all__ = ["InitResult", "init_home", "is_initialised", "PSEUDONYM_KEY"]

PSEUDONYM_KEY = "pseudonym.key"
REGULATOR_ORG = ("regulator", "Medical Device Technical Review Centre (regulator)")
PILOT_BASE_ORG = ("pilot-base", "National Medical-AI Pilot Base")
ADMIN_TOKEN_DAYS = 365


@dataclass(frozen=True, slots=True, kw_only=True)
class InitResult:
    """What ``clinval init`` made."""

    home: Path
    admin_username: str
    admin_token: str
    organisations: int


def is_initialised(settings: Settings) -> bool:
    """Whether the home and the database both exist with the platform schema."""
    return settings.home.is_dir() and Database(settings).exists()


def _write_secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(path, 0o600)


def _make_dirs(home: Path) -> None:
    for folder in (home, home / "keys", home / "corpora", home / "runs", home / "mlartifacts", home / "gx"):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    os.chmod(home / "keys", 0o700)


def _make_keys(keys: Path) -> None:
    from validation.audit.checkpoint import PRIVATE_KEY_FILE
    from validation.audit.trail import create_signing_key

    if not (keys / PSEUDONYM_KEY).exists():
        _write_secret(keys / PSEUDONYM_KEY, secrets.token_bytes(32))
    if not (keys / PRIVATE_KEY_FILE).exists():
        create_signing_key(keys)


def _hospitals() -> list[tuple[str, str]]:
    from datasets.sites import HOSPITAL_CODES, get_site

    return [(code, get_site(code).name) for code in HOSPITAL_CODES]


def init_home(
    settings: Settings,
    *,
    admin_username: str = "admin",
    admin_name: str = "Pilot-base Administrator",
    admin_password: str | None = None,
) -> InitResult:
    """Create the home (0700), secrets (0600), the database schema, the 16 hospitals, the regulator, the pilot
    base and an admin account with a token written to ``keys/admin.token``.

    Raises
    ------
    Conflict
        The platform is already initialised here.
    """
    if is_initialised(settings):
        raise Conflict(
            f"a platform is already initialised at {settings.home}",
            hint="use it as it is, or choose another CLINVAL_HOME",
        )
    if admin_password is not None:
        hash_password(admin_password)  # validate before touching anything
    if settings.admin_token_file.exists():
        raise Conflict(
            f"{settings.admin_token_file} exists but the database is empty",
            hint="this home is half-made; remove it (or the token file) and run 'clinval init' again",
        )
    _make_dirs(settings.home)
    _make_keys(settings.keys_dir)
    db = Database(settings)
    migrate(db)
    orgs = [(code, name, OrgKind.HOSPITAL) for code, name in _hospitals()]
    orgs += [(*REGULATOR_ORG, OrgKind.REGULATOR), (*PILOT_BASE_ORG, OrgKind.PILOT_BASE)]
    now = datetime.now(UTC)
    token = new_token()
    try:
        with db.write() as session:
            if session.scalar(select(User).limit(1)) is not None:
                raise Conflict("the platform database already has users", hint="use it as it is")
            by_code = {}
            for code, name, kind in orgs:
                org = Organisation(code=code, name=name, kind=kind.value, created_at=now)
                session.add(org)
                by_code[code] = org
            append_event(session, SYSTEM, "platform.init", "platform", "clinval", details={"organisations": len(orgs)})
            admin = User(
                username=admin_username,
                printed_name=admin_name,
                role=Role.ADMIN.value,
                organisation=by_code["pilot-base"],
                password_hash=hash_password(admin_password) if admin_password else None,
                active=True,
                created_at=now,
            )
            session.add(admin)
            session.flush()
            append_event(session, SYSTEM, "user.create", "user", f"u{admin.id}", details={"role": "admin"})
            record = ApiToken(
                user=admin,
                token_sha256=token_digest(token),
                label="created by clinval init",
                created_at=now,
                expires_at=now + timedelta(days=ADMIN_TOKEN_DAYS),
            )
            session.add(record)
            session.flush()
            append_event(session, SYSTEM, "token.create", "token", str(record.id), details={"user": f"u{admin.id}"})
            _write_secret(settings.admin_token_file, (token + "\n").encode("ascii"))
    finally:
        db.dispose()
    from validation.audit.trail import write_checkpoint
    from validation.platform import open_platform

    platform = open_platform(settings)
    try:
        write_checkpoint(platform)
    finally:
        platform.close()
    return InitResult(home=settings.home, admin_username=admin_username, admin_token=token, organisations=len(orgs))
