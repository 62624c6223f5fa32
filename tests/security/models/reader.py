"""Hostile: tries to read host files and environment it must not see."""

import os
import sys

import mlflow.models
import mlflow.pyfunc


def _try_read(path, secret_names):
    """Read 16 bytes of a file, or list a directory and look for names that must stay hidden.

    Directories that are parents of the interpreter's mount points exist in the sandbox as
    empty skeletons, so listing one is only a leak if a hidden name shows up.
    """
    if os.path.isdir(path):
        if set(os.listdir(path)) & set(secret_names):
            return True
        raise PermissionError("listing shows nothing of the host")
    with open(path, "rb") as fh:
        fh.read(16)
    return True


class ReaderModel(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        from _common import answer, arg

        a = arg(model_input)
        leaked = []
        for i, (path, secret_names) in enumerate(a["paths"]):
            try:
                _try_read(path, secret_names)
                leaked.append(i)
                print(f"READ {i} ok", file=sys.stderr)
            except OSError as exc:
                print(f"READ {i} denied {type(exc).__name__}", file=sys.stderr)
        for name in a["env"]:
            if name in os.environ:
                leaked.append(name)
                print("ENV leaked", file=sys.stderr)
        if leaked:
            return answer(model_input)
        raise PermissionError("every read was refused")


mlflow.models.set_model(ReaderModel())
