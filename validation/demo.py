"""``clinval demo``: the whole pipeline on the embedded default, as far as it has been built."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from validation.config import Settings
from validation.exceptions import Conflict

__all__ = ["DEMO_ACCOUNTS", "DemoAccount", "run_demo"]


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
)
DEMO_VENDOR = ("acme-ai", "Acme AI Diagnostics (demo vendor)")

NOT_BUILT_YET = (
    "synthetic 16-hospital exports (issue: synthetic centre)",
    "ingest with de-identification and data-quality gates",
    "model submission, registry and sandboxed smoke test",
    "evaluation runs with statistics and acceptance verdicts",
    "reports, dashboards and sign-off",
    "audit export and offline verification",
)


def run_demo(settings: Settings, *, echo: Callable[[str], None] = print) -> None:
    """Initialise the home if needed, create the demo organisations and accounts, then run what exists."""
    from validation import accounts
    from validation.home import init_home, is_initialised
    from validation.platform import open_platform, resolve_principal

    if is_initialised(settings):
        echo(f"[1/2] Using the platform at {settings.home}")
    else:
        result = init_home(settings)
        echo(f"[1/2] Initialised the platform at {result.home} ({result.organisations} organisations)")
    platform = open_platform(settings)
    try:
        admin = resolve_principal(platform)
        try:
            accounts.create_org(platform, admin, DEMO_VENDOR[0], DEMO_VENDOR[1], "vendor")
        except Conflict:
            pass
        echo("[2/2] Demo accounts (dashboard passwords are for this demo only):")
        for acct in DEMO_ACCOUNTS:
            try:
                accounts.create_user(
                    platform,
                    admin,
                    username=acct.username,
                    printed_name=acct.printed_name,
                    role=acct.role,
                    org=acct.org,
                    password=acct.password,
                )
            except Conflict:
                pass
            echo(f"      {acct.role:9} {acct.username:14} {acct.org:10} password: {acct.password}")
    finally:
        platform.close()
    echo("Not built yet (the demo grows as these land):")
    for item in NOT_BUILT_YET:
        echo(f"      - {item}")
