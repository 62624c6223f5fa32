"""The audit trail wired to the live platform: checkpoints after every change, check, export, verify, e-sign."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from validation import accounts, esign
from validation.audit import event_hash
from validation.audit.checkpoint import parse_checkpoint
from validation.audit.trail import (
    check_log,
    export_bundle,
    latest_checkpoint,
    log_size,
    public_key_text,
    write_checkpoint,
)
from validation.cli import cli
from validation.exceptions import AccessDenied, AuthenticationError, InvalidInput
from validation.platform import resolve_principal
from validation.policy import Resource


@pytest.fixture
def cast(sqlite_platform):
    p = sqlite_platform
    admin = resolve_principal(p)
    accounts.create_org(p, admin, "acme", "Acme AI", "vendor")
    people = {"admin": admin}
    for username, role, org in [("ven", "vendor", "acme"), ("rev1", "reviewer", "H01"), ("rev2", "reviewer", "H02"),
                                ("reg", "regulator", "regulator")]:
        accounts.create_user(p, admin, username=username, printed_name=f"Printed {username}", role=role, org=org,
                             password=f"password of {username}")
        people[username] = accounts.login(p, username, f"password of {username}")
    return p, people


def test_every_cli_change_is_covered_by_a_signed_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("CLINVAL_HOME", str(tmp_path / "h"))
    runner = CliRunner()
    assert runner.invoke(cli, ["init"]).exit_code == 0
    for args in (["org", "add", "acme", "--name", "Acme", "--kind", "vendor"],
                 ["user", "add", "--username", "ada", "--name", "Ada", "--role", "vendor", "--org", "acme"],
                 ["token", "create", "--user", "ada"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
        from validation.platform import open_platform

        p = open_platform()
        try:
            assert parse_checkpoint(latest_checkpoint(p)).tree_size == log_size(p)
        finally:
            p.close()


def test_export_and_verify_through_the_cli(cast, tmp_path):
    p, who = cast
    home = str(p.settings.home)
    runner = CliRunner(env={"CLINVAL_HOME": home})
    early = tmp_path / "early.txt"
    assert runner.invoke(cli, ["audit", "checkpoint", "--out", str(early)]).exit_code == 0
    accounts.create_org(p, who["admin"], "later-co", "Later Co", "vendor")
    bundle = tmp_path / "b.zip"
    r = runner.invoke(cli, ["audit", "export", "--out", str(bundle), "--from-checkpoint", str(early)])
    assert r.exit_code == 0, r.output
    key = tmp_path / "key.txt"
    key.write_text(public_key_text(p))
    r = runner.invoke(cli, ["audit", "verify", str(bundle), "--public-key", str(key), "--previous-checkpoint",
                            str(early), "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert report["ok"] and report["consistency_from"] == parse_checkpoint(early.read_text()).tree_size
    # The verifier shipped inside the bundle runs in an isolated interpreter, without clinval.
    with zipfile.ZipFile(bundle) as z:
        (tmp_path / "verify_bundle.py").write_bytes(z.read("verify_bundle.py"))
    out = subprocess.run([sys.executable, "-I", str(tmp_path / "verify_bundle.py"), str(bundle), "--public-key",
                          str(key)], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_changed_byte_fails_verification_by_name(cast, tmp_path):
    p, who = cast
    bundle = tmp_path / "b.zip"
    export_bundle(p, who["reg"], bundle)
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(forged, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "events.jsonl":
                assert b'"object_id":"acme"' in data
                data = data.replace(b'"object_id":"acme"', b'"object_id":"acmf"')
            dst.writestr(item, data)
    key = tmp_path / "key.txt"
    key.write_text(public_key_text(p))
    r = CliRunner().invoke(cli, ["audit", "verify", str(forged), "--public-key", str(key)])
    assert r.exit_code == 1 and "FAILED" in r.output and "events.jsonl" in r.output


def test_only_regulators_and_admins_export(cast, tmp_path):
    p, who = cast
    for name in ("ven", "rev1"):
        with pytest.raises(AccessDenied):
            export_bundle(p, who[name], tmp_path / f"{name}.zip")
        assert not (tmp_path / f"{name}.zip").exists()
    export_bundle(p, who["reg"], tmp_path / "reg.zip", since=3)
    with zipfile.ZipFile(tmp_path / "reg.zip") as z:
        seqs = [json.loads(line)["seq"] for line in z.read("events.jsonl").splitlines()]
    assert seqs and min(seqs) == 3


def test_check_finds_a_history_rewritten_with_a_valid_chain(cast):
    p, who = cast
    write_checkpoint(p)  # what every CLI command does after a change
    assert check_log(p, who["admin"]).ok
    # A forger with database access rewrites event 4 and re-links the whole chain after it.
    with p.db.write() as s:
        s.execute(text("DROP TRIGGER audit_events_no_update"))
        rows = [dict(r._mapping) for r in s.execute(text("SELECT * FROM audit_events ORDER BY seq"))]
        prev = None
        for row in rows:
            event = {k: row[k] for k in row if k != "hash"}
            event["details"] = json.loads(event["details"]) if isinstance(event["details"], str) else event["details"]
            if row["seq"] == 4:
                event["object_id"] = "forged"
            if prev is not None:
                event["prev_hash"] = prev
            prev = event_hash(event)
            s.execute(text("UPDATE audit_events SET object_id = :o, prev_hash = :p, hash = :h WHERE seq = :s"),
                      {"o": event["object_id"], "p": event["prev_hash"], "h": prev, "s": row["seq"]})
    report = check_log(p, who["admin"])
    assert not report.ok and "rewritten" in report.problem


def test_esign_records_meaning_reason_and_document_hash(cast):
    p, who = cast
    run = Resource(kind="run", id="run-1", org="acme", sites={"H01", "H05"})
    digest = "ab" * 32
    event = esign.sign(p, who["rev1"], password="password of rev1", resource=run, document_sha256=digest,
                       meaning="approve", reason="Sensitivity CI clears the pre-registered bound at H01.")
    assert event["meaning"] == "approve" and event["object_sha256"] == digest
    assert event["actor_name"] == "Printed rev1" and event["time"].endswith("Z")
    assert event["reason"].startswith("Sensitivity")


def test_esign_needs_the_password_a_reason_and_the_right_hospital(cast):
    p, who = cast
    run = Resource(kind="run", id="run-1", org="acme", sites={"H01"})
    with pytest.raises(AuthenticationError):
        esign.sign(p, who["rev1"], password="wrong", resource=run, document_sha256="ab" * 32, meaning="approve",
                   reason="ok")
    with pytest.raises(InvalidInput):
        esign.sign(p, who["rev1"], password="password of rev1", resource=run, document_sha256="ab" * 32,
                   meaning="approve", reason="  ")
    with pytest.raises(InvalidInput):
        esign.sign(p, who["rev1"], password="password of rev1", resource=run, document_sha256="ab" * 32,
                   meaning="maybe", reason="x")
    for name in ("rev2", "ven", "reg", "admin"):
        with pytest.raises(AccessDenied):
            esign.sign(p, who[name], password=f"password of {name}", resource=run, document_sha256="ab" * 32,
                       meaning="reject", reason="x")
    with p.db.read() as s:
        actions = s.execute(text("SELECT action FROM audit_events")).scalars().all()
    assert "auth.refused" in actions and actions.count("access.denied") == 4
    assert not any(a.startswith("esign.") for a in actions)


def test_export_carries_the_documents_events_name_by_hash(cast, tmp_path):
    import hashlib
    from pathlib import Path

    from validation.protocols import load_protocol_file, publish_protocol

    p, who = cast
    root = Path(__file__).resolve().parents[2]
    published, _ = publish_protocol(p, who["admin"], load_protocol_file(root / "examples/protocols/aki-48h.yaml"))
    bundle = tmp_path / "b.zip"
    export_bundle(p, who["reg"], bundle)
    with zipfile.ZipFile(bundle) as z:
        names = z.namelist()
        carried = [n for n in names if n.startswith("artifacts/protocols/")]
        assert carried == [f"artifacts/protocols/aki-48h-v{published.protocol.version}.json"]
        assert hashlib.sha256(z.read(carried[0])).hexdigest() == published.sha256
    key = tmp_path / "key.txt"
    key.write_text(public_key_text(p))
    r = CliRunner().invoke(cli, ["audit", "verify", str(bundle), "--public-key", str(key), "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["artifacts"], r.output
