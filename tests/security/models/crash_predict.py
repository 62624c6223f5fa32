"""Hostile: fails in predict, leaking case data into the message, or segfaults."""

import ctypes

import mlflow.models
import mlflow.pyfunc


class CrashInPredictModel(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        from _common import arg

        if arg(model_input)["mode"] == "segfault":
            ctypes.string_at(0)
        first = model_input["case_id"].iloc[0]
        raise ValueError(f"cannot score case {first} with creatinine 1.2345 mg/dL")


mlflow.models.set_model(CrashInPredictModel())
