"""``flask federation …`` (this deployment's key and its peers) and ``flask outbox …`` (messages to
other systems: send, list, re-send dead letters)."""
from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from .services.federation import peers as peer_svc
from .services.federation.protocol import LEVELS, public_key_text
from .services.federation.transport import ping
from .services.messaging import outbox as outbox_svc


def init_federation_cli(app) -> None:
    app.cli.add_command(federation_cmd)
    app.cli.add_command(outbox_cmd)


@click.group("federation", cls=AppGroup, help="省市县三级联动：本平台密钥与对端平台 (the federation network)")
def federation_cmd():
    pass


@federation_cmd.command("keygen", help="Create this deployment's Ed25519 signing key in FEDERATION_KEY_FILE and "
                                       "print its public key (give it to the peers).")
@click.option("--force", is_flag=True, help="replace an existing key (the peers must then register the new one)")
def keygen(force):
    try:
        key = peer_svc.write_key_file(current_app.config["FEDERATION_KEY_FILE"], overwrite=force)
    except FileExistsError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(public_key_text(key.public_key()))


@federation_cmd.command("whoami", help="This deployment's region, level, name and public key.")
def whoami():
    try:
        click.echo(json.dumps(peer_svc.whoami(), ensure_ascii=False, indent=2))
    except peer_svc.FederationNotConfigured as exc:
        raise click.ClickException(str(exc)) from None


@federation_cmd.command("peer-add", help="Register a peer platform: REGION (GB/T 2260) NAME LEVEL BASE_URL "
                                         "PUBLIC_KEY (ed25519:<Base64>, from its `flask federation whoami`).")
@click.argument("region")
@click.argument("name")
@click.argument("level", type=click.Choice(LEVELS))
@click.argument("base_url")
@click.argument("public_key")
@click.option("--update", is_flag=True, help="change a registered peer (a new URL or a rotated key)")
def peer_add(region, name, level, base_url, public_key, update):
    p = peer_svc.PeerIn(region, name, level, base_url, public_key)
    try:
        row = peer_svc.update_peer(p) if update else peer_svc.add_peer(p)
    except peer_svc.PeerError as exc:
        raise click.ClickException("; ".join(f"{k}: {v}" for k, v in exc.errors.items())) from None
    except LookupError:
        raise click.ClickException(f"对端 {region} 未登记（去掉 --update 以新增）") from None
    click.echo(f"{row.region} {row.name} ({row.level}) {row.base_url}")


@federation_cmd.command("list", help="The registered peers with their links' backlog.")
def peer_list():
    stats = {s["peer"]: s for s in outbox_svc.link_stats("federation")}
    for p in peer_svc.peers():
        s = stats.get(p.region, {})
        click.echo(f"{p.region}  {p.level:8} {'启用' if p.enabled else '停用'}  {p.base_url}  {p.name}  "
                   f"待发 {s.get('waiting', 0)} 死信 {s.get('dead', 0)} 已送达 {s.get('delivered', 0)}"
                   + (f"  最近错误: {s['last_error']}" if s.get("last_error") else ""))


@federation_cmd.command("disable", help="Stop exchanging with a peer (its messages are refused; ours wait).")
@click.argument("region")
def peer_disable(region):
    _set(region, False)


@federation_cmd.command("enable", help="Exchange with a disabled peer again.")
@click.argument("region")
def peer_enable(region):
    _set(region, True)


def _set(region, enabled):
    try:
        row = peer_svc.set_enabled(region, enabled)
    except LookupError:
        raise click.ClickException(f"对端 {region} 未登记") from None
    click.echo(f"{row.region} {'启用' if row.enabled else '停用'}")


@federation_cmd.command("ping", help="Send a signed ping to a peer and check its signed answer.")
@click.argument("region")
def peer_ping(region):
    try:
        result = ping(region)
    except LookupError:
        raise click.ClickException(f"对端 {region} 未登记") from None
    except peer_svc.FederationNotConfigured as exc:
        raise click.ClickException(str(exc)) from None
    if not result["ok"]:
        raise click.ClickException(f"{region}: {result['error']} ({result['ms']} ms)")
    a = result["answer"]
    click.echo(f"{region}: ok, {a['name']} ({a['level']}), {result['ms']} ms")


@click.group("outbox", cls=AppGroup, help="发往其他系统的消息 (the outbox to other platforms and systems)")
def outbox_cmd():
    pass


@outbox_cmd.command("send", help="One pass of the outbox sender: deliver the due messages and exit.")
@click.option("--limit", type=click.IntRange(1, 100000), default=1000)
def outbox_send(limit):
    click.echo(json.dumps(outbox_svc.deliver_due(limit=limit)))


@outbox_cmd.command("links", help="Per channel and peer: waiting, dead, delivered, last delivery and error.")
def outbox_links():
    for s in outbox_svc.link_stats():
        click.echo(f"{s['channel']:12} {s['peer']:10} 待发 {s['waiting']:<5} 死信 {s['dead']:<5} 已送达 {s['delivered']:<6} "
                   f"最近送达 {s['last_delivered_at'] or '-'}" + (f"  错误: {s['last_error']}" if s["last_error"] else ""))


@outbox_cmd.command("resend", help="Send a dead message again, or a waiting one now (same message id: the "
                                   "receiver applies it once).")
@click.argument("message_id")
def outbox_resend(message_id):
    try:
        m = outbox_svc.send_again(message_id)
    except LookupError:
        raise click.ClickException(f"消息 {message_id} 不存在") from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{m.message_id} → pending")
