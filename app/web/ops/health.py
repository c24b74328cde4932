"""/healthz and /readyz for load balancers and orchestrators, and the administrators' banner when no
scheduler beats.

Both endpoints are public and never cached: ``/healthz`` answers 200 while the process serves requests
(it touches no database: a liveness probe must not restart web workers because PostgreSQL is slow);
``/readyz`` answers 200 when the database answers, the schema is at the migrations' head and a
scheduler beat within SCHEDULER_STALE_SECONDS, 503 otherwise, with the findings as JSON
(app/services/ops/health.py readiness: no URL, no setting, errors named by their class only)."""
from __future__ import annotations

import logging

from flask import Blueprint, has_request_context, jsonify

from ...services.ops.health import readiness, scheduler_age, scheduler_stale
from .. import i18n
from ..auth import current_actor
from .metrics import allowed as metrics_allowed

log = logging.getLogger(__name__)
bp = Blueprint("ops_health", __name__)

BANNER = i18n.N_("调度进程未运行：计时、超期预警和短信暂停（最近心跳 {ago}）")
# msgids shown through _() from data: marked for `scripts/i18n extract`; English in app/translations
_MSGIDS = (i18n.N_("{n} 秒前"), i18n.N_("{n} 分钟前"), i18n.N_("{n} 小时前"))


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
def healthz():
    return _no_store(jsonify({"status": "ok"}))


@bp.get("/readyz")
def readyz():
    """200 ready or degraded (only the scheduler is stale), 503 not ready. The findings (scheduler
    hosts and pids, revisions, backlogs) go to operators only — loopback or the metrics token, as
    /metrics —; anyone else gets the status alone."""
    result = readiness()
    response = jsonify(result if metrics_allowed() else {"status": result["status"]})
    response.status_code = 503 if result["status"] == "not_ready" else 200
    return _no_store(response)


def ago(age: float | None) -> str:
    """How long ago, in the page's language: 秒 under two minutes, then minutes, hours, days."""
    if age is None:
        return i18n.gettext("从未")
    for unit, seconds, below in (("{n} 秒前", 1, 120), ("{n} 分钟前", 60, 7200), ("{n} 小时前", 3600, 172800)):
        if age < below:
            return i18n.gettext(unit).format(n=int(age // seconds))
    return i18n.gettext("{n} 天前").format(n=int(age // 86400))


@bp.app_context_processor
def scheduler_banner():
    """``scheduler_banner``: the warning administrators see on every page while no scheduler beats
    (the heartbeat is read at most every few seconds per process; others never cause a query)."""
    if not has_request_context():
        return {}
    actor = current_actor()
    if actor is None or not actor.is_admin:
        return {}
    try:
        if not scheduler_stale():
            return {}
        age = scheduler_age()  # from the same cached read
    except Exception:  # a page is still shown; /readyz tells what is wrong
        log.exception("could not read the scheduler heartbeat")
        return {}
    return {"scheduler_banner": i18n.gettext(BANNER).format(ago=ago(age))}
