"""Single sign-on links: an OIDC identity signs in only as the user an admin linked it to; refusals are audited;
only admins link; the CLI links, lists and unlinks."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from validation import accounts
from validation.cli import cli
from validation.exceptions import AccessDenied, AuthenticationError, Conflict, InvalidInput, NotFound
from validation.platform import resolve_principal

IDP = "https://login.pilot.example"


@pytest.fixture
def world(platform):
    admin = resolve_principal(platform)
    accounts.create_user(platform, admin, username="rev-h01", printed_name="Lin Reviewer", role="reviewer",
                         org="H01", password="a long password 1")
    accounts.create_user(platform, admin, username="rev-h02", printed_name="Kim Reviewer", role="reviewer",
                         org="H02", password="a long password 2")
    return platform, admin


def _events(platform, action: str) -> list[dict]:
    with platform.db.read() as s:
        rows = s.execute(text("SELECT object_id, details FROM audit_events WHERE action = :a ORDER BY seq"),
                         {"a": action}).all()
    return [{"object_id": r[0], "details": r[1] if isinstance(r[1], dict) else json.loads(r[1] or "{}")}
            for r in rows]


def test_subject_signs_in_only_with_its_issuer(world):
    platform, admin = world
    link = accounts.link_identity(platform, admin, "rev-h01", issuer=IDP, subject="00u42")
    assert (link.kind, link.issuer, link.value, link.username) == ("sub", IDP, "00u42", "rev-h01")
    who = accounts.login_oidc(platform, issuer=IDP, subject="00u42")
    assert (who.username, who.org, who.role.value) == ("rev-h01", "H01", "reviewer")
    with pytest.raises(AuthenticationError, match="not linked"):
        accounts.login_oidc(platform, issuer="https://evil.example", subject="00u42")
    refused = _events(platform, "auth.refused")
    assert refused and "00u42" not in json.dumps(refused) and "evil" not in json.dumps(refused)
    events = _events(platform, "user.link_identity")
    assert len(events) == 1 and "00u42" not in json.dumps(events) and events[0]["details"]["kind"] == "sub"
    assert set(events[0]["details"]) == {"link", "kind"}  # no digest of the identity either: it confirms a guess


def test_email_needs_the_providers_verification(world):
    platform, admin = world
    accounts.link_identity(platform, admin, "rev-h02", email="Kim@H02.example")
    with pytest.raises(AuthenticationError):
        accounts.login_oidc(platform, issuer=IDP, subject="x", email="kim@h02.example", email_verified=False)
    with pytest.raises(AuthenticationError):  # a truthy string is not the provider's boolean
        accounts.login_oidc(platform, issuer=IDP, subject="x", email="kim@h02.example", email_verified="yes")
    who = accounts.login_oidc(platform, issuer=IDP, subject="x", email=" KIM@h02.EXAMPLE ", email_verified=True)
    assert who.username == "rev-h02"
    with pytest.raises(AuthenticationError):  # claims of the wrong type are refused, not a crash
        accounts.login_oidc(platform, issuer=IDP, subject=["x"], email={"a": 1}, email_verified=True)


def test_deactivated_user_and_unlinked_identity_are_refused(world):
    platform, admin = world
    link = accounts.link_identity(platform, admin, "rev-h01", issuer=IDP, subject="s1")
    accounts.unlink_identity(platform, admin, link.id)
    with pytest.raises(AuthenticationError, match="not linked"):
        accounts.login_oidc(platform, issuer=IDP, subject="s1")
    accounts.link_identity(platform, admin, "rev-h01", issuer=IDP, subject="s1")
    accounts.deactivate_user(platform, admin, "rev-h01")
    with pytest.raises(AuthenticationError, match="deactivated"):
        accounts.login_oidc(platform, issuer=IDP, subject="s1")
    assert len(_events(platform, "user.unlink_identity")) == 1


def test_bad_links_are_refused_with_a_reason(world):
    platform, admin = world
    accounts.link_identity(platform, admin, "rev-h01", issuer=IDP, subject="dup")
    with pytest.raises(Conflict):
        accounts.link_identity(platform, admin, "rev-h02", issuer=IDP, subject="dup")
    for kwargs in ({}, {"issuer": IDP, "subject": "a", "email": "a@b.example"}, {"subject": "no-issuer"},
                   {"email": "not an address"}):
        with pytest.raises(InvalidInput):
            accounts.link_identity(platform, admin, "rev-h01", **kwargs)
    with pytest.raises(InvalidInput, match="give both"):
        accounts.link_identity(platform, admin, "rev-h01", issuer="", subject="s")
    with pytest.raises(InvalidInput, match="give no issuer"):
        accounts.link_identity(platform, admin, "rev-h01", issuer=IDP, email="a@b.example")
    # RFC 5321: a local part of at most 64 characters, a domain of at most 255 (the column holds 320)
    for address in ("a" * 65 + "@b.example", "a@" + "b" * 256, "a\x00b@c.example"):
        with pytest.raises(InvalidInput, match="not an e-mail address"):
            accounts.link_identity(platform, admin, "rev-h01", email=address)
    longest = accounts.link_identity(platform, admin, "rev-h01", email="a" * 64 + "@" + "b" * 255)
    assert len(longest.value) == 320
    with pytest.raises(NotFound):
        accounts.link_identity(platform, admin, "nobody", email="n@b.example")
    with pytest.raises(NotFound):
        accounts.unlink_identity(platform, admin, 999)


def test_only_admins_link_and_list(world):
    platform, admin = world
    reviewer = accounts.login(platform, "rev-h01", "a long password 1")
    with pytest.raises(AccessDenied):
        accounts.link_identity(platform, reviewer, "rev-h01", issuer=IDP, subject="me")
    with pytest.raises(AccessDenied):
        accounts.list_identity_links(platform, reviewer)
    denied = _events(platform, "access.denied")
    assert len(denied) == 2 and all("user.link_identity" in json.dumps(e) for e in denied)
    assert accounts.list_identity_links(platform, admin) == []


def test_cli_links_lists_and_unlinks(tmp_path, monkeypatch):
    monkeypatch.setenv("CLINVAL_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    assert runner.invoke(cli, ["init"]).exit_code == 0
    assert runner.invoke(cli, ["user", "add", "--username", "rev-h03", "--name", "R", "--role", "reviewer",
                               "--org", "H03"]).exit_code == 0
    done = runner.invoke(cli, ["user", "link", "rev-h03", "--issuer", IDP, "--subject", "abc", "--json"])
    assert done.exit_code == 0, done.output
    link_id = json.loads(done.output)["id"]
    listed = runner.invoke(cli, ["user", "links", "--json"])
    assert [x["username"] for x in json.loads(listed.output)] == ["rev-h03"]
    bad = runner.invoke(cli, ["user", "link", "rev-h03", "--subject", "abc"])
    assert bad.exit_code != 0 and "issuer" in bad.output and "Traceback" not in bad.output
    assert runner.invoke(cli, ["user", "unlink", str(link_id)]).exit_code == 0
    assert json.loads(runner.invoke(cli, ["user", "links", "--json"]).output) == []
