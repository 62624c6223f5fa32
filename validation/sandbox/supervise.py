"""Run one sandbox command: drain its pipes with byte caps, enforce the wall clock, kill it."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Supervised", "supervise"]

_TAIL_BYTES = 16 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Supervised:
    """What the host saw of one sandboxed process.

    ``stopped`` says why the host killed it (``"timeout"``, ``"stdout"``, ``"stderr"``) or is
    None if it ended on its own.
    """

    returncode: int
    stdout: bytes
    stderr_tail: bytes
    stderr_bytes: int
    elapsed: float
    stopped: str | None


def supervise(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    wall_seconds: float,
    max_stdout_bytes: int,
    max_stderr_bytes: int,
    pass_fds: Sequence[int] = (),
) -> Supervised:
    """Run ``argv`` in a new session and collect its output within limits.

    Parameters
    ----------
    argv : sequence of str
        The command.
    env : mapping
        Its whole environment.
    wall_seconds : float
        The process group is killed with SIGKILL after this many seconds.
    max_stdout_bytes, max_stderr_bytes : int
        The process group is killed as soon as either stream exceeds its cap; only the last
        16 KiB of stderr are kept in memory.
    pass_fds : sequence of int
        Extra descriptors the command inherits.

    Returns
    -------
    Supervised
    """
    start = time.monotonic()
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env),
        start_new_session=True,
        pass_fds=tuple(pass_fds),
        close_fds=True,
    )
    stdout = bytearray()
    tail = bytearray()
    n_err = 0
    stopped: str | None = None
    deadline = start + wall_seconds
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ, "stdout")
        sel.register(proc.stderr, selectors.EVENT_READ, "stderr")
        while sel.get_map() and stopped is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                stopped = "timeout"
                break
            for key, _ in sel.select(timeout=min(remaining, 1.0)):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                if key.data == "stdout":
                    stdout += chunk
                    if len(stdout) > max_stdout_bytes:
                        stopped = "stdout"
                else:
                    n_err += len(chunk)
                    tail += chunk
                    del tail[:-_TAIL_BYTES]
                    if n_err > max_stderr_bytes:
                        stopped = "stderr"
        if stopped is not None:
            _kill_group(proc)
            returncode = proc.wait()
        else:
            returncode = _wait_until(proc, deadline)
            if returncode is None:
                # Streams closed but the process lingers (e.g. it closed them and sleeps).
                stopped = "timeout"
                _kill_group(proc)
                returncode = proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    return Supervised(
        returncode=returncode,
        stdout=bytes(stdout),
        stderr_tail=bytes(tail),
        stderr_bytes=n_err,
        elapsed=time.monotonic() - start,
        stopped=stopped,
    )


def _wait_until(proc: subprocess.Popen, deadline: float) -> int | None:
    try:
        return proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return None


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
