"""The Dask executor on a real LocalCluster whose workers carry site resources, including a worker killed
mid-task and a site that no worker serves."""

from __future__ import annotations

import os
import signal
import threading
import time

import pandas as pd
import pytest

from validation.runs import create_run, execute_run, run_dir, site_resource

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    resources = {site_resource(s): 1 for s in ("H01", "H05")}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, resources=resources,
                      dashboard_address=None, silence_logs=40) as c:
        yield c


def _predictions(platform, run_id):
    files = sorted((run_dir(platform, run_id) / "predictions").rglob("batch-*.parquet"))
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def test_sites_run_on_workers_that_carry_their_resource(world, cluster):
    from sqlalchemy import text

    from validation.runs import get_results

    platform, people, submission, corpus = world
    run = create_run(platform, people["admin"], submission, corpus, sites=["H01", "H05", "H09"], batch_size=8)
    info = execute_run(platform, people["admin"], run.id, scheduler=cluster.scheduler_address)
    sites = {s.site: s for s in info.sites}
    assert sites["H01"].state == sites["H05"].state == "done", [(s.site, s.reason) for s in info.sites]
    assert sites["H09"].state == "failed" and "site-H09" in sites["H09"].reason
    assert info.executor.startswith("dask") and info.complete is False
    # Where each site's task ran: a worker of this cluster that offers the site's resource.
    with platform.db.read() as s:
        details = s.execute(text("SELECT details FROM audit_events WHERE action = 'run.site.done' AND "
                                 "object_id = :r"), {"r": run.id}).scalars().all()
    import json

    workers = {json.loads(d)["site"] if isinstance(d, str) else d["site"]:
               (json.loads(d) if isinstance(d, str) else d)["worker"] for d in details}
    offered = {addr for addr, w in cluster.scheduler_info["workers"].items() if "site-H01" in w["resources"]}
    assert workers.keys() == {"H01", "H05"} and all(w.startswith("dask:") for w in workers.values())
    assert {w.removeprefix("dask:") for w in workers.values()} <= offered
    # The same sites on local worker processes give the same predictions and the same numbers.
    local = create_run(platform, people["admin"], submission, corpus, sites=["H01", "H05"], batch_size=8)
    execute_run(platform, people["admin"], local.id)
    dask_only = create_run(platform, people["admin"], submission, corpus, sites=["H01", "H05"], batch_size=8)
    execute_run(platform, people["admin"], dask_only.id, scheduler=cluster.scheduler_address)
    a = _predictions(platform, local.id).sort_values("case_id").reset_index(drop=True)
    b = _predictions(platform, dask_only.id).sort_values("case_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    assert get_results(platform, people["admin"], local.id).results == \
        get_results(platform, people["admin"], dask_only.id).results


def test_a_worker_killed_mid_task_loses_nothing(world, cluster):
    platform, people, submission, corpus = world
    from distributed import Client

    run = create_run(platform, people["admin"], submission, corpus, sites=["H01", "H05"], batch_size=4)
    pred_dir = run_dir(platform, run.id) / "predictions"
    killed = {}

    def killer():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not list(pred_dir.rglob("batch-*.parquet")):
            time.sleep(0.05)
        with Client(cluster.scheduler_address, set_as_default=False) as client:
            pids = client.run(os.getpid)
        pid = next(iter(pids.values()))
        killed["pid"] = pid
        os.kill(pid, signal.SIGKILL)

    thread = threading.Thread(target=killer)
    thread.start()
    info = execute_run(platform, people["admin"], run.id, scheduler=cluster.scheduler_address)
    thread.join()
    assert killed, "no worker was killed"
    if not info.complete:  # the scheduler gave up on the lost task: resuming finishes it
        info = execute_run(platform, people["admin"], run.id, scheduler=cluster.scheduler_address)
    assert info.state == "scored" and info.complete
    preds = _predictions(platform, run.id)
    assert not preds["case_id"].duplicated().any()
    assert len(preds) == sum(s.n_cases for s in info.sites)
