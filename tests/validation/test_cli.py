"""The CLI end to end: init, config, orgs, users, tokens, whoami; bad input gives one line and a hint."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest
from click.testing import CliRunner

from validation.cli import cli


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("CLINVAL_HOME", str(tmp_path / "home"))
    runner = CliRunner()

    def _run(*args, token=None, input=None):
        env = {"CLINVAL_TOKEN": token} if token else {}
        return runner.invoke(cli, list(args), env=env, input=input, catch_exceptions=False)

    return _run


@pytest.fixture
def home(run, tmp_path):
    result = run("init", "--json")
    assert result.exit_code == 0, result.output
    return tmp_path / "home", json.loads(result.output)["admin_token"]


def test_init_makes_private_home_and_keys(home):
    path, token = home
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert stat.S_IMODE((path / "keys").stat().st_mode) == 0o700
    for key in (path / "keys").iterdir():
        if key.name.startswith("audit-public-key"):
            continue
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key.name
    assert (path / "keys" / "admin.token").read_text().strip() == token


def test_init_twice_is_refused_with_a_hint(home, run):
    result = run("init")
    assert result.exit_code != 0
    assert "already initialised" in result.output and "Hint:" in result.output


def test_orgs_after_init(home, run):
    result = run("org", "list", "--json")
    assert result.exit_code == 0, result.output
    orgs = {o["code"]: o["kind"] for o in json.loads(result.output)}
    assert {f"H{i:02d}" for i in range(1, 17)} <= set(orgs)
    assert orgs["regulator"] == "regulator" and orgs["pilot-base"] == "pilot-base"
    assert sum(kind == "hospital" for kind in orgs.values()) == 16


def test_config_masks_and_names_sources(home, run, monkeypatch):
    monkeypatch.setenv("CLINVAL_DB_URL", "postgresql+psycopg2://u:topsecret@localhost/db")
    result = run("config")
    assert result.exit_code == 0, result.output
    assert "topsecret" not in result.output and "***" in result.output and "(env)" in result.output


def test_a_vendor_session(home, run):
    assert run("org", "add", "acme", "--name", "Acme AI", "--kind", "vendor").exit_code == 0
    r = run("user", "add", "--username", "ada", "--name", "Ada Lovelace", "--role", "vendor", "--org", "acme",
            "--password-stdin", input="a long enough password\n")
    assert r.exit_code == 0, r.output
    r = run("token", "create", "--user", "ada", "--expires-days", "30", "--json")
    assert r.exit_code == 0, r.output
    vendor_token = json.loads(r.output)["token"]
    r = run("whoami", "--json", token=vendor_token)
    assert json.loads(r.output)["role"] == "vendor"
    r = run("user", "add", "--username", "eve", "--name", "Eve", "--role", "vendor", "--org", "acme",
            token=vendor_token)
    assert r.exit_code == 4 and "may not user.create" in r.output
    assert "Traceback" not in r.output
    token_id = json.loads(run("token", "list", "--user", "ada", "--json").output)[0]["id"]
    assert run("token", "revoke", str(token_id)).exit_code == 0
    r = run("whoami", token=vendor_token)
    assert r.exit_code == 3 and "revoked" in r.output


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("org", "add", "bad code!", "--name", "X", "--kind", "vendor"), "not valid"),
        (("user", "add", "--username", "xy", "--name", "X", "--role", "vendor", "--org", "nowhere"), "no organisation"),
        (("user", "add", "--username", "rev", "--name", "R", "--role", "reviewer", "--org", "regulator"), "cannot"),
        (("token", "create", "--user", "ghost"), "no user"),
        (("token", "create", "--user", "admin", "--expires-days", "0"), "expires-days"),
        (("token", "revoke", "999"), "no token"),
    ],
)
def test_bad_input_is_one_line_and_a_hint(home, run, args, fragment):
    result = run(*args)
    assert result.exit_code not in (0, 70), result.output
    assert fragment in result.output and "Hint:" in result.output
    assert "Traceback" not in result.output


def test_bad_token_is_refused(home, run):
    result = run("whoami", token="cvt_not-a-real-token")
    assert result.exit_code == 3 and "unknown token" in result.output


def test_before_init_says_to_init(run):
    result = run("whoami")
    assert result.exit_code != 0 and "clinval init" in result.output


def test_bad_setting_is_reported_cleanly(run, monkeypatch):
    monkeypatch.setenv("CLINVAL_SANDBOX", "docker")
    result = run("config")
    assert result.exit_code == 2 and "CLINVAL_SANDBOX" in result.output


@pytest.mark.parametrize(
    "command", [[], ["init"], ["config"], ["whoami"], ["org"], ["org", "add"], ["user", "add"], ["token", "create"],
                ["demo"], ["corpus", "ingest"], ["protocol", "publish"], ["submit"], ["evaluate"], ["run", "results"],
                ["run", "cases"], ["audit", "export"], ["audit", "verify"], ["submission", "smoke"]]
)
def test_help_explains_every_command(command):
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output
    assert len(result.output.splitlines()) >= 4


def test_console_script_runs_in_a_fresh_process(tmp_path):
    env = {**os.environ, "CLINVAL_HOME": str(tmp_path / "h")}
    out = subprocess.run([sys.executable, "-m", "validation.cli", "init"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    out = subprocess.run([sys.executable, "-m", "validation.cli", "whoami"], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and "admin" in out.stdout


def test_an_unwritable_output_file_is_one_line_not_a_traceback(home, run, tmp_path):
    result = run("audit", "checkpoint", "--out", str(tmp_path / "no-such-folder" / "cp.txt"))
    assert result.exit_code == 1, result.output
    assert "cannot access" in result.output and "Traceback" not in result.output and "internal error" not in result.output


def test_a_failed_connection_is_not_reported_as_a_file_problem(home, run):
    import click

    @click.command("test-connection-refused")
    def refused():
        raise ConnectionRefusedError(111, "Connection refused")

    cli.add_command(refused)
    try:
        result = run("test-connection-refused")
    finally:
        cli.commands.pop("test-connection-refused", None)
    assert result.exit_code == 1, result.output
    assert "ConnectionRefusedError: Connection refused" in result.output and "MLflow tracking server" in result.output
    assert "cannot access" not in result.output and "Traceback" not in result.output
