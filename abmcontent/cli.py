"""flask commands: the operator's surface."""
from __future__ import annotations

from datetime import datetime, timezone

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from werkzeug.serving import run_simple

from abmcontent import content_sync, demo, users
from abmcontent.errors import ValidationError
from abmcontent.models import ROLES

users_cli = AppGroup("users", help="Manage the people who use abmcontent.")
content_cli = AppGroup("content", help="The content library on disk.")
demo_cli = AppGroup("demo", help="Demo data for trying abmcontent.")
accounts_cli = AppGroup("accounts", help="Target accounts: import from a CRM, score against the ICP.")
contacts_cli = AppGroup("contacts", help="Stakeholders: import from a CRM.")
purl_cli = AppGroup("purl", help="Personalized landing-page links.")
touchpoints_cli = AppGroup("touchpoints", help="Scheduled touchpoints: the dispatcher.")
kpis_cli = AppGroup("kpis", help="The ABM results dashboard.")


@kpis_cli.command("rollup")
def roll_up_kpis() -> None:
    """Build or catch up the dashboard's daily rollups now (the scheduler does it every minute)."""
    from abmcontent import kpi_rollups

    report = kpi_rollups.roll(current_app.config["BABEL_DEFAULT_TIMEZONE"], _now())
    if not report.claimed:
        raise click.ClickException("Another process is rolling up the KPIs right now; try again in a few minutes.")
    if report.rebuilt:
        click.echo("The time zone changed: the rollups were rebuilt from the events.")
    click.echo(f"Rolled up {report.events:,} events and {report.sends:,} email sends; "
               f"events up to id {report.through:,}, {report.gaps} ids still awaited.")


@touchpoints_cli.command("dispatch")
@click.option("--once", is_flag=True, help="Run one pass and exit (the scheduler runs passes every few seconds).")
@click.option("--batch", type=int, default=100, show_default=True, help="Touchpoints claimed per pass.")
def dispatch_touchpoints(once: bool, batch: int) -> None:
    """Send what is due. Run as many as you like, on as many machines: claims never overlap.
    SIGTERM or Ctrl-C stops it after the message in hand; what it had claimed is handed back."""
    import signal
    import threading

    from abmcontent import dispatch

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_args: stop.set())
    while not stop.is_set():
        report = dispatch.dispatch_once(_now(), batch=batch, stop=stop)
        if report.claimed:
            click.echo(f"claimed {report.claimed}: " + ", ".join(f"{n} {s}" for s, n in sorted(report.counts.items())))
        if once:
            return
        if report.claimed < batch:
            stop.wait(1)
    click.echo("stopped")


def _run_import(kind: str, path: str, dry_run: bool, mapping: str | None) -> None:
    from tqdm import tqdm

    from abmcontent import crm_import

    given = None
    if mapping:
        given = dict(pair.split("=", 1) for pair in mapping.split(",") if "=" in pair)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        job = crm_import.create_job(kind, path, data, None, _now(), current_app.config["UPLOAD_FOLDER"],
                                    dry_run=dry_run, mapping=given)
    except OSError as error:
        raise click.ClickException(f"cannot read {path}: {error.strerror}")
    except ValidationError as error:
        raise click.ClickException("; ".join(m for ms in error.errors.values() for m in ms))
    if job.status == "needs_mapping":
        headers = ", ".join(job.report.get("headers", []))
        raise click.ClickException(
            f"the columns were not recognised ({headers}). Map them with "
            f"--mapping 'Column=field,...' or upload the file in the web UI to map them once.")
    claimed = crm_import.claim_next()
    bar = tqdm(total=job.total_rows, unit="rows", desc="checking", leave=False)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    report = crm_import.run_job(claimed or job.id, _now(), current_app.config["UPLOAD_FOLDER"], progress)
    bar.close()
    job = crm_import.get_job(job.id)
    if job.status == "failed":
        raise click.ClickException(job.error)
    for rejected in report.rejected:
        click.echo(f"  line {rejected['line']}: {'; '.join(rejected['errors'])}", err=True)
    for warning in report.warnings:
        click.echo(f"  warning: {warning}", err=True)
    verb = "would be " if dry_run else ""
    if report.rejected:
        click.echo(f"Nothing imported: {len(report.rejected)} of {report.rows} rows rejected (layout: {report.layout}).")
        raise SystemExit(1)
    extra = f", {report.accounts_created} accounts {verb}created" if kind == "contacts" else ""
    click.echo(f"{report.rows} rows (layout: {report.layout}): {report.added} {verb}added, "
               f"{report.updated} {verb}updated, {report.unchanged} unchanged, "
               f"{report.merged} duplicates merged{extra}." + (" Dry run: nothing saved." if dry_run else ""))


def _import_command(group: AppGroup, kind: str, help_text: str) -> None:
    @group.command("import", help=help_text)
    @click.argument("path", type=click.Path(dir_okay=False))
    @click.option("--dry-run", is_flag=True, help="Show what would change without saving.")
    @click.option("--mapping", help="For an unrecognised layout: 'Column=field,Column=field'.")
    def command(path: str, dry_run: bool, mapping: str | None) -> None:
        _run_import(kind, path, dry_run, mapping)


_import_command(accounts_cli, "accounts",
                "Import accounts from a CSV export (Salesforce, HubSpot, the S&P 500 list, or mapped).")
_import_command(contacts_cli, "contacts", "Import contacts (stakeholders) from a CSV export.")


@accounts_cli.command("score")
def score_accounts() -> None:
    """Recompute every account's ICP fit score and tier."""
    import time

    from abmcontent import scoring

    started = time.perf_counter()
    count = scoring.rescore_all()
    click.echo(f"Scored {count} accounts in {time.perf_counter() - started:.1f}s.")


def _now() -> datetime:
    return datetime.now(timezone.utc)


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--name", default="", help="Display name.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Asked for at a prompt when not given.")
def create_user(email: str, role: str, name: str, password: str) -> None:
    """Create a user with a role (admin, marketer, campaign or sales)."""
    try:
        user = users.create_user(email, role, password, _now(), name=name)
    except ValidationError as error:
        for field, messages in error.errors.items():
            for message in messages:
                click.echo(f"error: {field}: {message}", err=True)
        raise SystemExit(1)
    click.echo(f"Created {user.email} ({user.role}).")


@content_cli.command("sync")
@click.option("--folder", type=click.Path(file_okay=False), default=None,
              help="Defaults to the project's content/ folder.")
@click.option("--dry-run", is_flag=True, help="Report what would change without saving.")
def sync(folder: str | None, dry_run: bool) -> None:
    """Load content/*.md into the library: added, updated, unchanged, invalid (with why)."""
    report = content_sync.sync(folder or current_app.config["CONTENT_FOLDER"], _now(), dry_run=dry_run)
    _print_sync(report, dry_run)
    if report.invalid:
        raise SystemExit(1)


def _print_sync(report: content_sync.SyncReport, dry_run: bool = False) -> None:
    prefix = "would be " if dry_run else ""
    for name in report.added:
        click.echo(f"  {prefix}added      {name}")
    for name in report.updated:
        click.echo(f"  {prefix}updated    {name}")
    for name, reason in report.invalid:
        click.echo(f"  invalid    {name}: {reason}", err=True)
    click.echo(f"{len(report.added)} {prefix}added, {len(report.updated)} {prefix}updated, "
               f"{len(report.unchanged)} unchanged, {len(report.invalid)} invalid")


@demo_cli.command("load")
def load_demo() -> None:
    """Load demo users, accounts and the starter library (safe to run again)."""
    report = demo.load(current_app.config["CONTENT_FOLDER"], _now(), current_app.config["UPLOAD_FOLDER"])
    click.echo(f"Demo: {report.users_created} users, {report.accounts_created} accounts, "
               f"{report.contacts_created} contacts created.")
    _print_sync(report.content)


@demo_cli.command("logins")
def logins() -> None:
    """Print the demo sign-ins."""
    for email, role, _name, _phone in demo.DEMO_USERS:
        click.echo(f"  {role:<9} {email}  /  {demo.DEMO_PASSWORD}")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None, help="Defaults to PORT (5000).")
def serve(host: str, port: int | None) -> None:
    """The single-process demo server (`make run`). Production uses gunicorn: see the README."""
    port = port or current_app.config["PORT"]
    click.echo(f"\n  abmcontent is running at http://{host}:{port}/\n")
    click.echo("  Demo sign-ins (email / password):")
    for email, role, _name, _phone in demo.DEMO_USERS:
        click.echo(f"    {role:<9} {email}  /  {demo.DEMO_PASSWORD}")
    from abmcontent import landing

    pages = landing.published_pages()
    if pages:
        click.echo(f"\n  Landing page (anonymous visitor): http://{host}:{port}/p/{pages[0].slug}")
        click.echo("  A personalized link for a demo stakeholder:\n"
                   "    .venv/bin/flask purl create --account harborviewbank.example "
                   "--contact priya.raman@harborviewbank.example")
    if current_app.config["SCHEDULER_EMBEDDED"]:
        from abmcontent import scheduler

        scheduler.start_background(current_app._get_current_object())
        click.echo("  The scheduler runs inside this process (SCHEDULER_EMBEDDED).")
    click.echo("\n  Press Ctrl+C to stop.\n")
    # app.run() refuses to start inside a flask command; run_simple is what it would call.
    run_simple(host, port, current_app._get_current_object(), threaded=True, use_reloader=False)


scheduler_cli = AppGroup("scheduler", help="The scheduler process: recurring jobs.")


@scheduler_cli.command("run")
def run_scheduler() -> None:
    """Run the scheduler in the foreground (one per deployment; never in web workers)."""
    from abmcontent import scheduler

    click.echo("Scheduler running; Ctrl+C to stop.")
    scheduler.run_blocking(current_app._get_current_object())


@purl_cli.command("create")
@click.option("--account", "account_ref", required=True, help="The account's name or one of its domains.")
@click.option("--contact", "email", default=None, help="A stakeholder's email: the page greets them too.")
@click.option("--page", "slug", default=None, help="The landing page's address (default: the newest published).")
def create_purl(account_ref: str, email: str | None, slug: str | None) -> None:
    """Print a new personalized link (only its hash is stored: this is the one time it is shown)."""
    from flask import url_for
    from sqlalchemy import func, select

    from abmcontent import accounts, identification, landing
    from abmcontent.errors import NotFound
    from abmcontent.extensions import db
    from abmcontent.models import Contact

    account = accounts.find_account(account_ref)
    if account is None:
        raise click.ClickException(f"no single account matches {account_ref!r}; use its domain or full name")
    contact_id = None
    if email:
        contact = db.session.scalar(select(Contact).where(func.lower(Contact.email) == email.strip().lower(),
                                                          Contact.account_id == account.id))
        if contact is None:
            raise click.ClickException(f"{email} is not a stakeholder at {account.name}")
        contact_id = contact.id
    page_id = None
    if slug:
        page = landing.published_page(slug)
        if page is None:
            raise click.ClickException(f"no published landing page at /p/{slug}")
        page_id = page.id
    try:
        link, token = identification.create_personal_url(account.id, contact_id, None, _now(), page_id)
    except NotFound as error:
        raise click.ClickException(str(error))
    base = current_app.config.get("BASE_URL", "").rstrip("/") or f"http://127.0.0.1:{current_app.config['PORT']}"
    with current_app.test_request_context(base_url=base):
        click.echo(url_for("public.page", slug=link.landing_page.slug, t=token, _external=True))


def init_app(app: Flask) -> None:
    for group in (users_cli, content_cli, demo_cli, accounts_cli, contacts_cli, scheduler_cli, purl_cli,
                  touchpoints_cli, kpis_cli):
        app.cli.add_command(group)
    app.cli.add_command(serve)
    from abmcontent.direct_mail_cli import directmail_cli
    from abmcontent.tokens_cli import tokens_cli

    app.cli.add_command(tokens_cli)

    app.cli.add_command(directmail_cli)
