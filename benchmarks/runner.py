"""Benchmark of the evaluation runner: a 16-site evaluation of a model that takes 5 ms per case, through the
sandbox, checkpointed batches and the local executor; the platform's share of the wall time; and the scoring time
alone for 1e5 cases with every interval.

The anchor, measured in the same run, is the model's own time: cases x 5 ms spread over the workers. The
platform overhead is (wall - anchor) / wall. The sandbox's environment variable is not passed through, so the busy
model uses its default of 5 ms per case.

Usage::

    python benchmarks/runner.py [--cases 500] [--sites 16] [--workers 2] [--batch 500] [--score-cases 100000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
HERE = Path(__file__).resolve().parent
# This folder holds a script named evaluators.py: keep it from shadowing the evaluators package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
SECONDS_PER_CASE = 0.005


def build_model(out: Path) -> Path:
    import mlflow
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    sig = ModelSignature(inputs=Schema([ColSpec("string", "case_id"), ColSpec("string", "path")]),
                         outputs=Schema([ColSpec("string", "case_id"), ColSpec("double", "score")]))
    mlflow.pyfunc.save_model(str(out), python_model=str(HERE / "_models" / "busy.py"),
                             pip_requirements=["mlflow==3.17.2", "pandas"], signature=sig)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=500, help="cases per site (default 500)")
    parser.add_argument("--sites", type=int, default=16, help="hospitals (default 16)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=500, help="cases per sandboxed batch")
    parser.add_argument("--score-cases", type=int, default=100_000)
    args = parser.parse_args()

    import numpy as np
    import pandas as pd

    from datasets.corpus import build_corpus
    from datasets.sites import HOSPITAL_CODES
    from datasets.synthetic import generate_export
    from validation.runs.executors import LocalExecutor
    from validation.runs.scoring import score
    from validation.runs.work import SiteJob, site_cases

    sites = list(HOSPITAL_CODES[: args.sites])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        generate_export(tmp / "export", sites=sites, cases=args.cases, tasks=["aki-48h"], seed=1)
        corpus = build_corpus(tmp / "export", tmp / "corpora", secret=b"benchmark-secret-0123456789")
        print(f"setup: {args.sites} sites x {args.cases} aki-48h cases synthesised and ingested in "
              f"{time.perf_counter() - t0:.1f} s (not part of the measurement)")
        model = build_model(tmp / "model")
        n_cases = sum(len(site_cases(corpus.path, s, "aki-48h", "test")) for s in sites)
        jobs = [SiteJob(run_id="bench", site=s, task="aki-48h", split="test", corpus_dir=corpus.path,
                        run_dir=str(tmp / "run"), model_dir=str(model), batch_size=args.batch, isolation="auto")
                for s in sites]
        isolations = set()
        t0 = time.perf_counter()
        outcomes = LocalExecutor(args.workers).run(jobs, lambda o: isolations.add(o.isolation))
        wall = time.perf_counter() - t0
        failed = [o.site for o in outcomes if o.state != "done"]
        anchor = n_cases * SECONDS_PER_CASE / args.workers
        print(f"evaluation: {n_cases} cases, {len(sites)} sites, {args.workers} workers, batches of {args.batch}, "
              f"isolation {','.join(sorted(isolations))}{', FAILED: ' + ','.join(failed) if failed else ''}")
        print(f"  wall {wall:.1f} s = {wall / anchor:.2f}x the model's own time ({anchor:.1f} s); "
              f"{n_cases / wall:.0f} cases/s; platform overhead {(wall - anchor) / wall:.0%} of the wall time "
              f"(goal < 10%)")
        rng = np.random.default_rng(0)
        n = args.score_cases
        y = (rng.random(n) < 0.3).astype(int)
        frame = pd.DataFrame({"case_id": [f"c{i}" for i in range(n)], "score": 1 / (1 + np.exp(-(y + rng.normal(
            0, 1, n)))), "label": y, "site": rng.choice(sites, n), "sex": rng.choice(["F", "M"], n),
            "age_band": rng.choice(["18-39", "40-64", "65+"], n)})
        t_sort = time.perf_counter()
        np.argsort(frame["score"].to_numpy())
        t_sort = time.perf_counter() - t_sort
        t0 = time.perf_counter()
        score(frame, metrics=["auroc", "sensitivity", "specificity", "ppv", "npv", "brier", "ece",
                              "calibration_slope"], subgroups=["sex", "age_band"], threshold=0.5, min_n=10,
              rules=[("a", "auroc.ci_low >= 0.7")], run_id="bench")
        t_score = time.perf_counter() - t0
        print(f"scoring alone: {n} cases, {len(sites)} sites + 2 subgroup kinds, all intervals (bootstrap 1000 for "
              f"calibration): {t_score:.1f} s = {t_score / t_sort:.0f}x one argsort of the scores")


if __name__ == "__main__":
    main()
