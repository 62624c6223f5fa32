"""The audit hook: every state change appends a chained event in the same transaction; tampering is found."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import text

from validation import accounts
from validation.audit import GENESIS_HASH, check_chain, iter_events
from validation.platform import resolve_principal


def _recompute(event: dict) -> str:
    # Independent restatement of the canonical form: sorted keys, compact separators, UTF-8.
    return hashlib.sha256(
        json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    ).hexdigest()


def test_every_change_is_one_event_chained_to_the_previous(platform):
    admin = resolve_principal(platform)
    accounts.create_org(platform, admin, "acme", "Acme AI", "vendor")
    accounts.create_user(platform, admin, username="ada", printed_name="Ada", role="vendor", org="acme")
    _, tok = accounts.create_token(platform, admin, username="ada")
    accounts.revoke_token(platform, admin, tok.id)
    with platform.db.read() as s:
        events = list(iter_events(s))
    actions = [e["action"] for e in events]
    assert actions == ["platform.init", "user.create", "token.create", "org.create", "user.create",
                       "token.create", "token.revoke"]
    assert events[0]["prev_hash"] == GENESIS_HASH
    for before, after in zip(events, events[1:]):
        assert after["prev_hash"] == _recompute(before)
        assert after["seq"] == before["seq"] + 1
    assert events[3]["actor_id"] == admin.user_id and events[3]["actor_name"] == admin.printed_name
    assert all(e["time"].endswith("Z") for e in events)


def test_check_chain_names_the_first_tampered_event(sqlite_platform):
    p = sqlite_platform
    admin = resolve_principal(p)
    for i in range(5):
        accounts.create_org(p, admin, f"org-{i}", f"Org {i}", "vendor")
    with p.db.read() as s:
        assert check_chain(s)[1] is None
    # A forger with direct database access: drop the guard, then edit event 5.
    with p.db.write() as s:
        s.execute(text("DROP TRIGGER audit_events_no_update"))
        s.execute(text("UPDATE audit_events SET object_id = 'forged' WHERE seq = 5"))
    with p.db.read() as s:
        n, problem = check_chain(s)
    assert problem is not None and problem.seq == 5 and "content" in problem.problem
