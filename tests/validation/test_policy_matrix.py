"""The access matrix: every role x every action x every relation of caller to object.

Expectations are restated here from ARCHITECTURE.md ("Who uses it, and what each may see"), independently of
the table in ``validation.policy``; the service-level tests below drive the real service functions on a real
database and check that each refusal is an audit event.
"""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import text

from validation import accounts
from validation.exceptions import AccessDenied, AuthenticationError
from validation.identity import OrgKind, Principal, Role
from validation.platform import resolve_principal
from validation.policy import ACTIONS, Resource, decide

ORG_OF = {Role.ADMIN: "pilot-base", Role.VENDOR: "acme", Role.REVIEWER: "H01", Role.REGULATOR: "regulator"}
KIND_OF = {
    Role.ADMIN: OrgKind.PILOT_BASE,
    Role.VENDOR: OrgKind.VENDOR,
    Role.REVIEWER: OrgKind.HOSPITAL,
    Role.REGULATOR: OrgKind.REGULATOR,
}


def principal(role: Role) -> Principal:
    return Principal(
        user_id=f"u-{role.value}",
        username=role.value,
        printed_name=role.value.title(),
        role=role,
        org=ORG_OF[role],
        org_kind=KIND_OF[role],
    )


# How the object relates to the caller: owned by the caller's organisation / involves the caller's hospital /
# belongs to the caller's account -- or to someone else.
RELATIONS = {
    "own-org": lambda p: Resource(kind="run", id="r1", org=p.org),
    "other-org": lambda p: Resource(kind="run", id="r2", org="other-vendor", sites={"H02"}),
    "own-site": lambda p: Resource(kind="run", id="r3", org="other-vendor", sites={p.org, "H05"}),
    "self": lambda p: Resource(kind="token", id="t1", user_id=p.user_id),
    "other-user": lambda p: Resource(kind="token", id="t2", user_id="u-someone-else"),
}
ADMIN_ONLY = {
    "platform.config", "audit.check", "org.create", "user.create", "user.deactivate", "user.link_identity",
    "audit.checkpoint", "corpus.ingest", "corpus.accept", "protocol.publish", "run.create", "run.cancel",
}
CASES = list(itertools.product(Role, sorted(ACTIONS), sorted(RELATIONS)))


@pytest.mark.parametrize(("role", "action", "relation"), CASES, ids=lambda v: getattr(v, "value", v))
def test_matrix_invariants(role, action, relation):
    p = principal(role)
    resource = RELATIONS[relation](p)
    allowed = decide(p, action, resource).allowed
    spec = ACTIONS[action]
    if role is Role.REGULATOR and (spec.writes or spec.case_level):
        assert not allowed, "a regulator never writes nor sees case-level data"
    if spec.case_level and role is not Role.REVIEWER:
        assert not allowed, "only hospital reviewers see case-level data"
    if spec.case_level and role is Role.REVIEWER:
        assert allowed == (relation == "own-site"), "reviewers see case-level data of their own hospital only"
    if action in ADMIN_ONLY:
        assert allowed == (role is Role.ADMIN)
    if role is Role.VENDOR and relation in ("other-org", "other-user", "own-site"):
        assert not allowed or action == "platform.whoami" or action == "protocol.read", (
            "a vendor never reaches another organisation's objects"
        )
    if role is Role.REVIEWER and relation in ("other-org", "other-user") and action not in (
        "platform.whoami",
        "protocol.read",
    ):
        assert not allowed, "a reviewer never reaches objects outside its hospital"
    if role is Role.ADMIN and not spec.case_level and action not in ("signoff.create", "submission.create"):
        assert allowed, "the admin operates the platform"
    if action == "signoff.create":
        assert allowed == (role is Role.REVIEWER and relation == "own-site"), "only a data-owning reviewer signs"
    if action == "submission.create":
        assert allowed == (role is Role.VENDOR and relation == "own-org"), "vendors submit for themselves only"


@pytest.mark.parametrize(
    ("role", "action", "relation", "expected"),
    [
        (Role.VENDOR, "run.read", "own-org", True),
        (Role.VENDOR, "results.read", "own-org", True),
        (Role.VENDOR, "submission.create", "own-org", True),
        (Role.VENDOR, "results.read_cases", "own-org", False),
        (Role.REVIEWER, "run.read", "own-site", True),
        (Role.REVIEWER, "signoff.create", "own-site", True),
        (Role.REVIEWER, "signoff.create", "other-org", False),
        (Role.REGULATOR, "run.read", "other-org", True),
        (Role.REGULATOR, "audit.export", "other-org", True),
        (Role.REGULATOR, "signoff.create", "own-site", False),
        (Role.ADMIN, "results.read_cases", "own-site", False),
        (Role.VENDOR, "token.create", "self", True),
        (Role.VENDOR, "token.create", "other-user", False),
    ],
)
def test_matrix_named_cells(role, action, relation, expected):
    p = principal(role)
    assert decide(p, action, RELATIONS[relation](p)).allowed is expected


def _denials(platform) -> int:
    with platform.db.read() as s:
        return s.execute(text("SELECT count(*) FROM audit_events WHERE action = 'access.denied'")).scalar_one()


@pytest.fixture
def people(sqlite_platform):
    """Real accounts of every role on a real platform, each with its own token."""
    p = sqlite_platform
    admin = resolve_principal(p)
    accounts.create_org(p, admin, "acme", "Acme AI", "vendor")
    accounts.create_org(p, admin, "globex", "Globex Imaging AI", "vendor")
    made = {"admin": admin}
    for username, role, org in [
        ("vendor-a", "vendor", "acme"),
        ("vendor-b", "vendor", "globex"),
        ("rev-h01", "reviewer", "H01"),
        ("rev-h02", "reviewer", "H02"),
        ("reg", "regulator", "regulator"),
    ]:
        accounts.create_user(p, admin, username=username, printed_name=username.upper(), role=role, org=org)
        token, _ = accounts.create_token(p, admin, username=username)
        made[username] = accounts.authenticate(p, token)
        made[username + ":token"] = token
    return p, made


WRITE_CALLS = {
    "org add": lambda p, who: accounts.create_org(p, who, "new-co", "New Co", "vendor"),
    "user add": lambda p, who: accounts.create_user(
        p, who, username="intruder", printed_name="Intruder", role="vendor", org="acme"
    ),
    "token for another user": lambda p, who: accounts.create_token(p, who, username="vendor-b"),
    "deactivate a user": lambda p, who: accounts.deactivate_user(p, who, "vendor-b"),
}


@pytest.mark.parametrize("caller", ["vendor-a", "rev-h01", "reg"])
@pytest.mark.parametrize("call", sorted(WRITE_CALLS))
def test_non_admins_cannot_administer_and_each_refusal_is_recorded(people, caller, call):
    platform, who = people
    before = _denials(platform)
    with pytest.raises(AccessDenied):
        WRITE_CALLS[call](platform, who[caller])
    assert _denials(platform) == before + 1


def test_vendor_sees_only_its_own_organisation_and_account(people):
    platform, who = people
    assert [o.code for o in accounts.list_orgs(platform, who["vendor-a"])] == ["acme"]
    assert [u.username for u in accounts.list_users(platform, who["vendor-a"])] == ["vendor-a"]
    assert {t.username for t in accounts.list_tokens(platform, who["vendor-a"])} == {"vendor-a"}
    other_token = accounts.list_tokens(platform, who["admin"], "vendor-b")[0]
    before = _denials(platform)
    with pytest.raises(AccessDenied):
        accounts.revoke_token(platform, who["vendor-a"], other_token.id)
    assert _denials(platform) == before + 1


def test_regulator_reads_everything_but_writes_nothing(people):
    platform, who = people
    assert len(accounts.list_orgs(platform, who["reg"])) == 20
    assert len(accounts.list_users(platform, who["reg"])) == 6
    own = accounts.list_tokens(platform, who["admin"], "reg")[0]
    with pytest.raises(AccessDenied):
        accounts.revoke_token(platform, who["reg"], own.id)
    with pytest.raises(AccessDenied):
        accounts.create_token(platform, who["reg"], username="reg")


def test_users_manage_their_own_tokens(people):
    platform, who = people
    token, info = accounts.create_token(platform, who["rev-h01"], username="rev-h01", expires_days=7)
    assert accounts.authenticate(platform, token).username == "rev-h01"
    accounts.revoke_token(platform, who["rev-h01"], info.id)
    with pytest.raises(AuthenticationError, match="revoked"):
        accounts.authenticate(platform, token)


@pytest.mark.parametrize("problem", ["revoked", "expired", "unknown", "deactivated"])
def test_refused_tokens_are_refused_and_recorded(people, problem):
    platform, who = people
    token = who["vendor-b:token"]
    if problem == "revoked":
        tid = accounts.list_tokens(platform, who["admin"], "vendor-b")[0].id
        accounts.revoke_token(platform, who["admin"], tid)
    elif problem == "expired":
        with platform.db.write() as s:
            s.execute(text("UPDATE api_tokens SET expires_at = '2000-01-01 00:00:00.000000'"))
    elif problem == "unknown":
        token = token[:-4] + "AAAA"
    else:
        accounts.deactivate_user(platform, who["admin"], "vendor-b")
    with platform.db.read() as s:
        before = s.execute(text("SELECT count(*) FROM audit_events WHERE action = 'auth.refused'")).scalar_one()
    with pytest.raises(AuthenticationError, match=problem):
        accounts.authenticate(platform, token)
    with platform.db.read() as s:
        rows = s.execute(text("SELECT details FROM audit_events WHERE action = 'auth.refused'")).scalars().all()
    assert len(rows) == before + 1
    assert token not in str(rows), "a refused token must never be written to the audit log"
