"""Hostile: floods stdout and stderr."""

import sys

import mlflow.models
import mlflow.pyfunc


class ChatterModel(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        line = "x" * 1023 + "\n"
        block = line * 1024
        while True:
            sys.stdout.write(block)
            sys.stderr.write(block)


mlflow.models.set_model(ChatterModel())
