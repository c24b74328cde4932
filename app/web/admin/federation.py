"""/admin/federation: this platform's identity in the 省市县 network, its peers (add, change, enable,
disable, ping), each link's backlog and last delivery, the federation's messages waiting to be tried
again (a failure, or a peer that asked to wait) with a send-now button, the dead letters of every
outbox channel with a re-send button (the same message id: the receiver applies it once) and the
messages this platform refused. Administrators only."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from ...services.common.clock import BEIJING
from ...services.federation import peers as peer_svc
from ...services.federation.protocol import LEVELS
from ...services.federation.transport import ping
from ...services.messaging import inbox as inbox_svc
from ...services.messaging import outbox as outbox_svc
from .. import i18n
from ..auth import login_required

bp = Blueprint("federation_admin", __name__, url_prefix="/admin/federation", template_folder="templates")

# msgids shown through _() from data: marked for `scripts/i18n extract`; English in app/translations
_MSGIDS = (i18n.N_("省级"), i18n.N_("市级"), i18n.N_("县级"))
LEVEL_TEXT = {"province": "省级", "city": "市级", "county": "县级"}


def _admin(actor):
    return actor.is_admin


def _page(status: int = 200, **extra):
    stats = {(s["channel"], s["peer"]): s for s in outbox_svc.link_stats()}
    return render_template("federation/index.html", me=peer_svc.whoami(), peers=peer_svc.peers(), stats=stats,
                           dead=outbox_svc.dead_letters(limit=100),
                           retrying=outbox_svc.retrying("federation", limit=100),
                           refusals=inbox_svc.refusals(limit=50), levels=LEVELS, level_text=LEVEL_TEXT, tz=BEIJING,
                           message=request.args.get("msg"), form=extra.pop("form", {}), **extra), status


@bp.get("")
@login_required(_admin)
def index():
    return _page()


@bp.post("/peers")
@login_required(_admin)
def save_peer():
    f = request.form
    p = peer_svc.PeerIn(f.get("region", ""), f.get("name", ""), f.get("level", ""), f.get("base_url", ""),
                        f.get("public_key", ""))
    try:
        row = peer_svc.update_peer(p) if f.get("update") else peer_svc.add_peer(p)
    except peer_svc.PeerError as exc:
        return _page(422, error="对端信息不正确", details=exc.errors, form=f.to_dict())
    except LookupError:
        return _page(404, error=f"对端 {p.region} 未登记", form=f.to_dict())
    return redirect(url_for(".index", msg=f"{row.region} {row.name} 已保存"))


@bp.post("/peers/<region>/enabled")
@login_required(_admin)
def set_enabled(region):
    try:
        row = peer_svc.set_enabled(region, request.form.get("enabled") == "1")
    except LookupError:
        return _page(404, error=f"对端 {region[:6]} 未登记")
    return redirect(url_for(".index", msg=f"{row.region} 已{'启用' if row.enabled else '停用'}"))


@bp.post("/peers/<region>/ping")
@login_required(_admin)
def ping_peer(region):
    try:
        result = ping(region)
    except LookupError:
        return _page(404, error=f"对端 {region[:6]} 未登记")
    except peer_svc.FederationNotConfigured as exc:
        return _page(503, error=str(exc))
    if not result["ok"]:
        return _page(502, error=f"{region} 连通测试失败：{result['error']}")
    return redirect(url_for(".index", msg=f"{region} 连通正常（{result['ms']} ms）"))


@bp.post("/messages/<message_id>/resend")
@login_required(_admin)
def resend(message_id):
    try:
        m = outbox_svc.send_again(message_id[:36])
    except LookupError:
        return _page(404, error="消息不存在")
    except ValueError as exc:
        return _page(409, error=str(exc))
    return redirect(url_for(".index", msg=f"消息 {m.message_id} 已重新排队发送"))
