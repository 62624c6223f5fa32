"""Hostile: spins the CPU forever."""

import mlflow.models
import mlflow.pyfunc


class SpinnerModel(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        n = 0
        while True:
            n += 1


mlflow.models.set_model(SpinnerModel())
