"""Hostile models that attack resources: processes, memory, CPU, time, output, disk.

Each must end as ``failed`` with the reason of the limit it hit, leave no process behind, and
leave the host able to run the next model.
"""

from __future__ import annotations

import os

import pytest

from validation.sandbox import SandboxLimits, run_model

pytestmark = pytest.mark.usefixtures("needs_bwrap")

MiB = 1024 * 1024
LIMITS = SandboxLimits(
    wall_seconds=20,
    cpu_seconds=3,
    memory_bytes=1536 * MiB,
    max_processes=48,
    max_output_bytes=4 * MiB,
    tmp_bytes=8 * MiB,
)


@pytest.fixture
def run_hostile(models, host, leftover_processes):
    """Run a hostile model; afterwards no process of its uid may be left."""

    def run(name, out_dir, limits=LIMITS, **arg):
        result = run_model(
            models[name], host.cases(**arg), input_root=host.input_root, out_dir=out_dir,
            limits=limits, path_columns=["path"],
        )
        if result.uid is not None:
            assert leftover_processes(result.uid) == [], "a sandboxed process outlived its run"
        return result

    return run


def test_fork_bomb_hits_the_process_limit(run_hostile, out_dir):
    result = run_hostile("forkbomb", out_dir)
    assert result.status == "failed", result
    assert result.error == "BlockingIOError", result
    assert "process or resource limit" in result.reason
    assert f"at most {LIMITS.max_processes} processes" in result.reason
    assert result.elapsed < LIMITS.wall_seconds


def test_memory_hog_hits_the_memory_limit(run_hostile, out_dir):
    result = run_hostile("memory", out_dir)
    assert result.status == "failed", result
    assert result.error == "MemoryError", result
    assert result.reason.startswith("the model ran out of memory")
    assert str(LIMITS.memory_bytes) in result.reason


def test_cpu_spinner_hits_the_cpu_limit(run_hostile, out_dir):
    result = run_hostile("cpu", out_dir)
    assert result.status == "failed", result
    assert result.signal == 24  # SIGXCPU
    assert result.reason == f"the model exceeded the CPU-time limit of {LIMITS.cpu_seconds} s and was killed"
    assert result.elapsed < LIMITS.wall_seconds


def test_sleeper_hits_the_wall_clock_limit(run_hostile, out_dir):
    limits = SandboxLimits(wall_seconds=4, cpu_seconds=4, memory_bytes=LIMITS.memory_bytes)
    result = run_hostile("sleeper", out_dir, limits=limits)
    assert result.status == "failed", result
    assert result.stage == "limits"
    assert result.reason == "the run exceeded the wall-clock limit of 4 s and was killed"
    assert 4 <= result.elapsed < 4 + 5


def test_stdout_stderr_flood_is_cut_off(run_hostile, out_dir):
    result = run_hostile("chatter", out_dir)
    assert result.status == "failed", result
    assert result.reason.startswith(f"the model wrote more than {LIMITS.max_output_bytes} bytes to stdout/stderr")
    assert LIMITS.max_output_bytes < result.stderr_bytes <= LIMITS.max_output_bytes + MiB
    assert len(result.stderr_tail) <= 4000


def test_flood_of_the_data_channel_is_cut_off(run_hostile, out_dir):
    result = run_hostile("data_flood", out_dir)
    assert result.status == "failed", result
    assert result.reason == f"the predictions exceeded {LIMITS.max_output_bytes} bytes and the run was killed"
    assert not (out_dir / "predictions.parquet").exists()


def test_disk_fill_hits_the_size_limits(run_hostile, out_dir):
    result = run_hostile("disk_fill", out_dir)
    assert result.status == "failed", result
    assert result.error == "OSError", result
    assert result.reason.startswith(f"the model tried to write more than {LIMITS.max_output_bytes} bytes")


def test_host_still_runs_a_good_model_after_the_attacks(models, host, out_dir):
    cases = host.cases(n=20)
    result = run_model(models["constant"], cases, input_root=host.input_root, out_dir=out_dir, limits=LIMITS)
    assert result.status == "ok", result
    assert os.getloadavg()[0] >= 0  # the host process is alive and answering


def test_a_fork_bomb_does_not_starve_a_concurrent_run(models, host, tmp_path):
    # Each run has its own uid, so the bomb's process limit is not the good model's.
    from concurrent.futures import ThreadPoolExecutor

    def run(name):
        return run_model(
            models[name], host.cases(n=10), input_root=host.input_root,
            out_dir=tmp_path / name, limits=LIMITS,
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        bomb, good = pool.map(run, ["forkbomb", "constant"])
    assert bomb.status == "failed" and bomb.error == "BlockingIOError", bomb
    assert good.status == "ok", good
    assert bomb.uid != good.uid or bomb.uid is None
