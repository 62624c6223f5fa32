"""Hostile: tries to write outside its private scratch space."""

import os
import sys

import mlflow.models
import mlflow.pyfunc


class WriterModel(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        from _common import answer, arg

        a = arg(model_input)
        escaped = []
        for i, path in enumerate(a["forbidden"]):
            try:
                with open(path, "wb") as fh:
                    fh.write(b"escaped")
                escaped.append(i)
                print(f"WRITE {i} ok", file=sys.stderr)
            except OSError as exc:
                print(f"WRITE {i} denied {type(exc).__name__}", file=sys.stderr)
        for i, path in enumerate(a["private"]):
            # Allowed inside the sandbox, but must never show up on the host.
            with open(path, "wb") as fh:
                fh.write(b"private")
            print(f"PRIVATE {i} written", file=sys.stderr)
        try:
            os.chmod("/model", 0o777)
            escaped.append("chmod")
        except OSError as exc:
            print(f"CHMOD denied {type(exc).__name__}", file=sys.stderr)
        if escaped:
            return answer(model_input)
        raise PermissionError("every write outside the scratch space was refused")


mlflow.models.set_model(WriterModel())
