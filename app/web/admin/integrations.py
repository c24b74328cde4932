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

# msgids shown through _() from data: marked for `scripts/i18n extract`; English in app/translations
_MSGIDS = (i18n.N_("发送中"), i18n.N_("政务服务一张网"), i18n.N_("全国投资项目在线审批监管平台"), i18n.N_("办件信息"), i18n.N_("好差评"),
    i18n.N_("一张网申报"), i18n.N_("审批结果"))

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
