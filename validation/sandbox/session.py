"""``SandboxSession``: one sandbox that loads a vendor's model once and predicts many requests."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import signal
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from validation.sandbox import bwrap as _bwrap
from validation.sandbox.cases import (
    check_inputs_exist,
    check_inputs_readable,
    check_model_readable,
    checked_cases,
    existing_dir,
)
from validation.sandbox.channel import HEADER_MAX, Channel
from validation.sandbox.exceptions import CaseTableError, IsolationUnavailableError, SessionClosedError
from validation.sandbox.limits import SandboxLimits
from validation.sandbox.outcome import reply_outcome
from validation.sandbox.result import BatchResult
from validation.sandbox.seccomp import seccomp_program

__all__ = ["SandboxSession", "ISOLATION_MODES"]

ISOLATION_MODES = ("auto", "bwrap", "process", "none")

_log = logging.getLogger(__name__)

# Sandbox uids come from a range no distribution assigns to accounts, so that each session gets
# its own kernel uid and RLIMIT_NPROC counts only that session's tasks.
_UID_BASE = 1_500_000_000
_UID_SPAN = 500_000_000
_INPUT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class SandboxSession:
    """A sandboxed harness that loads an MLflow pyfunc model once and then predicts request after request.

    The sandbox is the one of :func:`~validation.sandbox.run_model` (bubblewrap, no network, an
    unprivileged throw-away uid, seccomp, rlimits, private scratch space). It sees the model at
    ``/model`` and each input root at ``/input/<name>`` (or at ``/input`` for the single name
    ``""``), all read-only, and nothing else of the host. Cases travel over a pipe, one request
    at a time, so the sandbox never sees a case table it has not been given.

    Limits apply per request: ``wall_seconds`` (and loading the model gets its own
    ``wall_seconds``), ``cpu_seconds`` of the whole sandbox since the previous request
    (measured from the host, so it also counts threads and children and the time between
    requests), and ``max_output_bytes`` for the reply and for the model's stdout/stderr. The
    kernel's per-process ``RLIMIT_CPU`` is ``cpu_seconds * max_requests`` as a backstop;
    memory, processes, open files and scratch sizes are as in :class:`SandboxLimits` for the
    life of the session.

    After any failure the sandbox is killed and the session is closed: start a new one, so that
    nothing of a failed request carries over.

    Parameters
    ----------
    model_dir : path-like
        An MLflow pyfunc model directory (with an ``MLmodel`` file).
    input_roots : mapping of str to path-like
        Input directories by name (``[A-Za-z0-9][A-Za-z0-9_.-]*``), or ``{"": root}`` alone
        for one root at ``/input``. Mount only what the model may read: never labels.
    limits : SandboxLimits, optional
        ``SandboxLimits()`` if omitted.
    isolation : {'auto', 'bwrap', 'process', 'none'}, default 'auto'
        As in :func:`~validation.sandbox.run_model`.
    max_requests : int, default 1
        How many requests the session serves; it sizes the kernel's CPU backstop.

    Raises
    ------
    CaseTableError
        If the model or an input root is unusable, or (as root under bubblewrap) the model is
        not readable by other users.
    IsolationUnavailableError
        If ``isolation='bwrap'`` and bubblewrap cannot run here.
    ValueError
        If ``isolation`` or ``max_requests`` is invalid.

    Examples
    --------
    >>> with SandboxSession(model, input_roots={"H01": h01, "H02": h02}, max_requests=8) as s:  # doctest: +SKIP
    ...     s.start()
    ...     result = s.predict(cases, input_name="H01", path_columns=["path"])
    """

    def __init__(
        self,
        model_dir: str | os.PathLike[str],
        *,
        input_roots: Mapping[str, str | os.PathLike[str]],
        limits: SandboxLimits | None = None,
        isolation: str = "auto",
        max_requests: int = 1,
    ) -> None:
        self.limits = SandboxLimits() if limits is None else limits
        if isolation not in ISOLATION_MODES:
            raise ValueError(f"isolation must be one of {ISOLATION_MODES}, got {isolation!r}.")
        if isinstance(max_requests, bool) or not isinstance(max_requests, int) or max_requests < 1:
            raise ValueError(f"max_requests must be a positive int, got {max_requests!r}.")
        self.model_dir = existing_dir(model_dir, "model_dir")
        if not (self.model_dir / "MLmodel").is_file():
            raise CaseTableError(
                f"model_dir {self.model_dir} has no MLmodel file; pass an MLflow pyfunc model directory."
            )
        if not isinstance(input_roots, Mapping) or not input_roots:
            raise CaseTableError("input_roots must be a non-empty mapping of name to directory.")
        names = list(input_roots)
        if "" in names and len(names) > 1:
            raise CaseTableError("the input name '' (mounted at /input) must be the only input root.")
        for name in names:
            if name != "" and not (isinstance(name, str) and _INPUT_NAME.fullmatch(name)):
                raise CaseTableError(
                    f"input name {name!r} is not allowed; use letters, digits, '_', '.', '-' (site codes)."
                )
        self.input_roots = {name: existing_dir(root, f"input root {name!r}") for name, root in input_roots.items()}
        self.max_requests = max_requests
        self.warnings: list[str] = []
        self.isolation = _choose_isolation(isolation, self.warnings)
        if self.isolation == "bwrap" and os.geteuid() == 0:
            check_model_readable(self.model_dir)
        self.uid: int | None = None
        self.started_seconds = 0.0
        self._requests = 0
        self._channel: Channel | None = None
        self._ready = False
        self._closed = False
        self._job: tempfile.TemporaryDirectory | None = None
        self._filter = None
        self._born = 0.0

    # -- life cycle -------------------------------------------------------------------------------

    def __enter__(self) -> SandboxSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def alive(self) -> bool:
        """True until the session failed, was closed or served ``max_requests`` requests."""
        return not self._closed and self._requests < self.max_requests

    @property
    def pid(self) -> int | None:
        """Host pid of the sandbox's outermost process (bubblewrap), or None when it is not running."""
        return None if self._channel is None else self._channel.pid

    @property
    def requests_left(self) -> int:
        """How many more requests the session will serve."""
        return 0 if self._closed else self.max_requests - self._requests

    def launch(self) -> None:
        """Start the sandbox and let it load the model in the background; :meth:`start` waits for it."""
        if self._channel is not None or self._closed:
            return
        self._born = time.monotonic()
        self._job = tempfile.TemporaryDirectory(prefix="clinval-sandbox-")
        job_dir = Path(self._job.name)
        os.chmod(job_dir, 0o755)
        inside = self.isolation == "bwrap"
        inputs = {
            name: (_bwrap.input_mount(name) if inside else str(root)) for name, root in self.input_roots.items()
        }
        config = {"model_dir": _bwrap.MODEL_DIR if inside else str(self.model_dir), "inputs": inputs}
        (job_dir / "config.json").write_text(json.dumps(config), encoding="utf-8")
        from validation.sandbox import harness

        shutil.copyfile(harness.__file__, job_dir / "harness.py")
        for name in ("config.json", "harness.py"):
            os.chmod(job_dir / name, 0o644)
        paths = _bwrap.SandboxPaths(model_dir=self.model_dir, inputs=self.input_roots, job_dir=job_dir)
        argv, env, pass_fds = self._command(paths)
        for note in self.warnings:
            _log.warning("sandbox: %s", note)
        try:
            self._channel = Channel(argv, env=env, pass_fds=pass_fds)
        finally:
            if self._filter is not None:
                self._filter.close()
                self._filter = None

    def start(self, *, deadline: float | None = None, timeout_reason: str | None = None) -> BatchResult:
        """Wait until the model is loaded; a failed result (stage ``'load'`` etc.) closes the session.

        Parameters
        ----------
        deadline : float, optional
            ``time.monotonic()`` by which the model must be loaded; default ``wall_seconds``
            after :meth:`launch`.
        timeout_reason : str, optional
            The sentence reported on a wall-clock timeout.
        """
        import pandas as pd

        self._require_open()
        self.launch()
        if self._ready:
            return BatchResult(status="ok", reason="", predictions=pd.DataFrame({"case_id": []}))
        deadline = self._born + self.limits.wall_seconds if deadline is None else deadline
        reply = self._channel.exchange(
            b"",
            deadline=deadline,
            cpu_seconds=self.limits.cpu_seconds,
            max_stdout_bytes=HEADER_MAX,
            max_stderr_bytes=self.limits.max_output_bytes,
        )
        empty = pd.DataFrame({"case_id": pd.Series([], dtype=object)})
        result = reply_outcome(
            reply, empty, limits=self.limits, expect="ready",
            timeout_reason=timeout_reason or (f"loading the model exceeded the wall-clock limit of "
                                              f"{self.limits.wall_seconds:g} s and the sandbox was killed"),
            scrub_paths=self._scrub_paths(),
        )
        self.started_seconds = time.monotonic() - self._born
        if result.ok:
            self._ready = True
        else:
            self.close()
        return result

    def predict(
        self,
        cases,
        *,
        input_name: str | None = None,
        path_columns: Sequence[str] = (),
        batch_size: int | None = None,
        deadline: float | None = None,
        timeout_reason: str | None = None,
    ) -> BatchResult:
        """Predict one request of cases in the sandbox and check the scores.

        Parameters
        ----------
        cases : pandas.DataFrame of shape (n_cases, 1 + n_inputs)
            ``case_id`` (unique, non-null) and the model's input columns; never labels.
        input_name : str, optional
            The input root that ``path_columns`` are relative to; may be omitted when the
            session has a single input root.
        path_columns : sequence of str, default ()
            Columns of relative input paths; the model receives them as absolute paths inside
            the sandbox.
        batch_size : int, optional
            Rows per ``predict`` call inside the sandbox; default all rows in one call.
        deadline : float, optional
            ``time.monotonic()`` by which the reply must be in; default ``wall_seconds`` from now.
        timeout_reason : str, optional
            The sentence reported on a wall-clock timeout.

        Returns
        -------
        BatchResult
            A failed result closes the session (the sandbox is killed).

        Raises
        ------
        CaseTableError
            If the cases, the input name or an input file is unusable (the session stays open).
        SessionClosedError
            If the session failed, was closed or has served ``max_requests`` requests.
        """
        import pyarrow as pa

        self._require_open()
        if self._requests >= self.max_requests:
            raise SessionClosedError(
                f"the session has served its {self.max_requests} request(s); start a new SandboxSession."
            )
        if input_name is None:
            if len(self.input_roots) != 1:
                raise CaseTableError(
                    f"this session has input roots {sorted(self.input_roots)}; pass input_name= for the request."
                )
            input_name = next(iter(self.input_roots))
        if input_name not in self.input_roots:
            raise CaseTableError(
                f"input_name {input_name!r} is not one of the session's input roots {sorted(self.input_roots)}."
            )
        frame = checked_cases(cases, path_columns)
        if batch_size is None:
            batch_size = max(1, len(frame))
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise CaseTableError(f"batch_size must be a positive int, got {batch_size!r}.")
        root = self.input_roots[input_name]
        check_inputs_exist(root, frame, path_columns)
        if self.isolation == "bwrap" and os.geteuid() == 0:
            check_inputs_readable(root, frame, path_columns)
        try:  # before anything starts: a column Arrow cannot encode (e.g. ids mixing numbers and text)
            table = pa.Table.from_pandas(frame, preserve_index=False)
        except (pa.ArrowException, ValueError, TypeError) as exc:
            raise CaseTableError(
                f"cases cannot be encoded for the sandbox ({type(exc).__name__}): give each column one type, "
                "e.g. case ids all text."
            ) from None
        if not self._ready:
            started = self.start()
            if not started.ok:
                return started
        self._requests += 1
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        body = sink.getvalue()
        head = {"seq": self._requests, "nbytes": body.size, "input": input_name,
                "path_columns": list(path_columns), "batch_size": batch_size}
        request = bytearray(json.dumps(head).encode("utf-8") + b"\n")
        request += memoryview(body)
        wall = self.limits.wall_seconds
        reply = self._channel.exchange(
            request,
            deadline=time.monotonic() + wall if deadline is None else deadline,
            cpu_seconds=self.limits.cpu_seconds,
            max_stdout_bytes=self.limits.max_output_bytes + HEADER_MAX,
            max_stderr_bytes=self.limits.max_output_bytes,
        )
        result = reply_outcome(
            reply, frame, limits=self.limits, expect="ok",
            timeout_reason=timeout_reason or (f"the batch exceeded the wall-clock limit of {wall:g} s "
                                              "and the sandbox was killed"),
            scrub_paths=self._scrub_paths(), seq=self._requests,
        )
        if not result.ok:
            self.close()
        return result

    def finish(self, *, timeout: float) -> int | None:
        """Ask the harness to leave and wait up to ``timeout`` s; its exit status, then the session is closed."""
        code = None
        if self._channel is not None and not self._closed:
            code = self._channel.finish(timeout=timeout)
        self.close()
        return code

    def close(self) -> None:
        """Kill the sandbox (if running), wait until none of its processes is left, remove its files."""
        if self._channel is not None:
            self._channel.kill()
            self._channel = None
            if self.uid is not None:
                _reap_uid(self.uid)
        if self._job is not None:
            self._job.cleanup()
            self._job = None
        self._closed = True

    # -- helpers ----------------------------------------------------------------------------------

    def _require_open(self) -> None:
        if self._closed:
            raise SessionClosedError("the sandbox session is closed (after a failure or close()); start a new one.")

    def _scrub_paths(self) -> list[str]:
        return [*(str(r) for r in self.input_roots.values()), str(self.model_dir), _bwrap.INPUT_DIR + "/"]

    def _command(self, paths) -> tuple[list[str], dict[str, str], tuple[int, ...]]:
        limits = _session_limits(self.limits, self.max_requests)
        is_root = os.geteuid() == 0
        if self.isolation == "bwrap":
            program = seccomp_program()
            pass_fds: tuple[int, ...] = ()
            if program is None:
                self.warnings.append("no seccomp filter is available for this machine's architecture")
            else:
                self._filter = tempfile.TemporaryFile()
                self._filter.write(program)
                self._filter.flush()
                self._filter.seek(0)
                pass_fds = (self._filter.fileno(),)
            sandbox_uid = _UID_BASE + secrets.randbelow(_UID_SPAN)
            argv = _bwrap.bwrap_command(
                paths, limits, bwrap=_bwrap.bwrap_executable() or "bwrap", sandbox_uid=sandbox_uid,
                seccomp_fd=pass_fds[0] if pass_fds else None,
            )
            self.uid = sandbox_uid if is_root else None
            return argv, {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, pass_fds
        netns = self.isolation == "process" and is_root and shutil.which("unshare") is not None
        if self.isolation == "process" and not netns:
            self.warnings.append("no network namespace could be created: the model has network access")
        if is_root:
            self.warnings.append("the model ran as root: the process limit (RLIMIT_NPROC) does not apply")
        env = _bwrap.sandbox_environment()
        env["PATH"] = os.environ.get("PATH", env["PATH"])
        return _bwrap.process_command(paths, limits, network_namespace=netns), env, ()


def _session_limits(limits: SandboxLimits, max_requests: int) -> SandboxLimits:
    """The rlimits of the harness process: CPU time sized for every request (the host watches each one)."""
    import dataclasses

    return dataclasses.replace(limits, cpu_seconds=limits.cpu_seconds * max_requests)


def _reap_uid(uid: int, *, timeout: float = 10.0) -> None:
    """Kill every process still running as the session's own uid and wait until none is left.

    Killing bubblewrap tears the sandbox down through its pid namespace, but asynchronously;
    this makes the end of the session synchronous. The uid is unique to the session.
    """
    deadline = time.monotonic() + timeout
    while True:
        pids = _pids_of_uid(uid)
        if not pids or time.monotonic() > deadline:
            if pids:
                _log.error("sandbox: %d process(es) of uid %d survived SIGKILL", len(pids), uid)
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)


def _pids_of_uid(uid: int) -> list[int]:
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(os.path.join(entry.path, "status"), encoding="ascii", errors="replace") as fh:
                for line in fh:
                    if line.startswith("Uid:"):
                        # Real, effective, saved and fs uid: any of them being ours counts.
                        if str(uid) in line.split()[1:]:
                            pids.append(int(entry.name))
                        break
        except OSError:
            continue
    return pids


def _choose_isolation(isolation: str, warnings: list[str]) -> str:
    exe = _bwrap.bwrap_executable()
    problem = "bubblewrap is not installed" if exe is None else _bwrap.bwrap_problem(exe)
    if isolation == "bwrap" and problem is not None:
        raise IsolationUnavailableError(
            f"isolation='bwrap' was requested but {problem}; install bubblewrap 0.8+ "
            "(Debian: apt-get install bubblewrap) on a host that allows namespaces, "
            "or pass isolation='auto'."
        )
    if isolation == "auto":
        if problem is None:
            return "bwrap"
        warnings.append(
            f"{problem}: the model ran WITHOUT file-system isolation "
            "(isolation='process': rlimits and a separate process only); install bubblewrap"
        )
        return "process"
    if isolation in ("process", "none"):
        warnings.append(
            f"isolation={isolation!r}: the model can read the host file system; use only for trusted code"
        )
    return isolation
