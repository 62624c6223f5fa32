"""Sandbox cost: cold start of a session, steady-state overhead of a warm session, and a whole one-shot run.

Claim (ARCHITECTURE.md, issue 7): the sandbox and IPC overhead on a 10k-case batch is under
10% of the model's own inference time. Anchor, measured in this run on this machine: the same
MLflow pyfunc model loaded and called in this process (acceptable here only because the models
are our own example code, never a vendor's). Reported, all as ratios within this run:

(a) cold start of a ``SandboxSession`` (bubblewrap + interpreter + imports + model load), against
    the same session with ``isolation='none'`` (a plain subprocess: what any out-of-process
    design pays) and against the in-process ``predict`` of a 10k batch;
(b) steady state: a 10k-case batch through a warm session vs the same batch predicted in
    process (wall, and CPU: sandbox processes + this process vs this process alone);
(c) a whole one-shot ``run_model`` (start-up included) vs the in-process ``predict``.

Two models: ``examples/models/constant`` (trivial: a hash per case, so the harness's own
per-case cost shows), and a workload model defined below that does a fixed amount of numpy work
per case (about a millisecond, far less than a real imaging model). Both run single-threaded on
both sides (BLAS threads = 1).

(b) also splits the trivial model's warm batch into host work (case checks, Arrow encoding, score
checks), the exchange beyond the predict measured inside the sandbox (pipe, harness decoding and
id check, CPU-clock reading) and the predict itself. Its batches take milliseconds, so it gets
``--quick-repeats`` (default 21) repeats for a steadier median; the workload model gets ``--repeats``.

Usage: ``python benchmarks/sandbox.py [--cases 10000] [--repeats 3] [--quick-repeats 21] [--work 6]``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "MALLOC_ARENA_MAX"):
    os.environ[_var] = "2" if _var == "MALLOC_ARENA_MAX" else "1"
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import argparse  # noqa: E402
import logging  # noqa: E402
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


def _load(model_dir: Path):
    """The model loaded in this process (our own example code only)."""
    import mlflow.pyfunc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mlflow.pyfunc.load_model(str(model_dir), suppress_warnings=True)


def _in_process(model, cases) -> tuple[float, float]:
    """(predict wall s, predict CPU s) of a model loaded in this process."""
    t0, c0 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.predict(cases)
    return time.perf_counter() - t0, time.process_time() - c0


def _limits():
    from validation.sandbox import SandboxLimits

    return SandboxLimits(wall_seconds=600, cpu_seconds=600)


def _cold_start(model_dir: Path, work: Path, isolation: str) -> float:
    """Wall s from nothing to a session whose model is loaded."""
    from validation.sandbox import SandboxSession

    t0 = time.perf_counter()
    with SandboxSession(model_dir, input_roots={"": work / "inputs"}, isolation=isolation, limits=_limits()) as s:
        result = s.start()
        elapsed = time.perf_counter() - t0
    if not result.ok:
        raise SystemExit(f"session failed to start: {result.reason}\n{result.stderr_tail}")
    return elapsed


def _warm(model_dir: Path, cases, work: Path, isolation: str, repeats: int) -> list[tuple[float, ...]]:
    """Per repeat, interleaved: (in-process wall, in-process CPU, session wall, session CPU, exchange wall,
    in-sandbox predict wall) of one batch.

    The session is started once and warmed with a small batch; its CPU is every sandboxed process's plus
    this process's (Arrow encoding, checks). The exchange wall (``BatchResult.elapsed``: from sending the
    request to the reply and the CPU reading) and the predict time the harness measured inside the sandbox
    (``BatchResult.model_seconds``) split the batch's cost into host work, harness + pipe work and predict.
    """
    from validation.sandbox import SandboxSession
    from validation.sandbox.channel import tree_cpu_seconds

    model = _load(model_dir)
    rows = []
    with SandboxSession(model_dir, input_roots={"": work / "inputs"}, isolation=isolation, limits=_limits(),
                        max_requests=repeats + 1) as s:
        s.predict(cases.iloc[:64])
        for _ in range(repeats):
            ip_wall, ip_cpu = _in_process(model, cases)
            c_box, c_host, t0 = tree_cpu_seconds(s.pid), time.process_time(), time.perf_counter()
            result = s.predict(cases)
            wall = time.perf_counter() - t0
            cpu = tree_cpu_seconds(s.pid) - c_box + time.process_time() - c_host
            if not result.ok:
                raise SystemExit(f"sandboxed batch failed: {result.reason}\n{result.stderr_tail}")
            rows.append((ip_wall, ip_cpu, wall, cpu, result.elapsed, result.model_seconds))
    return rows


def _one_shot(model_dir: Path, cases, work: Path, isolation: str) -> float:
    """Wall s of one whole run_model, start-up included."""
    from validation.sandbox import run_model

    t0 = time.perf_counter()
    result = run_model(model_dir, cases, input_root=work / "inputs", out_dir=work / "out", isolation=isolation,
                       limits=_limits(), batch_size=len(cases))
    elapsed = time.perf_counter() - t0
    if not result.ok:
        raise SystemExit(f"sandboxed run failed: {result.reason}\n{result.stderr_tail}")
    return elapsed


def _med(values) -> float:
    return statistics.median(values)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick-repeats", type=int, default=21, help="warm-batch repeats of the trivial model")
    parser.add_argument("--work", type=int, default=6, help="matrix products per case in the workload model")
    args = parser.parse_args(argv)

    import pandas as pd

    from validation.sandbox import bwrap_executable

    logging.getLogger("validation.sandbox").setLevel(logging.ERROR)  # the 'none' anchor warns
    isolation = "bwrap" if bwrap_executable() else "process"
    r = args.repeats
    with tempfile.TemporaryDirectory(prefix="clinval-bench-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)
        (work / "inputs").mkdir(mode=0o755)
        constant = _save(work / "constant", ROOT / "examples" / "models" / "constant" / "model.py")
        code = work / "workload.py"
        code.write_text(WORKLOAD.format(work=args.work), encoding="utf-8")
        workload = _save(work / "workload", code)
        for path in work.rglob("*"):
            path.chmod(path.stat().st_mode | (0o005 if path.is_dir() else 0o004))
        big = pd.DataFrame({"case_id": [f"CASE-{i:07d}" for i in range(args.cases)]})
        n = args.cases

        print(f"sandbox benchmark: {n} cases, medians of {r} interleaved repeats "
              f"({max(r, args.quick_repeats)} for the trivial model's warm batch), isolation={isolation}, "
              f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f}")

        # (a) Cold start of a session.
        box, plain = [], []
        for _ in range(r):
            box.append(_cold_start(constant, work, isolation))
            plain.append(_cold_start(constant, work, "none"))
        bw, pw = _med(box), _med(plain)

        # (b) Steady state through a warm session, interleaved with the in-process anchor.
        steady = {"constant": _warm(constant, big, work, isolation, max(r, args.quick_repeats)),
                  "workload": _warm(workload, big, work, isolation, r)}
        const_w = _med(x[0] for x in steady["constant"])
        work_w = _med(x[0] for x in steady["workload"])
        print(f"\nanchor, in-process predict of {n} cases: constant {const_w:.3f} s wall "
              f"({const_w / n * 1e6:.0f} us/case); workload {work_w:.3f} s wall ({work_w / n * 1e3:.2f} ms/case)")
        print("\n(a) cold start of a session (start to model loaded, trivial model)")
        print(f"  {isolation} session {bw:6.3f} s   plain subprocess, same harness {pw:6.3f} s   "
              f"ratio {bw / pw:.2f}x   = {bw / work_w:.0%} of the workload model's {n}-case predict")
        print(f"\n(b) steady state: one {n}-case batch through a warm {isolation} session vs in-process predict "
              "(medians of per-repeat ratios)")
        verdicts = {}
        for name, rows in steady.items():
            rw = _med(x[2] / x[0] for x in rows)
            rc = _med(x[3] / x[1] for x in rows)
            extra = _med((x[2] - x[0]) / n for x in rows)
            print(f"  {name:9s} wall {_med(x[2] for x in rows):6.3f} s vs {_med(x[0] for x in rows):6.3f} s: "
                  f"overhead {100 * (rw - 1):+6.1f} %   cpu {_med(x[3] for x in rows):6.3f} s vs "
                  f"{_med(x[1] for x in rows):6.3f} s: {100 * (rc - 1):+6.1f} %   (+{extra * 1e6:.0f} us/case wall)")
            verdicts[name] = (rw, rc)
        fixed = _med((x[2] - x[0]) for x in steady["constant"])
        rows = steady["constant"]
        print(f"  where it goes (constant model, medians): host checks + Arrow encoding + score checks "
              f"{_med(x[2] - x[4] for x in rows) * 1e3:.2f} ms; exchange beyond the sandboxed predict (pipe, "
              f"harness decoding + id check, CPU clock) {_med(x[4] - x[5] for x in rows) * 1e3:.2f} ms; "
              f"predict in the sandbox {_med(x[5] for x in rows) * 1e3:.2f} ms vs in process "
              f"{_med(x[0] for x in rows) * 1e3:.2f} ms")
        print(f"  a warm batch costs {fixed * 1e3:.0f} ms beyond predict on {n} cases ({fixed / n * 1e6:.1f} us/case, "
              f"measured with the trivial model): 10% is met by models needing more than "
              f"{fixed / n / 0.10 * 1e6:.0f} us/case")

        # (c) Whole one-shot run vs in-process predict.
        model = _load(workload)
        shots = []
        for _ in range(r):
            anchor = _in_process(model, big)[0]
            shots.append((_one_shot(workload, big, work, isolation), anchor))
        sw, shot_ratio = _med(x[0] for x in shots), _med(x[0] / x[1] for x in shots)
        print(f"\n(c) one-shot run_model of the workload model, {n} cases, start-up included")
        print(f"  wall {sw:6.3f} s vs in-process predict {_med(x[1] for x in shots):6.3f} s: "
              f"overhead {100 * (shot_ratio - 1):+6.1f} %")
        per_case = max(0.0, _med((x[2] - x[0]) / n for x in steady["constant"]))
        breakeven = (bw / n + per_case) / 0.10
        print(f"  a one-shot run meets 10% when the model needs more than {breakeven * 1e3:.2f} ms/case on {n} "
              f"cases (start-up {bw:.2f} s + {per_case * 1e6:.0f} us/case)")

        print("\nclaims (overhead < 10% on a 10k-case batch):")
        for name, per_case in (("workload", work_w / n * 1e3), ("constant", const_w / n * 1e3)):
            rw, rc = verdicts[name]
            print(f"  warm session, {name} model ({per_case:.3f} ms/case): wall {'MET' if rw < 1.10 else 'NOT MET'} "
                  f"({100 * (rw - 1):+.1f} %), cpu {'MET' if rc < 1.10 else 'NOT MET'} ({100 * (rc - 1):+.1f} %)")
        expected = (bw + fixed) / work_w
        print(f"  one-shot run (start-up included), workload model: {'MET' if shot_ratio < 1.10 else 'NOT MET'} "
              f"({100 * (shot_ratio - 1):+.1f} % measured; start-up + warm-batch cost alone predict "
              f"{100 * expected:+.1f} %: {'MET' if expected < 0.10 else 'NOT MET'})")
        if os.getloadavg()[0] > (os.cpu_count() or 1):
            print(f"note: the machine was busy (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus); "
                  "wall times are noisy, the cpu ratios are the steadier figures")


if __name__ == "__main__":
    main()
