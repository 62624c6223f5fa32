"""CPU time of a process tree (a sandbox and everything it started), read from ``/proc``.

:func:`tree_cpu_seconds` reads every process's ``stat`` file each time. :class:`TreeCpuClock`
gives the same figure for one tree read again and again, at the cost of the tree alone: it
remembers which processes were outside the tree and skips them while they are the same process.

Both count user + system time of every process whose parent chain leads to the root, with the
time of its reaped children (``cutime``, ``cstime``). Both miss what ``/proc`` cannot show: a
process that ends and is reaped between the read of its parent and its own read is in neither;
that undercounts one reading only (the next one finds its time in its parent's ``cutime``).
"""

from __future__ import annotations

import os
import time

__all__ = ["TreeCpuClock", "tree_cpu_seconds"]

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_STAT_BYTES = 4096


def _read_stat(proc: str, name: str) -> tuple[int, int, int] | None:
    """``(ppid, ticks, starttime)`` of process ``name``, or None if it is gone.

    ``ticks`` is utime + stime + cutime + cstime; ``starttime`` is in clock ticks since boot.
    """
    try:
        fd = os.open(f"{proc}/{name}/stat", os.O_RDONLY)
    except OSError:
        return None
    try:
        raw = os.read(fd, _STAT_BYTES)
    except OSError:
        return None
    finally:
        os.close(fd)
    # The command name (field 2) is in parentheses and may itself contain ') ' and spaces.
    fields = raw[raw.rfind(b")") + 2 :].split(None, 20)
    try:
        ticks = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
        return int(fields[1]), ticks, int(fields[19])
    except (IndexError, ValueError):
        return None


def tree_cpu_seconds(root_pid: int, *, proc: str = "/proc") -> float:
    """CPU seconds (user + system, with reaped children) of ``root_pid`` and all its descendants.

    Reads every process's ``stat`` file. Processes that end between two reads are missed, which
    only ever undercounts. Returns 0.0 where ``/proc`` is not available.

    Parameters
    ----------
    root_pid : int
        The tree's root (e.g. the sandbox's outermost process).
    proc : str, default '/proc'
        Where procfs is mounted.
    """
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    try:
        entries = os.listdir(proc)
    except OSError:
        return 0.0
    for name in entries:
        if not name.isdigit():
            continue
        stat = _read_stat(proc, name)
        if stat is None:
            continue
        pid = int(name)
        ticks[pid] = stat[1]
        children.setdefault(stat[0], []).append(pid)
    total, stack, seen = 0, [root_pid], set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += ticks.get(pid, 0)
        stack.extend(children.get(pid, ()))
    return total / _CLOCK_TICKS


class TreeCpuClock:
    """CPU seconds of one process tree, read repeatedly at the cost of the tree, not of the machine.

    Each reading lists ``/proc`` (one directory read, which also gives each process directory's
    inode number) and reads the ``stat`` file of every process except those that the previous
    reading found outside the tree and whose directory still has the same inode number. It
    relies on two properties of Linux:

    - a process outside the tree never joins it: a process's parent changes only when its parent
      ends, and then it is adopted by a sub-reaper among its own ancestors or by the init of its
      pid namespace, neither of which is in the tree (unless someone with privileges over the
      sandbox entered its pid namespace from outside, which a sandboxed model cannot do);
    - procfs gives the directory of each new process a fresh inode number, so a pid that was
      freed and reused (which a model can force by forking many times) shows a different inode
      and is read again. An evicted and rebuilt directory also shows a new inode; it is then read
      again, which costs time but never undercounts.

    A process whose parent chain cannot be followed in this reading (its parent ended between
    the listing and the read) is neither counted nor remembered as outside: the next reading
    looks at it again. As a second line of defence every reading at least ``refresh`` seconds
    after the last full one reads every process again.

    Parameters
    ----------
    root_pid : int
        The tree's root.
    proc : str, default '/proc'
        Where procfs is mounted.
    refresh : float, default 5.0
        Seconds after which the next reading reads every process.
    """

    def __init__(self, root_pid: int, *, proc: str = "/proc", refresh: float = 5.0) -> None:
        self.root_pid = root_pid
        self.proc = proc
        self.refresh = refresh
        self._outside: dict[str, tuple[int, int]] = {}  # pid -> (inode, start time)
        self._full_at = float("-inf")

    def seconds(self) -> float:
        """CPU seconds of the tree now (0.0 where ``/proc`` is not available)."""
        now = time.monotonic()
        known = self._outside if now - self._full_at < self.refresh else {}
        if not known:
            self._full_at = now
        skipped: dict[int, tuple[int, int]] = {}
        stats: dict[int, tuple[int, int, int, int]] = {}
        try:
            listing = os.scandir(self.proc)
        except OSError:
            return 0.0
        with listing:
            for entry in listing:
                name = entry.name
                if not name.isdigit():
                    continue
                try:
                    ino = entry.inode()
                except OSError:
                    ino = -1
                pid = int(name)
                seen = known.get(name)
                if ino >= 0 and seen is not None and seen[0] == ino:
                    skipped[pid] = seen
                    continue
                stat = _read_stat(self.proc, name)
                if stat is not None:
                    stats[pid] = (*stat, ino)
        inside = self._classify(stats, skipped)
        total = 0
        outside = {str(pid): seen for pid, seen in skipped.items()}
        for pid, (_, ticks, started, ino) in stats.items():
            where = inside.get(pid)
            if where:
                total += ticks
            elif where is False and ino >= 0:
                outside[str(pid)] = (ino, started)
        self._outside = outside
        return total / _CLOCK_TICKS

    def _classify(
        self, stats: dict[int, tuple[int, int, int, int]], skipped: dict[int, tuple[int, int]]
    ) -> dict[int, bool | None]:
        """For each process read: True in the tree, False outside it, None if its chain is broken.

        A parent that started after its child is not that child's parent but a new process that
        reused the pid of a parent that ended: the chain is broken there.
        """
        verdict: dict[int, bool | None] = {}
        for start in stats:
            chain = []
            pid = start
            child_started = None
            while True:
                if pid == self.root_pid:
                    result: bool | None = True
                    break
                if pid == 0:
                    result = False
                    break
                started = stats[pid][2] if pid in stats else skipped[pid][1] if pid in skipped else None
                if started is None or (child_started is not None and started > child_started):
                    result = None  # the parent is gone or was replaced: look again next time
                    break
                if pid in verdict:
                    result = verdict[pid]
                    break
                if pid in skipped:
                    result = False
                    break
                if len(chain) > len(stats):
                    result = None  # a loop (pids reused while listing): look again next time
                    break
                chain.append(pid)
                child_started = started
                pid = stats[pid][0]
            for pid in chain:
                verdict[pid] = result
            if start == self.root_pid:
                verdict[start] = True
        return verdict
