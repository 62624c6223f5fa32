"""The admin's write actions in the pages (accept a corpus, add an organisation and a user, deactivate a user,
revoke a token, publish a protocol, start an evaluation), each through the service with the signed-in admin as
the actor and recorded in the audit log; and the same actions refused by the service for anyone else, even when
the page script is run for them directly (AppTest, a real platform of its own)."""

from __future__ import annotations

import pytest
from dash_helpers import frames, make_login, open_page, password
from dash_world import ROOT, USERS, break_export, build_world
from streamlit.testing.v1 import AppTest

from dashboards.navigation import VIEWS_DIR
from validation.audit.trail import list_events


@pytest.fixture(scope="module")
def admin_world(dash_world, tmp_path_factory):
    """A second platform (so the shared one keeps its single run): the same users and protocol, and a corpus
    whose critical quality checks failed."""
    world = build_world(tmp_path_factory.mktemp("admin-world"), run=False)
    if dash_world.run_id is not None:
        from validation.corpora import ingest_corpus

        base = tmp_path_factory.mktemp("admin-export")
        corpus = ingest_corpus(world.platform, world.people["system"],
                               break_export(dash_world.extra["export"], base / "broken"), name="dash-broken")
        assert not corpus.usable, "the broken export fails a critical quality check"
        world.extra.update(corpus_id=corpus.id, model_dir=dash_world.extra["model_dir"],
                           card=dash_world.extra["card"])
    else:
        world.skip_reason = dash_world.skip_reason
    yield world
    world.platform.close()


@pytest.fixture(scope="module")
def ready_world(admin_world):
    """The corpus accepted (if the page test has not done it) and the example model submitted and smoke-tested on
    it: a ready submission to evaluate."""
    if "corpus_id" not in admin_world.extra:
        pytest.skip(admin_world.skip_reason)
    from validation.corpora import accept_corpus, get_corpus
    from validation.registry import load_model_card, smoke_test, submit_model

    platform, people = admin_world.platform, admin_world.people
    if not get_corpus(platform, people["admin2"], admin_world.extra["corpus_id"]).usable:
        accept_corpus(platform, people["admin2"], admin_world.extra["corpus_id"], reason="for the evaluation test")
    sub = submit_model(platform, people["vendor"], admin_world.extra["model_dir"],
                       load_model_card(admin_world.extra["card"]))
    sub = smoke_test(platform, people["vendor"], sub.id, corpus_id=admin_world.extra["corpus_id"])
    assert sub.state == "ready", sub.reasons
    admin_world.extra["submission_id"] = sub.id
    return admin_world


@pytest.fixture
def admin_login(admin_world, monkeypatch):
    return make_login(admin_world, monkeypatch)


@pytest.fixture
def with_corpus(admin_world):
    if "corpus_id" not in admin_world.extra:
        pytest.skip(admin_world.skip_reason)
    return admin_world


def _events(world, action: str) -> list[dict]:
    return [e for e in list_events(world.platform, world.people["admin2"], limit=10**6) if e["action"] == action]


def _no_trace(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_admin_accepts_a_corpus_that_failed_quality_with_a_reason(admin_login, with_corpus):
    from validation.corpora import get_corpus

    world = with_corpus
    at = open_page(admin_login("admin2"), "admin_corpora.py")
    at.button(key="FormSubmitter:accept-corpus-Accept for evaluation").click().run()
    _no_trace(at)
    assert at.error and "reason" in at.error[0].value, "an acceptance without a reason is refused"
    assert not get_corpus(world.platform, world.people["admin2"], world.extra["corpus_id"]).usable

    at.text_area[0].input("pixel spacing of the one image checked on the console")
    at.button(key="FormSubmitter:accept-corpus-Accept for evaluation").click().run()
    _no_trace(at)
    assert not at.error, [e.value for e in at.error]
    assert at.success and "accepted for evaluation" in at.success[0].value
    info = get_corpus(world.platform, world.people["admin2"], world.extra["corpus_id"])
    assert info.usable and info.accepted_reason == "pixel spacing of the one image checked on the console"
    (event,) = _events(world, "corpus.accept")
    assert (event["actor_id"], event["reason"]) == (world.people["admin2"].user_id, info.accepted_reason)
    assert frames(at)[0]["accepted because"].tolist() == [info.accepted_reason]


def test_admin_adds_an_organisation_and_a_user_who_can_then_sign_in(admin_login, admin_world):
    at = open_page(admin_login("admin2"), "admin_users.py")
    form = {t.label: t for t in at.text_input}
    form["Code"].input("H17")
    form["Name"].input("Hospital seventeen")
    kind = next(s for s in at.selectbox if s.label == "Kind")
    kind.set_value("hospital")
    at.button(key="FormSubmitter:add-org-Add organisation").click().run()
    _no_trace(at)
    assert at.success and "Added organisation H17" in at.success[0].value, [e.value for e in at.error]

    form = {t.label: t for t in at.text_input}
    form["New username"].input("rev-h17")
    form["Printed name"].input("Dr. Seventeen")
    form["Initial password"].input("seventeen's password")
    form["Initial password again"].input("seventeen's password")
    next(s for s in at.selectbox if s.label == "Organisation").set_value("H17")
    at.button(key="FormSubmitter:add-user-Add user").click().run()
    _no_trace(at)
    assert at.success and "Added reviewer rev-h17" in at.success[0].value, [e.value for e in at.error]
    assert "rev-h17" in set(frames(at)[0]["username"])
    assert [e["object_id"] for e in _events(admin_world, "org.create")][-1] == "H17"
    created = _events(admin_world, "user.create")[-1]
    assert created["actor_id"] == admin_world.people["admin2"].user_id

    from validation.accounts import login

    assert login(admin_world.platform, "rev-h17", "seventeen's password").org == "H17"


def test_invalid_user_input_is_a_message_not_a_traceback(admin_login, admin_world):
    at = open_page(admin_login("admin2"), "admin_users.py")
    form = {t.label: t for t in at.text_input}
    form["New username"].input("Not Valid!")
    form["Printed name"].input("Someone")
    at.button(key="FormSubmitter:add-user-Add user").click().run()
    _no_trace(at)
    assert at.error and "username 'Not Valid!' is not valid" in at.error[0].value
    form = {t.label: t for t in at.text_input}
    form["New username"].input("twice")
    form["Initial password"].input("one password here")
    form["Initial password again"].input("another password")
    at.button(key="FormSubmitter:add-user-Add user").click().run()
    assert at.error and "passwords differ" in at.error[0].value
    assert "twice" not in set(frames(at)[0]["username"])


def test_admin_revokes_a_token_and_deactivates_a_user(admin_login, admin_world):
    from validation import AuthenticationError
    from validation.accounts import authenticate, create_token, login

    platform, people = admin_world.platform, admin_world.people
    token, info = create_token(platform, people["other-vendor"], username="other-vendor", label="ci")
    assert authenticate(platform, token).username == "other-vendor"
    at = open_page(admin_login("admin2"), "admin_users.py")
    next(s for s in at.selectbox if s.label == "Token").set_value(info.id)
    at.button(key="FormSubmitter:revoke-token-Revoke token").click().run()
    _no_trace(at)
    assert at.success and f"Revoked token #{info.id}" in at.success[0].value, [e.value for e in at.error]
    with pytest.raises(AuthenticationError):
        authenticate(platform, token)

    next(s for s in at.selectbox if s.label == "User").set_value("rev-h03")
    at.button(key="FormSubmitter:deactivate-user-Deactivate user").click().run()
    assert at.error and "Tick the box" in at.error[0].value
    assert login(platform, "rev-h03", password("rev-h03"))
    next(c for c in at.checkbox if c.label.startswith("I understand")).check()
    at.button(key="FormSubmitter:deactivate-user-Deactivate user").click().run()
    _no_trace(at)
    assert at.success and "Deactivated rev-h03" in at.success[0].value
    with pytest.raises(AuthenticationError):
        login(platform, "rev-h03", password("rev-h03"))
    table = frames(at)[0].set_index("username")
    assert not table.loc["rev-h03", "active"]


def test_admin_publishes_a_protocol_from_uploaded_yaml(admin_login, admin_world):
    from validation.protocols import list_protocols

    at = open_page(admin_login("admin2"), "admin_protocols.py")
    at.file_uploader[0].set_value(("broken.yaml", b"id: x\nversion: [unclosed\n", "application/yaml")).run()
    _no_trace(at)
    assert at.error and at.error[0].value.startswith("broken.yaml")
    assert "/tmp" not in at.error[0].value and "clinval-protocol-" not in at.error[0].value
    assert not [b for b in at.button if b.label == "Publish this protocol"]

    body = (ROOT / "examples" / "protocols" / "aki-48h.yaml").read_bytes()
    at.file_uploader[0].set_value(("aki-48h.yaml", body, "application/yaml")).run()
    _no_trace(at)
    assert not at.error, [e.value for e in at.error]
    next(b for b in at.button if b.label == "Publish this protocol").click().run()
    _no_trace(at)
    assert at.success and "Published aki-48h v" in at.success[0].value, [e.value for e in at.error]
    published = {p.protocol.id: p for p in list_protocols(admin_world.platform, admin_world.people["admin2"])}
    assert "aki-48h" in published
    event = _events(admin_world, "protocol.publish")[-1]
    assert (event["actor_id"], event["object_sha256"]) == (admin_world.people["admin2"].user_id,
                                                           published["aki-48h"].sha256)
    assert "aki-48h" in set(frames(at)[0]["protocol"])
    next(b for b in at.button if b.label == "Publish this protocol").click().run()
    assert at.info and "already published with exactly this content" in at.info[-1].value


def test_admin_queues_an_evaluation_then_runs_it_from_the_page(admin_login, ready_world):
    from validation.runs import list_runs

    world = ready_world
    admin = world.people["admin2"]
    at = open_page(admin_login("admin2"), "admin_evaluate.py")
    assert next(s for s in at.selectbox if s.label == "Submission (ready)").value == world.extra["submission_id"]
    sites = next(m for m in at.multiselect if m.label.startswith("Sites"))
    assert sites.value == ["H01", "H02"]
    sites.set_value(["H01"])
    next(r for r in at.radio if r.label == "When").set_value("Queue only")
    at.button(key="FormSubmitter:start-evaluation-Start evaluation").click().run()
    _no_trace(at)
    assert at.success and "is queued (not running)" in at.success[0].value, [e.value for e in at.error]
    (run,) = list_runs(world.platform, admin)
    assert (run.state, [s.site for s in run.sites]) == ("queued", ["H01"])
    assert run.id in set(frames(at)[-1]["run"])

    at.button(key="FormSubmitter:resume-run-Run it now").click().run(timeout=240)
    _no_trace(at)
    assert at.success and f"Run {run.id} is scored" in at.success[0].value, [e.value for e in at.error]
    (run,) = list_runs(world.platform, admin)
    assert run.state == "scored" and run.complete
    created = [e for e in _events(world, "run.create") if e["object_id"] == run.id]
    assert created and {e["actor_id"] for e in created} == {admin.user_id}


NON_ADMINS = [u for u, role, _ in USERS if role != "admin"]


@pytest.mark.parametrize("username", NON_ADMINS)
def test_the_service_refuses_every_admin_write_to_anyone_else(admin_world, username):
    """Pages only present: even called directly, each admin action is refused and the refusal is recorded."""
    from validation import AccessDenied
    from validation.accounts import create_org, create_user, deactivate_user
    from validation.corpora import accept_corpus
    from validation.protocols import load_protocol_file, publish_protocol
    from validation.runs import create_run

    platform, who = admin_world.platform, admin_world.people[username]
    protocol = load_protocol_file(ROOT / "examples" / "protocols" / "aki-48h.yaml")
    attempts = {
        "org.create": lambda: create_org(platform, who, "X99", "x", "vendor"),
        "user.create": lambda: create_user(platform, who, username="sneaky", printed_name="S", role="admin",
                                           org="pilot-base", password="a long password"),
        "user.deactivate": lambda: deactivate_user(platform, who, "admin2"),
        "corpus.accept": lambda: accept_corpus(platform, who, "0" * 64, reason="because"),
        "protocol.publish": lambda: publish_protocol(platform, who, protocol),
        "run.create": lambda: create_run(platform, who, "sub-1", "0" * 64),
    }
    before = len(_events(admin_world, "access.denied"))
    for action, attempt in attempts.items():
        with pytest.raises(AccessDenied, match=action.replace(".", r"\.")):
            attempt()
    denied = _events(admin_world, "access.denied")[before:]
    assert [(e["actor_id"], e["details"]["attempted"]) for e in denied] == [
        (who.user_id, action) for action in attempts]


def _page_as(world, script: str, username: str, monkeypatch) -> AppTest:
    """Run an admin page script directly for a signed-in non-admin (the navigation would never offer it)."""
    monkeypatch.setenv("CLINVAL_HOME", str(world.platform.settings.home))
    from dashboards.session import get_platform

    get_platform.clear()
    import streamlit as st

    st.cache_data.clear()
    at = AppTest.from_file(str(VIEWS_DIR / script), default_timeout=30)
    at.session_state["clinval_principal"] = world.people[username]
    return at.run()


def test_an_admin_page_run_for_a_vendor_gets_the_services_refusal(admin_world, monkeypatch):
    at = _page_as(admin_world, "admin_users.py", "vendor", monkeypatch)
    _no_trace(at)
    assert list(frames(at)[0]["username"]) == ["vendor"], "the service lists a vendor only itself"
    form = {t.label: t for t in at.text_input}
    form["New username"].input("vendor-admin")
    form["Printed name"].input("Self-made admin")
    at.button(key="FormSubmitter:add-user-Add user").click().run()
    _no_trace(at)
    assert at.error and "may not user.create" in at.error[0].value
    last = list_events(admin_world.platform, admin_world.people["admin2"], limit=10**6)[-1]
    assert (last["action"], last["actor_id"]) == ("access.denied", admin_world.people["vendor"].user_id)
    from validation.accounts import list_users

    assert "vendor-admin" not in {u.username for u in list_users(admin_world.platform, admin_world.people["admin2"])}


def test_an_evaluation_page_run_for_a_reviewer_gets_the_services_refusal(ready_world, monkeypatch):
    world = ready_world
    at = _page_as(world, "admin_evaluate.py", "rev-h01", monkeypatch)
    _no_trace(at)
    # A reviewer sees no submission (the service shows vendors' submissions to their vendor and the admin only).
    assert at.info and "No submission is ready" in at.info[0].value
    from validation import AccessDenied
    from validation.runs import create_run

    with pytest.raises(AccessDenied):
        create_run(world.platform, world.people["rev-h01"], world.extra["submission_id"], world.extra["corpus_id"])
