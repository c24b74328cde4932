"""``flask docking …``: the docking with the outside systems (issue 15). ``catalog-pull`` pulls the
一张网's matter catalog (app/services/docking/catalog.py) and prints what it stored and refused."""
from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from .domain.errors import DomainError
from .services.docking import catalog as catalog_svc
from .services.identity.actors import SYSTEM


def init_docking_cli(app) -> None:
    app.cli.add_command(docking_cmd)


@click.group("docking", cls=AppGroup, help="对接外部系统：一张网、投资项目在线审批监管平台 (docking with outside systems)")
def docking_cmd():
    pass


@docking_cmd.command("catalog-pull", help="Pull the 一张网's catalog entries of our matters changed since the last pull, "
                                          "store them with their differences to the deployed versions (shown on "
                                          "/designer/catalog; nothing is applied). Exit 1 when the pull failed.")
@click.option("--matter", "process_id", default=None, help="only this matter (process id)")
@click.option("--full", is_flag=True, help="ignore the last pull's time stamps: every entry again")
@click.option("--json", "as_json", is_flag=True, help="print the outcome as JSON")
def catalog_pull(process_id, full, as_json):
    try:
        out = catalog_svc.pull(SYSTEM, process_id=process_id, full=full)
    except DomainError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    click.echo(f"pull #{out['pull_id']} {out['status']}: {out['matters']} matters, {out['received']} entries received, "
               f"{out['stored']} stored, {out['differing']} differ from the deployed version, {out['refused']} refused")
    for p in out["problems"]:
        click.echo(f"  refused {p['entry']} ({p['process_id']}): {p['field']}: {p['message']}")
