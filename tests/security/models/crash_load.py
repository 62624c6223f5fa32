"""Hostile: fails while loading."""

import mlflow.models
import mlflow.pyfunc


class CrashOnLoadModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        raise RuntimeError("vendor model cannot load its weights")

    def predict(self, context, model_input, params=None):
        raise AssertionError("unreachable")


mlflow.models.set_model(CrashOnLoadModel())
