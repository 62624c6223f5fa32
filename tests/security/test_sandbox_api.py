"""The sandbox's records and argument checks, and the weaker isolation modes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from validation.sandbox import (
    CaseTableError,
    InvalidLimitsError,
    IsolationUnavailableError,
    SandboxLimits,
    SandboxResult,
    run_model,
    scrub_text,
)
from validation.sandbox.harness import check_predictions, describe_problem, error_name


def test_default_limits_are_valid_and_frozen():
    limits = SandboxLimits()
    assert limits.memory_bytes == 4 * 1024**3 and limits.max_processes == 64
    with pytest.raises(AttributeError):
        limits.wall_seconds = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "field, value",
    [
        ("memory_bytes", 1024),
        ("cpu_seconds", 0),
        ("max_processes", 1),
        ("max_open_files", 3),
        ("max_output_bytes", 10),
        ("tmp_bytes", 0),
        ("cpu_seconds", 2.5),
        ("max_processes", True),
        ("wall_seconds", 0),
        ("wall_seconds", float("inf")),
        ("wall_seconds", float("nan")),
        ("wall_seconds", "20"),
    ],
)
def test_bad_limits_are_refused_with_the_field_named(field, value):
    with pytest.raises(InvalidLimitsError, match=f"SandboxLimits.{field}"):
        SandboxLimits(**{field: value})


def test_result_record_checks_itself():
    with pytest.raises(ValueError, match="reason"):
        SandboxResult(status="failed", reason="", predictions=None, n_cases=1, elapsed=0.1, isolation="bwrap")
    with pytest.raises(ValueError, match="predictions"):
        SandboxResult(status="ok", reason="", predictions=None, n_cases=1, elapsed=0.1, isolation="bwrap")
    with pytest.raises(ValueError, match="isolation"):
        SandboxResult(status="ok", reason="", predictions=Path("p"), n_cases=1, elapsed=0.1, isolation="docker")


def test_scrub_removes_case_ids_paths_and_numbers_but_keeps_line_numbers():
    text = 'File "/input/site/a.dcm", line 42\nValueError: case P-001 age 67.5 id 1234567 ok P-0010'
    out = scrub_text(text, case_ids=["P-001"], paths=["/input"])
    # P-0010 is not the case id P-001 (whole tokens only), but its digits are still scrubbed.
    assert out == 'File "<path>", line 42\nValueError: case <case_id> age <n> id <n> ok P-<n>'


def _ids(n):
    return pd.Series([f"c{i}" for i in range(n)])


def test_check_predictions_accepts_any_order_and_returns_batch_order():
    out = pd.DataFrame({"case_id": ["c2", "c0", "c1"], "score": [0.2, 0.0, 1.0], "extra": 1})
    frame, problem = check_predictions(out, _ids(3))
    assert problem is None
    assert frame["case_id"].tolist() == ["c0", "c1", "c2"]
    assert frame["score"].tolist() == [0.0, 1.0, 0.2]


def test_check_predictions_counts_without_values():
    out = pd.DataFrame({"case_id": ["c0", "secret-9", "c1"], "score": [0.1, 0.2, 0.3]})
    frame, problem = check_predictions(out, _ids(3))
    assert frame is None
    text = describe_problem(problem)
    assert text == "predict output lacks 1 of the 3 case id(s) of the batch and has 1 case id(s) that are not in the batch"
    assert "secret" not in text


@pytest.mark.parametrize(
    "forged",
    [
        {"code": "not_dataframe", "type": "Patient_Jane_Doe_1970"},
        {"code": "bad_dtype", "dtype": "Jane Doe"},
        {"code": "missing_columns", "columns": ["Jane Doe"], "n_columns": "Jane"},
        {"code": "nonfinite", "n": "Jane Doe"},
        {"code": "Jane Doe"},
        "Jane Doe",
        None,
    ],
)
def test_problem_text_cannot_carry_forged_data(forged):
    # The problem dict comes back from inside the sandbox, so the model could forge it.
    assert "Jane" not in describe_problem(forged)


def test_only_builtin_exception_names_pass():
    assert error_name("ValueError") == "ValueError"
    assert error_name("_ArrayMemoryError") == "MemoryError"
    assert error_name("Jane_Doe_1970") == "a vendor-defined exception"
    assert error_name("print") == "a vendor-defined exception"
    assert error_name({"x": 1}) == "a vendor-defined exception"


@pytest.fixture
def tiny(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text("flavors: {}\n")
    inputs = tmp_path / "in"
    inputs.mkdir()
    return model, inputs


@pytest.mark.parametrize(
    "cases, kwargs, match",
    [
        (pd.DataFrame({"id": ["a"]}), {}, "no 'case_id' column"),
        (pd.DataFrame({"case_id": ["a", "a"]}), {}, "1 duplicate case_id"),
        (pd.DataFrame({"case_id": ["a", None]}), {}, "1 missing case_id"),
        (pd.DataFrame({"case_id": ["a"], "p": ["/etc/shadow"]}), {"path_columns": ["p"]}, "absolute or contains '..'"),
        (pd.DataFrame({"case_id": ["a"], "p": ["x/../../y"]}), {"path_columns": ["p"]}, "absolute or contains '..'"),
        (pd.DataFrame({"case_id": ["a"]}), {"path_columns": ["p"]}, "path column 'p' is not in cases"),
        (pd.DataFrame({"case_id": ["a"]}), {"path_columns": "p"}, "not one string"),
        (pd.DataFrame({"case_id": ["a"]}), {"batch_size": 0}, "batch_size"),
        ([{"case_id": "a"}], {}, "pandas DataFrame"),
    ],
)
def test_bad_arguments_are_refused_before_anything_runs(tiny, tmp_path, cases, kwargs, match):
    model, inputs = tiny
    with pytest.raises(CaseTableError, match=match):
        run_model(model, cases, input_root=inputs, out_dir=tmp_path / "out", **kwargs)


def test_model_dir_must_be_an_mlflow_model(tmp_path):
    with pytest.raises(CaseTableError, match="no MLmodel file"):
        run_model(tmp_path, pd.DataFrame({"case_id": ["a"]}), input_root=tmp_path, out_dir=tmp_path / "o")


def test_unknown_isolation_is_refused(tiny, tmp_path):
    model, inputs = tiny
    with pytest.raises(ValueError, match="isolation must be one of"):
        run_model(model, pd.DataFrame({"case_id": ["a"]}), input_root=inputs, out_dir=tmp_path / "o", isolation="docker")


@pytest.fixture
def path_without_bwrap(tmp_path, monkeypatch):
    """A PATH holding prlimit and unshare but no bwrap, as on a machine without bubblewrap."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("prlimit", "unshare"):
        found = shutil.which(tool)
        if found is None:
            pytest.skip(f"{tool} (util-linux) is not installed")
        (bin_dir / tool).symlink_to(found)
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


def test_bwrap_mode_without_bubblewrap_raises(tiny, tmp_path, path_without_bwrap):
    model, inputs = tiny
    with pytest.raises(IsolationUnavailableError, match="apt-get install bubblewrap"):
        run_model(model, pd.DataFrame({"case_id": ["a"]}), input_root=inputs, out_dir=tmp_path / "o", isolation="bwrap")


def test_auto_without_bubblewrap_falls_back_loudly(models, host, out_dir, path_without_bwrap, caplog):
    result = run_model(models["constant"], host.cases(n=4), input_root=host.input_root, out_dir=out_dir)
    assert result.status == "ok", result
    assert result.isolation == "process"
    assert any("WITHOUT file-system isolation" in w for w in result.warnings)
    assert "WITHOUT file-system isolation" in caplog.text
    if os.geteuid() != 0:
        assert any("network access" in w for w in result.warnings)


def test_process_mode_still_enforces_limits_and_timeouts(models, host, out_dir):
    limits = SandboxLimits(wall_seconds=4, cpu_seconds=4)
    result = run_model(
        models["sleeper"], host.cases(), input_root=host.input_root, out_dir=out_dir,
        limits=limits, isolation="process",
    )
    assert result.status == "failed"
    assert result.reason == "the run exceeded the wall-clock limit of 4 s and was killed"
    assert result.isolation == "process"


@pytest.mark.skipif(os.geteuid() != 0, reason="a network namespace without bubblewrap needs root")
def test_process_mode_as_root_has_no_network(models, host, out_dir):
    host.pending_connections()
    result = run_model(
        models["network"],
        host.cases(host_ip=host.host_ip, tcp_port=host.tcp_port, udp_port=host.udp_port,
                   abstract_name=host.abstract_name),
        input_root=host.input_root, out_dir=out_dir, isolation="process",
        limits=SandboxLimits(wall_seconds=30),
    )
    assert result.status == "failed", result
    assert result.error == "ConnectionError"
    assert host.pending_connections() == []


def test_missing_input_file_is_refused_before_the_run(models, host, out_dir):
    cases = host.cases(n=2)
    cases.loc[1, "path"] = "no-such-file.bin"
    with pytest.raises(CaseTableError, match="path column 'path' row 1 names no file under input_root"):
        run_model(models["constant"], cases, input_root=host.input_root, out_dir=out_dir, path_columns=["path"])


@pytest.mark.usefixtures("needs_bwrap")
@pytest.mark.skipif(os.geteuid() != 0, reason="only root switches to a throw-away uid")
def test_unreadable_model_files_are_refused_before_the_run(models, host, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(models["constant"], model)
    (model / "model.py").chmod(0o600)
    with pytest.raises(CaseTableError, match="chmod -R o\\+rX"):
        run_model(model, host.cases(n=2), input_root=host.input_root, out_dir=tmp_path / "out")
