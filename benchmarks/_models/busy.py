"""Benchmark model (models-from-code): spends a fixed CPU time per case (busy wait), then scores from the case id."""

import hashlib
import os
import time

import mlflow.models
import mlflow.pyfunc
import pandas as pd

SECONDS_PER_CASE = float(os.environ.get("CLINVAL_BENCH_SECONDS_PER_CASE", "0.005"))


class BusyModel(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        scores = []
        for case_id in model_input["case_id"]:
            end = time.perf_counter() + SECONDS_PER_CASE
            while time.perf_counter() < end:
                pass
            scores.append(int.from_bytes(hashlib.sha256(str(case_id).encode()).digest()[:8], "big") / 2.0**64)
        return pd.DataFrame({"case_id": list(model_input["case_id"]), "score": scores})


mlflow.models.set_model(BusyModel())
