"""Reply headers the model can forge (it may write to the harness's data channel) never crash the host, and the
model's own text never becomes the reason a vendor reads."""

from __future__ import annotations

import pandas as pd
import pytest

from validation.sandbox import SandboxLimits
from validation.sandbox.channel import Reply
from validation.sandbox.outcome import reply_outcome

LIMITS = SandboxLimits(wall_seconds=10, cpu_seconds=2)
FRAME = pd.DataFrame({"case_id": ["c1", "c2"]})


def _outcome(header, *, payload=b"", stderr=b"", returncode=None, expect="ok"):
    reply = Reply(header=header, payload=payload, stopped=None, returncode=returncode, stderr_tail=stderr,
                  stderr_bytes=len(stderr), elapsed=0.1)
    return reply_outcome(reply, FRAME, limits=LIMITS, expect=expect, timeout_reason="timeout", scrub_paths=[])


@pytest.mark.parametrize("header", [
    {"status": "failed", "stage": "predict", "kind": [1]},
    {"status": "failed", "stage": ["predict"], "kind": {"a": 1}, "error": {"x": 1}},
    {"status": "failed", "stage": "validate", "problem": {"code": ["x"], "type": [1, 2]}, "row": [0]},
    {"status": "failed", "stage": "validate", "problem": {"code": "not_dataframe", "type": {"k": 1}}},
    {"status": "failed", "stage": "validate", "problem": {"code": "missing_columns", "columns": 5}},
    {"status": "ok", "n_rows": [2], "nbytes": 16},
    {"status": ["ok"]},
])
def test_a_forged_header_gives_a_failed_result_not_an_exception(header):
    result = _outcome(header, payload=b"\x00" * 16 if header.get("n_rows") == 2 else b"")
    assert result.status == "failed" and result.reason


def test_a_forged_bwrap_line_is_not_the_reason():
    secret = "Stamm Todd lives at 12 Main Street"
    result = _outcome(None, stderr=f"bwrap: {secret}\n".encode(), returncode=1)
    assert result.status == "failed" and result.stage == "sandbox"
    assert "Stamm" not in result.reason and "Main Street" not in result.reason


def test_an_ok_reply_must_echo_its_requests_sequence_number():
    header = {"status": "ok", "seq": 3, "n_rows": 2, "nbytes": 16}
    reply = Reply(header=header, payload=b"\x00" * 16, stopped=None, returncode=None, stderr_tail=b"",
                  stderr_bytes=0, elapsed=0.1)

    def outcome(seq):
        return reply_outcome(reply, FRAME, limits=LIMITS, expect="ok", timeout_reason="t", scrub_paths=[], seq=seq)

    assert outcome(3).ok
    stale = outcome(4)
    assert stale.status == "failed" and "another request" in stale.reason
