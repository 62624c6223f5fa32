"""Benchmark of the live audit log: appending events through the platform (SQLite, WAL) and exporting and
verifying them, as ratios against anchors measured in the same run.

- append: ``validation.audit.append_event`` (hash chain, canonical JSON, ORM insert), 1000 events per transaction,
  against a bare ``executemany`` INSERT of the same rows into a plain SQLite table (the storage floor);
- export + verify: ``clinval audit export`` and the offline verifier over the whole log, against reading the events
  back from the database.

Usage::

    python benchmarks/audit_db.py [--events 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events to append (default 100000)")
    args = parser.parse_args()
    n, batch = args.events, 1000

    from validation.audit import append_event, iter_events
    from validation.audit.trail import export_bundle, public_key_text
    from validation.audit.verify_bundle import verify
    from validation.config import load_settings
    from validation.home import init_home
    from validation.platform import open_platform, resolve_principal

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings({}, home=Path(tmp) / "home")
        init_home(settings)
        platform = open_platform(settings)
        admin = resolve_principal(platform)

        t0 = time.perf_counter()
        for start in range(0, n, batch):
            with platform.db.write() as session:
                for i in range(start, min(n, start + batch)):
                    append_event(session, admin, "run.site.finish", "run", f"run-{i % 1000}",
                                 details={"site": f"H{i % 16 + 1:02d}", "n_cases": i % 997, "status": "ok"})
        t_append = time.perf_counter() - t0

        rows = [(i, "2026-11-26T00:00:00.000000Z", "u1", "admin", "pilot-base", "Admin", "run.site.finish", "run",
                 f"run-{i % 1000}", None, json.dumps({"site": "H01", "n_cases": i % 997}), None, None, "0" * 64,
                 f"{i:064x}") for i in range(n)]
        floor_db = sqlite3.connect(Path(tmp) / "floor.db")
        floor_db.execute("PRAGMA journal_mode=WAL")
        floor_db.execute("CREATE TABLE e (seq INTEGER PRIMARY KEY, time, actor_id, actor_role, actor_org, actor_name, "
                         "action, object_type, object_id, object_sha256, details, reason, meaning, prev_hash, hash)")
        t0 = time.perf_counter()
        for start in range(0, n, batch):
            with floor_db:
                floor_db.executemany("INSERT INTO e VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows[start:start + batch])
        t_floor = time.perf_counter() - t0

        t0 = time.perf_counter()
        with platform.db.read() as session:
            total = sum(1 for _ in iter_events(session))
        t_read = time.perf_counter() - t0

        bundle = Path(tmp) / "bundle.zip"
        t0 = time.perf_counter()
        export_bundle(platform, admin, bundle)
        t_export = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = verify(bundle, public_key_text(platform))
        t_verify = time.perf_counter() - t0
        platform.close()

    per100k = 100_000 / total
    print(f"audit log with {total} events (SQLite WAL, {batch} events per transaction)")
    print(f"  append_event      {n / t_append:10.0f} events/s   {t_append / t_floor:6.1f}x the bare executemany floor")
    print(f"  read back         {total / t_read:10.0f} events/s   (anchor for export/verify)")
    print(f"  export bundle     {t_export * per100k:10.2f} s/100k     {t_export / t_read:6.1f}x reading the events")
    print(f"  verify offline    {t_verify * per100k:10.2f} s/100k     {t_verify / t_read:6.1f}x reading the events "
          f"({'OK' if report.ok else 'FAILED'})")


if __name__ == "__main__":
    main()
