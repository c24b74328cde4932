"""``flask trail …``: the tamper-evident trail (issue 17). ``verify`` recomputes every case's chain,
the stored files' hashes and the signed daily roots and names the first altered, removed or inserted
row per case (exit 1 when anything fails, 0 and "全部一致" when clean); ``seal-day`` signs a day's
Merkle root by hand (the scheduler signs yesterday's on its own); ``export-roots`` prints the signed
roots as JSON lines for an archive kept outside this database (the only proof against deleting the
newest roots; see app/services/trail/verify.py)."""
from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from .domain.errors import DomainError
from .extensions import db
from .services.trail import roots as roots_svc
from .services.trail.export import export_lines
from .services.trail.verify import verify as verify_trail


def init_trail_cli(app) -> None:
    app.cli.add_command(trail_cmd)


@click.group("trail", cls=AppGroup, help="防篡改留痕：哈希链与每日签名根 (the tamper-evident trail)")
def trail_cmd():
    pass


@trail_cmd.command("verify", help="Recompute the chains, the stored files' hashes and the signed daily roots; "
                                  "name the first altered, removed or inserted row per case. Exit 1 on any failure.")
@click.option("--case", "case_no", default=None, help="only this case (case number, or #id)")
@click.option("--no-files", is_flag=True, help="do not re-hash the stored files' bytes")
@click.option("--json", "as_json", is_flag=True, help="print the outcome as JSON")
def verify_cmd(case_no, no_files, as_json):
    try:
        case_id = roots_svc.case_by_no(case_no).id if case_no else None
    except DomainError as exc:
        raise click.ClickException(f"{case_no}: {exc.message}") from None
    out = verify_trail(case_id, files=not no_files)
    db.session.rollback()
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        click.echo(f"检查了 {out['cases']} 个办件、{out['events']} 条记录、{out['files']} 个附件、{out['roots']} 个日根")
        for p in out["problems"]:
            click.echo(f"  ✗ {p['message']}")
        for w in out.get("warnings", []):
            click.echo(f"  ! {w}")
        click.echo("全部一致" if out["ok"] else f"发现 {len(out['problems'])} 处不一致")
    if not out["ok"]:
        raise SystemExit(1)


@trail_cmd.command("seal-day", help="Sign the Merkle root of one Beijing day (default: yesterday).")
@click.option("--day", default=None, help="YYYY-MM-DD (a day that has ended)")
def seal_day_cmd(day):
    try:
        row = roots_svc.seal_day(roots_svc.parse_day(day))
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    click.echo(f"{row.day} 日根已签署：{row.tree_size} 个办件，根 {row.root_hash}，密钥 {row.key_id}")


@trail_cmd.command("export-roots", help="Print the signed daily roots as JSON lines (one per day, oldest first) "
                                        "for an archive kept outside this database.")
@click.option("--since", default=None, help="only days from YYYY-MM-DD on")
def export_roots_cmd(since):
    try:
        lines = export_lines(roots_svc.parse_day(since))
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    for line in lines:
        click.echo(line)
    db.session.rollback()
