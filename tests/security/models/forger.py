"""Hostile: writes its own failure report into the harness's data channel, with case data in it."""

import json
import os
import stat

import mlflow.models
import mlflow.pyfunc


class ForgerModel(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        secret = str(model_input["case_id"].iloc[0])
        header = {
            "status": "failed",
            "stage": "validate",
            "kind": secret,
            "error": secret,
            "reason": secret,
            "row": secret,
            "problem": {"code": "not_dataframe", "type": secret},
        }
        line = json.dumps(header).encode() + b"\n"
        for fd in range(3, 64):
            try:
                if stat.S_ISFIFO(os.fstat(fd).st_mode):
                    os.write(fd, line)
            except OSError:
                pass
        os._exit(0)


mlflow.models.set_model(ForgerModel())
