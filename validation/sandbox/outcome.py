"""Turn what the host saw of one exchange with the sandbox into a :class:`BatchResult`.

Everything that came out of the sandbox is untrusted: the JSON header is read for codes and
counts only, reasons are rendered here from fixed templates, and the scores are checked again
(one finite number in [0, 1] per case of the request, in request order).
"""

from __future__ import annotations

import signal

from validation.sandbox.channel import Reply
from validation.sandbox.limits import SandboxLimits
from validation.sandbox.result import BatchResult
from validation.sandbox.scrub import scrub_text

__all__ = ["reply_outcome", "decode_status", "death_reason"]

_STDERR_TAIL_CHARS = 4000


def reply_outcome(
    reply: Reply,
    frame,
    *,
    limits: SandboxLimits,
    expect: str,
    timeout_reason: str,
    scrub_paths,
    seq: int | None = None,
) -> BatchResult:
    """The result of one exchange.

    Parameters
    ----------
    reply : Reply
        What the channel saw.
    frame : pandas.DataFrame
        The request's cases (for their ids: scrubbing, and the predictions' ``case_id``).
    limits : SandboxLimits
    expect : {'ready', 'ok'}
        The status a successful reply carries.
    timeout_reason : str
        The sentence for a wall-clock timeout.
    scrub_paths : list of str
        Path prefixes scrubbed from the captured output.
    seq : int, optional
        The request's sequence number, which an ``ok`` reply must echo (a stale or forged reply does not).
    """
    exit_code, sig = decode_status(reply.returncode)
    tail_text = reply.stderr_tail.decode("utf-8", "replace")[-_STDERR_TAIL_CHARS:]
    ids = frame["case_id"].astype(str).tolist() if tail_text else []  # only needed to scrub captured output
    common = dict(
        n_cases=len(frame),
        elapsed=reply.elapsed,
        exit_code=exit_code,
        signal=sig,
        stderr_tail=scrub_text(tail_text, case_ids=ids, paths=scrub_paths),
        stderr_bytes=reply.stderr_bytes,
    )

    def failed(stage: str, reason: str, error: str = "") -> BatchResult:
        return BatchResult(status="failed", reason=reason, stage=stage, error=error, **common)

    if reply.stopped == "timeout":
        return failed("limits", timeout_reason)
    if reply.stopped == "cpu":
        return failed("limits", f"the model exceeded the CPU-time limit of {limits.cpu_seconds} s and was killed")
    if reply.stopped == "stderr":
        return failed(
            "limits",
            f"the model wrote more than {limits.max_output_bytes} bytes to stdout/stderr and was killed; "
            "log less",
        )
    if reply.stopped == "stdout":
        return failed("limits", f"the predictions exceeded {limits.max_output_bytes} bytes and the run was killed")
    header = reply.header
    if header is None and tail_text.startswith("bwrap: "):
        # The line itself stays in the captured output: the model could have printed it, so it is no reason text.
        return failed("sandbox", "bubblewrap could not start the sandbox (its message is in the captured output)")
    if header is None:
        return failed("limits", death_reason(exit_code, sig, limits))
    try:
        return _header_outcome(header, reply, frame, limits, expect, failed, common, seq)
    except Exception:  # noqa: BLE001 - a header of the wrong shape (the model can write one): never a crash
        return failed("host", "the sandbox's reply was malformed (the model wrote to the harness's data channel)")


def _header_outcome(header: dict, reply: Reply, frame, limits: SandboxLimits, expect: str, failed, common: dict,
                    seq: int | None):
    """The outcome a parsed reply header gives (any exception: the header was not the harness's)."""
    if header.get("status") == "failed":
        return failed(*_failure_reason(header, limits))
    if header.get("status") != expect:
        return failed("host", "the sandbox answered out of turn (the model wrote to the harness's data channel)")
    if expect == "ready":
        return BatchResult(status="ok", reason="", predictions=frame.iloc[:0], **common)
    if seq is not None and header.get("seq") != seq:
        return failed("host", "the sandbox answered another request (the model wrote to the harness's data channel)")
    if header.get("n_rows") != len(frame) or len(reply.payload) != 8 * len(frame):
        return failed("host", "the predictions arrived truncated or with trailing bytes")
    predictions, problem = _check_scores(reply.payload, frame)
    if problem is not None:
        return failed("host", f"the predictions did not pass the host's checks: {problem}")
    spent = header.get("predict_seconds")
    spent = float(spent) if type(spent) is float and 0.0 <= spent < 1e9 else 0.0
    return BatchResult(status="ok", reason="", predictions=predictions, model_seconds=spent, **common)


def _check_scores(payload: bytes, frame):
    import numpy as np
    import pandas as pd

    from validation.sandbox.harness import describe_problem, id_values

    scores = np.frombuffer(payload, dtype="<f8").astype(np.float64)
    if not ((scores >= 0.0) & (scores <= 1.0)).all():  # NaN and infinities fail too
        n_nonfinite = int((~np.isfinite(scores)).sum())
        if n_nonfinite:
            return None, describe_problem({"code": "nonfinite", "n": n_nonfinite})
        n_out = int(((scores < 0.0) | (scores > 1.0)).sum())
        return None, describe_problem({"code": "out_of_range", "n": n_out})
    return pd.DataFrame({"case_id": id_values(frame["case_id"]), "score": scores}), None


def decode_status(returncode: int | None) -> tuple[int | None, int | None]:
    if returncode is None:
        return None, None
    if returncode < 0:
        return None, -returncode
    if returncode > 128 and returncode - 128 < signal.NSIG:
        # bubblewrap and the shell report a child killed by signal N as 128 + N.
        return returncode, returncode - 128
    return returncode, None


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


def death_reason(exit_code: int | None, sig: int | None, limits: SandboxLimits) -> str:
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
