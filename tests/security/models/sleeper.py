"""Hostile: sleeps past any timeout, with its output streams closed."""

import os
import time

import mlflow.models
import mlflow.pyfunc


class SleeperModel(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        for fd in range(1, 64):
            try:
                os.close(fd)
            except OSError:
                pass
        time.sleep(3600)


mlflow.models.set_model(SleeperModel())
