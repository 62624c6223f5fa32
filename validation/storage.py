"""The platform database: engines, sessions, migrations.

SQLite (the embedded default) runs in WAL mode with a busy timeout and ``BEGIN IMMEDIATE`` for writing
transactions, so concurrent writers queue instead of failing; PostgreSQL (``postgresql+psycopg2://``) serialises
writers with a transaction-scoped advisory lock. Every writing transaction appends to the audit log, whose hash
chain needs writers in one order: both mechanisms give that order.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from validation.config import Settings
from validation.exceptions import NotInitialised, StorageError

__all__ = ["Database", "migrate", "HEAD_REVISION"]

HEAD_REVISION = "0006"
_WRITE_LOCK_KEY = 0x636C6976  # "cliv": the advisory lock id for PostgreSQL writers
_BUSY_TIMEOUT_MS = 60_000


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"timeout": _BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # pragma: no cover - exercised by every test
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # pragma: no cover - exercised by every test
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """Engines and sessions for one platform database.

    Parameters
    ----------
    settings : Settings
        Where the database is (``settings.db_url``).
    """

    def __init__(self, settings: Settings) -> None:
        self.url = settings.db_url
        self.dialect = self.url.split(":", 1)[0].split("+", 1)[0]
        if self.dialect == "sqlite":
            path = self.url.removeprefix("sqlite:///")
            self.sqlite_path: Path | None = Path(path) if path and path != ":memory:" else None
            self._write_engine = _sqlite_engine(self.url, immediate=True)
            self._read_engine = _sqlite_engine(self.url, immediate=False)
        else:
            self.sqlite_path = None
            self._write_engine = create_engine(self.url, pool_pre_ping=True)
            self._read_engine = self._write_engine
        self._write_sessions = sessionmaker(self._write_engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self._read_engine, expire_on_commit=False)

    @property
    def engine(self) -> Engine:
        """The engine used for writing (and for migrations)."""
        return self._write_engine

    def exists(self) -> bool:
        """Whether the database holds the platform schema."""
        if self.sqlite_path is not None and not self.sqlite_path.exists():
            return False
        try:
            with self._read_engine.connect() as conn:
                return inspect(conn).has_table("alembic_version")
        except OperationalError as exc:
            raise StorageError(
                f"cannot reach the platform database ({self.dialect}): {exc.orig.__class__.__name__}",
                hint="check CLINVAL_DB_URL and that the server is running",
            ) from None

    def revision(self) -> str | None:
        """The schema revision stored in the database, or None."""
        if not self.exists():
            return None
        with self._read_engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()

    def require_ready(self) -> None:
        """Raise :class:`NotInitialised` unless the schema exists; migrate it if it is older than the code."""
        rev = self.revision()
        if rev is None:
            raise NotInitialised(
                "the platform has not been initialised here",
                hint="run 'clinval init' (or set CLINVAL_HOME / CLINVAL_DB_URL to an initialised platform)",
            )
        if rev != HEAD_REVISION:
            migrate(self)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; rolled back at the end."""
        session = self._read_sessions()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session for one writing transaction: committed on success, rolled back on any exception.

        Writers are serialised (SQLite ``BEGIN IMMEDIATE``; PostgreSQL advisory transaction lock).
        """
        session = self._write_sessions()
        try:
            if self.dialect == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _WRITE_LOCK_KEY})
            else:
                session.connection()  # BEGIN IMMEDIATE now, before any read
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self._write_engine.dispose()
        self._read_engine.dispose()


def migrate(db: Database) -> str:
    """Create or upgrade the schema to the newest revision with Alembic; returns the revision now in place."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    try:
        with db.engine.connect() as conn:
            if db.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _WRITE_LOCK_KEY + 1})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()
            if db.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _WRITE_LOCK_KEY + 1})
                conn.commit()
    except SQLAlchemyError as exc:
        raise StorageError(
            f"migrating the platform database failed: {exc.__class__.__name__}",
            hint="check that CLINVAL_DB_URL points to a database this user may change",
        ) from None
    return HEAD_REVISION
