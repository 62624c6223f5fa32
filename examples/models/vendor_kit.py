"""What a vendor does with the public DEV split: fit the example model, save it as an MLflow pyfunc model
directory (models-from-code, weights as an artifact, a signature that fits the protocol) and write its model card.

Usage::

    python examples/models/vendor_kit.py cxr-pneumonia CORPUS_DIR OUT_DIR [--vendor acme-ai]
    python examples/models/vendor_kit.py aki-48h CORPUS_DIR OUT_DIR

``CORPUS_DIR`` is a corpus version holding the DEV site (its labels are public). Writes ``OUT_DIR/model`` and
``OUT_DIR/card.yaml``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
KINDS = {
    "cxr-pneumonia": ("cxr_opacity", "pneumo-opacity", 0.5),
    "aki-48h": ("aki_risk", "aki-early-warning", 0.3),
}


def _module(folder: str):
    spec = importlib.util.spec_from_file_location(f"vendor_{folder}", HERE / folder / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fit_logistic(x: np.ndarray, y: np.ndarray, *, ridge: float = 1.0, iterations: int = 50) -> dict:
    """Standardised logistic regression with an L2 penalty, by Newton-Raphson (no scikit-learn needed)."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = np.column_stack([np.ones(len(x)), (x - mean) / scale])
    beta = np.zeros(z.shape[1])
    penalty = np.diag([0.0] + [ridge] * (z.shape[1] - 1))
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-z @ beta))
        grad = z.T @ (y - p) - penalty @ beta
        hess = z.T @ (z * (p * (1 - p))[:, None]) + penalty
        step = np.linalg.solve(hess, grad)
        beta += step
        if np.max(np.abs(step)) < 1e-8:
            break
    return {"mean": mean.tolist(), "scale": scale.tolist(), "intercept": float(beta[0]), "coef": beta[1:].tolist()}


def dev_training_set(corpus_dir: Path, task: str, module) -> tuple[np.ndarray, np.ndarray]:
    index = pd.read_parquet(corpus_dir / "sites" / "DEV" / "index.parquet")
    labels = pd.read_parquet(corpus_dir / "labels" / "DEV" / "labels.parquet")
    frame = index[index["task"] == task].merge(labels[["case_id", "label"]], on="case_id")
    x = np.array([module.features_of_path(str(corpus_dir / p)) for p in frame["input_path"]], dtype=float)
    return x, frame["label"].to_numpy(dtype=float)


def build(task: str, corpus_dir: str | Path, out_dir: str | Path, *, vendor: str = "acme-ai",
          version: str = "1.0.0") -> tuple[Path, Path]:
    """Fit on DEV, save the MLflow model to ``out_dir/model`` and the card to ``out_dir/card.yaml``."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow
    import yaml
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    folder, name, threshold = KINDS[task]
    corpus_dir, out_dir = Path(corpus_dir), Path(out_dir)
    module = _module(folder)
    x, y = dev_training_set(corpus_dir, task, module)
    if len(y) < 10 or y.min() == y.max():
        raise SystemExit(f"DEV has {len(y)} {task} cases with one class only or too few; ingest more DEV cases")
    weights = fit_logistic(x, y)
    scores = module.logistic(weights, x)
    threshold = float(np.quantile(scores, 1 - max(y.mean(), 0.05) * 1.3)) if task == "cxr-pneumonia" else threshold
    out_dir.mkdir(parents=True, exist_ok=True)
    weights_path = out_dir / "weights.json"
    weights_path.write_text(json.dumps(weights, indent=2))
    signature = ModelSignature(inputs=Schema([ColSpec("string", "case_id"), ColSpec("string", "path")]),
                               outputs=Schema([ColSpec("string", "case_id"), ColSpec("double", "score")]))
    model_dir = out_dir / "model"
    requirements = ["mlflow==3.17.2", "numpy", "pandas"] + (["pydicom"] if task == "cxr-pneumonia" else [])
    mlflow.pyfunc.save_model(str(model_dir), python_model=str(HERE / folder / "model.py"),
                             artifacts={"weights": str(weights_path)}, signature=signature,
                             pip_requirements=requirements)
    card = {
        "vendor": vendor, "model_name": name, "model_version": version, "protocol_id": task,
        "intended_use": "Example model of the clinval demo, fitted on the public DEV split only.",
        "operating_threshold": round(min(max(threshold, 0.01), 0.99), 4),
        "training_data": {"summary": f"{len(y)} DEV cases of {task} (public development split), "
                                     f"{int(y.sum())} positive.", "sites": ["DEV"], "n_cases": int(len(y))},
        "contact": "validation@acme-ai.example",
    }
    card_path = out_dir / "card.yaml"
    card_path.write_text(yaml.safe_dump(card, sort_keys=False, allow_unicode=True))
    return model_dir, card_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=sorted(KINDS))
    parser.add_argument("corpus_dir")
    parser.add_argument("out_dir")
    parser.add_argument("--vendor", default="acme-ai")
    args = parser.parse_args()
    model_dir, card = build(args.task, args.corpus_dir, args.out_dir, vendor=args.vendor)
    print(f"model: {model_dir}\ncard: {card}")


if __name__ == "__main__":
    main()
