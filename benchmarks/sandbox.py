"""Sandbox cost: start-up of one sandboxed run, and overhead vs the model's own inference.

Claim (ARCHITECTURE.md, issue 7): the sandbox and IPC overhead on a 10k-case batch is under
10% of the model's own inference time. Anchors, all measured in this run on this machine:

* in-process: the same MLflow pyfunc model loaded and called in this process (acceptable here
  only because the models are our own example code, never a vendor's);
* ``isolation='none'``: the same harness in a plain subprocess, to split the start-up cost into
  interpreter + MLflow import (paid by any out-of-process design) and bubblewrap itself.

Two models: ``examples/models/constant`` (trivial: a hash per case, so the harness's own
per-case cost shows), and a workload model defined below that does a fixed amount of numpy work
per case (about a millisecond, far less than a real imaging model) so that the ratio reflects a
model that does some inference. Both run single-threaded on both sides (BLAS threads = 1).

Usage: ``python benchmarks/sandbox.py [--cases 10000] [--repeats 3] [--work 12]``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "MALLOC_ARENA_MAX"):
    os.environ[_var] = "2" if _var == "MALLOC_ARENA_MAX" else "1"
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORKLOAD = '''
import hashlib
import numpy as np
import pandas as pd
import mlflow.models
import mlflow.pyfunc

WORK = {work}


class WorkloadModel(mlflow.pyfunc.PythonModel):
    """Per case: a seeded 128x128 matrix, WORK matrix products, a squashed summary."""

    def predict(self, context, model_input, params=None):
        scores = []
        for case_id in model_input["case_id"]:
            seed = int.from_bytes(hashlib.sha256(str(case_id).encode()).digest()[:4], "big")
            a = np.random.default_rng(seed).standard_normal((128, 128)) / 128
            m = a
            for _ in range(WORK):
                m = np.tanh(m @ a)
            scores.append(1.0 / (1.0 + np.exp(-m.sum())))
        return pd.DataFrame({{"case_id": model_input["case_id"], "score": scores}})


mlflow.models.set_model(WorkloadModel())
'''


def _save(path: Path, code: Path) -> Path:
    import mlflow.pyfunc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.pyfunc.save_model(path, python_model=str(code), pip_requirements=["mlflow==3.17.2", "pandas"])
    return path


def _in_process(model_dir: Path, cases) -> tuple[float, float]:
    """(load seconds, predict seconds) of the model in this process."""
    import mlflow.pyfunc

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = mlflow.pyfunc.load_model(str(model_dir))
    t1 = time.perf_counter()
    model.predict(cases)
    return t1 - t0, time.perf_counter() - t1


def _sandboxed(model_dir: Path, cases, work: Path, isolation: str) -> float:
    from validation.sandbox import SandboxLimits, run_model

    t0 = time.perf_counter()
    result = run_model(
        model_dir, cases, input_root=work, out_dir=work / "out", isolation=isolation,
        limits=SandboxLimits(wall_seconds=600, cpu_seconds=600), batch_size=1024,
    )
    elapsed = time.perf_counter() - t0
    if not result.ok:
        raise SystemExit(f"sandboxed run failed: {result.reason}\n{result.stderr_tail}")
    return elapsed


def _median(f, repeats: int) -> float:
    return statistics.median(f() for _ in range(repeats))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=int, default=12, help="matrix products per case in the workload model")
    args = parser.parse_args(argv)

    import pandas as pd

    from validation.sandbox import bwrap_executable

    isolation = "bwrap" if bwrap_executable() else "process"
    with tempfile.TemporaryDirectory(prefix="clinval-bench-") as tmp:
        work = Path(tmp)
        constant = _save(work / "constant", ROOT / "examples" / "models" / "constant" / "model.py")
        code = work / "workload.py"
        code.write_text(WORKLOAD.format(work=args.work), encoding="utf-8")
        workload = _save(work / "workload", code)
        big = pd.DataFrame({"case_id": [f"CASE-{i:07d}" for i in range(args.cases)]})
        one = big.iloc[:1]
        r = args.repeats

        print(f"sandbox benchmark: {args.cases} cases, median of {r}, isolation={isolation}, "
              f"python {sys.version.split()[0]}, {os.cpu_count()} cpus")

        # 1. Cold start: one case, whole run.
        cold_box = _median(lambda: _sandboxed(constant, one, work, isolation), r)
        cold_plain = _median(lambda: _sandboxed(constant, one, work, "none"), r)
        load_in, _ = _in_process(constant, one)
        print("\n-- cold start of one sandboxed run (1 case, trivial model)")
        print(f"  {isolation:<7} sandbox, whole run        {cold_box:7.3f} s")
        print(f"  plain subprocess, same harness   {cold_plain:7.3f} s   "
              f"(interpreter + mlflow import + load)")
        print(f"  bubblewrap's own share           {cold_box - cold_plain:7.3f} s   "
              f"ratio sandbox/plain = {cold_box / cold_plain:.2f}x")
        print(f"  in-process load (warm imports)   {load_in:7.3f} s")

        # 2. Trivial model: the harness's per-case cost (IPC, parquet, checks) shows.
        box_big = _median(lambda: _sandboxed(constant, big, work, isolation), r)
        pred_big = _median(lambda: _in_process(constant, big)[1], r)
        marginal = box_big - cold_box
        print(f"\n-- trivial model (constant), {args.cases} cases")
        print(f"  in-process predict               {pred_big:7.3f} s")
        print(f"  sandboxed run                    {box_big:7.3f} s   "
              f"(marginal over 1 case: {marginal:.3f} s)")
        print(f"  per-case overhead beyond predict {max(marginal - pred_big, 0.0) / args.cases * 1e6:7.1f} us/case")

        # 3. Workload model: the ratio the claim is about.
        w_box = _median(lambda: _sandboxed(workload, big, work, isolation), r)
        w_load, w_pred = _in_process(workload, big)
        w_pred = statistics.median([w_pred] + [_in_process(workload, big)[1] for _ in range(r - 1)])
        overhead_total = (w_box - w_pred) / w_pred
        overhead_steady = (w_box - cold_box - w_pred) / w_pred
        print(f"\n-- workload model ({args.work} products of 128x128 per case), {args.cases} cases")
        print(f"  in-process predict (anchor)      {w_pred:7.3f} s   ({w_pred / args.cases * 1e3:.2f} ms/case)")
        print(f"  sandboxed run, start-up included {w_box:7.3f} s")
        print(f"  overhead incl. cold start        {overhead_total * 100:6.1f} %   ratio {w_box / w_pred:.3f}x")
        print(f"  overhead excl. cold start        {overhead_steady * 100:6.1f} %")
        verdict = "MET" if overhead_total < 0.10 else "NOT MET"
        print(f"\nclaim 'overhead < 10% on a {args.cases}-case batch' (start-up included): {verdict}")


if __name__ == "__main__":
    main()
