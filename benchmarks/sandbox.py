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

Usage: ``python benchmarks/sandbox.py [--cases 10000] [--repeats 3] [--work 6]``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "MALLOC_ARENA_MAX"):
    os.environ[_var] = "2" if _var == "MALLOC_ARENA_MAX" else "1"
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import argparse  # noqa: E402
import logging  # noqa: E402
import resource  # noqa: E402
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


def _in_process(model_dir: Path, cases) -> tuple[float, float, float]:
    """(load wall s, predict wall s, predict CPU s) of the model in this process."""
    import mlflow.pyfunc

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = mlflow.pyfunc.load_model(str(model_dir), suppress_warnings=True)
    t1 = time.perf_counter()
    c1 = time.process_time()
    model.predict(cases)
    return t1 - t0, time.perf_counter() - t1, time.process_time() - c1


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _sandboxed(model_dir: Path, cases, work: Path, isolation: str) -> tuple[float, float]:
    """(wall s, CPU s of every sandboxed process) of one whole run, start-up included."""
    from validation.sandbox import SandboxLimits, run_model

    c0 = _children_cpu()
    t0 = time.perf_counter()
    result = run_model(
        model_dir, cases, input_root=work / "inputs", out_dir=work / "out", isolation=isolation,
        limits=SandboxLimits(wall_seconds=600, cpu_seconds=600), batch_size=1024,
    )
    elapsed = time.perf_counter() - t0
    if not result.ok:
        raise SystemExit(f"sandboxed run failed: {result.reason}\n{result.stderr_tail}")
    return elapsed, _children_cpu() - c0


def _med(values) -> float:
    return statistics.median(values)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=int, default=6, help="matrix products per case in the workload model")
    args = parser.parse_args(argv)

    import pandas as pd

    from validation.sandbox import bwrap_executable

    logging.getLogger("validation.sandbox").setLevel(logging.ERROR)  # the 'none' anchor warns
    isolation = "bwrap" if bwrap_executable() else "process"
    r = args.repeats
    with tempfile.TemporaryDirectory(prefix="clinval-bench-") as tmp:
        work = Path(tmp)
        (work / "inputs").mkdir(mode=0o755)
        constant = _save(work / "constant", ROOT / "examples" / "models" / "constant" / "model.py")
        code = work / "workload.py"
        code.write_text(WORKLOAD.format(work=args.work), encoding="utf-8")
        workload = _save(work / "workload", code)
        big = pd.DataFrame({"case_id": [f"CASE-{i:07d}" for i in range(args.cases)]})
        one = big.iloc[:1]

        print(f"sandbox benchmark: {args.cases} cases, median of {r} interleaved repeats, "
              f"isolation={isolation}, python {sys.version.split()[0]}, {os.cpu_count()} cpus, "
              f"load average {os.getloadavg()[0]:.1f}")
        print("wall = elapsed seconds; cpu = CPU seconds of the processes doing the work "
              "(steadier than wall on a shared machine; not measurable through bubblewrap's pid "
              "namespace, so taken from the same harness run as a plain subprocess)")

        # 1. Cold start: one case, whole run, sandbox vs the same harness without isolation.
        box, plain = [], []
        for _ in range(r):
            box.append(_sandboxed(constant, one, work, isolation)[0])
            plain.append(_sandboxed(constant, one, work, "none"))
        bw = _med(box)
        pw, pc = _med(p[0] for p in plain), _med(p[1] for p in plain)
        print("\n-- cold start of one run (1 case, trivial model)")
        print(f"  {isolation} sandbox                  wall {bw:6.3f} s")
        print(f"  plain subprocess, same harness wall {pw:6.3f} s   cpu {pc:6.3f} s"
              "   (interpreter + imports + model load)")
        print(f"  isolation's own share          wall {bw - pw:+6.3f} s   ratio sandbox/plain = {bw / pw:.2f}x")

        # 2. Trivial model: what the harness itself costs per case (parquet, IPC, checks).
        tw, tc, ip = [], [], []
        for _ in range(r):
            tw.append(_sandboxed(constant, big, work, isolation)[0])
            tc.append(_sandboxed(constant, big, work, "none")[1])
            ip.append(_in_process(constant, big)[2])
        per_case = max(_med(tc) - pc - _med(ip), 0.0) / args.cases
        print(f"\n-- trivial model (constant), {args.cases} cases")
        print(f"  in-process predict             cpu  {_med(ip):6.3f} s")
        print(f"  {isolation} sandbox, whole run       wall {_med(tw):6.3f} s")
        print(f"  plain subprocess, whole run    cpu  {_med(tc):6.3f} s")
        print(f"  harness cost per case          cpu  {per_case * 1e6:6.1f} us   (beyond start-up and predict)")

        # 3. Workload model: the ratio the claim is about; runs interleaved with the anchor.
        rows = []
        for _ in range(r):
            _, pred_w, pred_c = _in_process(workload, big)
            box_w, _ = _sandboxed(workload, big, work, isolation)
            _, plain_c = _sandboxed(workload, big, work, "none")
            rows.append((pred_w, pred_c, box_w, plain_c, box_w / pred_w, plain_c / pred_c))
        pred_w, pred_c, box_w, plain_c, rw, rc = (_med(x[i] for x in rows) for i in range(6))
        print(f"\n-- workload model ({args.work} products of 128x128 per case), {args.cases} cases")
        print(f"  in-process predict (anchor)    wall {pred_w:6.3f} s   cpu {pred_c:6.3f} s"
              f"   ({pred_c / args.cases * 1e3:.2f} ms/case)")
        print(f"  {isolation} sandbox, whole run       wall {box_w:6.3f} s")
        print(f"  plain subprocess, whole run                    cpu {plain_c:6.3f} s")
        print(f"  overhead, start-up included    wall {100 * (rw - 1):+6.1f} % ({isolation})   "
              f"cpu {100 * (rc - 1):+6.1f} % (harness)   medians of per-repeat ratios")
        fixed = bw
        breakeven = (fixed / args.cases + per_case) / 0.10
        print(f"  10% is met when the model needs more than {breakeven * 1e3:.2f} ms/case on "
              f"{args.cases} cases (start-up {fixed:.2f} s + {per_case * 1e6:.0f} us/case)")
        verdict = "MET" if rw < 1.10 else "NOT MET"
        print(f"\nclaim 'overhead < 10% on a {args.cases}-case batch' (wall, start-up included, "
              f"this workload): {verdict}")
        if os.getloadavg()[0] > (os.cpu_count() or 1):
            print("note: the machine was busy (load average above the CPU count); wall times are noisy, "
                  "the cpu ratios are the steadier figures")


if __name__ == "__main__":
    main()
