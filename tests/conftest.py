"""Fixtures shared by the whole suite: an isolated platform home, and a real PostgreSQL server.

The PostgreSQL server is started once per test session from the Debian ``postgresql`` package (``initdb`` and
``pg_ctl`` in a temporary folder, on a free loopback port, run as the ``postgres`` user when the tests run as
root). Where the package is not installed the PostgreSQL-backed tests are skipped with that reason; ``.ci/run``
installs it, so CI always runs them.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference"
_CLINVAL_ENV = ("CLINVAL_HOME", "CLINVAL_DB_URL", "CLINVAL_TOKEN", "CLINVAL_SANDBOX", "CLINVAL_SCHEDULER",
                "CLINVAL_MIN_CELL", "MLFLOW_TRACKING_URI")


_REAL_MAIN = sys.modules.get("__main__")


@pytest.fixture(autouse=True)
def _restore_main_module():
    """Streamlit's AppTest runs page scripts as ``__main__`` and can leave its temporary script there; a process
    pool started later (spawn/forkserver) would then re-run that script in every worker and die. Put the real
    ``__main__`` back after every test."""
    yield
    if sys.modules.get("__main__") is not _REAL_MAIN and _REAL_MAIN is not None:
        sys.modules["__main__"] = _REAL_MAIN


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path_factory):
    """No test sees the developer's CLINVAL_* settings or writes to ./.clinval."""
    for var in _CLINVAL_ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CLINVAL_HOME", str(tmp_path_factory.mktemp("clinval-home") / "home"))
    yield


@pytest.fixture
def reference_dir() -> Path:
    if not REFERENCE.is_dir():
        pytest.skip(f"shared reference data not found at {REFERENCE}")
    return REFERENCE


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _PostgresServer:
    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            raise FileNotFoundError("PostgreSQL server binaries not installed (apt-get install postgresql)")
        self.bin = Path(found[-1]).parent
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="clinval-pg-"))
        self.data = self.root / "data"
        self.user = None
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise FileNotFoundError("no 'postgres' system user to run the server as") from exc
            self.user = "postgres"
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self.log = self.root / "server.log"

    def _run(self, *args: str) -> None:
        cmd = [str(a) for a in args]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._run(self.bin / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"
        self._run(self.bin / "pg_ctl", "-D", self.data, "-l", self.log, "-o", opts, "-w", "-t", "60", "start")

    def stop(self) -> None:
        try:
            self._run(self.bin / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        import psycopg2

        name = "t_" + uuid.uuid4().hex[:12]
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for this test session (skipped, with the reason, where not installed)."""
    try:
        server = _PostgresServer()
    except FileNotFoundError as exc:
        pytest.skip(f"PostgreSQL tests skipped: {exc}")
    try:
        server.start()
    except subprocess.CalledProcessError as exc:
        log = server.log.read_text(errors="replace") if server.log.exists() else ""
        shutil.rmtree(server.root, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {exc.stderr!r} {log[-2000:]}")
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    """A fresh, empty platform database URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'platform.db'}"
    server = request.getfixturevalue("postgres_server")
    return server.create_database()


@pytest.fixture
def settings(db_url, tmp_path, monkeypatch):
    """Settings of a not-yet-initialised platform on each backend."""
    from validation.config import load_settings

    monkeypatch.setenv("CLINVAL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CLINVAL_DB_URL", db_url)
    return load_settings()


@pytest.fixture
def platform(settings):
    """An initialised platform (home, keys, schema, organisations, admin) on each backend."""
    from validation.home import init_home
    from validation.platform import open_platform

    init_home(settings)
    p = open_platform(settings)
    yield p
    p.close()


@pytest.fixture
def sqlite_platform(tmp_path, monkeypatch):
    """An initialised platform on the embedded default only (for tests that do not concern storage)."""
    from validation.config import load_settings
    from validation.home import init_home
    from validation.platform import open_platform

    monkeypatch.setenv("CLINVAL_HOME", str(tmp_path / "home"))
    settings = load_settings()
    init_home(settings)
    p = open_platform(settings)
    yield p
    p.close()
