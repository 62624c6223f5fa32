"""Hostile: tries to fill the private /out and /tmp with one huge file each."""

import mlflow.models
import mlflow.pyfunc


class DiskFillModel(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        block = b"\xff" * (1024 * 1024)
        for path in ("/out/huge.bin", "/tmp/huge.bin"):
            with open(path, "wb") as fh:
                for _ in range(1024 * 64):
                    fh.write(block)
        raise AssertionError("wrote 64 GiB without hitting a limit")


mlflow.models.set_model(DiskFillModel())
