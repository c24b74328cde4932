"""/admin/integrations: the docking with the outside systems (the 一张网, the investment project
platform, unified identity), per system: configured or not, what was sent and received, the backlog,
the failures with the remote's error, and re-send. Administrators only."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for

from ...services.common.clock import BEIJING
from ...services.docking import operations as ops
from .. import i18n
from ..auth import login_required

bp = Blueprint("integrations_admin", __name__, url_prefix="/admin/integrations", template_folder="templates")

for zh, en in {
    "外部系统对接": "Integrations", "系统": "System", "接入地址": "Address", "待发": "Waiting", "死信": "Dead letters",
    "已送达": "Delivered", "最早待发": "Oldest waiting", "最近送达": "Last delivery", "已接收": "Received",
    "拒收": "Refused", "最近错误": "Last error", "推送失败超过": "Pushes failing for more than", "小时": "hours",
    "未配置": "Not configured", "不经发件箱（实时调用）": "Called live (no outbox)", "失败未送达": "Failed, not delivered",
    "自": "since", "只看失败": "Failures only", "办件编号": "Case no.", "发出的消息": "Messages sent",
    "写入时间": "Written", "环节": "Stage", "下次尝试": "Next attempt", "对方应答或错误": "Answer or error",
    "更早": "Older", "收到的消息": "Messages received", "发送中": "Sending", "政务服务一张网": "Government service network (一张网)",
    "全国投资项目在线审批监管平台": "National investment project platform", "统一身份认证": "Unified identity",
    "办件信息": "Case data", "好差评": "Rating", "一张网申报": "Application from 一张网", "审批结果": "Decision",
    "对接告警": "Integration alert", "有": "has", "条推送失败未送达，最早写入于": "pushes failed and not delivered, the oldest written at",
    "查看并重发": "View and send again",
}.items():
    i18n.EN.setdefault(zh, en)

STATUS_TEXT = {"pending": "待发", "sending": "发送中", "delivered": "已送达", "dead": "死信"}


def _admin(actor):
    return actor.is_admin


def _system(key: str) -> ops.System:
    system = ops.BY_KEY.get(key)
    if system is None:
        abort(404)
    return system


@bp.get("")
@login_required(_admin)
def index():
    return render_template("integrations/index.html", rows=ops.overview(), tz=BEIJING, message=request.args.get("msg"))


@bp.get("/<key>")
@login_required(_admin)
def system(key):
    sys_ = _system(key)
    status = request.args.get("status") or None
    if status not in (None, *ops.STATUSES):
        status = None
    failing = request.args.get("failing") == "1"
    case_no = (request.args.get("case_no") or "").strip()[:50] or None
    try:
        before = int(request.args.get("before") or 0) or None
    except ValueError:
        before = None
    if before is not None and not 0 < before < 2 ** 31:  # an id of no row (SQLite cannot even bind a huge one)
        before = None
    rows = ops.messages(key, status=status, case_no=case_no, failing=failing, limit=50, before_id=before)
    summary = ops.summary(sys_)
    return render_template("integrations/system.html", sys=sys_, s=summary, rows=rows,
                           received=ops.received(key), refusals=ops.refusals(key), status_text=STATUS_TEXT,
                           f={"status": status or "", "failing": failing, "case_no": case_no or ""},
                           next_before=rows[-1]["m"].id if len(rows) == 50 else None, tz=BEIJING,
                           message=request.args.get("msg"), error=request.args.get("err"))


@bp.post("/<key>/messages/<message_id>/resend")
@login_required(_admin)
def resend(key, message_id):
    _system(key)
    try:
        m = ops.resend(key, message_id[:36])
    except LookupError:
        abort(404)
    except ValueError as exc:
        return redirect(url_for(".system", key=key, err=str(exc)))
    return redirect(url_for(".system", key=key, msg=f"消息 {m.message_id} 已重新排队发送"))
