"""``run_model``: run a vendor's MLflow pyfunc model on a case table, sealed off from the host."""

from __future__ import annotations

import contextlib
import io
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
from pathlib import Path, PurePosixPath

from validation.sandbox import bwrap as _bwrap
from validation.sandbox.exceptions import CaseTableError, IsolationUnavailableError
from validation.sandbox.limits import SandboxLimits
from validation.sandbox.result import SandboxResult
from validation.sandbox.scrub import scrub_text
from validation.sandbox.seccomp import seccomp_program
from validation.sandbox.supervise import Supervised, supervise

__all__ = ["run_model", "ISOLATION_MODES"]

ISOLATION_MODES = ("auto", "bwrap", "process", "none")

_log = logging.getLogger(__name__)

# Sandbox uids come from a range no distribution assigns to accounts, so that each run gets
# its own kernel uid and RLIMIT_NPROC counts only that run's tasks.
_UID_BASE = 1_500_000_000
_UID_SPAN = 500_000_000
_HEADER_MAX = 64 * 1024
_STDERR_TAIL_CHARS = 4000


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
    model_dir = _existing_dir(model_dir, "model_dir")
    if not (model_dir / "MLmodel").is_file():
        raise CaseTableError(
            f"model_dir {model_dir} has no MLmodel file; pass an MLflow pyfunc model directory."
        )
    input_root = _existing_dir(input_root, "input_root")
    frame = _checked_cases(cases, path_columns)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise CaseTableError(f"batch_size must be a positive int, got {batch_size!r}.")
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    # A stale file from an earlier run must never pass for this run's predictions.
    (out_dir / "predictions.parquet").unlink(missing_ok=True)

    warnings: list[str] = []
    used = _choose_isolation(isolation, warnings)
    _check_inputs_exist(input_root, frame, path_columns)
    if used == "bwrap" and os.geteuid() == 0:
        _check_world_readable(model_dir, input_root, frame, path_columns)
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
            max_stdout_bytes=limits.max_output_bytes + _HEADER_MAX,
            max_stderr_bytes=limits.max_output_bytes,
            pass_fds=launch.pass_fds,
        )
        if launch.sandbox_uid is not None:
            _reap_uid(launch.sandbox_uid)
    for note in warnings:
        _log.warning("sandbox: %s", note)
    return _outcome(
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


def _existing_dir(value, name: str) -> Path:
    path = Path(value).resolve()
    if not path.is_dir():
        raise CaseTableError(f"{name} {value!s} is not an existing directory; create it or fix the path.")
    return path


def _checked_cases(cases, path_columns: Sequence[str]):
    import pandas as pd

    if not isinstance(cases, pd.DataFrame):
        raise CaseTableError(f"cases must be a pandas DataFrame, got {type(cases).__name__}.")
    if "case_id" not in cases.columns:
        raise CaseTableError(
            f"cases has no 'case_id' column; found {sorted(map(str, cases.columns))}. Add it."
        )
    ids = cases["case_id"]
    if ids.isna().any():
        raise CaseTableError(f"cases has {int(ids.isna().sum())} missing case_id value(s); drop or fill them.")
    n_dup = int(ids.astype(str).duplicated().sum())
    if n_dup:
        raise CaseTableError(f"cases has {n_dup} duplicate case_id value(s); case ids must be unique.")
    if isinstance(path_columns, str):
        raise CaseTableError("path_columns must be a sequence of column names, not one string.")
    for column in path_columns:
        if column not in cases.columns:
            raise CaseTableError(f"path column {column!r} is not in cases; found {sorted(map(str, cases.columns))}.")
        for i, value in enumerate(cases[column]):
            if not isinstance(value, str) or not value:
                raise CaseTableError(f"path column {column!r} row {i} is not a non-empty string.")
            pure = PurePosixPath(value)
            if pure.is_absolute() or ".." in pure.parts or "\\" in value:
                raise CaseTableError(
                    f"path column {column!r} row {i} is absolute or contains '..'; "
                    "give paths relative to input_root."
                )
    return cases.reset_index(drop=True)


def _check_inputs_exist(input_root: Path, frame, path_columns: Sequence[str]) -> None:
    for column in path_columns:
        for i, rel in enumerate(frame[column]):
            if not (input_root / rel).is_file():
                raise CaseTableError(
                    f"path column {column!r} row {i} names no file under input_root; "
                    "fix the case table or the input_root."
                )


def _check_world_readable(model_dir: Path, input_root: Path, frame, path_columns: Sequence[str]) -> None:
    """As root the sandbox runs as a throw-away uid, which reads only what 'others' may read."""
    problems = []
    for top in (model_dir, input_root):
        if top.stat().st_mode & 0o005 != 0o005:
            problems.append(str(top))
    for dirpath, dirnames, filenames in os.walk(model_dir):
        for name in dirnames:
            if os.stat(os.path.join(dirpath, name)).st_mode & 0o005 != 0o005:
                problems.append(os.path.join(dirpath, name))
        for name in filenames:
            if os.stat(os.path.join(dirpath, name)).st_mode & 0o004 != 0o004:
                problems.append(os.path.join(dirpath, name))
    for column in path_columns:
        for rel in frame[column]:
            path = input_root / rel
            if path.stat().st_mode & 0o004 != 0o004:
                problems.append(f"an input file under {input_root}")
                break
    if problems:
        raise CaseTableError(
            f"{len(problems)} path(s) are not readable by other users, e.g. {problems[0]}; the "
            "sandbox runs as an unprivileged uid. Make them readable (chmod -R o+rX) first."
        )


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


def _outcome(seen: Supervised, frame, *, limits, out_dir, isolation, warnings, elapsed, scrub_paths, uid) -> SandboxResult:
    n_cases = len(frame)
    exit_code, sig = _decode_status(seen.returncode)
    ids = frame["case_id"].astype(str).tolist()
    tail_text = seen.stderr_tail.decode("utf-8", "replace")[-_STDERR_TAIL_CHARS:]
    common = dict(
        n_cases=n_cases,
        elapsed=elapsed,
        isolation=isolation,
        exit_code=exit_code,
        signal=sig,
        stderr_tail=scrub_text(tail_text, case_ids=ids, paths=scrub_paths),
        stderr_bytes=seen.stderr_bytes,
        warnings=warnings,
        uid=uid,
    )

    def failed(stage: str, reason: str, error: str = "") -> SandboxResult:
        return SandboxResult(status="failed", reason=reason, predictions=None, stage=stage, error=error, **common)

    if seen.stopped == "timeout":
        return failed("limits", f"the run exceeded the wall-clock limit of {limits.wall_seconds:g} s and was killed")
    if seen.stopped == "stderr":
        return failed(
            "limits",
            f"the model wrote more than {limits.max_output_bytes} bytes to stdout/stderr and was killed; "
            "log less",
        )
    if seen.stopped == "stdout":
        return failed("limits", f"the predictions exceeded {limits.max_output_bytes} bytes and the run was killed")
    header, payload = _split(seen.stdout)
    if header is None and tail_text.startswith("bwrap: "):
        return failed("sandbox", "bubblewrap could not start the sandbox: " + common["stderr_tail"].splitlines()[0][:300])
    if header is None:
        return failed("limits", _death_reason(exit_code, sig, limits))
    if header.get("status") != "ok":
        return failed(*_failure_reason(header, limits))
    if exit_code != 0:
        return failed("limits", _death_reason(exit_code, sig, limits))
    if len(payload) != header.get("nbytes"):
        return failed("host", "the predictions arrived truncated or with trailing bytes")
    predictions, problem = _check_payload(payload, frame)
    if problem is not None:
        return failed("host", f"the predictions did not pass the host's checks: {problem}")
    path = out_dir / "predictions.parquet"
    partial = out_dir / ".predictions.parquet.partial"
    predictions.to_parquet(partial, index=False)
    os.replace(partial, path)
    return SandboxResult(status="ok", reason="", predictions=path, **common)


def _decode_status(returncode: int) -> tuple[int | None, int | None]:
    if returncode < 0:
        return None, -returncode
    if returncode > 128 and returncode - 128 < signal.NSIG:
        # bubblewrap and the shell report a child killed by signal N as 128 + N.
        return returncode, returncode - 128
    return returncode, None


def _split(stdout: bytes) -> tuple[dict | None, bytes]:
    newline = stdout.find(b"\n", 0, _HEADER_MAX)
    if newline < 0:
        return None, b""
    try:
        header = json.loads(stdout[:newline].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None, b""
    if not isinstance(header, dict):
        return None, b""
    return header, stdout[newline + 1 :]


_STAGES = ("read", "load", "predict", "validate", "write", "harness")
_KIND_REASON = {
    "memory": "the model ran out of memory (address-space limit {mem} bytes)",
    "resources": "the model hit a process or resource limit (at most {nproc} processes, {nofile} open files)",
    "exit": "the model called exit during {stage}",
    "disk": "the model tried to write more than {out} bytes (file-size limit, or /out or /tmp full)",
}


def _failure_reason(header: dict, limits: SandboxLimits) -> tuple[str, str, str]:
    """(stage, reason, error) rendered on the host from the harness's codes and counts.

    The header may have been written by the model itself, so nothing in it is copied as text:
    unknown stages and kinds are mapped to generic words, error names pass only if built in.
    """
    from validation.sandbox.harness import describe_problem, error_name

    stage = header.get("stage") if header.get("stage") in _STAGES else "harness"
    error = error_name(header.get("error"))
    kind = header.get("kind")
    if stage == "validate":
        row = header.get("row")
        row = row if type(row) is int and row >= 0 else "?"
        problem = describe_problem(header.get("problem"))
        return stage, f"the model's output is invalid: batch starting at row {row}: {problem}", error
    what = {
        "load": f"loading the model raised {error}",
        "predict": f"predict raised {error}",
        "write": f"writing predictions to /out failed ({error})",
        "read": f"the harness could not read the case table ({error})",
    }.get(stage, f"the harness stopped on {error}")
    if kind in _KIND_REASON:
        head = _KIND_REASON[kind].format(
            mem=limits.memory_bytes,
            out=limits.max_output_bytes,
            nproc=limits.max_processes,
            nofile=limits.max_open_files,
            stage=stage,
        )
        return stage, f"{head} ({what})", error
    return stage, what, error


def _death_reason(exit_code: int | None, sig: int | None, limits: SandboxLimits) -> str:
    if sig == signal.SIGXCPU:
        return f"the model exceeded the CPU-time limit of {limits.cpu_seconds} s and was killed"
    if sig == signal.SIGXFSZ:
        return f"the model tried to write a file larger than {limits.max_output_bytes} bytes and was killed"
    if sig == signal.SIGKILL:
        return (
            "the sandboxed process was killed by SIGKILL before reporting a result "
            f"(CPU-time hard limit of {limits.cpu_seconds + 1} s, or out of memory)"
        )
    if sig is not None:
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return f"the sandboxed process was killed by {name} before reporting a result"
    return f"the sandboxed process exited with status {exit_code} before reporting a result"


def _check_payload(payload: bytes, frame):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from validation.sandbox.harness import check_predictions, describe_problem

    try:
        table = pq.read_table(io.BytesIO(payload), columns=["case_id", "score"])
    except (pa.ArrowException, OSError, ValueError, KeyError) as exc:
        return None, f"the predictions file could not be read as parquet ({type(exc).__name__})"
    output = table.to_pandas()
    if len(output) != len(frame):
        return None, f"{len(output)} prediction rows for {len(frame)} cases"
    predictions, problem = check_predictions(output, frame["case_id"])
    return predictions, None if problem is None else describe_problem(problem)
