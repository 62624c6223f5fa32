"""Pages over a scored run: what a vendor, a hospital reviewer and a regulator each see and may do."""

from __future__ import annotations

import zipfile

from dash_helpers import frames, open_page

from validation.audit.trail import list_events
from validation.runs import case_results, get_results
from validation.signoff import list_signoffs


def _no_case_level(at) -> None:
    for frame in frames(at):
        assert "case_id" not in frame.columns and "score" not in frame.columns


def test_vendor_sees_aggregates_of_its_run_and_no_case_table(login, scored_world):
    at = open_page(login("vendor"), "report.py")
    assert at.selectbox[0].value == scored_world.run_id
    res = get_results(scored_world.platform, scored_world.people["vendor"], scored_world.run_id)
    overall = next(r for r in res.results if r["metric"] == "auroc" and r["group_kind"] == "overall")
    shown = {m.label: m.value for m in at.metric}
    assert shown["Pooled AUROC"] == f"{overall['estimate']:.3f}"
    tables = frames(at)
    verdicts = tables[0]
    assert list(verdicts["criterion"]) == [v["criterion"] for v in res.verdicts]
    per_site = next(t for t in tables if "site" in t.columns)
    assert list(per_site["site"]) == ["H01", "H02"]
    assert at.get("vega_lite_chart"), "the per-site forest chart is drawn"
    _no_case_level(at)
    open_page(at, "runs.py")
    assert list(frames(at)[0]["run"]) == [scored_world.run_id]
    _no_case_level(at)


def test_another_vendor_sees_none_of_it(login, scored_world):
    at = open_page(login("other-vendor"), "runs.py")
    assert not frames(at) and any("No runs" in i.value for i in at.info)
    open_page(at, "report.py")
    assert not frames(at) and not at.selectbox
    open_page(at, "vendor_submissions.py")
    assert not frames(at)


def test_reviewer_sees_its_hospitals_errors_only(login, scored_world):
    at = open_page(login("rev-h01"), "reviewer_cases.py")
    truth = case_results(scored_world.platform, scored_world.people["rev-h01"], scored_world.run_id, "H01")
    errors = truth[~truth["correct"]]
    table = frames(at)[0]
    assert sorted(table["case_id"]) == sorted(errors["case_id"])
    if len(errors):
        assert at.get("image"), "the de-identified image of the chosen case is shown"
    at.checkbox[0].uncheck().run()
    assert at.get("image")
    assert sorted(frames(at)[0]["case_id"]) == sorted(truth["case_id"])


def test_reviewer_of_another_hospital_sees_no_run(login, scored_world):
    at = open_page(login("rev-h03"), "runs.py")
    assert not frames(at)
    open_page(at, "reviewer_cases.py")
    assert not frames(at)


def test_reviewer_home_says_which_runs_await_its_hospitals_sign_off(login, scored_world):
    platform, people, run_id = scored_world.platform, scored_world.people, scored_world.run_id
    from validation.signoff import sign_off

    if not any(s.org == "H01" for s in list_signoffs(platform, people["rev-h01"], run_id)):
        at = login("rev-h01")
        assert at.warning and run_id in at.warning[0].value and not at.success
        sign_off(platform, people["rev-h01"], run_id, password="password for rev-h01", meaning="approve",
                 reason="home page test")
        import streamlit as st

        st.cache_data.clear()  # signed outside the dashboard: pages see it once their short cache expires
    at = login("rev-h01")
    assert at.success and "Every scored run" in at.success[0].value and not at.warning
    at = login("rev-h03")  # its hospital's data is in no run
    assert at.success and not at.warning


def test_reviewer_signs_off_with_the_password(login, scored_world):
    platform, people, run_id = scored_world.platform, scored_world.people, scored_world.run_id
    before = len(list_signoffs(platform, people["admin2"], run_id))
    at = open_page(login("rev-h01"), "reviewer_signoff.py")
    at.radio[0].set_value("request-changes")
    at.text_area[0].input("H01 sensitivity interval too wide")
    at.text_input[0].input("not my password")
    at.button[0].click().run()
    assert len(at.error) == 1 and "password" in at.error[0].value.lower(), "a wrong password is refused"
    assert not at.success
    assert len(list_signoffs(platform, people["admin2"], run_id)) == before

    seq_before = list_events(platform, people["admin2"], limit=10**6)[-1]["seq"]
    at.text_input[0].input("password for rev-h01")
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.success and "Request changes" in at.success[0].value
    after = list_signoffs(platform, people["admin2"], run_id)
    assert len(after) == before + 1
    new = after[-1]
    assert (new.org, new.meaning, new.reason) == ("H01", "request-changes", "H01 sensitivity interval too wide")
    assert any(new.document_sha256 in c.value for c in at.caption), "the page names the document it signs"
    new_events = list_events(platform, people["admin2"], since=seq_before + 1)
    signatures = [e for e in new_events if e["object_id"] == run_id and e["meaning"]]
    assert [(e["actor_org"], e["meaning"]) for e in signatures] == [("H01", "request-changes")]
    shown = frames(at)[-1]
    assert "H01 sensitivity interval too wide" in set(shown["reason"])


def test_regulator_downloads_a_bundle_that_verifies(login, scored_world, tmp_path):
    at = open_page(login("regulator"), "audit_bundle.py")
    assert not at.get("download_button")
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.success and "verifies" in at.success[0].value
    buttons = at.get("download_button")
    assert len(buttons) == 2
    data = at.session_state["clinval_bundle"]["bytes"]
    path = tmp_path / "bundle.zip"
    path.write_bytes(data)
    assert zipfile.is_zipfile(path)
    from validation.audit.trail import public_key_text
    from validation.audit.verify_bundle import verify

    assert verify(path, public_key_text(scored_world.platform)).ok

    kept = at.session_state["clinval_bundle"]["checkpoint"]
    with zipfile.ZipFile(path) as z:
        assert z.read("checkpoint.txt").decode() == kept
    at.text_area[0].input(kept)
    at.button[0].click().run()
    assert not at.error, [e.value for e in at.error]
    assert "only grew since your earlier checkpoint" in at.success[0].value
    again = tmp_path / "again.zip"
    again.write_bytes(at.session_state["clinval_bundle"]["bytes"])
    with zipfile.ZipFile(again) as z:
        assert z.read("previous_checkpoint.txt").decode() == kept
    assert verify(again, public_key_text(scored_world.platform), kept).ok


def test_regulator_sees_data_quality_and_all_runs(login, scored_world):
    at = open_page(login("regulator"), "quality.py")
    shown = {m.label: m.value for m in at.metric}
    assert shown["Integrity"] == "ok"
    checks = frames(at)[-1]
    assert len(checks) > 0 and "unexpected" in checks.columns
    _no_case_level(at)
    open_page(at, "runs.py")
    assert scored_world.run_id in set(frames(at)[0]["run"])


def _subgroup_notes(at) -> list[str]:
    table = next(t for t in frames(at) if "by" in t.columns)
    return list(table["note"])


def test_small_subgroups_are_suppressed_for_the_vendor_and_not_for_the_reviewer(login, scored_world):
    vendor = open_page(login("vendor"), "report.py")
    res = get_results(scored_world.platform, scored_world.people["vendor"], scored_world.run_id)
    assert res.suppressed > 0, "the small test corpus has subgroups under the minimum cell size"
    suppressed = [n for n in _subgroup_notes(vendor) if n.startswith("suppressed")]
    expected = [r for r in res.results if r["group_kind"].startswith("subgroup") and r["estimate"] is None
                and (r["note"] or "").startswith("suppressed")]
    assert len(suppressed) == len(expected) > 0
    assert any(f"{res.suppressed} groups with fewer than" in c.value for c in vendor.caption)
    reviewer = open_page(login("rev-h01"), "report.py")
    assert not [n for n in _subgroup_notes(reviewer) if n.startswith("suppressed")]


def test_regulator_lists_every_sign_off_of_every_run(login, scored_world):
    from validation.signoff import sign_off

    platform, people, run_id = scored_world.platform, scored_world.people, scored_world.run_id
    sign_off(platform, people["rev-h01"], run_id, password="password for rev-h01", meaning="approve",
             reason="signed through the service for the regulator's list")
    at = open_page(login("regulator"), "signoffs.py")
    table = frames(at)[0]
    expected = list_signoffs(platform, people["regulator"], run_id)
    assert list(table["event"]) == [s.seq for s in expected]
    assert "signed through the service for the regulator's list" in set(table["reason"])
    assert set(table["run"]) == {run_id}


def test_overview_summarises_each_run_with_its_worst_site(login, scored_world):
    at = open_page(login("regulator"), "overview.py")
    res = get_results(scored_world.platform, scored_world.people["regulator"], scored_world.run_id)
    sites = {r["group"]: r["estimate"] for r in res.results if r["metric"] == "auroc" and r["group_kind"] == "site"}
    worst = min(sites, key=sites.get)
    overall = next(r for r in res.results if r["metric"] == "auroc" and r["group_kind"] == "overall")
    row = frames(at)[0].set_index("run").loc[scored_world.run_id]
    assert row["worst site"] == f"{worst} ({sites[worst]:.3f})"
    assert row["pooled auroc (95% CI)"].startswith(f"{overall['estimate']:.3f} ({overall['ci_low']:.3f} to ")
    passed = sum(v["status"] == "pass" for v in res.verdicts)
    assert row["criteria met"] == f"{passed}/{len(res.verdicts)}"
    assert at.get("vega_lite_chart")

