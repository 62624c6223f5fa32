"""A sandbox session serves many batches with one model load; a misbehaving batch fails alone and ends the session.

Golden scores are recomputed here from the switch model's rule (``int(sha256(case_id)[:8]) / 2**64``).
"""

from __future__ import annotations

import hashlib
import json
import secrets

import pandas as pd
import pytest

from validation.sandbox import CaseTableError, SandboxLimits, SandboxSession, SessionClosedError

pytestmark = pytest.mark.usefixtures("needs_bwrap")

MiB = 1024 * 1024
# A generous wall clock, so that on a busy machine the CPU limit (not the clock) stops a spinner. Loading the
# model (interpreter, pandas, mlflow) is charged to the same budget, about 0.9 s of CPU on an idle machine:
# 3 s (+1 s grace) leaves room for a loaded one.
LIMITS = SandboxLimits(wall_seconds=120, cpu_seconds=3, max_output_bytes=4 * MiB, tmp_bytes=8 * MiB)
SHORT_WALL = SandboxLimits(wall_seconds=4, cpu_seconds=3, max_output_bytes=4 * MiB, tmp_bytes=8 * MiB)


def _golden(case_id: str) -> float:
    return int.from_bytes(hashlib.sha256(case_id.encode()).digest()[:8], "big") / 2.0**64


def _batch(tag: str, n: int = 4, **arg) -> pd.DataFrame:
    return pd.DataFrame({"case_id": [f"{tag}-{i:03d}" for i in range(n)], "path": [f"case{i % 2}.bin" for i in range(n)],
                         "arg": json.dumps(arg)})


@pytest.fixture
def session(models, host, leftover_processes, request):
    limits = getattr(request, "param", LIMITS)
    s = SandboxSession(models["switch"], input_roots={"site": host.input_root}, limits=limits, max_requests=4)
    yield s
    s.close()
    if s.uid is not None:
        assert leftover_processes(s.uid) == [], "a sandboxed process outlived its session"


def test_one_session_serves_many_batches_with_one_load(session):
    assert session.start().ok
    for k in range(3):
        cases = _batch(f"B{k}")
        result = session.predict(cases, input_name="site", path_columns=["path"])
        assert result.ok, result.reason
        assert result.predictions["case_id"].tolist() == cases["case_id"].tolist()
        assert result.predictions["score"].tolist() == [_golden(c) for c in cases["case_id"]]
        # The same process answered every batch: its call counter goes on.
        assert f"CALL {k + 1}" in result.stderr_tail
    assert session.requests_left == 1


HOSTILE = {
    "cpu": f"the model exceeded the CPU-time limit of {LIMITS.cpu_seconds} s and was killed",
    "crash": "predict raised ValueError",
    "nan": "the model's output is invalid: batch starting at row 0: 4 score(s) are missing, NaN or infinite; "
           "expected finite numbers",
    "chatter": f"the model wrote more than {LIMITS.max_output_bytes} bytes to stdout/stderr and was killed; log less",
}


@pytest.mark.parametrize("mode", sorted(HOSTILE))
def test_a_hostile_batch_fails_with_its_reason_and_ends_the_session(session, mode):
    expected = HOSTILE[mode]
    first = session.predict(_batch("B0"), input_name="site", path_columns=["path"])
    assert first.ok, first.reason
    bad = _batch("B1", mode=mode)
    result = session.predict(bad, input_name="site", path_columns=["path"])
    assert result.status == "failed" and result.predictions is None
    assert result.reason == expected
    for case_id in bad["case_id"]:
        assert case_id not in result.reason and case_id not in result.stderr_tail
    assert not session.alive
    with pytest.raises(SessionClosedError, match="start a new one"):
        session.predict(_batch("B2"), input_name="site", path_columns=["path"])


@pytest.mark.parametrize("session", [SHORT_WALL], indirect=True)
def test_a_sleeping_batch_hits_the_per_batch_wall_clock(session):
    import time

    assert session.predict(_batch("B0"), input_name="site").ok
    began = time.monotonic()
    result = session.predict(_batch("B1", mode="sleep"), input_name="site")
    assert result.status == "failed" and result.stage == "limits"
    assert result.reason == "the batch exceeded the wall-clock limit of 4 s and the sandbox was killed"
    assert 4 <= time.monotonic() - began < 4 + 10
    assert not session.alive


@pytest.mark.parametrize("leftover", ["spin_thread", "spin_child"])
def test_cpu_burnt_between_batches_by_a_leftover_thread_or_child_fails_the_next_batch(session, leftover):
    import time

    from validation.sandbox.channel import tree_cpu_seconds

    # The next batch is short (no poll during it): the reading at its end catches the CPU burnt before it.
    assert session.predict(_batch("B0", mode=leftover), input_name="site", path_columns=["path"]).ok
    # The thread spins while the host is away; wait (by CPU, not wall time: the machine may be busy) until it
    # has burnt more than the limit since batch 0 ended.
    mark = tree_cpu_seconds(session.pid)
    deadline = time.monotonic() + 120
    while tree_cpu_seconds(session.pid) - mark < LIMITS.cpu_seconds + 1.5 and time.monotonic() < deadline:
        time.sleep(0.2)
    result = session.predict(_batch("B1"), input_name="site", path_columns=["path"])
    assert result.status == "failed"
    assert result.reason == HOSTILE["cpu"]


def test_a_fresh_session_after_a_failure_scores_again(models, host):
    limits = SandboxLimits(wall_seconds=20, cpu_seconds=5, max_output_bytes=4 * MiB)
    with SandboxSession(models["switch"], input_roots={"site": host.input_root}, limits=limits) as broken:
        assert not broken.predict(_batch("B0", mode="crash"), input_name="site").ok
    with SandboxSession(models["switch"], input_roots={"site": host.input_root}, limits=limits) as fresh:
        cases = _batch("B1")
        result = fresh.predict(cases, input_name="site")
        assert result.ok and "CALL 1" in result.stderr_tail
        assert result.predictions["score"].tolist() == [_golden(c) for c in cases["case_id"]]


def test_a_session_cannot_see_a_request_it_was_not_given(session, host, tmp_path):
    marker = f"NEXT-{secrets.token_hex(6)}"
    # Batch 0 searches every file it can see for the case ids of batch 1, which the host has not sent yet.
    first = session.predict(_batch("B0", mode="snoop", marker=marker), input_name="site", path_columns=["path"])
    assert first.ok, first.reason
    second = session.predict(_batch(marker, mode="snoop", marker="never-" + marker), input_name="site")
    assert second.ok, second.reason


def test_snoop_positive_control_finds_a_marker_in_a_visible_file(models, tmp_path):
    marker = f"NEXT-{secrets.token_hex(6)}"
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "planted.txt").write_text(marker)
    for path in (tmp_path, inputs, inputs / "planted.txt"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    with SandboxSession(models["switch"], input_roots={"site": inputs}, limits=LIMITS) as s:
        result = s.predict(_batch("B0", mode="snoop", marker=marker), input_name="site")
    assert result.status == "failed" and result.error == "PermissionError", result.reason


def test_requests_are_checked_before_they_reach_the_sandbox(session):
    with pytest.raises(CaseTableError, match="not one of the session's input roots"):
        session.predict(_batch("B0"), input_name="other")
    bad = _batch("B0")
    bad.loc[0, "path"] = "../labels.parquet"
    with pytest.raises(CaseTableError, match="absolute or contains '..'"):
        session.predict(bad, input_name="site", path_columns=["path"])
    mixed = _batch("B0")
    mixed["case_id"] = pd.Series([1] + [f"x{i}" for i in range(1, len(mixed))], dtype=object)  # unique, no one Arrow type
    with pytest.raises(CaseTableError, match="cannot be encoded for the sandbox"):
        session.predict(mixed, input_name="site", path_columns=["path"])
    # A refused request does not end the session.
    assert session.predict(_batch("B1"), input_name="site", path_columns=["path"]).ok


def test_input_names_must_be_plain(models, host):
    with pytest.raises(CaseTableError, match="not allowed"):
        SandboxSession(models["switch"], input_roots={"../x": host.input_root})
    with pytest.raises(CaseTableError, match="must be the only input root"):
        SandboxSession(models["switch"], input_roots={"": host.input_root, "a": host.input_root})


def test_a_session_over_several_sites_sees_their_inputs_and_nothing_else(models, host, tmp_path):
    other = tmp_path / "other-site" / "inputs"
    other.mkdir(parents=True)
    (other / "case9.bin").write_bytes(b"\x09" * 16)
    for path in (tmp_path, other.parent, other, other / "case9.bin"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    roots = {"H01": host.input_root, "H02": other}
    with SandboxSession(models["reader"], input_roots=roots, limits=LIMITS, max_requests=2) as s:
        visible = s.predict(host.cases(paths=[["/input/H01/case1.bin", []], ["/input/H02/case9.bin", []]], env=[]),
                            input_name="H01", path_columns=["path"])
        assert visible.ok, visible.reason
        secrets_ = [[str(host.labels), []], ["/input/H01/../../labels.parquet", []],
                    [str(other.parent), ["inputs"]], ["/input", ["site", "marker"]]]
        hidden = s.predict(host.cases(paths=secrets_, env=[]), input_name="H01", path_columns=["path"])
    assert hidden.status == "failed" and hidden.error == "PermissionError", hidden.reason
    assert hidden.stderr_tail.count(" denied ") == len(secrets_), hidden.stderr_tail
