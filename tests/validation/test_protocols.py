"""Protocols: schema and rule-name checks at publish time, freezing by hash, immutability, access."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from validation import accounts
from validation.cli import cli
from validation.exceptions import AccessDenied, Conflict, InvalidInput
from validation.platform import resolve_principal
from validation.protocols import get_protocol, list_protocols, load_protocol_file, protocol_sha256, publish_protocol

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "protocols"


@pytest.mark.parametrize("name", ["cxr-pneumonia.yaml", "aki-48h.yaml"])
def test_shipped_protocols_are_valid(name):
    p = load_protocol_file(EXAMPLES / name)
    assert p.id == name.removesuffix(".yaml") and p.acceptance


def test_hash_is_the_sha256_of_canonical_json_and_ignores_yaml_layout(tmp_path):
    p = load_protocol_file(EXAMPLES / "cxr-pneumonia.yaml")
    body = json.dumps(p.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert protocol_sha256(p) == hashlib.sha256(body.encode()).hexdigest()
    data = yaml.safe_load((EXAMPLES / "cxr-pneumonia.yaml").read_text())
    reformatted = tmp_path / "same.yaml"
    reformatted.write_text(yaml.safe_dump(data, default_flow_style=True, sort_keys=True))
    assert protocol_sha256(load_protocol_file(reformatted)) == protocol_sha256(p)


def _variant(tmp_path, **changes) -> Path:
    data = yaml.safe_load((EXAMPLES / "cxr-pneumonia.yaml").read_text())
    data.update(changes)
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"acceptance": [{"id": "a1", "rule": "aurox.ci_low >= 0.8"}]}, "did you mean 'auroc'"),
        ({"acceptance": [{"id": "a1", "rule": "auroc.ci_lo >= 0.8"}]}, "unknown field"),
        ({"acceptance": [{"id": "a1", "rule": "ppv.ci_low >= 0.8"}]}, "unknown metric 'ppv'"),
        ({"acceptance": [{"id": "a1", "rule": "auroc.ci_low >="}]}, "acceptance criterion 'a1'"),
        ({"metrics": ["auroc", "sharpness"]}, "unknown metric"),
        ({"task": "aki-48h"}, "input view"),
        ({"subgroups": ["ethnicity"]}, "subgroups"),
        ({"colour": "blue"}, "colour"),
        ({"version": 0}, "version"),
    ],
)
def test_bad_protocols_fail_at_publish_time_with_the_field_named(tmp_path, changes, fragment):
    if "metrics" not in changes and "ppv" in str(changes):
        changes = {**changes, "metrics": ["auroc", "sensitivity"]}
    with pytest.raises(InvalidInput) as info:
        load_protocol_file(_variant(tmp_path, **changes))
    assert fragment in info.value.message


def test_not_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: [unclosed")
    with pytest.raises(InvalidInput, match="not valid YAML"):
        load_protocol_file(bad)
    with pytest.raises(InvalidInput, match="not found"):
        load_protocol_file(tmp_path / "nope.yaml")


def test_parse_protocol_checks_text_like_the_file_loader(tmp_path):
    from validation.protocols import parse_protocol

    shipped = EXAMPLES / "cxr-pneumonia.yaml"
    assert parse_protocol(shipped.read_bytes(), name="upload.yaml") == load_protocol_file(shipped)
    with pytest.raises(InvalidInput, match="upload.yaml is not valid YAML"):
        parse_protocol(b"id: [unclosed", name="upload.yaml")
    with pytest.raises(InvalidInput, match="not UTF-8"):
        parse_protocol(b"id: \xff\xfe", name="upload.yaml")
    with pytest.raises(InvalidInput, match="larger than"):
        parse_protocol(b"#" * (2 * 1024 * 1024), name="upload.yaml")
    with pytest.raises(InvalidInput, match="mapping"):
        parse_protocol("- a list", name="upload.yaml")


def test_publish_is_frozen_and_idempotent(platform, tmp_path):
    admin = resolve_principal(platform)
    protocol = load_protocol_file(EXAMPLES / "aki-48h.yaml")
    first, new = publish_protocol(platform, admin, protocol)
    assert new and first.sha256 == protocol_sha256(protocol)
    again, new_again = publish_protocol(platform, admin, protocol)
    assert not new_again and again.sha256 == first.sha256
    changed = load_protocol_file(_variant(tmp_path, id="aki-48h", task="aki-48h", input={"view": "fhir"},
                                          subgroups=["sex"]))
    with pytest.raises(Conflict, match="different content") as info:
        publish_protocol(platform, admin, changed)
    assert "new version" in info.value.hint
    with pytest.raises(DBAPIError, match="frozen"):
        with platform.db.write() as s:
            s.execute(text("UPDATE protocols SET sha256 = 'x'"))
    assert get_protocol(platform, admin, "aki-48h").sha256 == first.sha256
    with platform.db.read() as s:
        events = s.execute(text("SELECT object_sha256 FROM audit_events WHERE action = 'protocol.publish'")).all()
    assert [e[0] for e in events] == [first.sha256]


def test_everyone_reads_only_admins_publish(sqlite_platform):
    p = sqlite_platform
    admin = resolve_principal(p)
    accounts.create_org(p, admin, "acme", "Acme", "vendor")
    accounts.create_user(p, admin, username="ven", printed_name="V", role="vendor", org="acme")
    token, _ = accounts.create_token(p, admin, username="ven")
    vendor = accounts.authenticate(p, token)
    protocol = load_protocol_file(EXAMPLES / "cxr-pneumonia.yaml")
    with pytest.raises(AccessDenied):
        publish_protocol(p, vendor, protocol)
    publish_protocol(p, admin, protocol)
    assert [x.protocol.id for x in list_protocols(p, vendor)] == ["cxr-pneumonia"]


def test_cli_publish_list_show(tmp_path, monkeypatch):
    monkeypatch.setenv("CLINVAL_HOME", str(tmp_path / "h"))
    runner = CliRunner()
    assert runner.invoke(cli, ["init"]).exit_code == 0
    r = runner.invoke(cli, ["protocol", "publish", str(EXAMPLES / "cxr-pneumonia.yaml")])
    assert r.exit_code == 0 and "Published" in r.output, r.output
    r = runner.invoke(cli, ["protocol", "show", "cxr-pneumonia", "--json"])
    assert json.loads(r.output)["protocol"]["acceptance"][0]["rule"] == "auroc.ci_low >= 0.80"
    r = runner.invoke(cli, ["protocol", "show", "nope"])
    assert r.exit_code != 0 and "no published protocol" in r.output
    r = runner.invoke(cli, ["protocol", "publish", str(tmp_path / "missing.yaml")])
    assert r.exit_code == 2 and "not found" in r.output
