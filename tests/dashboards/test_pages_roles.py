"""Each role sees its own section of pages and cannot open another role's (AppTest, a real platform)."""

from __future__ import annotations

import pytest
from dash_helpers import frames, open_page

from dashboards.navigation import SECTIONS, pages_for
from validation import Role

ROLE_USER = {Role.VENDOR: "vendor", Role.REVIEWER: "rev-h01", Role.REGULATOR: "regulator", Role.ADMIN: "admin2"}


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_each_role_opens_its_pages_and_no_other(login, role):
    at = login(ROLE_USER[role])
    section, own = pages_for(role)
    assert any(section in m.value for m in at.markdown)
    for spec in own:
        open_page(at, spec.script)
        assert [t.value for t in at.title], spec.script
    others = {s.script for r, (_, specs) in SECTIONS.items() if r != role for s in specs} - {s.script for s in own}
    assert others, "every role has pages no other role has"
    for script in sorted(others):
        with pytest.raises(ValueError, match="navigation page"):
            at.switch_page(f"views/{script}")


def test_signed_out_visitor_only_gets_the_sign_in_page(dash_world, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from dashboards import APP_PATH
    from dashboards.session import get_platform

    monkeypatch.setenv("CLINVAL_HOME", str(dash_world.platform.settings.home))
    get_platform.clear()
    at = AppTest.from_file(str(APP_PATH), default_timeout=30).run()
    with pytest.raises(ValueError, match="navigation page"):
        at.switch_page("views/report.py")
    assert [t.value for t in at.title] == ["clinval: clinical validation centre"]


def test_admin_pages_list_users_protocols_and_the_log_check(login, dash_world):
    at = login("admin2")
    users = frames(open_page(at, "admin_users.py"))[0]
    assert {"vendor", "rev-h01", "regulator", "admin2"} <= set(users["username"])
    protocols = frames(open_page(at, "admin_protocols.py"))[0]
    assert list(protocols["protocol"]) == ["cxr-pneumonia"]
    open_page(at, "audit_log.py")
    assert any(s.value.startswith("Log verified") for s in at.success)


def test_regulator_reads_the_log_but_gets_no_admin_check(login):
    at = open_page(login("regulator"), "audit_log.py")
    assert not at.success and not at.error
    log = frames(at)[0]
    assert "protocol.publish" in set(log["action"])
    assert list(log["seq"]) == sorted(log["seq"], reverse=True)  # newest first
