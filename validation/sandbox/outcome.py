"""Turn what the host saw of a sandboxed run into a :class:`SandboxResult`.

Everything that came out of the sandbox is untrusted: the JSON header is read for codes and
counts only, reasons are rendered here from fixed templates, and the predictions are checked
again against the case table.
"""

from __future__ import annotations

import io
import json
import os
import signal

from validation.sandbox.limits import SandboxLimits
from validation.sandbox.result import SandboxResult
from validation.sandbox.scrub import scrub_text
from validation.sandbox.supervise import Supervised

__all__ = ["outcome", "HEADER_MAX"]

HEADER_MAX = 64 * 1024
_STDERR_TAIL_CHARS = 4000


def outcome(seen: Supervised, frame, *, limits, out_dir, isolation, warnings, elapsed, scrub_paths, uid) -> SandboxResult:
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
    newline = stdout.find(b"\n", 0, HEADER_MAX)
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
