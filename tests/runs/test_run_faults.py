"""Faults: the runner killed mid-run resumes with the same predictions, none lost or doubled; a hospital whose
data cannot be read fails alone and the run is scored as partial, never as complete."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from validation.runs import create_run, execute_run, get_results, run_dir

EVAL_SITES = ["H01", "H05", "H09"]  # the hospitals of the shared run-test world (tests/runs/conftest.py)

_RUNNER = textwrap.dedent(
    """
    import sys
    from validation.config import load_settings
    from validation.platform import open_platform, resolve_principal
    from validation.runs import execute_run
    platform = open_platform(load_settings({"CLINVAL_SANDBOX": "bwrap"}, home=sys.argv[1]))
    execute_run(platform, resolve_principal(platform), sys.argv[2], workers=1)
    """
)


def _predictions(platform, run_id: str) -> pd.DataFrame:
    files = sorted((run_dir(platform, run_id) / "predictions").rglob("batch-*.parquet"))
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True) if files else pd.DataFrame()


def _start_runner(platform, run_id):
    return subprocess.Popen([sys.executable, "-c", _RUNNER, str(platform.settings.home), run_id],
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_when(proc, pred_dir: Path, batches: int, extra_delay: float) -> int:
    """SIGKILL the runner's whole process group once ``batches`` checkpoints exist (plus a delay)."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and len(list(pred_dir.rglob("batch-*.parquet"))) < batches:
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    time.sleep(extra_delay)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    return len(list(pred_dir.rglob("batch-*.parquet")))


def test_runner_killed_repeatedly_at_random_points_resumes_without_loss_or_duplication(world):
    import random

    platform, people, submission, corpus = world
    reference = create_run(platform, people["admin"], submission, corpus, sites=["H01", "H05"], batch_size=6)
    execute_run(platform, people["admin"], reference.id)
    victim = create_run(platform, people["admin"], submission, corpus, sites=["H01", "H05"], batch_size=6)
    total_batches = sum(s.n_batches for s in victim.sites)
    pred_dir = run_dir(platform, victim.id) / "predictions"
    rng = random.Random(20261127)  # seeded: the kill points are random but the test is repeatable
    counts = []
    for target in sorted(rng.sample(range(1, total_batches), k=min(3, total_batches - 1))):
        counts.append(_kill_when(_start_runner(platform, victim.id), pred_dir, target, rng.uniform(0, 0.3)))
    assert counts and counts[0] < total_batches, "the first kill must land mid-run for this test to mean anything"
    resumed = execute_run(platform, people["admin"], victim.id)
    assert resumed.state == "scored" and resumed.complete
    got = _predictions(platform, victim.id).sort_values("case_id").reset_index(drop=True)
    want = _predictions(platform, reference.id).sort_values("case_id").reset_index(drop=True)
    assert not got["case_id"].duplicated().any()
    pd.testing.assert_frame_equal(got, want)
    # Identical to the uninterrupted run: every estimate, interval, count and note.
    assert get_results(platform, people["admin"], victim.id).results == \
        get_results(platform, people["admin"], reference.id).results


def test_a_site_that_fails_makes_the_run_partial_not_complete(world):
    platform, people, submission, corpus = world
    from validation.corpora import corpus_dir

    inputs = corpus_dir(platform, corpus) / "sites" / "H09" / "inputs"
    mode = inputs.stat().st_mode
    run = create_run(platform, people["admin"], submission, corpus, batch_size=50)
    try:
        inputs.chmod(0o000)  # the hospital's files become unreadable to the sandboxed model
        info = execute_run(platform, people["admin"], run.id)
    finally:
        inputs.chmod(mode)
    sites = {s.site: s for s in info.sites}
    assert sites["H09"].state == "failed" and sites["H09"].reason
    assert all(sites[s].state == "done" for s in EVAL_SITES if s != "H09")
    assert info.state == "scored" and info.complete is False and "H09" in info.error
    res = get_results(platform, people["admin"], run.id)
    assert {r["group"] for r in res.results if r["group_kind"] == "site"} == {"H01", "H05"}


def test_a_model_changed_after_submission_is_refused_before_it_runs(world):
    platform, people, submission, corpus = world
    from validation.registry import get_submission, model_path

    sha = get_submission(platform, people["admin"], submission).model_sha256
    weights = next(p for p in model_path(platform, sha).rglob("*.json"))
    original = weights.read_bytes()
    run = create_run(platform, people["admin"], submission, corpus, sites=["H01"])
    weights.chmod(0o644)
    try:
        weights.write_bytes(original.replace(b"0", b"1", 1))
        info = execute_run(platform, people["admin"], run.id)
    finally:
        weights.write_bytes(original)
        weights.chmod(0o444)
    assert info.state == "failed" and "hash mismatch" in info.error
    assert not (run_dir(platform, run.id) / "predictions").exists()


def test_unsandboxed_runs_of_vendor_code_are_refused(world, monkeypatch):
    import dataclasses

    from validation.exceptions import Conflict

    platform, people, submission, corpus = world
    run = create_run(platform, people["admin"], submission, corpus, sites=["H01"])
    monkeypatch.setattr(platform, "settings", dataclasses.replace(platform.settings, sandbox="none"))
    with pytest.raises(Conflict, match="without isolation"):
        execute_run(platform, people["admin"], run.id)
