"""``clinval demo``: the whole pipeline on the embedded default, end to end, idempotent.

1. initialise the home (SQLite, local MLflow) and demo accounts;
2. synthesise the 16 hospitals' identified exports (plus DEV);
3. ingest them: de-identification, corpus version, data-quality suites, PHI leak scan;
4. publish the two shipped protocols;
5. as the demo vendor: fit every example model (competent and deliberately flawed) on DEV, submit them,
   smoke-test them in the sandbox;
6. evaluate each on the 16 hospitals, render its report, and print a summary table (model, protocol, pooled
   AUROC with CI, worst site, verdict with the criteria that failed);
7. export the audit trail and verify it offline.

Run it again and it reuses what it made before.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from validation.config import Settings
from validation.exceptions import Conflict

__all__ = ["DEMO_ACCOUNTS", "DemoAccount", "run_demo"]

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoAccount:
    username: str
    printed_name: str
    role: str
    org: str
    password: str


# Demo-only passwords, printed by the demo itself; never use them on a real platform.
DEMO_ACCOUNTS = (
    DemoAccount(username="vendor-acme", printed_name="Ada Vendor", role="vendor", org="acme-ai",
                password="demo-vendor-pass"),
    DemoAccount(username="reviewer-h01", printed_name="Dr. Lin Reviewer", role="reviewer", org="H01",
                password="demo-reviewer-pass"),
    DemoAccount(username="regulator", printed_name="Rui Regulator", role="regulator", org="regulator",
                password="demo-regulator-pass"),
    DemoAccount(username="admin-pat", printed_name="Pat Admin", role="admin", org="pilot-base",
                password="demo-admin-pass"),
)
DEMO_VENDOR = ("acme-ai", "Acme AI Diagnostics (demo vendor)")
DEMO_CASES = 40
DEMO_SEED = 2026
DEV_SPLIT_CASES = 200  # what a vendor trains on: the public DEV split is larger than a hospital's test sample

def _vendor_kit():
    path = ROOT / "examples" / "vendors" / "vendor_kit.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("clinval_demo_vendor_kit", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_demo(settings: Settings, *, echo: Callable[[str], None] = print, cases: int = DEMO_CASES) -> dict:
    """Run the demo; returns the ids it made (corpus, submissions, runs, bundle) for tests and scripts."""
    from validation import accounts
    from validation.home import init_home, is_initialised
    from validation.platform import open_platform, resolve_principal

    made: dict = {}
    if is_initialised(settings):
        echo(f"[1/7] Using the platform at {settings.home}")
    else:
        result = init_home(settings)
        echo(f"[1/7] Initialised the platform at {result.home} ({result.organisations} organisations)")
    platform = open_platform(settings)
    try:
        admin = resolve_principal(platform)
        try:
            accounts.create_org(platform, admin, DEMO_VENDOR[0], DEMO_VENDOR[1], "vendor")
        except Conflict:
            pass
        for acct in DEMO_ACCOUNTS:
            try:
                accounts.create_user(platform, admin, username=acct.username, printed_name=acct.printed_name,
                                     role=acct.role, org=acct.org, password=acct.password)
            except Conflict:
                pass
        echo("      demo accounts (dashboard passwords for this demo only): " + ", ".join(
            f"{a.username}/{a.password}" for a in DEMO_ACCOUNTS))
        made.update(_pipeline(platform, admin, settings, echo, cases))
    finally:
        from validation.audit.trail import write_checkpoint

        write_checkpoint(platform)
        platform.close()
    return made


def _pipeline(platform, admin, settings: Settings, echo, cases: int) -> dict:
    from datasets.synthetic import generate_export
    from validation import accounts
    from validation.corpora import corpus_dir, ingest_corpus, list_corpora
    from validation.protocols import load_protocol_file, publish_protocol
    from validation.registry import list_submissions, load_model_card, smoke_test, submit_model
    from validation.runs import evaluate, get_results, list_runs

    made: dict = {}
    export = settings.home / "demo-export"
    if (export / "_export.json").exists():
        echo(f"[2/7] Reusing the synthetic exports in {export}")
    else:
        echo(f"[2/7] Synthesising 16 hospitals + DEV, {cases} cases per task and site (seed {DEMO_SEED})...")
        generate_export(export, cases=cases, seed=DEMO_SEED, image_size=128, force=True)
    existing = [c for c in list_corpora(platform, admin) if c.name == "demo-export"]
    if existing:
        corpus = existing[0]
        echo(f"[3/7] Reusing corpus {corpus.id[:16]}")
    else:
        echo("[3/7] Ingesting: de-identification, corpus version, data-quality suites, PHI leak scan...")
        corpus = ingest_corpus(platform, admin, export, name="demo-export")
        quarantined = sum(corpus.quarantined.values())
        echo(f"      corpus {corpus.id[:16]}: {sum(sum(v.values()) for v in corpus.counts.values())} cases, "
             f"{quarantined} inputs quarantined, usable={corpus.usable}, PHI scan clean")
    made["corpus"] = corpus.id
    echo("[4/7] Publishing the protocols cxr-pneumonia and aki-48h")
    for name in ("cxr-pneumonia", "aki-48h"):
        publish_protocol(platform, admin, load_protocol_file(ROOT / "examples" / "protocols" / f"{name}.yaml"))
    kit = _vendor_kit()
    if kit is None:
        echo("      (examples/ not found next to the package: skipping the vendor steps)")
        return made
    vendor = accounts.login(platform, "vendor-acme", "demo-vendor-pass")
    made["submissions"], made["runs"], made["summary"] = {}, {}, []
    dev_split = None
    for name, example in kit.EXAMPLES.items():
        task = example.task
        ready = [s for s in list_submissions(platform, vendor)
                 if s.protocol_id == task and s.model_name == example.model_name and s.state == "ready"]
        if ready:
            sub = ready[0]
            echo(f"[5/7] Reusing {name} submission {sub.id} (ready)")
        else:
            if dev_split is None:
                dev_split = _public_dev_split(kit, settings, echo)
            echo(f"[5/7] Vendor fits the example {name} ({task}) on DEV, submits it, smoke test in the sandbox...")
            model_dir, card = kit.build(name, dev_split, settings.home / "demo-vendor" / name)
            sub = submit_model(platform, vendor, model_dir, load_model_card(card))
            sub = smoke_test(platform, vendor, sub.id, corpus_id=corpus.id)
            echo(f"      {sub.id}: {sub.state} ({'; '.join(sub.reasons)})")
        made["submissions"][name] = sub.id
        if sub.state != "ready":
            made["summary"].append(_summary_row(name, sub, None))
            continue
        done = [r for r in list_runs(platform, admin) if r.submission_id == sub.id and r.state == "scored"]
        if done:
            run = done[0]
            echo(f"[6/7] Reusing run {run.id}")
        else:
            echo(f"[6/7] Evaluating {name} ({sub.id}) at the 16 hospitals (sandboxed, 2 local workers)...")
            sites: list[str] = []
            run = evaluate(platform, admin, sub.id, corpus.id,
                           progress=lambda site, o: sites.append(f"{site} {o.state} ({o.n_cases})"))
            echo("      " + ", ".join(sites))
        made["runs"][name] = run.id
        res = get_results(platform, admin, run.id)
        row = _summary_row(name, sub, res)
        made["summary"].append(row)
        if row["auroc"] is not None:
            echo(f"      {run.id}: AUROC {row['auroc']} (DeLong) over {row['n']} cases; complete={run.complete}")
        for v in res.verdicts:
            echo(f"      {v['status'].upper():12} {v['criterion']}: {v['rule']}")
        from validation.reports import build_report, render

        reports = settings.home / "reports"
        reports.mkdir(mode=0o700, exist_ok=True)
        built = build_report(platform, admin, run.id)
        for fmt in ("json", "html", "pdf"):
            (reports / f"{run.id}.{fmt}").write_bytes(render(built, fmt))
        echo(f"      report: {reports / (run.id + '.html')} (also .json, .pdf)")
    _print_summary(made["summary"], echo)
    made["bundle"] = _audit(platform, admin, settings, echo)
    return made


def _public_dev_split(kit, settings: Settings, echo) -> Path:
    """The de-identified public DEV split the demo vendor trains on (``DEV_SPLIT_CASES`` cases per task, as the
    example kit makes it); the identified export it came from is deleted once de-identified."""
    import shutil

    out = settings.home / "demo-vendor" / "dev-split"
    corpora = out / "corpora"
    found = sorted(p for p in corpora.iterdir() if (p / "manifest.json").is_file()) if corpora.is_dir() else []
    if found:
        return found[0]
    echo(f"      the public DEV split the vendor trains on: {DEV_SPLIT_CASES} cases per task (seed {DEMO_SEED})")
    version = kit.build_dev_corpus(out, seed=DEMO_SEED, cases=DEV_SPLIT_CASES, image_size=128, workers=1)
    shutil.rmtree(out / "export", ignore_errors=True)
    return Path(version)


def _summary_row(name: str, sub, res) -> dict:
    """One line of the demo's summary: model, protocol, pooled AUROC with CI, worst site, verdict."""
    row = {"example": name, "model": f"{sub.model_name} {sub.model_version}", "protocol": sub.protocol_id,
           "auroc": None, "n": None, "worst_site": None, "verdict": sub.state.upper() if res is None else "",
           "failed": []}
    if res is None:
        return row
    overall = next((r for r in res.results if r["group_kind"] == "overall" and r["metric"] == "auroc"), None)
    if overall and overall["estimate"] is not None:
        ci = (f" [{overall['ci_low']:.3f}, {overall['ci_high']:.3f}]"
              if overall["ci_low"] is not None and overall["ci_high"] is not None else " [no CI]")
        row["auroc"] = f"{overall['estimate']:.3f}{ci}"
        row["n"] = overall["n"]
    sites = [r for r in res.results if r["group_kind"] == "site" and r["metric"] == "auroc"
             and r["estimate"] is not None]
    if sites:
        worst = min(sites, key=lambda r: r["estimate"])
        row["worst_site"] = f"{worst['group']} {worst['estimate']:.3f}"
    row["failed"] = [v["criterion"] for v in res.verdicts if v["status"] != "pass"]
    row["verdict"] = "NO CRITERIA" if not res.verdicts else "FAIL" if row["failed"] else "PASS"
    return row


def _print_summary(rows: list[dict], echo) -> None:
    header = ("model", "protocol", "pooled AUROC [95% CI]", "worst site", "verdict")
    lines = [(r["model"], r["protocol"], r["auroc"] or "-", r["worst_site"] or "-",
              r["verdict"] + (f" ({', '.join(r['failed'])})" if r["failed"] else "")) for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]
    echo("Summary (one run per example model on the 16 hospitals; failed criteria in brackets):")
    for line in (header, *lines):
        echo("      " + "  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip())


def _audit(platform, admin, settings: Settings, echo) -> str:
    from validation.audit.trail import export_bundle, public_key_text
    from validation.audit.verify_bundle import verify

    bundle = settings.home / "demo-audit-bundle.zip"
    echo(f"[7/7] Exporting the audit trail to {bundle} and verifying it offline")
    result = export_bundle(platform, admin, bundle)
    report = verify(bundle, public_key_text(platform))
    echo(f"      {result.events} events; verification: {'OK' if report.ok else 'FAILED: ' + str(report.failure)}")
    return str(bundle)
