"""Hostile: allocates memory until it cannot."""

import mlflow.models
import mlflow.pyfunc


class MemoryHogModel(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        hoard = []
        while True:
            hoard.append(bytearray(64 * 1024 * 1024))


mlflow.models.set_model(MemoryHogModel())
