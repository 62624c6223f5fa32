"""The host end of a sandboxed harness: one process, its three pipes, and one exchange at a time.

An exchange writes one request to the harness's stdin and reads its reply (a JSON line, then
``nbytes`` of payload) from its stdout, while draining stderr with a byte cap and watching the
clock and the CPU time of every process in the sandbox. Nothing that arrives is trusted: the
header is only parsed as JSON here; :mod:`validation.sandbox.outcome` reads codes and counts
from it.

The sandbox's CPU time (every process in it, threads and children included, measured from the
host by :class:`~validation.sandbox.cputime.TreeCpuClock`) is read every half second during an
exchange and once more at its end, and counts from the end of the previous exchange: CPU burnt
between two exchanges (threads or children left running) fails the next one.
"""

from __future__ import annotations

import fcntl
import json
import os
import selectors
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from validation.sandbox.cputime import TreeCpuClock, tree_cpu_seconds

__all__ = ["Channel", "Reply", "HEADER_MAX", "tree_cpu_seconds"]

HEADER_MAX = 64 * 1024
_TAIL_BYTES = 16 * 1024
_CPU_POLL = 0.5
# Room for a whole request (10k cases are about 200 kB) in the socket and a whole reply in the
# pipe, so that each crosses in one write instead of a ping-pong of 64 kB pieces. Best effort:
# the kernel caps both (net.core.wmem_max, fs.pipe-max-size).
_SOCKET_BUFFER = 4 * 1024 * 1024
_PIPE_BUFFER = 1024 * 1024
_READ_CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """What the host saw of one exchange.

    ``stopped`` says why the host stopped reading (``"timeout"``, ``"stdout"``, ``"stderr"``,
    ``"cpu"``) or is None. ``header`` is the parsed reply line, or None if the process ended
    (``returncode`` set) or the data channel carried something that is not a reply.
    """

    header: dict | None
    payload: bytes
    stopped: str | None
    returncode: int | None
    stderr_tail: bytes
    stderr_bytes: int
    elapsed: float


class Channel:
    """A harness process started in a new session, talked to one exchange at a time.

    Parameters
    ----------
    argv : sequence of str
        The command (bubblewrap or a fallback, ending with the harness).
    env : mapping
        Its whole environment.
    pass_fds : sequence of int
        Extra descriptors the command inherits (the seccomp program).
    """

    def __init__(self, argv: Sequence[str], *, env: Mapping[str, str], pass_fds: Sequence[int] = ()) -> None:
        # Requests go over a unix socket rather than a pipe: the harness's only pipes are then
        # its reply channel and stderr, as in a one-shot run.
        self._requests, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.proc = subprocess.Popen(
                list(argv),
                stdin=child.fileno(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=dict(env),
                start_new_session=True,
                pass_fds=tuple(pass_fds),
                close_fds=True,
            )
        finally:
            child.close()
        self._requests.setblocking(False)
        try:
            self._requests.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SOCKET_BUFFER)
        except OSError:
            pass
        try:
            fcntl.fcntl(self.proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BUFFER)
        except (AttributeError, OSError):
            pass
        self._buffer = bytearray()
        self._stdin_open = True
        self._stdout_open = True
        self._stderr_open = True
        self._cpu = TreeCpuClock(self.proc.pid)
        self._cpu_mark = 0.0

    @property
    def pid(self) -> int:
        return self.proc.pid

    def exchange(
        self,
        request: bytes,
        *,
        deadline: float,
        cpu_seconds: float,
        max_stdout_bytes: int,
        max_stderr_bytes: int,
    ) -> Reply:
        """Send ``request`` (may be empty) and read one reply, within limits.

        Parameters
        ----------
        request : bytes
            The bytes to write to the harness's stdin.
        deadline : float
            ``time.monotonic()`` value after which the exchange stops with ``"timeout"``.
        cpu_seconds : float
            CPU seconds the sandbox may use since the end of the previous exchange (or the
            start); beyond that (read every half second and at the end, with one second of
            grace for the clock's granularity) the exchange stops with ``"cpu"``, even if a
            reply came in.
        max_stdout_bytes, max_stderr_bytes : int
            Caps on the reply and on the model's own output during this exchange.

        Returns
        -------
        Reply
            After a stop the caller must :meth:`kill` the process.
        """
        start = time.monotonic()
        pending = memoryview(request)
        n_err = 0
        tail = bytearray()
        stopped: str | None = None
        header: dict | None = None
        payload = b""
        garbled = False
        # CPU the sandbox used since the last exchange (threads left running) counts against this one:
        # polled during the exchange and read once more at its end.
        next_cpu = start + _CPU_POLL
        with selectors.DefaultSelector() as sel:
            if self._stdout_open:
                sel.register(self.proc.stdout, selectors.EVENT_READ, "stdout")
            if self._stderr_open:
                sel.register(self.proc.stderr, selectors.EVENT_READ, "stderr")
            if pending and self._stdin_open:
                sel.register(self._requests, selectors.EVENT_WRITE, "stdin")
            while stopped is None:
                if not garbled and header is None:
                    header, payload, garbled, complete = self._parse(max_stdout_bytes)
                    if complete and pending:  # a reply before the whole request was read: forged
                        header, payload, garbled, complete = None, b"", True, False
                    if complete:
                        break
                    if garbled:
                        # The model wrote into the data channel: let the harness finish (no more
                        # requests) and read on, as a one-shot run would, until the end or a cap.
                        header = None
                        self._close_stdin(sel)
                if not self._stdout_open:
                    break
                now = time.monotonic()
                if now >= deadline:
                    stopped = "timeout"
                    break
                if now >= next_cpu:
                    next_cpu = now + _CPU_POLL
                    if self._cpu.seconds() - self._cpu_mark > cpu_seconds + 1:
                        stopped = "cpu"
                        break
                for key, _ in sel.select(timeout=min(deadline - now, _CPU_POLL)):
                    if key.data == "stdin":
                        try:
                            written = os.write(key.fd, pending)
                        except BlockingIOError:
                            continue
                        except OSError:  # the harness is gone; its end of the story is on stdout
                            self._close_stdin(sel)
                            continue
                        pending = pending[written:]
                        if not pending:
                            sel.unregister(key.fileobj)
                        continue
                    chunk = os.read(key.fd, _READ_CHUNK)
                    if not chunk:
                        sel.unregister(key.fileobj)
                        if key.data == "stdout":
                            self._stdout_open = False
                        else:
                            self._stderr_open = False
                        continue
                    if key.data == "stdout":
                        self._buffer += chunk
                        if len(self._buffer) > max_stdout_bytes:
                            stopped = "stdout"
                    else:
                        n_err += len(chunk)
                        tail += chunk
                        del tail[:-_TAIL_BYTES]
                        if n_err > max_stderr_bytes:
                            stopped = "stderr"
        returncode = None
        if stopped is None and header is None:
            # The data channel closed without a reply: the process is ending (or lingers).
            returncode = self._wait_until(deadline)
            if returncode is None:
                stopped = "timeout"
        if stopped is None:
            used = self._cpu.seconds()
            if used - self._cpu_mark > cpu_seconds + 1:
                stopped = "cpu"
            else:
                self._cpu_mark = used
        return Reply(
            header=header,
            payload=payload,
            stopped=stopped,
            returncode=returncode,
            stderr_tail=bytes(tail),
            stderr_bytes=n_err,
            elapsed=time.monotonic() - start,
        )

    def _parse(self, max_stdout_bytes: int) -> tuple[dict | None, bytes, bool, bool]:
        """``(header, payload, garbled, complete)`` from what the data channel holds so far."""
        buffer = self._buffer
        newline = buffer.find(b"\n", 0, HEADER_MAX)
        if newline < 0:
            return None, b"", len(buffer) >= HEADER_MAX, False
        try:
            header = json.loads(bytes(buffer[:newline]).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None, b"", True, False
        if not isinstance(header, dict):
            return None, b"", True, False
        need = header.get("nbytes", 0) if header.get("status") == "ok" else 0
        if type(need) is not int or not 0 <= need <= max_stdout_bytes:
            return None, b"", True, False
        if len(buffer) - newline - 1 < need:
            return None, b"", False, False
        payload = bytes(buffer[newline + 1 : newline + 1 + need])
        extra = len(buffer) - newline - 1 - need
        if extra:
            return None, b"", True, False
        buffer.clear()
        return header, payload, False, True

    def _close_stdin(self, sel: selectors.BaseSelector | None = None) -> None:
        if not self._stdin_open:
            return
        self._stdin_open = False
        if sel is not None:
            try:
                sel.unregister(self._requests)
            except KeyError:
                pass
        self._requests.close()

    def _wait_until(self, deadline: float) -> int | None:
        try:
            return self.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return None

    def finish(self, *, timeout: float) -> int | None:
        """Close the harness's stdin (its signal to leave) and wait up to ``timeout`` s for its exit status."""
        self._close_stdin()
        code = self._wait_until(time.monotonic() + timeout)
        return code

    def kill(self) -> int:
        """SIGKILL the process group and return the exit status."""
        self._close_stdin()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        code = self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except OSError:
                pass
        return code
