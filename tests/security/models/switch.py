"""Hostile on demand: behaves well, or does what the ``mode`` of its ``arg`` column says, batch by batch.

Used by the session tests, where one sandbox serves several batches: a misbehaviour in batch k must fail
batch k alone. Every well-behaved answer prints ``CALL n`` (n = predict calls so far in this process).
"""

import hashlib
import os
import sys
import threading
import time

import mlflow.models
import mlflow.pyfunc
import pandas as pd

_CALLS = []


def _score(case_id):
    return int.from_bytes(hashlib.sha256(str(case_id).encode()).digest()[:8], "big") / 2.0**64


def _spin():
    while True:
        pass


def _snoop(marker):
    """Look for ``marker`` in every file the sandbox shows outside /proc, /sys, /dev and the interpreter."""
    needle = marker.encode()
    for top in ("/job", "/tmp", "/out", "/dev/shm", "/input", "/model"):
        for dirpath, _, filenames in os.walk(top):
            for name in filenames:
                try:
                    with open(os.path.join(dirpath, name), "rb") as fh:
                        if needle in fh.read():
                            return True
                except OSError:
                    pass
    return False


class SwitchModel(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        from _common import arg

        a = arg(model_input)
        mode = a.get("mode", "ok")
        _CALLS.append(1)
        if mode == "cpu":
            _spin()
        if mode == "spin_thread":
            threading.Thread(target=_spin, daemon=True).start()
        if mode == "spin_child" and os.fork() == 0:
            _spin()
        if mode == "sleep":
            time.sleep(3600)
        if mode == "crash":
            raise ValueError("cannot score this batch")
        if mode == "nan":
            return pd.DataFrame({"case_id": model_input["case_id"], "score": float("nan")})
        if mode == "chatter":
            block = ("x" * 1023 + "\n") * 1024
            while True:
                sys.stderr.write(block)
        if mode == "snoop" and _snoop(a["marker"]):
            raise PermissionError("found the marker of a request this session was not given")
        print(f"CALL {len(_CALLS)}", file=sys.stderr)
        return pd.DataFrame({"case_id": model_input["case_id"],
                             "score": [_score(c) for c in model_input["case_id"]]})


mlflow.models.set_model(SwitchModel())
