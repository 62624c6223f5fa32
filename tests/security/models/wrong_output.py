"""Hostile: returns output that breaks one rule, chosen by the test."""

import numpy as np
import pandas as pd

import mlflow.models
import mlflow.pyfunc


class WrongOutputModel(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        from _common import arg

        mode = arg(model_input)["mode"]
        ids = model_input["case_id"].tolist()
        score = [0.5] * len(ids)
        if mode == "missing_ids":
            return pd.DataFrame({"case_id": ids[:-2], "score": score[:-2]})
        if mode == "extra_ids":
            return pd.DataFrame({"case_id": ids + ["ZZ-EXTRA"], "score": score + [0.5]})
        if mode == "duplicate_ids":
            return pd.DataFrame({"case_id": ids[:-1] + ids[:1], "score": score})
        if mode == "nan":
            score[0] = float("nan")
        elif mode == "inf":
            score[0] = float("inf")
        elif mode == "out_of_range":
            score[0] = 1.5
        elif mode == "strings":
            return pd.DataFrame({"case_id": ids, "score": ["high"] * len(ids)})
        elif mode == "no_score_column":
            return pd.DataFrame({"case_id": ids, "probability": score})
        elif mode == "ndarray":
            return np.asarray(score)
        return pd.DataFrame({"case_id": ids, "score": score})


mlflow.models.set_model(WrongOutputModel())
