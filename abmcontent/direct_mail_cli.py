"""`flask directmail …`: print batches from the operator's shell."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

directmail_cli = AppGroup("directmail", help="Direct mail: print batches (one PDF and a CSV manifest each).")


@directmail_cli.command("batch")
@click.option("--wait", type=int, default=600, show_default=True,
              help="Seconds to wait when the scheduler is already building the batch.")
def batch(wait: int) -> None:
    """Take every queued piece into a new batch and build it now, in the foreground."""
    from abmcontent import direct_mail

    started = time.perf_counter()
    folder = current_app.config["PRINT_FOLDER"]
    made = direct_mail.start_batch(None, datetime.now(timezone.utc))
    if made is None:
        click.echo("Nothing to print: no pieces are queued. A direct-mail step in a plan queues them.")
        return
    click.echo(f"Batch {made.id}: {made.pieces_count} pieces, building…")
    result = direct_mail.build_batch(made.id, folder, datetime.now(timezone.utc))
    deadline = time.monotonic() + wait
    while result.status == "building" and time.monotonic() < deadline:  # another process took the build
        time.sleep(1)
        result = direct_mail.get_batch(made.id)
        from abmcontent.extensions import db

        db.session.refresh(result)
    seconds = time.perf_counter() - started
    if result.status == "failed":
        raise click.ClickException(f"batch {result.id} failed: {result.error} (the pieces are queued again)")
    if result.status == "building":
        raise click.ClickException(f"batch {result.id} is still being built by another process")
    click.echo(f"Batch {result.id} ready: {result.pieces_count} pieces, {result.pages} pages "
               f"in {seconds:.1f}s ({result.pieces_count / seconds:.1f} pieces/s)")
    click.echo(f"  PDF:      {Path(folder) / result.pdf_path}")
    click.echo(f"  manifest: {Path(folder) / result.manifest_path}")
    left = sum(direct_mail.queued_counts().values())
    if left:
        click.echo(f"{left} pieces are still queued (at most {direct_mail.MAX_BATCH} a batch): run it again.")
