"""Hostile: writes garbage straight into every pipe it holds, the harness's data channel too."""

import os
import stat

import mlflow.models
import mlflow.pyfunc


class DataFloodModel(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        pipes = []
        for fd in range(3, 64):
            try:
                if stat.S_ISFIFO(os.fstat(fd).st_mode):
                    pipes.append(fd)
            except OSError:
                pass
        junk = b"\n" + b"\x00" * (1024 * 1024)
        while True:
            for fd in pipes:
                os.write(fd, junk)


mlflow.models.set_model(DataFloodModel())
