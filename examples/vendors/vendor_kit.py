"""What a vendor does with the public DEV split: fit an example model, save it as an MLflow pyfunc model directory
(models-from-code, weights as an artifact, a signature that fits the protocol) and write its model card.

The examples (:data:`EXAMPLES`), all fitted on DEV only:

``cxr-opacity``        competent ``cxr-pneumonia`` model (Modality LUT, VOI window, MONOCHROME1, PixelSpacing, gain
                       field and contrast curve handled by ``cxr_features.py``);
``cxr-mono-blind``     the same pipeline, but PhotometricInterpretation is never read (fails at MONOCHROME1 sites);
``aki-risk``           competent ``aki-48h`` model (creatinine in mg/dL or umol/L);
``aki-mgdl-only``      takes every creatinine number as mg/dL (fails at umol/L sites);
``aki-miscalibrated``  ``aki-risk`` with its logit divided by 4: the same ranking, scores squashed toward 1/2.

Usage::

    python examples/vendors/vendor_kit.py cxr-pneumonia CORPUS_DIR OUT_DIR [--vendor acme-ai]
    python examples/vendors/vendor_kit.py aki-mgdl-only CORPUS_DIR OUT_DIR
    python examples/vendors/vendor_kit.py --all CORPUS_DIR OUT_ROOT
    python examples/vendors/vendor_kit.py --build-corpus OUT [--seed 2026] [--cases 200] [--image-size 128]

A task name (``cxr-pneumonia``, ``aki-48h``) builds that task's competent example. ``CORPUS_DIR`` is a corpus
version holding the DEV site (its labels are public). One example writes ``OUT_DIR/model`` and
``OUT_DIR/card.yaml``; ``--all`` writes ``OUT_ROOT/<example>/``. ``--build-corpus`` needs nothing but this
repository: it generates a seeded DEV-only synthetic export, de-identifies it into a corpus version (fixed, public
pseudonymisation secret: these are examples, not patients) and builds every example from it, under
``OUT/export``, ``OUT/corpora/<corpus id>`` and ``OUT/models/<example>``. The same options give the same corpus id,
weights and cards.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
EXAMPLES_SECRET = b"clinval-public-examples-secret-v1"  # public on purpose: synthetic DEV data only
CONTACT = "validation@acme-ai.example"


class Example(NamedTuple):
    """One example model: the task it is for, the model code it ships and what is (wrong) about it."""

    task: str
    folder: str  # examples/vendors/<folder>/model.py is the models-from-code file
    model_name: str
    intended_use: str
    logit_scale: float = 1.0  # the fitted logit is multiplied by this before saving (1: untouched)


_CXR_USE = ("Triage aid flagging adult frontal chest radiographs with signs of pneumonia for prioritised reading. "
            "Example model of the clinval demo, fitted on the public DEV split only.")
_AKI_USE = ("Early-warning score for acute kidney injury within 48 h of the index time in adult inpatients. "
            "Example model of the clinval demo, fitted on the public DEV split only.")

EXAMPLES = {
    "cxr-opacity": Example(task="cxr-pneumonia", folder="cxr_opacity", model_name="pneumo-opacity",
                           intended_use=_CXR_USE),
    "cxr-mono-blind": Example(
        task="cxr-pneumonia", folder="cxr_mono_blind", model_name="pneumo-opacity-mono-blind",
        intended_use=_CXR_USE + " Known flaw (deliberate): PhotometricInterpretation is never read, so MONOCHROME1 "
                                "images are seen inverted."),
    "aki-risk": Example(task="aki-48h", folder="aki_risk", model_name="aki-early-warning", intended_use=_AKI_USE),
    "aki-mgdl-only": Example(
        task="aki-48h", folder="aki_mgdl_only", model_name="aki-early-warning-mgdl-only",
        intended_use=_AKI_USE + " Known flaw (deliberate): every creatinine value is taken to be in mg/dL."),
    "aki-miscalibrated": Example(
        task="aki-48h", folder="aki_risk", model_name="aki-early-warning-tempered", logit_scale=0.25,
        intended_use=_AKI_USE + " Known flaw (deliberate): scores were squashed toward 1/2 after fitting (logit "
                                "divided by 4) and never recalibrated, so they rank well but are far too timid."),
}
"""Every example model, by name."""

TASK_DEFAULT = {"cxr-pneumonia": "cxr-opacity", "aki-48h": "aki-risk"}
"""The competent example of each task (what ``build(task, ...)`` builds)."""

KINDS = {
    task: (EXAMPLES[name].folder, EXAMPLES[name].model_name, 0.5 if task == "cxr-pneumonia" else 0.3)
    for task, name in TASK_DEFAULT.items()
}
"""Backward-compatible view: task -> (model folder, model name, default threshold)."""

AKI_DEV_SENSITIVITY = 0.9
CXR_DEV_SENSITIVITY = 0.9


def model_module(folder: str):
    """Import ``examples/vendors/<folder>/model.py`` (our own example code) under a private module name.

    The CXR models import :mod:`cxr_features` from this folder (saved with each model as a code path).
    """
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    spec = importlib.util.spec_from_file_location(f"clinval_vendor_{folder}", HERE / folder / "model.py")
    module = importlib.util.module_from_spec(spec)
    with warnings.catch_warnings():  # mlflow's advice to add type hints to predict
        warnings.simplefilter("ignore", UserWarning)
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


def scaled_logit(weights: dict, factor: float) -> dict:
    """Weights whose logistic score is ``sigmoid(factor * logit(p))`` of the original ``p``: same ranking."""
    return {**weights, "intercept": weights["intercept"] * factor, "coef": [c * factor for c in weights["coef"]]}


def site_cases(corpus_dir: str | Path, site: str, task: str) -> pd.DataFrame:
    """``case_id``, absolute ``path`` and ``label`` of one site's cases of ``task`` (labels read outside any model)."""
    corpus_dir = Path(corpus_dir)
    index = pd.read_parquet(corpus_dir / "sites" / site / "index.parquet")
    labels = pd.read_parquet(corpus_dir / "labels" / site / "labels.parquet")
    frame = index[index["task"] == task].merge(labels[["case_id", "label"]], on="case_id")
    frame = frame.sort_values("case_id", kind="stable").reset_index(drop=True)
    return pd.DataFrame({"case_id": frame["case_id"].astype(str),
                         "path": [str(corpus_dir / p) for p in frame["input_path"]],
                         "label": frame["label"].astype(int)})


def dev_training_set(corpus_dir: Path, task: str, module) -> tuple[np.ndarray, np.ndarray, dict]:
    """Features (by the model's own ``features_of_path``), labels and fitted preprocessing of DEV's ``task`` cases.

    A model with ``fit_preprocessing(paths, labels)`` (the CXR models: a normal-chest template) gets it fitted on
    DEV first; its result is saved with the weights and passed to ``features_of_path(path, preprocessing)``.
    """
    cases = site_cases(corpus_dir, "DEV", task)
    y = cases["label"].to_numpy(dtype=float)
    if hasattr(module, "fit_preprocessing"):
        extra = module.fit_preprocessing(list(cases["path"]), y)
        arrays = {k: np.asarray(v) for k, v in extra.items()}
        x = np.array([module.features_of_path(p, arrays) for p in cases["path"]], dtype=float)
    else:
        extra = {}
        x = np.array([module.features_of_path(p) for p in cases["path"]], dtype=float)
    return x, y, extra


def _threshold(task: str, scores: np.ndarray, y: np.ndarray) -> float:
    """The operating threshold a vendor reads off its DEV scores (rounded to 4 decimals, within [0.01, 0.99])."""
    # the DEV score at which DEV sensitivity is the task's target (triage and early warning favour sensitivity)
    target = CXR_DEV_SENSITIVITY if task == "cxr-pneumonia" else AKI_DEV_SENSITIVITY
    threshold = float(np.quantile(scores[y == 1], 1 - target, method="lower"))
    return round(min(max(threshold, 0.01), 0.99), 4)


def build(kind_or_task: str, corpus_dir: str | Path, out_dir: str | Path, *, vendor: str = "acme-ai",
          version: str = "1.0.0") -> tuple[Path, Path]:
    """Fit an example on DEV, save the MLflow model to ``out_dir/model`` and the card to ``out_dir/card.yaml``.

    ``kind_or_task`` is an example name of :data:`EXAMPLES` or a task (its competent example).
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow
    import yaml
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    name = TASK_DEFAULT.get(kind_or_task, kind_or_task)
    if name not in EXAMPLES:
        raise SystemExit(f"unknown example {kind_or_task!r}; choose one of {sorted(EXAMPLES) + sorted(TASK_DEFAULT)}")
    example = EXAMPLES[name]
    task = example.task
    corpus_dir, out_dir = Path(corpus_dir), Path(out_dir)
    module = model_module(example.folder)
    x, y, extra = dev_training_set(corpus_dir, task, module)
    if len(y) < 10 or y.min() == y.max():
        raise SystemExit(f"DEV has {len(y)} {task} cases with one class only or too few; ingest more DEV cases")
    weights = fit_logistic(x, y)
    threshold = _threshold(task, getattr(module, "score", module.logistic)(weights, x), y)
    if example.logit_scale != 1.0:  # the same operating point on the rescaled scores: the same 2x2 table
        weights = scaled_logit(weights, example.logit_scale)
        logit = np.log(threshold / (1.0 - threshold))
        threshold = float(1.0 / (1.0 + np.exp(-example.logit_scale * logit)))
    out_dir.mkdir(parents=True, exist_ok=True)
    weights_path = out_dir / "weights.json"
    weights_path.write_text(json.dumps({**weights, **extra}, indent=None if extra else 2))
    signature = ModelSignature(inputs=Schema([ColSpec("string", "case_id"), ColSpec("string", "path")]),
                               outputs=Schema([ColSpec("string", "case_id"), ColSpec("double", "score")]))
    model_dir = out_dir / "model"
    if model_dir.is_dir():  # a rebuild replaces what an earlier build of this example wrote
        import shutil

        shutil.rmtree(model_dir)
    requirements = ["mlflow==3.17.2", "numpy", "pandas"] + (["pydicom"] if task == "cxr-pneumonia" else [])
    with warnings.catch_warnings():  # advice about type hints and input examples, not about this model
        warnings.simplefilter("ignore", UserWarning)
        mlflow.pyfunc.save_model(str(model_dir), python_model=str(HERE / example.folder / "model.py"),
                                 artifacts={"weights": str(weights_path)}, signature=signature,
                                 pip_requirements=requirements,
                                 code_paths=[str(HERE / "cxr_features.py")] if task == "cxr-pneumonia" else None)
    card = {
        "vendor": vendor, "model_name": example.model_name, "model_version": version, "protocol_id": task,
        "intended_use": example.intended_use,
        "operating_threshold": threshold,
        "training_data": {"summary": f"{len(y)} DEV cases of {task} (public development split), "
                                     f"{int(y.sum())} positive.", "sites": ["DEV"], "n_cases": int(len(y))},
        "contact": CONTACT,
    }
    card_path = out_dir / "card.yaml"
    card_path.write_text(yaml.safe_dump(card, sort_keys=False, allow_unicode=True))
    return model_dir, card_path


def build_all(corpus_dir: str | Path, out_root: str | Path, *, vendor: str = "acme-ai",
              names: list[str] | None = None) -> dict[str, tuple[Path, Path]]:
    """Build every example (or those in ``names``) into ``out_root/<name>/``; name -> (model_dir, card_path)."""
    return {name: build(name, corpus_dir, Path(out_root) / name, vendor=vendor) for name in (names or EXAMPLES)}


def build_dev_corpus(out: str | Path, *, seed: int = 2026, cases: int = 200, image_size: int = 128,
                     workers: int = 1) -> Path:
    """Generate a DEV-only synthetic export under ``out/export`` and de-identify it into ``out/corpora``.

    Returns the corpus version directory. The same arguments give the same corpus id.
    """
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from datasets.corpus import build_corpus
    from datasets.synthetic import generate_export

    out = Path(out)
    generate_export(out / "export", sites=["DEV"], cases=cases, seed=seed, image_size=image_size, force=True,
                    workers=workers)
    version = build_corpus(out / "export", out / "corpora", secret=EXAMPLES_SECRET, workers=workers)
    return Path(version.path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="examples: " + ", ".join(EXAMPLES) + "; tasks: " + ", ".join(TASK_DEFAULT))
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--all", action="store_true", help="build every example: --all CORPUS_DIR OUT_ROOT")
    mode.add_argument("--build-corpus", metavar="OUT", help="make a DEV corpus under OUT and build every example")
    parser.add_argument("args", nargs="*", help="EXAMPLE_OR_TASK CORPUS_DIR OUT_DIR, or CORPUS_DIR OUT_ROOT with --all")
    parser.add_argument("--vendor", default="acme-ai")
    parser.add_argument("--seed", type=int, default=2026, help="--build-corpus: export seed")
    parser.add_argument("--cases", type=int, default=200, help="--build-corpus: DEV cases per task")
    parser.add_argument("--image-size", type=int, default=128, help="--build-corpus: radiograph rows and columns")
    args = parser.parse_args(argv)
    if args.build_corpus:
        if args.args:
            parser.error("--build-corpus takes no positional arguments")
        corpus = build_dev_corpus(args.build_corpus, seed=args.seed, cases=args.cases, image_size=args.image_size)
        print(f"corpus: {corpus}")
        built = build_all(corpus, Path(args.build_corpus) / "models", vendor=args.vendor)
    elif args.all:
        if len(args.args) != 2:
            parser.error("--all takes CORPUS_DIR OUT_ROOT")
        built = build_all(args.args[0], args.args[1], vendor=args.vendor)
    else:
        if len(args.args) != 3:
            parser.error("give EXAMPLE_OR_TASK CORPUS_DIR OUT_DIR (or --all / --build-corpus)")
        if args.args[0] not in EXAMPLES and args.args[0] not in TASK_DEFAULT:
            parser.error(f"unknown example {args.args[0]!r}; choose one of {', '.join([*EXAMPLES, *TASK_DEFAULT])}")
        built = {args.args[0]: build(args.args[0], args.args[1], args.args[2], vendor=args.vendor)}
    for name, (model_dir, card) in built.items():
        print(f"{name}: model {model_dir}  card {card}")


if __name__ == "__main__":
    main()
