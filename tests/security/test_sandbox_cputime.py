"""The sandbox's CPU clock: the whole tree's time, read cheaply, never fooled by a reused pid.

``TreeCpuClock`` is compared with ``tree_cpu_seconds`` (which reads every process) on a real
process tree; the rules that keep its shortcut honest (a pid reused by a new process, a parent
that ended and whose pid was taken) are checked on a procfs-shaped directory, because the
kernel cannot be made to reuse a given pid on demand in a test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from validation.sandbox.cputime import TreeCpuClock, tree_cpu_seconds

TICKS = os.sysconf("SC_CLK_TCK")

SPINNER = textwrap.dedent(
    """
    import os, sys, time
    def spin(seconds):
        end = time.process_time() + seconds
        while time.process_time() < end:
            pass
    child = os.fork()
    spin(float(sys.argv[1]))
    if child == 0:
        time.sleep(600)  # stays in the tree (killed with its process group)
    sys.stdin.read()
    """
)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_the_clock_counts_the_whole_tree_like_a_full_scan():
    # A parent and a forked child each burn 0.4 s of CPU.
    proc = subprocess.Popen([sys.executable, "-c", SPINNER, "0.4"], stdin=subprocess.PIPE, start_new_session=True)
    try:
        clock = TreeCpuClock(proc.pid)
        readings = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            before = clock.seconds()
            full = tree_cpu_seconds(proc.pid)
            after = clock.seconds()
            # Read in between two readings of the clock, the full scan lies between them.
            assert before <= full <= after
            readings.append(after)
            if after >= 0.8 - 4 / TICKS:
                break
            time.sleep(0.02)
        assert readings == sorted(readings)
        # Both processes' time is in the tree's: the parent alone stops at 0.4 s.
        assert readings[-1] >= 0.8 - 4 / TICKS
        time.sleep(0.1)
        assert clock.seconds() == pytest.approx(tree_cpu_seconds(proc.pid), abs=1 / TICKS)
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()


def _stat(pid: int, ppid: int, ticks: int, start: int) -> str:
    # Fields 3.. of /proc/<pid>/stat: state, ppid, 9 others, utime, stime, cutime, cstime, 4 others, starttime.
    rest = ["S", str(ppid)] + ["0"] * 9 + [str(ticks), "0", "0", "0"] + ["0"] * 4 + [str(start)] + ["0"] * 30
    return f"{pid} (cmd with) spaces) " + " ".join(rest) + "\n"


class FakeProc:
    """A directory laid out like procfs: ``<pid>/stat`` per process."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def add(self, pid: int, ppid: int, ticks: int, start: int) -> None:
        # Made aside and renamed into place, so that a re-added pid gets a new inode (as procfs gives).
        tmp = self.root / f".new-{pid}"
        tmp.mkdir()
        (tmp / "stat").write_text(_stat(pid, ppid, ticks, start))
        old = self.root / str(pid)
        if old.exists():
            (old / "stat").unlink()
            old.rmdir()
        tmp.rename(old)

    def edit(self, pid: int, ppid: int, ticks: int, start: int) -> None:
        """Change the stat of a process in place (same inode): what a live process does."""
        (self.root / str(pid) / "stat").write_text(_stat(pid, ppid, ticks, start))

    def remove(self, pid: int) -> None:
        (self.root / str(pid) / "stat").unlink()
        (self.root / str(pid)).rmdir()


@pytest.fixture
def fake(tmp_path) -> FakeProc:
    proc = FakeProc(tmp_path / "proc")
    proc.root.mkdir()
    proc.add(1, 0, 5, 1)  # init
    proc.add(50, 1, 7, 10)  # the host
    proc.add(100, 50, 30, 20)  # the sandbox's root
    proc.add(101, 100, 40, 21)  # inside
    proc.add(200, 1, 1000, 15)  # another service
    return proc


def test_the_full_scan_and_the_clock_count_root_and_descendants_only(fake):
    assert tree_cpu_seconds(100, proc=str(fake.root)) == (30 + 40) / TICKS
    assert TreeCpuClock(100, proc=str(fake.root)).seconds() == (30 + 40) / TICKS


def test_a_pid_reused_by_a_sandboxed_process_is_counted(fake):
    clock = TreeCpuClock(100, proc=str(fake.root), refresh=3600)
    assert clock.seconds() == 70 / TICKS
    # 200 ends; the sandbox forks until it gets pid 200 and spins there (a new directory: a new inode).
    fake.add(200, 101, 500, 30)
    assert clock.seconds() == 570 / TICKS
    assert tree_cpu_seconds(100, proc=str(fake.root)) == 570 / TICKS


def test_a_process_known_outside_is_not_read_again_while_its_inode_stays(fake):
    # The shortcut the clock takes, shown: an in-place change of an outside process is not seen,
    # which is right only because a live process never moves into the tree (see TreeCpuClock).
    clock = TreeCpuClock(100, proc=str(fake.root), refresh=3600)
    assert clock.seconds() == 70 / TICKS
    fake.edit(200, 101, 1000, 25)
    assert clock.seconds() == 70 / TICKS
    # A full reading (refresh elapsed) reads it again.
    assert TreeCpuClock(100, proc=str(fake.root), refresh=0).seconds() == 1070 / TICKS


def test_every_reading_reads_everything_after_the_refresh_interval(fake):
    clock = TreeCpuClock(100, proc=str(fake.root), refresh=0)
    assert clock.seconds() == 70 / TICKS
    fake.edit(200, 101, 1000, 25)
    assert clock.seconds() == 1070 / TICKS


def test_a_child_whose_parent_pid_was_taken_by_a_younger_process_is_looked_at_again(fake):
    clock = TreeCpuClock(100, proc=str(fake.root), refresh=3600)
    # 102 (inside, started at 25) says its parent is 300; 300 is a process that started later (a new
    # process on a reused pid, as read in the middle of the parent's exit): 102's chain is broken.
    fake.add(300, 1, 0, 40)
    fake.add(102, 300, 60, 25)
    assert clock.seconds() == 70 / TICKS
    # Next reading: 102 has been adopted by the sandbox's init (101); it is counted, not remembered as outside.
    fake.edit(102, 101, 80, 25)
    assert clock.seconds() == 150 / TICKS


def test_a_child_of_a_vanished_parent_is_not_remembered_as_outside(fake):
    clock = TreeCpuClock(100, proc=str(fake.root), refresh=3600)
    fake.add(103, 999, 60, 25)  # its parent 999 has gone (not listed)
    assert clock.seconds() == 70 / TICKS
    fake.edit(103, 101, 60, 25)
    assert clock.seconds() == 130 / TICKS


def test_no_proc_reads_as_zero(tmp_path):
    assert tree_cpu_seconds(1, proc=str(tmp_path / "absent")) == 0.0
    assert TreeCpuClock(1, proc=str(tmp_path / "absent")).seconds() == 0.0
