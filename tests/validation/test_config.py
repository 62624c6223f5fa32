"""Settings: defaults, file, environment precedence, validation with clear errors, masking."""

from __future__ import annotations

import pytest

from validation.config import load_settings
from validation.exceptions import ConfigError


def test_defaults_live_in_the_home(tmp_path):
    s = load_settings({}, home=tmp_path / "h")
    assert s.home == tmp_path / "h"
    assert s.db_url == f"sqlite:///{tmp_path / 'h' / 'platform.db'}"
    assert s.mlflow_tracking_uri == f"sqlite:///{tmp_path / 'h' / 'mlflow.db'}"
    assert (s.sandbox, s.scheduler, s.min_cell) == ("auto", None, 10)


def test_default_home_is_dot_clinval_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_settings({}).home == tmp_path / ".clinval"


def test_environment_beats_file_beats_default(tmp_path):
    home = tmp_path / "h"
    home.mkdir()
    (home / "clinval.toml").write_text('sandbox = "none"\nmin_cell = 5\nscheduler = "tcp://10.0.0.1:8786"\n')
    s = load_settings({"CLINVAL_HOME": str(home), "CLINVAL_SANDBOX": "bwrap"})
    assert s.sandbox == "bwrap" and s.sources["sandbox"] == "env"
    assert s.min_cell == 5 and s.sources["min_cell"] == "file"
    assert s.scheduler == "tcp://10.0.0.1:8786"
    assert s.sources["db_url"] == "default"


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"CLINVAL_DB_URL": "postgresql://u:p@h/db"}, "psycopg2"),
        ({"CLINVAL_DB_URL": "mysql://h/db"}, "unsupported scheme"),
        ({"CLINVAL_SANDBOX": "docker"}, "CLINVAL_SANDBOX"),
        ({"CLINVAL_SCHEDULER": "localhost"}, "tcp://"),
        ({"CLINVAL_MIN_CELL": "ten"}, "whole number"),
        ({"CLINVAL_MIN_CELL": "0"}, "min_cell"),
        ({"MLFLOW_TRACKING_URI": "mlflow.db"}, "no scheme"),
    ],
)
def test_bad_values_are_named(tmp_path, env, fragment):
    with pytest.raises(ConfigError) as info:
        load_settings(env, home=tmp_path)
    assert fragment in str(info.value) + (info.value.hint or "")


def test_bad_file_is_named(tmp_path):
    (tmp_path / "clinval.toml").write_text("colour = 'blue'\n")
    with pytest.raises(ConfigError, match="unknown key"):
        load_settings({}, home=tmp_path)
    (tmp_path / "clinval.toml").write_text("this is = = not toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({}, home=tmp_path)


def test_passwords_are_masked_for_display(tmp_path):
    s = load_settings({"CLINVAL_DB_URL": "postgresql+psycopg2://clin:s3cret@db.example/clinval"}, home=tmp_path)
    shown = s.display()
    assert "s3cret" not in str(shown)
    assert shown["db_url"] == "postgresql+psycopg2://clin:***@db.example/clinval"
