"""Storage on both backends: schema by migration, SQLite pragmas, append-only triggers, concurrent writers."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from validation.audit import check_chain
from validation.exceptions import NotInitialised
from validation.platform import open_platform
from validation.storage import HEAD_REVISION, Database


def test_open_before_init_says_what_to_do(settings):
    settings.home.mkdir(parents=True)
    with pytest.raises(NotInitialised) as info:
        open_platform(settings)
    assert "clinval init" in info.value.hint


def test_schema_is_at_head_revision(platform):
    assert platform.db.revision() == HEAD_REVISION
    with platform.db.read() as s:
        assert s.execute(text("SELECT count(*) FROM organisations")).scalar_one() == 18


def test_sqlite_runs_in_wal_mode_with_busy_timeout(sqlite_platform):
    with sqlite_platform.db.read() as s:
        assert s.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert s.execute(text("PRAGMA busy_timeout")).scalar_one() >= 10_000
        assert s.execute(text("PRAGMA foreign_keys")).scalar_one() == 1


@pytest.mark.parametrize("statement", ["UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"])
def test_database_refuses_to_change_audit_events(platform, statement):
    with pytest.raises(DBAPIError, match="append-only"):
        with platform.db.write() as s:
            s.execute(text(statement))
    with platform.db.read() as s:
        n, problem = check_chain(s)
    assert n >= 3 and problem is None


def test_a_failed_change_leaves_no_event(platform):
    from validation.accounts import create_org
    from validation.platform import resolve_principal

    admin = resolve_principal(platform)
    with platform.db.read() as s:
        before = s.execute(text("SELECT count(*) FROM audit_events")).scalar_one()
    with pytest.raises(Exception):
        with platform.db.write() as s:
            from validation.audit import append_event

            append_event(s, admin, "org.create", "organisation", "ghost")
            raise RuntimeError("crash after the event, before commit")
    with platform.db.read() as s:
        assert s.execute(text("SELECT count(*) FROM audit_events")).scalar_one() == before
    create_org(platform, admin, "real-co", "Real Co", "vendor")
    with platform.db.read() as s:
        assert s.execute(text("SELECT count(*) FROM audit_events")).scalar_one() == before + 1


_WRITER = textwrap.dedent(
    """
    import sys, time
    from validation.accounts import create_org
    from validation.platform import open_platform, resolve_principal
    worker, per_worker, start_at = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    platform = open_platform()
    admin = resolve_principal(platform)
    while time.time() < start_at:
        time.sleep(0.005)
    for i in range(per_worker):
        create_org(platform, admin, f"w{worker}-{i}", f"Writer {worker} org {i}", "vendor")
    platform.close()
    """
)


def test_eight_concurrent_writer_processes_lose_nothing(platform):
    workers, per_worker = 8, 12
    env = {**os.environ, "CLINVAL_HOME": str(platform.settings.home), "CLINVAL_DB_URL": platform.settings.db_url}
    start_at = time.time() + 3.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(w), str(per_worker), str(start_at)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for w in range(workers)
    ]
    errors = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        if p.returncode != 0:
            errors.append(err.decode(errors="replace")[-1500:])
    assert not errors, errors
    with platform.db.read() as s:
        codes = set(s.execute(text("SELECT code FROM organisations WHERE code LIKE 'w%'")).scalars())
        events = s.execute(text("SELECT count(*) FROM audit_events WHERE action = 'org.create'")).scalar_one()
        seqs = list(s.execute(text("SELECT seq FROM audit_events ORDER BY seq")).scalars())
        n, problem = check_chain(s)
    assert codes == {f"w{w}-{i}" for w in range(workers) for i in range(per_worker)}
    assert events == workers * per_worker
    assert seqs == list(range(1, len(seqs) + 1))
    assert problem is None and n == len(seqs)


def test_reopening_does_not_migrate_again(platform):
    db = Database(platform.settings)
    try:
        db.require_ready()
        assert db.revision() == HEAD_REVISION
    finally:
        db.dispose()
