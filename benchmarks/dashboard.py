"""Benchmark of the dashboards: the overview and report pages of 16 sites x N models, rendered server-side by
Streamlit's AppTest, as ratios against the sign-in page rendered in the same run (the anchor: Streamlit's own
cost of running a page script).

Setup (not measured): a platform with a 16-hospital corpus and N scored runs of a trivial model (the scores are a
hash of the case id), evaluated in the sandbox like any submission.

Usage::

    python benchmarks/dashboard.py [--models 10] [--cases 12]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # benchmarks/evaluators.py shadows
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
ROOT = HERE.parent


def _setup(home: Path, n_models: int, cases: int) -> None:
    import mlflow
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    from datasets.synthetic import generate_export
    from validation import accounts
    from validation.config import load_settings
    from validation.corpora import ingest_corpus
    from validation.home import init_home
    from validation.platform import open_platform, resolve_principal
    from validation.protocols import load_protocol_file, publish_protocol
    from validation.registry import ModelCard, smoke_test, submit_model
    from validation.runs import evaluate

    settings = load_settings({}, home=home)
    init_home(settings)
    platform = open_platform(settings)
    admin = resolve_principal(platform)
    generate_export(home / "export", cases=cases, tasks=["cxr-pneumonia"], seed=3, image_size=64)
    corpus = ingest_corpus(platform, admin, home / "export")
    publish_protocol(platform, admin, load_protocol_file(ROOT / "examples" / "protocols" / "cxr-pneumonia.yaml"))
    accounts.create_org(platform, admin, "bench-ai", "Bench AI", "vendor")
    accounts.create_user(platform, admin, username="bench-vendor", printed_name="Bench", role="vendor",
                         org="bench-ai", password="bench vendor password")
    accounts.create_user(platform, admin, username="bench-reviewer", printed_name="Reviewer", role="reviewer",
                         org="H01", password="bench reviewer password")
    vendor = accounts.login(platform, "bench-vendor", "bench vendor password")
    sig = ModelSignature(inputs=Schema([ColSpec("string", "case_id"), ColSpec("string", "path")]),
                         outputs=Schema([ColSpec("string", "case_id"), ColSpec("double", "score")]))
    for i in range(n_models):
        model = home / f"model-{i}"
        mlflow.pyfunc.save_model(str(model), python_model=str(ROOT / "examples" / "models" / "constant" / "model.py"),
                                 pip_requirements=["mlflow==3.17.2", "pandas"], signature=sig)
        (model / "version.txt").write_text(str(i))  # a distinct model (hash) per version
        card = ModelCard.model_validate({
            "vendor": "bench-ai", "model_name": "coin", "model_version": f"0.{i}", "protocol_id": "cxr-pneumonia",
            "intended_use": "Benchmark model; scores are a hash of the case id.", "operating_threshold": 0.5,
            "training_data": {"summary": "None: scores are a hash of the case id."}, "contact": "b@e.nch"})
        sub = submit_model(platform, vendor, model, card)
        smoke_test(platform, vendor, sub.id, corpus_id=corpus.id)
        evaluate(platform, admin, sub.id, corpus.id, batch_size=500)
    platform.close()


def _timed(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--cases", type=int, default=12, help="cases per site (default 12)")
    args = parser.parse_args()
    from streamlit.testing.v1 import AppTest

    from dashboards import APP_PATH

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        t0 = time.perf_counter()
        _setup(home, args.models, args.cases)
        print(f"setup: 16 hospitals, {args.models} scored runs in {time.perf_counter() - t0:.0f} s (not measured)")
        os.environ["CLINVAL_HOME"] = str(home)

        def signed_in() -> AppTest:
            at = AppTest.from_file(str(APP_PATH), default_timeout=60)
            at.run()
            at.text_input[0].input("bench-reviewer")
            at.text_input[1].input("bench reviewer password")
            at.button[0].click().run()
            return at

        at = signed_in()
        anchor = _timed(lambda: AppTest.from_file(str(APP_PATH), default_timeout=60).run())

        def page(script: str):
            def go():
                import streamlit as st

                st.cache_data.clear()
                at.switch_page(f"views/{script}").run()
                assert not at.exception, [e.value for e in at.exception]
            return go

        def cached(script: str):
            def go():
                at.switch_page(f"views/{script}").run()
            return go

        print(f"anchor: the sign-in page renders in {anchor * 1000:.0f} ms (median of 5)")
        for script, label in (("overview.py", "overview"), ("report.py", "run report")):
            cold, warm = _timed(page(script)), _timed(cached(script))
            shown = len(at.dataframe) + len(at.get("vega_lite_chart")) + len(at.metric)
            if not shown:
                raise SystemExit(f"the {label} page showed no table, chart or metric: the measurement is void")
            print(f"  {label:11} ({shown} tables/charts/metrics) 16 sites x {args.models} models: {cold / anchor:5.1f}x the anchor with an empty "
                  f"cache ({cold:.2f} s), {warm / anchor:5.1f}x cached ({warm:.2f} s); goal: under 2 s")


if __name__ == "__main__":
    main()
