"""The ``clinval`` command: a thin layer over the service functions.

Each command parses options, calls one service function with the caller's principal, and prints a human summary
(or JSON with ``--json``). User errors exit non-zero with one line saying what was wrong and one with a hint;
never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from dataclasses import asdict, is_dataclass
from typing import Any

import click

from validation.exceptions import ClinvalError, InvalidInput

__all__ = ["main", "cli"]

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


class _Group(click.Group):
    """A group that turns platform errors into one clean line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ClinvalError as exc:
            click.echo(f"Error: {exc.message}", err=True)
            if exc.hint:
                click.echo(f"Hint: {exc.hint}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except OSError as exc:
            if exc.filename:  # a file or folder cannot be read or written: say which and why
                click.echo(f"Error: cannot access {exc.filename}: {exc.strerror or type(exc).__name__}", err=True)
                click.echo("Hint: check that it exists and that you may read (and, for output, write) it", err=True)
            else:  # a socket or another system call, e.g. an unreachable MLflow tracking server or database
                click.echo(f"Error: a system call failed ({type(exc).__name__}: {exc.strerror or 'no detail'})",
                           err=True)
                click.echo("Hint: check that the database and the MLflow tracking server in 'clinval config' "
                           "are reachable, and that the disk is not full", err=True)
            ctx.exit(1)
        except Exception as exc:  # a bug: say so in one line; the traceback only on request
            if os.environ.get("CLINVAL_DEBUG"):
                raise
            click.echo(f"Error: internal error ({type(exc).__name__}); nothing was changed by the failed step", err=True)
            click.echo("Hint: run again with CLINVAL_DEBUG=1 to see the traceback, and report it", err=True)
            ctx.exit(70)


class _State:
    def __init__(self, home: str | None, token: str | None) -> None:
        self.home = home
        self.token = token
        self._platform = None

    def settings(self):
        from validation.config import load_settings

        return load_settings(home=self.home)

    def platform(self):
        if self._platform is None:
            from validation.audit.trail import log_size
            from validation.platform import open_platform

            self._platform = open_platform(self.settings())
            self._log_size = log_size(self._platform)
        return self._platform

    def principal(self):
        from validation.platform import resolve_principal

        return resolve_principal(self.platform(), self.token)

    def close(self) -> None:
        """Sign a checkpoint if this command added to the audit log, then release the database."""
        if self._platform is None:
            return
        try:
            from validation.audit.trail import log_size, write_checkpoint

            if log_size(self._platform) > self._log_size:
                write_checkpoint(self._platform)
        except ClinvalError as exc:
            click.echo(f"Warning: no audit checkpoint was signed: {exc.message}", err=True)
        finally:
            self._platform.close()


def _to_data(value: Any) -> Any:
    if is_dataclass(value):
        return {k: _to_data(v) for k, v in asdict(value).items()}
    if isinstance(value, (list, tuple)):
        return [_to_data(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_data(v) for k, v in value.items()}
    if hasattr(value, "value") and not isinstance(value, (str, int, float)):
        return value.value
    if hasattr(value, "__fspath__"):
        return str(value)
    return value


def _emit_json(value: Any) -> None:
    click.echo(json.dumps(_to_data(value), indent=2, ensure_ascii=False, default=str))


def _table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    if not rows:
        click.echo("(none)")
        return
    widths = {c: max(len(c), *(len(str(r.get(c, "") if r.get(c) is not None else "")) for r in rows)) for c in columns}
    click.echo("  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip())
    for r in rows:
        cells = [("" if r.get(c) is None else str(r.get(c))).ljust(widths[c]) for c in columns]
        click.echo("  ".join(cells).rstrip())


json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


@click.group(cls=_Group, context_settings=CONTEXT_SETTINGS)
@click.option(
    "--home",
    envvar="CLINVAL_HOME",
    metavar="DIR",
    help="Platform home (env CLINVAL_HOME; default ./.clinval).",
)
@click.option(
    "--token",
    envvar="CLINVAL_TOKEN",
    metavar="TOKEN",
    help="API token to act with (env CLINVAL_TOKEN). Without one, the local operator who can read "
    "$CLINVAL_HOME/keys/admin.token acts as admin.",
)
@click.version_option(package_name="clinval", prog_name="clinval")
@click.pass_context
def cli(ctx: click.Context, home: str | None, token: str | None) -> None:
    """clinval: clinical validation of medical-AI models across 16 partner hospitals.

    Vendors submit models; the platform runs them sealed off on de-identified hospital data; evaluators compute
    statistics with confidence intervals per hospital and subgroup against pre-registered acceptance criteria;
    reviewers sign reports off; regulators verify the audit trail offline.

    Start with 'clinval init', then 'clinval demo' for a tour.
    """
    state = _State(home, token)
    ctx.obj = state
    ctx.call_on_close(state.close)


@cli.command()
@click.option("--admin-username", default="admin", show_default=True, help="Username of the first admin.")
@click.option("--admin-name", default="Pilot-base Administrator", show_default=True, help="Printed name.")
@click.option("--password-stdin", is_flag=True, help="Read the admin's password from standard input.")
@json_option
@click.pass_obj
def init(state: _State, admin_username: str, admin_name: str, password_stdin: bool, as_json: bool) -> None:
    """Create the platform home: folders (0700), keys (0600), database, organisations and an admin.

    The admin token is printed once and stored in $CLINVAL_HOME/keys/admin.token.
    """
    from validation.home import init_home

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    result = init_home(state.settings(), admin_username=admin_username, admin_name=admin_name, admin_password=password)
    if as_json:
        _emit_json(result)
        return
    click.echo(f"Initialised clinval at {result.home}")
    click.echo(f"  organisations: {result.organisations} (16 hospitals, the regulator, the pilot base)")
    click.echo(f"  admin: {result.admin_username}")
    click.echo(f"  admin token (shown once; also in keys/admin.token): {result.admin_token}")


@cli.command()
@json_option
@click.pass_obj
def config(state: _State, as_json: bool) -> None:
    """Print the effective settings (secrets masked) and where each came from."""
    settings = state.settings()
    values = settings.display()
    if as_json:
        _emit_json({"values": values, "sources": dict(settings.sources)})
        return
    for key, value in values.items():
        click.echo(f"{key:20} {value or '-':60} ({settings.sources.get(key, 'default')})")


@cli.command()
@json_option
@click.pass_obj
def whoami(state: _State, as_json: bool) -> None:
    """Show who the current credentials belong to."""
    from validation.accounts import whoami as _whoami

    info = _whoami(state.platform(), state.principal())
    if as_json:
        _emit_json(info)
        return
    click.echo(f"{info['printed_name']} ({info['username']}): {info['role']} at {info['org']}")


@cli.group(cls=_Group)
def org() -> None:
    """Organisations: vendors, hospitals, the regulator, the pilot base."""


@org.command("add")
@click.argument("code")
@click.option("--name", required=True, help="Full name of the organisation.")
@click.option(
    "--kind", required=True, type=click.Choice(["vendor", "hospital", "regulator", "pilot-base"]), help="Its kind."
)
@json_option
@click.pass_obj
def org_add(state: _State, code: str, name: str, kind: str, as_json: bool) -> None:
    """Add an organisation CODE (admin)."""
    from validation.accounts import create_org

    info = create_org(state.platform(), state.principal(), code, name, kind)
    if as_json:
        _emit_json(info)
    else:
        click.echo(f"Added {info.kind} organisation {info.code}: {info.name}")


@org.command("list")
@json_option
@click.pass_obj
def org_list(state: _State, as_json: bool) -> None:
    """List the organisations you may see."""
    from validation.accounts import list_orgs

    orgs = list_orgs(state.platform(), state.principal())
    if as_json:
        _emit_json(orgs)
    else:
        _table([_to_data(o) for o in orgs], ["code", "kind", "name"])


@cli.group(cls=_Group)
def user() -> None:
    """User accounts (admin adds them)."""


@user.command("add")
@click.option("--username", required=True, help="Login name (lower case).")
@click.option("--name", "printed_name", required=True, help="Printed name, as on e-signatures.")
@click.option(
    "--role", required=True, type=click.Choice(["admin", "vendor", "reviewer", "regulator"]), help="The user's role."
)
@click.option("--org", "org_code", required=True, help="Organisation code (see 'clinval org list').")
@click.option("--password-stdin", is_flag=True, help="Read a password (for the dashboard) from standard input.")
@json_option
@click.pass_obj
def user_add(
    state: _State, username: str, printed_name: str, role: str, org_code: str, password_stdin: bool, as_json: bool
) -> None:
    """Add a user (admin). Without a password the user works with API tokens only."""
    from validation.accounts import create_user

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    info = create_user(
        state.platform(),
        state.principal(),
        username=username,
        printed_name=printed_name,
        role=role,
        org=org_code,
        password=password,
    )
    if as_json:
        _emit_json(info)
    else:
        click.echo(f"Added {info.role} {info.username} ({info.printed_name}) at {info.org}")


@user.command("list")
@json_option
@click.pass_obj
def user_list(state: _State, as_json: bool) -> None:
    """List the users you may see."""
    from validation.accounts import list_users

    users = list_users(state.platform(), state.principal())
    if as_json:
        _emit_json(users)
    else:
        _table([_to_data(u) for u in users], ["id", "username", "role", "org", "active", "printed_name"])


@user.command("link")
@click.argument("username")
@click.option("--issuer", default=None, help="The identity provider's issuer URL (the ID token's 'iss').")
@click.option("--subject", default=None, help="The person's subject at that provider (the ID token's 'sub').")
@click.option("--email", default=None, help="Or an e-mail address; it signs in only if the provider says it is "
              "verified.")
@json_option
@click.pass_obj
def user_link(state: _State, username: str, issuer: str | None, subject: str | None, email: str | None,
              as_json: bool) -> None:
    """Link a single sign-on (OpenID Connect) identity to a user (admin), so that 'Sign in with ...' on the
    dashboard signs them in as that user. Give --issuer and --subject, or --email."""
    from validation.accounts import link_identity

    info = link_identity(state.platform(), state.principal(), username, issuer=issuer, subject=subject, email=email)
    if as_json:
        _emit_json(info)
    else:
        click.echo(f"Linked identity {info.id} ({info.kind}) to {info.username}")


@user.command("unlink")
@click.argument("link_id", type=int)
@click.pass_obj
def user_unlink(state: _State, link_id: int) -> None:
    """Remove a single sign-on link (admin); see 'clinval user links' for the ids."""
    from validation.accounts import unlink_identity

    info = unlink_identity(state.platform(), state.principal(), link_id)
    click.echo(f"Removed identity link {info.id} ({info.kind}) of {info.username}")


@user.command("links")
@click.argument("username", required=False)
@json_option
@click.pass_obj
def user_links(state: _State, username: str | None, as_json: bool) -> None:
    """List the single sign-on identities linked to users (admin), optionally of one user."""
    from validation.accounts import list_identity_links

    links = list_identity_links(state.platform(), state.principal(), username)
    if as_json:
        _emit_json(links)
    else:
        _table([_to_data(x) for x in links], ["id", "username", "kind", "issuer", "value", "created_at"])


@cli.group(cls=_Group)
def token() -> None:
    """API tokens: random, shown once, stored as hashes, expiring, revocable."""


@token.command("create")
@click.option("--user", "username", required=True, help="Whose token (admins: anyone; others: themselves).")
@click.option("--expires-days", type=int, default=90, show_default=True, help="Days until the token expires.")
@click.option("--label", default="", help="A note to recognise the token by.")
@json_option
@click.pass_obj
def token_create(state: _State, username: str, expires_days: int, label: str, as_json: bool) -> None:
    """Create an API token; it is printed once and cannot be shown again."""
    from validation.accounts import create_token

    value, info = create_token(
        state.platform(), state.principal(), username=username, expires_days=expires_days, label=label
    )
    if as_json:
        _emit_json({"token": value, **_to_data(info)})
    else:
        click.echo(f"Token {info.id} for {info.username}, expires {info.expires_at}:")
        click.echo(value)


@token.command("list")
@click.option("--user", "username", default=None, help="Only this user's tokens.")
@json_option
@click.pass_obj
def token_list(state: _State, username: str | None, as_json: bool) -> None:
    """List tokens you may see (ids and dates, never the tokens)."""
    from validation.accounts import list_tokens

    tokens = list_tokens(state.platform(), state.principal(), username)
    rows = [{**_to_data(t), "state": t.state} for t in tokens]
    if as_json:
        _emit_json(rows)
    else:
        _table(rows, ["id", "username", "state", "created_at", "expires_at", "label"])


@token.command("revoke")
@click.argument("token_id", type=int)
@json_option
@click.pass_obj
def token_revoke(state: _State, token_id: int, as_json: bool) -> None:
    """Revoke token TOKEN_ID at once."""
    from validation.accounts import revoke_token

    info = revoke_token(state.platform(), state.principal(), token_id)
    if as_json:
        _emit_json(info)
    else:
        click.echo(f"Token {info.id} of {info.username} revoked at {info.revoked_at}")


@cli.group(cls=_Group)
def corpus() -> None:
    """Hospital corpora: synthetic exports (and, as it lands, ingest, versions and quality checks)."""


@corpus.command("synth")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Directory to write the exports into.")
@click.option("--sites", default="all", show_default=True, help="Comma-separated site codes (H01..H16, DEV) or 'all'.")
@click.option("--cases", type=int, default=200, show_default=True, help="Cases per task and site.")
@click.option("--tasks", default="cxr-pneumonia,aki-48h", show_default=True, help="Comma-separated tasks.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed; the same seed gives the same bytes.")
@click.option("--image-size", type=int, default=256, show_default=True, help="Radiograph rows and columns.")
@click.option("--workers", type=int, default=None, help="Worker processes (default: one per CPU).")
@click.option("--force", is_flag=True, help="Replace the requested sites' folders in a non-empty directory.")
@json_option
def corpus_synth(out: str, sites: str, cases: int, tasks: str, seed: int, image_size: int, workers: int | None,
                 force: bool, as_json: bool) -> None:
    """Write the synthetic hospitals' identified exports (DICOM, FHIR NDJSON, reference standards).

    The exports are full of (fictional) PHI on purpose: de-identification at ingest has real work to do.
    """
    from datasets.exceptions import DatasetsError
    from datasets.synthetic import generate_export

    bar = None

    def progress(done: int, total: int, label: str) -> None:
        nonlocal bar
        if as_json:
            return
        if bar is None:
            bar = click.progressbar(length=total, label="Synthesising", file=sys.stderr, show_pos=True)
            bar.__enter__()
        bar.update(done - bar.pos)

    try:
        summary = generate_export(out, sites=sites, cases=cases, tasks=[t for t in tasks.split(",") if t],
                                  seed=seed, image_size=image_size, progress=progress, force=force, workers=workers)
    except DatasetsError as exc:
        raise InvalidInput(str(exc), hint="see 'clinval corpus synth --help'") from None
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if as_json:
        _emit_json({"out_dir": summary.out_dir, **summary.to_dict()})
        return
    click.echo(f"Wrote {summary.files_written} files ({summary.bytes_written / 1e6:.1f} MB) to {summary.out_dir}")
    for site in summary.sites:
        parts = ", ".join(
            f"{c.task} {c.cases} cases ({c.positives} positive)" for c in summary.counts if c.site == site
        )
        click.echo(f"  {site}: {parts}")


@cli.group(cls=_Group)
def protocol() -> None:
    """Validation protocols: pre-registered tasks, metrics, subgroups and acceptance criteria."""


@protocol.command("publish")
@click.argument("file", type=click.Path(dir_okay=False))
@json_option
@click.pass_obj
def protocol_publish(state: _State, file: str, as_json: bool) -> None:
    """Check and publish protocol FILE (admin); the version is frozen by its hash and never changes."""
    from validation.protocols import load_protocol_file, publish_protocol

    published, new = publish_protocol(state.platform(), state.principal(), load_protocol_file(file))
    if as_json:
        _emit_json({"new": new, **published.model_dump(mode="json")})
        return
    p = published.protocol
    verb = "Published" if new else "Already published (identical)"
    click.echo(f"{verb}: {p.id} version {p.version} ({p.task}), sha256 {published.sha256}")
    for c in p.acceptance:
        click.echo(f"  {c.id}: {c.rule}")


@protocol.command("list")
@json_option
@click.pass_obj
def protocol_list(state: _State, as_json: bool) -> None:
    """List published protocols."""
    from validation.protocols import list_protocols

    items = list_protocols(state.platform(), state.principal())
    rows = [{"id": i.protocol.id, "version": i.protocol.version, "task": i.protocol.task,
             "published_at": i.published_at, "sha256": i.sha256[:16]} for i in items]
    if as_json:
        _emit_json([i.model_dump(mode="json") for i in items])
    else:
        _table(rows, ["id", "version", "task", "published_at", "sha256"])


@protocol.command("show")
@click.argument("protocol_id")
@click.option("--version", type=int, default=None, help="A specific version (default: the newest).")
@json_option
@click.pass_obj
def protocol_show(state: _State, protocol_id: str, version: int | None, as_json: bool) -> None:
    """Show a published protocol."""
    from validation.protocols import get_protocol

    item = get_protocol(state.platform(), state.principal(), protocol_id, version)
    if as_json:
        _emit_json(item.model_dump(mode="json"))
        return
    p = item.protocol
    click.echo(f"{p.id} version {p.version}: {p.title}")
    click.echo(f"  task {p.task}, input {p.input.view}, sha256 {item.sha256}")
    click.echo(f"  published {item.published_at} by {item.published_by}")
    click.echo(f"  metrics: {', '.join(p.metrics)}; subgroups: {', '.join(p.subgroups) or '-'}; "
               f"min cases per group {p.min_cases_per_group}")
    click.echo("  acceptance:")
    for c in p.acceptance:
        click.echo(f"    {c.id}: {c.rule}")


def _print_submission(info) -> None:
    click.echo(f"{info.id}: {info.model_name} {info.model_version} by {info.org} for "
               f"{info.protocol_id}@{info.protocol_version}: {info.state.upper()}")
    click.echo(f"  model sha256 {info.model_sha256}, threshold {info.threshold}")
    if info.mlflow_name:
        click.echo(f"  MLflow registry: {info.mlflow_name} version {info.mlflow_version}")
    for reason in info.reasons:
        click.echo(f"  - {reason}")


@cli.command()
@click.argument("model_dir", type=click.Path(file_okay=False))
@click.option("--card", required=True, type=click.Path(dir_okay=False), help="The model card (YAML).")
@json_option
@click.pass_obj
def submit(state: _State, model_dir: str, card: str, as_json: bool) -> None:
    """Submit an MLflow pyfunc MODEL_DIR with its model card (vendor).

    The platform checks the files without loading the model, keeps a copy by hash, registers it in MLflow and
    smoke-tests it in the sandbox. Exits 1 if the submission is rejected, with the reasons.
    """
    from validation.protocols import get_protocol
    from validation.registry import dev_corpus_for, load_model_card, smoke_test, submit_model

    platform, principal = state.platform(), state.principal()
    info = submit_model(platform, principal, model_dir, load_model_card(card))
    if info.state == "submitted":
        task = get_protocol(platform, principal, info.protocol_id, info.protocol_version).protocol.task
        if dev_corpus_for(platform, task):
            if not as_json:
                click.echo("Smoke test in the sandbox on DEV cases...", err=True)
            info = smoke_test(platform, principal, info.id)
        elif not as_json:
            click.echo("No corpus with DEV cases yet: the smoke test runs with 'clinval submission smoke ID'.",
                       err=True)
    if as_json:
        _emit_json(info)
    else:
        _print_submission(info)
    if info.state == "rejected":
        raise SystemExit(1)


@cli.group(cls=_Group)
def submission() -> None:
    """Model submissions and their state (submitted, ready, rejected)."""


@submission.command("list")
@json_option
@click.pass_obj
def submission_list(state: _State, as_json: bool) -> None:
    """List the submissions you may see."""
    from validation.registry import list_submissions

    items = list_submissions(state.platform(), state.principal())
    if as_json:
        _emit_json(items)
    else:
        _table([_to_data(i) for i in items],
               ["id", "org", "model_name", "model_version", "protocol_id", "state", "created_at"])


@submission.command("show")
@click.argument("submission_id")
@json_option
@click.pass_obj
def submission_show(state: _State, submission_id: str, as_json: bool) -> None:
    """Show one submission, with the reasons if it was rejected."""
    from validation.registry import get_submission

    info = get_submission(state.platform(), state.principal(), submission_id)
    if as_json:
        _emit_json(info)
    else:
        _print_submission(info)


def _progress_bar(label: str, enabled: bool):
    """A progress callback (done, total, label) drawing a bar on stderr."""
    state = {"bar": None}

    def progress(done: int, total: int, what: str) -> None:
        if not enabled:
            return
        if state["bar"] is None:
            state["bar"] = click.progressbar(length=max(total, 1), label=label, file=sys.stderr, show_pos=True)
            state["bar"].__enter__()
        state["bar"].update(max(0, done - state["bar"].pos))

    def close() -> None:
        if state["bar"] is not None:
            state["bar"].__exit__(None, None, None)

    return progress, close


@corpus.command("ingest")
@click.argument("export_dir", type=click.Path(file_okay=False))
@click.option("--sites", default=None, help="Comma-separated site folders to ingest (default: all).")
@click.option("--name", default=None, help="A name for the corpus version (default: the folder's name).")
@click.option("--workers", type=int, default=None, help="Worker processes (default: 2).")
@json_option
@click.pass_obj
def corpus_ingest(state: _State, export_dir: str, sites: str | None, name: str | None, workers: int | None,
                  as_json: bool) -> None:
    """De-identify a hospital export into a new corpus version (admin).

    Runs the data-quality suites and the PHI leak scan over every byte written; a leak fails the ingest.
    """
    from validation.corpora import ingest_corpus

    progress, close = _progress_bar("Ingesting", not as_json)
    try:
        info = ingest_corpus(state.platform(), state.principal(), export_dir,
                             sites=[s for s in sites.split(",") if s] if sites else None, name=name,
                             progress=progress, workers=workers)
    finally:
        close()
    if as_json:
        _emit_json(info)
        return
    _print_corpus(info)


def _print_corpus(info) -> None:
    usable = "usable" if info.usable else "NOT usable (critical quality checks failed)"
    click.echo(f"Corpus {info.id} ({info.name}): {usable}")
    for site in info.sites:
        parts = ", ".join(f"{task} {n}" for task, n in info.counts.get(site, {}).items())
        click.echo(f"  {site}: {parts}")
    if info.quarantined:
        click.echo("  quarantined: " + ", ".join(f"{k} {v}" for k, v in sorted(info.quarantined.items())))
    if info.accepted_reason:
        click.echo(f"  accepted despite failed checks: {info.accepted_reason}")


@corpus.command("list")
@json_option
@click.pass_obj
def corpus_list(state: _State, as_json: bool) -> None:
    """List corpus versions you may see."""
    from validation.corpora import list_corpora

    items = list_corpora(state.platform(), state.principal())
    if as_json:
        _emit_json(items)
    else:
        _table([{"id": i.id[:16], "name": i.name, "sites": len(i.sites), "tasks": ",".join(i.tasks),
                 "usable": i.usable, "created_at": i.created_at} for i in items],
               ["id", "name", "sites", "tasks", "usable", "created_at"])


@corpus.command("show")
@click.argument("corpus_id")
@json_option
@click.pass_obj
def corpus_show(state: _State, corpus_id: str, as_json: bool) -> None:
    """Show a corpus version (an unambiguous prefix of its id is enough)."""
    from validation.corpora import get_corpus

    info = get_corpus(state.platform(), state.principal(), corpus_id)
    if as_json:
        _emit_json(info)
    else:
        _print_corpus(info)


@corpus.command("check")
@click.argument("corpus_id")
@json_option
@click.pass_obj
def corpus_check(state: _State, corpus_id: str, as_json: bool) -> None:
    """Re-verify a corpus's files against its manifest and show its data-quality results."""
    from validation.corpora import check_corpus

    info, report = check_corpus(state.platform(), state.principal(), corpus_id)
    if as_json:
        _emit_json({"corpus": _to_data(info), **report})
        return
    click.echo(f"Corpus {info.id}: files {report['integrity']}")
    quality = report.get("quality") or {}
    for suite in quality.get("suites", []):
        failed = [e for e in suite.get("expectations", []) if not e.get("success")]
        mark = "ok" if not failed else f"{len(failed)} failed"
        click.echo(f"  suite {suite.get('name')}: {mark}")
        for e in failed:
            level = "CRITICAL" if e.get("critical") else "warning"
            ids = e.get("unexpected_case_ids") or []
            more = f" (cases: {', '.join(ids[:5])}{' ...' if len(ids) > 5 else ''})" if ids else ""
            click.echo(f"    {level}: {e.get('expectation')} on {e.get('column', '-')}{more}")
    if not info.usable:
        raise SystemExit(1)


@corpus.command("accept")
@click.argument("corpus_id")
@click.option("--reason", required=True, help="Why the failed checks are acceptable (recorded).")
@click.pass_obj
def corpus_accept(state: _State, corpus_id: str, reason: str) -> None:
    """Accept a corpus whose critical quality checks failed, making it usable (admin)."""
    from validation.corpora import accept_corpus

    info = accept_corpus(state.platform(), state.principal(), corpus_id, reason=reason)
    click.echo(f"Corpus {info.id} accepted for evaluation")


@submission.command("smoke")
@click.argument("submission_id")
@click.option("--corpus", "corpus_id", default=None, help="Corpus with DEV cases (default: the newest usable).")
@json_option
@click.pass_obj
def submission_smoke(state: _State, submission_id: str, corpus_id: str | None, as_json: bool) -> None:
    """Smoke-test a submitted model in the sandbox on DEV cases; it becomes ready or rejected."""
    from validation.registry import smoke_test

    info = smoke_test(state.platform(), state.principal(), submission_id, corpus_id=corpus_id)
    if as_json:
        _emit_json(info)
    else:
        _print_submission(info)
    if info.state != "ready":
        raise SystemExit(1)


def _print_run(info) -> None:
    complete = "" if info.complete is None else (" (complete)" if info.complete else " (PARTIAL)")
    click.echo(f"{info.id}: {info.state.upper()}{complete}; submission {info.submission_id} ({info.org}), "
               f"protocol {info.protocol_id}@{info.protocol_version}, corpus {info.corpus_id[:12]}")
    if info.isolation:
        click.echo(f"  isolation: {info.isolation}; executor: {info.executor}")
    for s in info.sites:
        why = f": {s.reason}" if s.reason else ""
        click.echo(f"  {s.site}: {s.state} ({s.batches_done}/{s.n_batches} batches, {s.n_cases} cases){why}")
    if info.error:
        click.echo(f"  note: {info.error}")


@cli.command()
@click.argument("submission_id", required=False)
@click.option("--corpus", "corpus_id", default=None, help="Corpus version to evaluate on.")
@click.option("--sites", default=None, help="Comma-separated hospitals (default: every sequestered site).")
@click.option("--scheduler", default=None, envvar="CLINVAL_SCHEDULER",
              help="tcp://host:8786 of a Dask scheduler (env CLINVAL_SCHEDULER); default: local processes.")
@click.option("--resume", "resume", default=None, metavar="RUN", help="Resume an interrupted run instead.")
@click.option("--batch-size", type=int, default=256, show_default=True, help="Cases per sandboxed batch.")
@click.option("--workers", type=int, default=2, show_default=True, help="Local worker processes.")
@json_option
@click.pass_obj
def evaluate(state: _State, submission_id: str | None, corpus_id: str | None, sites: str | None,
             scheduler: str | None, resume: str | None, batch_size: int, workers: int, as_json: bool) -> None:
    """Evaluate a ready SUBMISSION on a corpus, site by site in the sandbox, then score it (admin).

    A run killed at any point finishes with 'clinval evaluate --resume RUN': no case lost, none counted twice.
    """
    from validation.runs import execute_run
    from validation.runs import evaluate as _evaluate

    def progress(site, outcome) -> None:
        if not as_json:
            why = f": {outcome.reason}" if outcome.reason else ""
            click.echo(f"  {site}: {outcome.state} ({outcome.batches_done}/{outcome.n_batches} batches){why}",
                       err=True)

    platform, principal = state.platform(), state.principal()
    if resume:
        info = execute_run(platform, principal, resume, scheduler=scheduler, progress=progress, workers=workers)
    else:
        if not submission_id or not corpus_id:
            raise InvalidInput("give SUBMISSION and --corpus, or --resume RUN", hint="see 'clinval evaluate --help'")
        from validation.corpora import get_corpus

        corpus_id = get_corpus(platform, principal, corpus_id).id
        info = _evaluate(platform, principal, submission_id, corpus_id,
                         sites=[s for s in sites.split(",") if s] if sites else None, scheduler=scheduler,
                         progress=progress, batch_size=batch_size, workers=workers)
    if as_json:
        _emit_json(info)
    else:
        _print_run(info)
    if info.state != "scored":
        raise SystemExit(1)


@cli.command()
@click.argument("run_a")
@click.argument("run_b")
@json_option
@click.pass_obj
def compare(state: _State, run_a: str, run_b: str, as_json: bool) -> None:
    """Compare two runs on the same corpus version: AUROC difference (A - B) by paired DeLong, pooled and per site."""
    from validation.runs.compare import compare_runs

    rows = compare_runs(state.platform(), state.principal(), run_a, run_b)
    if as_json:
        _emit_json(rows)
        return

    def fmt(r):
        if r["difference"] is None:
            return "-"
        return f"{r['difference']:+.3f} [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}] p={r['p_value']:.3g}"

    _table([{**r, "auroc A-B [95% CI]": fmt(r)} for r in rows], ["group_kind", "group", "n", "auroc A-B [95% CI]",
                                                                "note"])


def _print_runs(state: _State, submission: str | None, as_json: bool) -> None:
    from validation.runs import list_runs

    items = [i for i in list_runs(state.platform(), state.principal())
             if submission is None or i.submission_id == submission]
    if as_json:
        _emit_json(items)
    else:
        _table([{"id": i.id, "submission": i.submission_id, "org": i.org, "protocol": i.protocol_id,
                 "state": i.state, "complete": i.complete, "created_at": i.created_at} for i in items],
               ["id", "submission", "org", "protocol", "state", "complete", "created_at"])


@cli.command("runs")
@click.option("--submission", default=None, help="Only runs of this submission.")
@json_option
@click.pass_obj
def runs_list(state: _State, submission: str | None, as_json: bool) -> None:
    """List the runs you may see (vendors: their own; reviewers: runs on their hospital's data)."""
    _print_runs(state, submission, as_json)


@cli.command()
@click.argument("run_id")
@click.option("--format", "fmt", type=click.Choice(["json", "html", "pdf", "chai"]), default="html",
              show_default=True, help="json (canonical, hashed), html (self-contained), pdf, or chai (the same facts "
              "as a CHAI-style Applied Model Card, XML).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="File to write ('-' for stdout, except pdf).")
@click.pass_obj
def report(state: _State, run_id: str, fmt: str, out: str) -> None:
    """Write the report of a scored run, as the caller may see it (small cells suppressed for vendors and
    regulators)."""
    from validation.reports import build_report, document_sha256, render

    built = build_report(state.platform(), state.principal(), run_id)
    data = render(built, fmt)
    if out == "-":
        if fmt == "pdf":
            raise InvalidInput("a PDF cannot go to stdout", hint="give --out FILE.pdf")
        click.echo(data.decode("utf-8"))
        return
    Path(out).write_bytes(data)
    click.echo(f"Wrote {out} ({fmt}, {len(data)} bytes); document sha256 {document_sha256(built)}", err=True)


@cli.group(cls=_Group)
def run() -> None:
    """Evaluation runs: progress, results, case-level results for reviewers."""


@run.command("list")
@click.option("--submission", default=None, help="Only runs of this submission.")
@json_option
@click.pass_obj
def run_list(state: _State, submission: str | None, as_json: bool) -> None:
    """List the runs you may see (same as 'clinval runs')."""
    _print_runs(state, submission, as_json)


@run.command("show")
@click.argument("run_id")
@json_option
@click.pass_obj
def run_show(state: _State, run_id: str, as_json: bool) -> None:
    """Show a run's state and per-site progress."""
    from validation.runs import get_run

    info = get_run(state.platform(), state.principal(), run_id)
    if as_json:
        _emit_json(info)
    else:
        _print_run(info)


def _fmt_ci(r: dict) -> str:
    if r["estimate"] is None:
        return "-"
    if r["ci_low"] is None:
        return f"{r['estimate']:.3f}"
    return f"{r['estimate']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"


@run.command("results")
@click.argument("run_id")
@click.option("--kind", default=None, help="Only one group kind: overall, site, site_gap, subgroup:sex, ...")
@json_option
@click.pass_obj
def run_results(state: _State, run_id: str, kind: str | None, as_json: bool) -> None:
    """Show a scored run's results with intervals and the acceptance verdicts."""
    from validation.runs import get_results

    res = get_results(state.platform(), state.principal(), run_id)
    rows = [r for r in res.results if kind is None or r["group_kind"] == kind]
    if as_json:
        _emit_json({"run": _to_data(res.run), "results": rows, "verdicts": res.verdicts,
                    "suppressed": res.suppressed, "min_cell": res.min_cell})
        return
    _table([{**r, "value [95% CI]": _fmt_ci(r)} for r in rows],
           ["metric", "group_kind", "group", "value [95% CI]", "n", "ci_method", "note"])
    click.echo("Acceptance criteria (pre-registered):")
    for v in res.verdicts:
        click.echo(f"  {v['status'].upper():12} {v['criterion']}: {v['rule']}")
    if res.suppressed:
        click.echo(f"({res.suppressed} cells with fewer than {res.min_cell} cases suppressed)")


@run.command("cases")
@click.argument("run_id")
@click.option("--site", required=True, help="Your hospital's code.")
@click.option("--errors-only", is_flag=True, help="Only the cases the model got wrong.")
@json_option
@click.pass_obj
def run_cases(state: _State, run_id: str, site: str, errors_only: bool, as_json: bool) -> None:
    """Case-level results of your own hospital (reviewers), to study failures."""
    from validation.runs import case_results

    frame = case_results(state.platform(), state.principal(), run_id, site)
    if errors_only:
        frame = frame[~frame["correct"]]
    records = frame.to_dict(orient="records")
    if as_json:
        _emit_json(records)
    else:
        _table(records, [c for c in ("case_id", "score", "label", "predicted", "age_band", "sex", "manufacturer")
                         if c in frame.columns])


@cli.group(cls=_Group)
def audit() -> None:
    """The audit trail: checkpoints, live check, export bundles, offline verification."""


@audit.command("checkpoint")
@click.option("--out", type=click.Path(dir_okay=False, allow_dash=True), default="-", show_default=True,
              help="Where to write the signed checkpoint ('-' for stdout).")
@click.pass_obj
def audit_checkpoint(state: _State, out: str) -> None:
    """Sign a checkpoint of the whole log now (admin). Keep it to check later exports against."""
    from validation.audit.trail import write_checkpoint
    from validation.policy import enforce

    platform = state.platform()
    enforce(platform.db, state.principal(), "audit.checkpoint")
    note = write_checkpoint(platform)
    click.open_file(out, "w", encoding="utf-8").write(note)
    if out != "-":
        click.echo(f"Checkpoint written to {out}")


@audit.command("check")
@json_option
@click.pass_obj
def audit_check(state: _State, as_json: bool) -> None:
    """Walk the live log (admin): hash chain and every stored checkpoint. Exits 1 at the first break."""
    from validation.audit.trail import check_log

    report = check_log(state.platform(), state.principal())
    if as_json:
        _emit_json(report)
    elif report.ok:
        click.echo(f"OK: {report.events} events chained; {report.checkpoints} checkpoints match the log")
    else:
        where = f" at event {report.seq}" if report.seq else ""
        click.echo(f"BROKEN{where}: {report.problem}")
    if not report.ok:
        raise SystemExit(1)


@audit.command("log")
@click.option("--since", type=int, default=1, show_default=True, help="First sequence number.")
@click.option("--limit", type=int, default=50, show_default=True, help="At most this many events.")
@json_option
@click.pass_obj
def audit_log(state: _State, since: int, limit: int, as_json: bool) -> None:
    """Show events of the audit log (regulator or admin)."""
    from validation.audit.trail import list_events

    events = list_events(state.platform(), state.principal(), since=since, limit=limit)
    if as_json:
        _emit_json(events)
    else:
        _table(events, ["seq", "time", "actor_id", "actor_role", "action", "object_type", "object_id"])


@audit.command("export")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Bundle file to write (zip).")
@click.option("--since", type=int, default=None, help="Only events from this sequence number on.")
@click.option("--run", "run_id", default=None, help="Only the events of this run.")
@click.option("--from-checkpoint", type=click.Path(exists=True, dir_okay=False), default=None,
              help="An earlier checkpoint you kept: the bundle proves the log is consistent with it.")
@json_option
@click.pass_obj
def audit_export(state: _State, out: str, since: int | None, run_id: str | None, from_checkpoint: str | None,
                 as_json: bool) -> None:
    """Export a bundle a regulator verifies offline (regulator or admin)."""
    from pathlib import Path

    from validation.audit.trail import export_bundle

    previous = Path(from_checkpoint).read_text(encoding="utf-8") if from_checkpoint else None
    result = export_bundle(state.platform(), state.principal(), Path(out), since=since, run_id=run_id,
                           from_checkpoint=previous)
    if as_json:
        _emit_json(result)
    else:
        click.echo(f"Wrote {result.path}: {result.events} events ({result.scope}) under a checkpoint of "
                   f"{result.tree_size} events")
        click.echo("Verify it offline with: clinval audit verify BUNDLE --public-key KEY "
                   "(or python verify_bundle.py from inside the bundle)")


@audit.command("verify")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False))
@click.option("--public-key", "public_key", required=True,
              help="The log's public key you pinned: a file, or the note verifier string itself.")
@click.option("--previous-checkpoint", type=click.Path(exists=True, dir_okay=False), default=None,
              help="An earlier checkpoint you kept; the bundle must be consistent with it.")
@json_option
def audit_verify(bundle: str, public_key: str, previous_checkpoint: str | None, as_json: bool) -> None:
    """Verify an audit BUNDLE offline. Needs no platform: only the bundle and the key. Exits 1 on failure."""
    from pathlib import Path

    from validation.audit.verify_bundle import verify

    key_text = Path(public_key).read_text(encoding="utf-8") if Path(public_key).is_file() else public_key
    previous = Path(previous_checkpoint).read_text(encoding="utf-8") if previous_checkpoint else None
    report = verify(bundle, key_text, previous)
    if as_json:
        _emit_json(report.to_dict())
    else:
        click.echo(report.summary())
    if not report.ok:
        raise SystemExit(1)


@cli.command()
@click.option("--cases", type=click.IntRange(12, 2000), default=40, show_default=True,
              help="Cases per task and site in the synthetic exports.")
@click.option("--serve/--no-serve", default=True, show_default=True,
              help="Serve the dashboards when the pipeline is done (--no-serve: stop after the summary).")
@click.option("--port", type=int, default=8501, show_default=True, envvar="CLINVAL_DASHBOARD_PORT",
              help="Port of the dashboards (env CLINVAL_DASHBOARD_PORT).")
@click.option("--address", default="127.0.0.1", show_default=True, help="Address the dashboards listen on.")
@click.pass_obj
def demo(state: _State, cases: int, serve: bool, port: int, address: str) -> None:
    """Run the whole pipeline on the embedded default: synthetic hospitals, ingest, protocols, a vendor's
    submissions, sandboxed evaluation at 16 hospitals, reports, audit export and offline verification; then serve
    the dashboards (sign in with the demo accounts it prints) until Ctrl-C.

    Idempotent: run it again and it reuses what it made.
    """
    from validation.demo import run_demo

    run_demo(state.settings(), echo=click.echo, cases=cases)
    if serve:
        _serve_dashboards(state, port, address)
    else:
        click.echo("Dashboards: 'clinval dashboard' (or 'make dashboard'), then sign in with a demo account above.")


@cli.command()
@click.option("--port", type=int, default=8501, show_default=True, envvar="CLINVAL_DASHBOARD_PORT",
              help="Port to serve the dashboards on (env CLINVAL_DASHBOARD_PORT).")
@click.option("--address", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.pass_obj
def dashboard(state: _State, port: int, address: str) -> None:
    """Serve the Streamlit dashboards for vendors, reviewers, regulators and the admin."""
    _serve_dashboards(state, port, address)


def _serve_dashboards(state: _State, port: int, address: str) -> None:
    import importlib.util
    import subprocess

    spec = importlib.util.find_spec("dashboards")  # located, not imported: validation never imports dashboards
    if spec is None or spec.origin is None:
        raise ClinvalError("the dashboards package is not installed", hint="run 'make setup' (pip install -e .)")
    app_path = os.path.join(os.path.dirname(spec.origin), "app.py")
    state.platform()  # fail early, with a clear message, if the platform is not initialised
    env = {**os.environ, "CLINVAL_HOME": str(state.settings().home)}
    cmd = [
        sys.executable, "-m", "streamlit", "run", app_path,
        "--server.port", str(port), "--server.address", address, "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal",
    ]
    click.echo(f"Serving the dashboards at http://{address}:{port} (Ctrl-C to stop)")
    try:
        code = subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        code = 0
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``clinval`` console script."""
    cli.main(args=argv, prog_name="clinval")


if __name__ == "__main__":  # pragma: no cover
    main()
