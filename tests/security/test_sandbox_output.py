"""Models that load and predict but return wrong output or crash; and the well-behaved model.

Golden scores of the example model are recomputed here from its published rule
(``int(sha256(case_id)[:8]) / 2**64``), not taken from the sandbox.
"""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from validation.sandbox import SandboxLimits, run_model

pytestmark = pytest.mark.usefixtures("needs_bwrap")

LIMITS = SandboxLimits(wall_seconds=30, cpu_seconds=20, max_output_bytes=4 * 1024 * 1024)


def _expected_score(case_id: str) -> float:
    return int.from_bytes(hashlib.sha256(case_id.encode()).digest()[:8], "big") / 2.0**64


def test_well_behaved_model_scores_every_case_in_order(models, host, out_dir):
    cases = host.cases(n=23).sample(frac=1.0, random_state=7).reset_index(drop=True)
    result = run_model(
        models["constant"], cases, input_root=host.input_root, out_dir=out_dir,
        limits=LIMITS, batch_size=5, path_columns=["path"],
    )
    assert result.status == "ok", result
    assert (result.reason, result.isolation, result.n_cases, result.exit_code) == ("", "bwrap", 23, 0)
    assert result.predictions == out_dir / "predictions.parquet"
    got = pd.read_parquet(result.predictions)
    assert list(got.columns) == ["case_id", "score"]
    assert got["case_id"].tolist() == cases["case_id"].tolist()
    assert got["score"].tolist() == [_expected_score(c) for c in cases["case_id"]]


def test_empty_case_table_gives_empty_predictions(models, host, out_dir):
    cases = host.cases(n=0)
    result = run_model(models["constant"], cases, input_root=host.input_root, out_dir=out_dir, limits=LIMITS)
    assert result.status == "ok", result
    assert len(pd.read_parquet(result.predictions)) == 0


WRONG = {
    "missing_ids": "the model's output is invalid: batch starting at row 0: predict output lacks 2 of the 5 case id(s) of the batch",
    "extra_ids": "the model's output is invalid: batch starting at row 0: predict output has 1 case id(s) that are not in the batch",
    "duplicate_ids": "the model's output is invalid: batch starting at row 0: predict output has 1 duplicate case id(s)",
    "nan": "the model's output is invalid: batch starting at row 0: 1 score(s) are missing, NaN or infinite; expected finite numbers",
    "inf": "the model's output is invalid: batch starting at row 0: 1 score(s) are missing, NaN or infinite; expected finite numbers",
    "out_of_range": "the model's output is invalid: batch starting at row 0: 1 score(s) are outside [0, 1]",
    "no_score_column": "the model's output is invalid: batch starting at row 0: predict output lacks column(s) ['score']; it has 2 column(s)",
    "ndarray": "the model's output is invalid: batch starting at row 0: predict returned ndarray; expected a pandas DataFrame with columns 'case_id' and 'score'",
}


@pytest.mark.parametrize("mode", sorted(WRONG))
def test_wrong_output_is_rejected_with_its_reason(models, host, out_dir, mode):
    result = run_model(
        models["wrong_output"], host.cases(mode=mode), input_root=host.input_root,
        out_dir=out_dir, limits=LIMITS,
    )
    assert result.status == "failed", result
    assert result.stage == "validate"
    assert result.reason == WRONG[mode]
    assert result.predictions is None
    assert not (out_dir / "predictions.parquet").exists()


def test_string_scores_are_rejected(models, host, out_dir):
    result = run_model(
        models["wrong_output"], host.cases(mode="strings"), input_root=host.input_root,
        out_dir=out_dir, limits=LIMITS,
    )
    assert result.status == "failed", result
    prefix = "the model's output is invalid: batch starting at row 0: score column has dtype "
    assert result.reason.startswith(prefix)  # dtype name differs between pandas versions
    assert result.reason.endswith("; expected floating-point numbers")


def test_crash_on_load(models, host, out_dir):
    result = run_model(models["crash_load"], host.cases(), input_root=host.input_root, out_dir=out_dir, limits=LIMITS)
    assert result.status == "failed", result
    assert (result.stage, result.error) == ("load", "RuntimeError")
    assert result.reason == "loading the model raised RuntimeError"
    assert "cannot load its weights" in result.stderr_tail  # operators see the vendor's message


def test_crash_in_predict_keeps_case_data_out_of_the_result(models, host, out_dir):
    cases = host.cases(mode="raise")
    result = run_model(models["crash_predict"], cases, input_root=host.input_root, out_dir=out_dir, limits=LIMITS)
    assert result.status == "failed", result
    assert (result.stage, result.error) == ("predict", "ValueError")
    assert result.reason == "predict raised ValueError"
    assert "cannot score case <case_id> with creatinine <n> mg/dL" in result.stderr_tail
    for case_id in cases["case_id"]:
        assert case_id not in result.stderr_tail
    assert "1.2345" not in result.stderr_tail


def test_segfault_in_predict(models, host, out_dir):
    result = run_model(
        models["crash_predict"], host.cases(mode="segfault"), input_root=host.input_root,
        out_dir=out_dir, limits=LIMITS,
    )
    assert result.status == "failed", result
    assert result.signal == 11
    assert result.reason == "the sandboxed process was killed by SIGSEGV before reporting a result"


def test_input_paths_are_readable_under_input(models, host, out_dir):
    # The reader model lists what it can read; the case's own input file must be readable.
    cases = host.cases(paths=[["/input/case1.bin", []], ["/model/MLmodel", []]], env=[])
    result = run_model(
        models["reader"], cases, input_root=host.input_root, out_dir=out_dir,
        limits=LIMITS, path_columns=["path"],
    )
    assert result.status == "ok", result
    assert "READ 0 ok" in result.stderr_tail and "READ 1 ok" in result.stderr_tail


def test_forged_failure_report_cannot_carry_data(models, host, out_dir):
    cases = host.cases()
    result = run_model(models["forger"], cases, input_root=host.input_root, out_dir=out_dir, limits=LIMITS)
    assert result.status == "failed", result
    assert result.reason == (
        "the model's output is invalid: batch starting at row ?: predict returned another type; "
        "expected a pandas DataFrame with columns 'case_id' and 'score'"
    )
    assert result.error == "a vendor-defined exception"
    for case_id in cases["case_id"]:
        assert case_id not in repr(result)
