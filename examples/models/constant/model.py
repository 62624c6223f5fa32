"""A tiny, well-behaved example model (MLflow models-from-code).

Its score for a case is a deterministic function of the case id alone: the first eight bytes
of ``sha256(case_id)`` read as an unsigned integer and divided by 2**64, so it lies in [0, 1).
It ignores every input column. Tests and benchmarks save it with::

    mlflow.pyfunc.save_model(path, python_model="examples/models/constant/model.py",
                             pip_requirements=["mlflow==3.17.2", "pandas"])
"""

import hashlib

import mlflow.models
import mlflow.pyfunc
import pandas as pd


def case_score(case_id) -> float:
    """The score this model gives to ``case_id``: ``int(sha256(str(case_id))[:8]) / 2**64``."""
    digest = hashlib.sha256(str(case_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


class ConstantModel(mlflow.pyfunc.PythonModel):
    """Scores each case from a hash of its case id."""

    def predict(self, context, model_input, params=None):
        ids = model_input["case_id"]
        return pd.DataFrame({"case_id": ids, "score": [case_score(c) for c in ids]})


mlflow.models.set_model(ConstantModel())
