"""``run_model``: run a vendor's MLflow pyfunc model on a case table, sealed off from the host."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from validation.sandbox import bwrap as _bwrap
from validation.sandbox.cases import check_inputs_exist, check_world_readable, checked_cases, existing_dir
from validation.sandbox.exceptions import CaseTableError, IsolationUnavailableError
from validation.sandbox.limits import SandboxLimits
from validation.sandbox.outcome import HEADER_MAX, outcome
from validation.sandbox.result import SandboxResult
from validation.sandbox.seccomp import seccomp_program
from validation.sandbox.supervise import supervise

__all__ = ["run_model", "ISOLATION_MODES"]

ISOLATION_MODES = ("auto", "bwrap", "process", "none")

_log = logging.getLogger(__name__)

# Sandbox uids come from a range no distribution assigns to accounts, so that each run gets
# its own kernel uid and RLIMIT_NPROC counts only that run's tasks.
_UID_BASE = 1_500_000_000
_UID_SPAN = 500_000_000


def run_model(
    model_dir: str | os.PathLike[str],
    cases,
    *,
    input_root: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    limits: SandboxLimits | None = None,
    batch_size: int = 1024,
    path_columns: Sequence[str] = (),
    isolation: str = "auto",
) -> SandboxResult:
    """Run an MLflow pyfunc model on ``cases`` inside the sandbox and check its predictions.

    The model is loaded only inside the sandbox. It sees the model directory at ``/model``,
    ``input_root`` at ``/input`` (both read-only) and the case table; nothing else of the host.
    What comes back is one parquet file of predictions, checked again on the host.

    Parameters
    ----------
    model_dir : path-like
        An MLflow pyfunc model directory (with an ``MLmodel`` file).
    cases : pandas.DataFrame of shape (n_cases, 1 + n_inputs)
        ``case_id`` (unique, non-null) and the model's input columns. Values of
        ``path_columns`` are paths relative to ``input_root``; the model receives them as
        absolute paths under ``/input``. Pass only what the model may see: never labels.
    input_root : path-like
        Directory holding the input files.
    out_dir : path-like
        Host directory where ``predictions.parquet`` is written (created if missing).
    limits : SandboxLimits, optional
        Resource limits; ``SandboxLimits()`` if omitted.
    batch_size : int, default 1024
        Rows per ``predict`` call.
    path_columns : sequence of str, default ()
        Columns of ``cases`` that hold relative input paths.
    isolation : {'auto', 'bwrap', 'process', 'none'}, default 'auto'
        ``'bwrap'``: bubblewrap (file system, network, pid, ipc namespaces, unprivileged uid,
        no capabilities, a seccomp filter on x86-64, rlimits); raises if bubblewrap is missing. ``'process'``: a separate process with
        rlimits and, as root, a new network namespace; the host file system stays visible.
        ``'none'``: a separate process with rlimits only, for trusted code. ``'auto'``:
        ``'bwrap'`` if installed, else ``'process'`` with a warning in the result and the log.

    Returns
    -------
    SandboxResult
        ``status='failed'`` with a reason for any misbehaviour of the model; the host process
        is never affected.

    Raises
    ------
    CaseTableError
        If ``cases``, ``path_columns``, ``batch_size`` or a directory is unusable, an input
        file named in ``path_columns`` is missing, or (as root under bubblewrap, where the
        model runs as a throw-away uid) the model or inputs are not readable by other users.
    IsolationUnavailableError
        If ``isolation='bwrap'`` and bubblewrap is not installed.
    ValueError
        If ``isolation`` is not one of the modes.
    """
    limits = SandboxLimits() if limits is None else limits
    if isolation not in ISOLATION_MODES:
        raise ValueError(f"isolation must be one of {ISOLATION_MODES}, got {isolation!r}.")
    model_dir = existing_dir(model_dir, "model_dir")
    if not (model_dir / "MLmodel").is_file():
        raise CaseTableError(
            f"model_dir {model_dir} has no MLmodel file; pass an MLflow pyfunc model directory."
        )
    input_root = existing_dir(input_root, "input_root")
    frame = checked_cases(cases, path_columns)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise CaseTableError(f"batch_size must be a positive int, got {batch_size!r}.")
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    # A stale file from an earlier run must never pass for this run's predictions.
    (out_dir / "predictions.parquet").unlink(missing_ok=True)

    warnings: list[str] = []
    used = _choose_isolation(isolation, warnings)
    check_inputs_exist(input_root, frame, path_columns)
    if used == "bwrap" and os.geteuid() == 0:
        check_world_readable(model_dir, input_root, frame, path_columns)
    start = time.monotonic()
    with contextlib.ExitStack() as stack:
        job_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="clinval-sandbox-")))
        os.chmod(job_dir, 0o755)
        inside = used == "bwrap"
        _write_job(
            job_dir,
            frame,
            model_dir=_bwrap.MODEL_DIR if inside else str(model_dir),
            input_root=_bwrap.INPUT_DIR if inside else str(input_root),
            batch_size=batch_size,
            path_columns=list(path_columns),
        )
        paths = _bwrap.SandboxPaths(model_dir=model_dir, input_root=input_root, job_dir=job_dir)
        launch = _launch(used, paths, limits, warnings, stack)
        seen = supervise(
            launch.argv,
            env=launch.env,
            wall_seconds=limits.wall_seconds,
            max_stdout_bytes=limits.max_output_bytes + HEADER_MAX,
            max_stderr_bytes=limits.max_output_bytes,
            pass_fds=launch.pass_fds,
        )
        if launch.sandbox_uid is not None:
            _reap_uid(launch.sandbox_uid)
    for note in warnings:
        _log.warning("sandbox: %s", note)
    return outcome(
        seen,
        frame,
        limits=limits,
        out_dir=out_dir,
        isolation=used,
        warnings=tuple(warnings),
        elapsed=time.monotonic() - start,
        scrub_paths=[str(input_root), str(model_dir), _bwrap.INPUT_DIR + "/"],
        uid=launch.sandbox_uid,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Launch:
    argv: list[str]
    env: dict[str, str]
    pass_fds: tuple[int, ...]
    sandbox_uid: int | None


def _launch(used: str, paths, limits: SandboxLimits, warnings: list[str], stack) -> _Launch:
    """The command of one run; files it needs open stay open until ``stack`` closes."""
    is_root = os.geteuid() == 0
    if used == "bwrap":
        program = seccomp_program()
        pass_fds: tuple[int, ...] = ()
        if program is None:
            warnings.append("no seccomp filter is available for this machine's architecture")
        else:
            filter_file = stack.enter_context(tempfile.TemporaryFile())
            filter_file.write(program)
            filter_file.flush()
            filter_file.seek(0)
            pass_fds = (filter_file.fileno(),)
        sandbox_uid = _UID_BASE + secrets.randbelow(_UID_SPAN)
        argv = _bwrap.bwrap_command(
            paths,
            limits,
            bwrap=_bwrap.bwrap_executable() or "bwrap",
            sandbox_uid=sandbox_uid,
            seccomp_fd=pass_fds[0] if pass_fds else None,
        )
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        return _Launch(argv=argv, env=env, pass_fds=pass_fds, sandbox_uid=sandbox_uid if is_root else None)
    netns = used == "process" and is_root and shutil.which("unshare") is not None
    if used == "process" and not netns:
        warnings.append("no network namespace could be created: the model has network access")
    if is_root:
        warnings.append("the model ran as root: the process limit (RLIMIT_NPROC) does not apply")
    env = _bwrap.sandbox_environment()
    env["PATH"] = os.environ.get("PATH", env["PATH"])
    argv = _bwrap.process_command(paths, limits, network_namespace=netns)
    return _Launch(argv=argv, env=env, pass_fds=(), sandbox_uid=None)


def _reap_uid(uid: int, *, timeout: float = 10.0) -> None:
    """Kill every process still running as the run's own uid and wait until none is left.

    Killing bubblewrap tears the sandbox down through its pid namespace, but asynchronously;
    this makes the end of the run synchronous. The uid is unique to the run.
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


def _write_job(job_dir: Path, frame, *, model_dir: str, input_root: str, batch_size: int, path_columns: list[str]) -> None:
    from validation.sandbox import harness

    frame.to_parquet(job_dir / "cases.parquet", index=False)
    config = {
        "model_dir": model_dir,
        "input_root": input_root,
        "batch_size": batch_size,
        "path_columns": path_columns,
    }
    (job_dir / "config.json").write_text(json.dumps(config), encoding="utf-8")
    shutil.copyfile(harness.__file__, job_dir / "harness.py")
    for name in ("cases.parquet", "config.json", "harness.py"):
        os.chmod(job_dir / name, 0o644)
