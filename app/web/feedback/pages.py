"""好差评, consultations, complaints and public disclosure pages.

Applicants: ``/portal/cases/<id>/evaluate``, ``/portal/matters/<process_id>/ask``,
``/portal/complaints/new``, ``/portal/questions`` (their questions; rate, follow up).
Staff: ``/feedback/rectifications``, ``/feedback/questions`` (consultations, complaints),
``/feedback/disclosures`` (records to publish, retract). Public: ``/disclosure``.

Views parse, call one service and render; the services check permissions. A refused input or
action re-renders the page with the message and the error's status (422, 409); 403/404 go to the
app's error handler. Every POST carries the CSRF token (checked globally)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from ...domain.decisions import DECISIONS
from ...domain.errors import Conflict, NotFound, ValidationError
from ...extensions import db
from ...models import Case
from ...services.cases.registry import list_matters
from ...services.feedback import consultations as qsvc
from ...services.feedback import disclosure as dsvc
from ...services.feedback import evaluations as esvc
from ...services.seals import documents as seal_docs
from .. import i18n
from ..auth import current_actor, login_required
from ..errors import domain_answer, wants_json

bp = Blueprint("feedback", __name__, template_folder="templates")
applicant_only = login_required(lambda a: a.is_applicant)
staff_only = login_required(lambda a: a.is_staff or a.is_admin)
PER_PAGE = 20

# msgids shown through _() from data: marked for `scripts/i18n extract`; English in app/translations
_MSGIDS = (i18n.N_("非常满意"), i18n.N_("满意"), i18n.N_("基本满意"), i18n.N_("不满意"), i18n.N_("非常不满意"), i18n.N_("办事效率"),
    i18n.N_("办事指南精确度"), i18n.N_("办事便捷度"), i18n.N_("平台操作性"), i18n.N_("一般咨询（政务服务大厅）"), i18n.N_("业务咨询（业务处室联络员）"),
    i18n.N_("待答复"), i18n.N_("已答复"), i18n.N_("待核实"), i18n.N_("整改中"), i18n.N_("已反馈"), i18n.N_("已回访（办结）"),
    i18n.N_("申诉复核"), i18n.N_("申诉成立（已作废）"), i18n.N_("核实属实，开始整改"), i18n.N_("回访"), i18n.N_("申诉成立（工单作废）"),
    i18n.N_("申诉驳回（继续整改）"), i18n.N_("回访满意"), i18n.N_("回访不满意"), i18n.N_("无法联系"), i18n.N_("待公示"), i18n.N_("已公示"),
    i18n.N_("更正记录"))


#: a decision is named by the matter's kind (app/domain/decisions.py); a record's content starts with
#: the name it was written with (before the fix, 准予许可 for a 备案 too)
HISTORY_ACTIONS = {"create": "生成公示记录", "publish": "发布公示", "retract": "撤销公示", "correct": "生成更正记录"}
# msgids shown through _() from data: marked for `scripts/i18n extract`; English in app/translations
_MSGIDS = (i18n.N_("予以备案"), i18n.N_("不予备案"), i18n.N_("准予许可"), i18n.N_("准予办理"), i18n.N_("不予办理"), i18n.N_("决定"),
    i18n.N_("生成公示记录"), i18n.N_("生成更正记录"))


def decision_kind(item) -> str:
    """filing | licence | other: the kind of the matter a disclosure record decides."""
    case = db.session.get(Case, item.case_id)
    return seal_docs.family(case, seal_docs.matter_of(case)) if case is not None else "other"


def decision_name(item) -> str:
    return DECISIONS[decision_kind(item)].get(item.result, "")


def decision_text(item) -> str:
    """The record's decision as published: its content, the decision named by the matter's kind
    (a 备案 is 予以备案 / 不予备案, never 准予许可) when the content opens with a decision name."""
    content = item.content or ""
    # only a record written before the fix can open with the wrong name, and then it is the licence's
    # (every decision was written 准予许可 / 不予许可): only those look up the matter's kind
    written = DECISIONS["licence"].get(item.result)
    if written and content.startswith(written):
        return decision_name(item) + content[len(written):]
    return content


@bp.context_processor
def _decisions():
    return {"decision_text": decision_text, "decision_name": decision_name, "history_actions": HISTORY_ACTIONS}


@bp.context_processor
def _pager_args():
    from urllib.parse import urlencode

    def pager_args(page: int) -> str:
        args = request.args.to_dict()
        args["page"] = page
        return urlencode(args)
    return {"pager_args": pager_args}


def _page() -> int:
    try:
        return max(1, min(int(request.args.get("page", 1)), 10_000))
    except ValueError:
        return 1


def _refused(exc, template: str, **ctx):
    """A refused input or action: the page again with the message, and the error's status."""
    if wants_json():  # the Error body of the OpenAPI document, as the app's error handler sends it
        return domain_answer(exc)
    return render_template(template, error=exc.message, errors=exc.details or {}, **ctx), exc.status


def _int_or_404(value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise NotFound("不存在") from None
    if not 0 < number < 2 ** 31:
        raise NotFound("不存在")
    return number


# ---------------------------------------------------------------- applicants

@bp.route("/portal/cases/<int:case_id>/evaluate", methods=["GET", "POST"])
@applicant_only
def evaluate(case_id: int):
    actor = current_actor()
    case = esvc.own_decided_case(actor, case_id)
    existing = esvc.get_evaluation(case.id)
    ctx = dict(case=case, levels=esvc.LEVELS, indicators=esvc.INDICATORS, existing=existing,
               channels=esvc.CHANNELS, channel=request.values.get("channel", ""), f=request.form)
    if request.method == "POST":
        form = request.form
        try:
            esvc.evaluate(actor, case.id, level=form.get("level"),
                          indicators={k: form.get(k) for k in esvc.INDICATORS}, comment=form.get("comment", ""),
                          channel=esvc.detect_channel(request.user_agent.string, form.get("channel")),
                          named=not form.get("anonymous"))
        except (ValidationError, Conflict) as exc:
            return _refused(exc, "feedback/evaluate.html", **ctx)
        flash(i18n.gettext("感谢您的评价"))
        return redirect(url_for("feedback.evaluate", case_id=case.id))
    return render_template("feedback/evaluate.html", error=None, errors={}, **ctx)


@bp.route("/portal/matters/<process_id>/ask", methods=["GET", "POST"])
@applicant_only
def ask(process_id: str):
    from ...services.cases.registry import get_matter
    matter = get_matter(process_id)
    ctx = dict(matter=matter, kind="consultation", categories=qsvc.CATEGORIES, f=request.form, cases=[])
    if request.method == "POST":
        try:
            qsvc.ask(current_actor(), process_id, category=request.form.get("category", ""),
                     subject=request.form.get("subject", ""), body=request.form.get("body", ""))
        except ValidationError as exc:
            return _refused(exc, "feedback/ask.html", **ctx)
        flash(i18n.gettext("已提交，我们将尽快答复"))
        return redirect(url_for("feedback.my_questions"))
    return render_template("feedback/ask.html", error=None, errors={}, **ctx)


@bp.route("/portal/complaints/new", methods=["GET", "POST"])
@applicant_only
def complain():
    from ...services.cases.lifecycle import list_cases
    actor = current_actor()
    cases = [c for c in list_cases(actor, limit=100) if c.case_no]
    ctx = dict(matter=None, kind="complaint", categories={}, f=request.values, cases=cases)
    if request.method == "POST":
        raw = request.form.get("case_id", "")
        try:
            case_id = _int_or_404(raw) if raw else None
            qsvc.complain(actor, subject=request.form.get("subject", ""), body=request.form.get("body", ""),
                          case_id=case_id)
        except ValidationError as exc:
            return _refused(exc, "feedback/ask.html", **ctx)
        flash(i18n.gettext("已提交，我们将尽快答复"))
        return redirect(url_for("feedback.my_questions"))
    return render_template("feedback/ask.html", error=None, errors={}, **ctx)


@bp.get("/portal/questions")
@applicant_only
def my_questions():
    rows = [qsvc.question_view(q) for q in qsvc.list_mine(current_actor())]
    return render_template("feedback/my_questions.html", rows=rows, ratings=qsvc.RATINGS, error=None)


@bp.post("/portal/questions/<int:question_id>/<any(rate, 'follow-up'):action>")
@applicant_only
def question_reply(question_id: int, action: str):
    actor = current_actor()
    try:
        if action == "rate":
            qsvc.rate(actor, question_id, request.form.get("rating", ""))
        else:
            qsvc.follow_up(actor, question_id, request.form.get("body", ""))
    except (ValidationError, Conflict) as exc:
        rows = [qsvc.question_view(q) for q in qsvc.list_mine(actor)]
        return _refused(exc, "feedback/my_questions.html", rows=rows, ratings=qsvc.RATINGS)
    return redirect(url_for("feedback.my_questions"))


# ---------------------------------------------------------------- staff

@bp.get("/feedback/")
@staff_only
def staff_index():
    return redirect(url_for("feedback.rectifications"))


@bp.get("/feedback/rectifications")
@staff_only
def rectifications():
    status = request.args.get("status") or None
    rows, total = esvc.list_rectifications(current_actor(), status=status, page=_page(), per_page=PER_PAGE)
    return render_template("feedback/rectifications.html", rows=[esvc.rectification_view(r) for r in rows],
                           total=total, page=_page(), per_page=PER_PAGE, status=status, statuses=esvc.RECT_STATUS,
                           section="rectifications")


def _rect_ctx(item_id: int) -> dict:
    actor = current_actor()
    item = esvc.get_rectification(actor, item_id)
    return dict(v=esvc.rectification_view(item), labels=esvc.ACTION_LABELS, results=esvc.CALLBACK_RESULTS,
                section="rectifications")


@bp.get("/feedback/rectifications/<int:item_id>")
@staff_only
def rectification(item_id: int):
    return render_template("feedback/rectification.html", error=None, errors={}, **_rect_ctx(item_id))


@bp.post("/feedback/rectifications/<int:item_id>/<action>")
@staff_only
def rectification_action(item_id: int, action: str):
    try:
        esvc.rectification_action(current_actor(), item_id, action, note=request.form.get("note", ""),
                                  result=request.form.get("result"))
    except (ValidationError, Conflict) as exc:
        return _refused(exc, "feedback/rectification.html", **_rect_ctx(item_id))
    flash(i18n.gettext(esvc.ACTION_LABELS.get(action, action)))
    return redirect(url_for("feedback.rectification", item_id=item_id))


@bp.get("/feedback/questions")
@staff_only
def questions():
    kind = request.args.get("kind", "consultation")
    kind = kind if kind in qsvc.KINDS else "consultation"
    status = request.args.get("status") or None
    rows, total = qsvc.list_for_staff(current_actor(), kind=kind, status=status, page=_page(), per_page=PER_PAGE)
    return render_template("feedback/questions.html", rows=[qsvc.question_view(q) for q in rows], total=total,
                           page=_page(), per_page=PER_PAGE, kind=kind, status=status, statuses=qsvc.STATUS,
                           section="complaints" if kind == "complaint" else "questions")


def _question_ctx(question_id: int) -> dict:
    actor = current_actor()
    q = qsvc.get_question(actor, question_id)
    matters = {m.process_id: m.name for m in list_matters()}
    return dict(v=qsvc.question_view(q), may_handle=qsvc.may_handle(actor, q), matters=matters,
                section="complaints" if q.kind == "complaint" else "questions")


@bp.get("/feedback/questions/<int:question_id>")
@staff_only
def question(question_id: int):
    return render_template("feedback/question.html", error=None, errors={}, **_question_ctx(question_id))


@bp.post("/feedback/questions/<int:question_id>/<any(answer, extend):action>")
@staff_only
def question_action(question_id: int, action: str):
    actor = current_actor()
    try:
        if action == "answer":
            qsvc.answer(actor, question_id, request.form.get("answer", ""))
        else:
            qsvc.extend(actor, question_id, request.form.get("days"), request.form.get("reason", ""))
    except (ValidationError, Conflict) as exc:
        return _refused(exc, "feedback/question.html", **_question_ctx(question_id))
    return redirect(url_for("feedback.question", question_id=question_id))


@bp.get("/feedback/disclosures")
@staff_only
def disclosures():
    status = request.args.get("status", "pending")
    rows, total = dsvc.list_for_staff(current_actor(), status=status or None, page=_page(), per_page=PER_PAGE)
    return render_template("feedback/disclosures.html", rows=rows, total=total, page=_page(), per_page=PER_PAGE,
                           status=status, statuses=dsvc.STATUS, is_late=dsvc.is_late, section="disclosures")


def _disclosure_ctx(item_id: int) -> dict:
    actor = current_actor()
    item = dsvc.get_for_staff(actor, item_id)
    return dict(d=item, rel=dsvc.related(item), statuses=dsvc.STATUS, late=dsvc.is_late(item),
                may_manage=dsvc.may_manage(actor, item), section="disclosures")


@bp.get("/feedback/disclosures/<int:item_id>")
@staff_only
def disclosure_edit(item_id: int):
    return render_template("feedback/disclosure_edit.html", error=None, errors={}, **_disclosure_ctx(item_id))


@bp.post("/feedback/disclosures/<int:item_id>/<any(publish, retract):action>")
@staff_only
def disclosure_action(item_id: int, action: str):
    actor = current_actor()
    form = request.form
    try:
        if action == "publish":
            dsvc.publish(actor, item_id, document_no=form.get("document_no", ""),
                         project_name=form.get("project_name"), content=form.get("content"))
        else:
            copy = dsvc.retract(actor, item_id, form.get("reason", ""), correct=bool(form.get("correct")))
            if copy is not None:
                return redirect(url_for("feedback.disclosure_edit", item_id=copy.id))
    except (ValidationError, Conflict) as exc:
        return _refused(exc, "feedback/disclosure_edit.html", **_disclosure_ctx(item_id))
    return redirect(url_for("feedback.disclosure_edit", item_id=item_id))


# ---------------------------------------------------------------- public

@bp.get("/disclosure")
def public_disclosure():
    args = {k: (request.args.get(k) or "").strip() for k in ("q", "code", "document_no", "from", "to")}
    try:
        rows, total = dsvc.search_public(q=args["q"], code=args["code"], document_no=args["document_no"],
                                         date_from=args["from"], date_to=args["to"], page=_page(),
                                         per_page=PER_PAGE)
    except ValidationError as exc:
        return _refused(exc, "feedback/public.html", rows=[], total=0, page=1, per_page=PER_PAGE, args=args,
                        statuses=dsvc.STATUS)
    return render_template("feedback/public.html", rows=rows, total=total, page=_page(), per_page=PER_PAGE,
                           args=args, statuses=dsvc.STATUS, error=None, errors={})


@bp.get("/disclosure/<int:item_id>")
def public_disclosure_item(item_id: int):
    item = dsvc.get_public(item_id)
    return render_template("feedback/public_item.html", d=item, rel=dsvc.related(item), statuses=dsvc.STATUS)
