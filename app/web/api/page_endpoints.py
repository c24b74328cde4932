"""The JSON endpoints of the pages in the OpenAPI document (issue 12): what the pages' scripts call
with fetch (the task page's operations, the draft page's save and submit, the designer), and every
page view that answers JSON to a client that asks for it (``Accept: application/json`` or a JSON
body): the staff panels of mail intake, results and 补正, the applicant's cases, the QR progress
card, the feedback forms' refusals. Each is added to the document from here, from its Flask rule (so
the path and its parameters are the real ones), without touching the views.

Security: the page endpoints take the browser's signed-in session (cookie ``session``) and, on
every POST, the session's CSRF token in ``X-CSRF-Token`` (app/web/auth.py check_csrf). A request
without a session is sent to the sign-in page (302) — or answered 401 where the view says so; a
POST without the token is refused (400) before anything else. Public endpoints say ``security: []``.

Answers: a JSON client gets JSON (send ``Accept: application/json``); the same URLs also take the
pages' HTML forms, which are answered with a redirect and a flash message (not described here)."""
from __future__ import annotations

from . import page_schemas as ps
from .page_schemas import ERROR, OPINION, obj, ref, text

SESSION = [{"session": [], "csrf": []}]
SESSION_READ = [{"session": []}]
PUBLIC: list = []
SIGN_IN = "no signed-in session (or not this kind of user): to the sign-in page or the user's own page"
#: the operation checks more than its schema can say (a form's rules, a file's content, a BPMN model)
SEMANTIC = {"x-semantic-422": True}


def _json(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


def op(summary: str, *, tag: str, security=SESSION, body: dict | None = None, media: str = "application/json",
       ok: int = 200, answer: dict | None = None, refusal: dict | None = None, redirect: bool | str = True,
       description: str | None = None, params: list | None = None, semantic: bool = False,
       extra: dict | None = None) -> dict:
    """One operation: its body (required when it has required fields), its success answer, the
    redirect (``redirect``: its meaning, True for the sign-in one), and any error as ``Error`` or as
    the view's own refusal (``refusal``)."""
    responses: dict = {}
    if answer is not None:
        responses[str(ok)] = {"description": "done", "content": _json(answer)}
    if redirect:
        responses["302"] = {"description": SIGN_IN if redirect is True else redirect,
                            "headers": {"Location": {"required": True, "schema": {"type": "string"}}}}
    responses.update(extra or {})
    errors = {"anyOf": [ERROR, refusal]} if refusal else ERROR
    responses["default"] = {"description": "refused: the error's status (400 CSRF token missing or wrong, 401 not "
                                           "signed in, 403 not allowed, 404 not found, 409 conflict, 413 too large, "
                                           "422 invalid, 429 too many)", "content": _json(errors)}
    out = {"tags": [tag], "summary": summary, "security": security, "responses": responses}
    if description:
        out["description"] = description
    if body is not None:  # a body without required fields may be left out: the view reads it as {}
        required = bool(body.get("required")) or any(key in body for key in ("$ref", "allOf", "anyOf"))
        out["requestBody"] = {"required": required, "content": {media: {"schema": body}}}
    if params:
        out["parameters"] = params
    if semantic:
        out.update(SEMANTIC)
    return out


def _path_enum(name: str, values: list) -> dict:
    return {"in": "path", "name": name, "required": True, "schema": {"type": "string", "enum": values}}


# -- the staff workbench (app/web/inbox/actions.py; the task page's fetch) ---------------------------------
INBOX = "页面 · 工作台 (staff inbox pages)"
PAGE_ANSWER = ref("PageAnswer")


def _inbox(summary: str, body: dict | None = None, **kw) -> dict:
    return op(summary, tag=INBOX, body=body, answer=PAGE_ANSWER, refusal=PAGE_ANSWER, **kw)


REASON = obj({"reason": OPINION})
INBOX_OPS = {
    "inbox.claim": _inbox("签收 (claim)"),
    "inbox.unclaim": _inbox("取消签收 (unclaim)"),
    "inbox.approve": _inbox("办理/同意 with an opinion", ps.COMPLETE, semantic=True),
    "inbox.reject": _inbox("不予受理/不予许可 with a reason", ps.COMPLETE, semantic=True),
    "inbox.return_": _inbox("退回 to an earlier step (reason required)", obj({
        "target": text(minLength=1, description="a task_id of the task's return targets"),
        "reason": text(ps.OPINION_MAX, required_text=True)}, ["target", "reason"])),
    "inbox.withdraw": _inbox("撤回 a completed task", REASON),
    "inbox.recall_forward": _inbox("撤回转报 (staff who handle the case)", obj({"reason": text(500, required_text=True)},
                                                                             ["reason"])),
    "inbox.transfer": _inbox("转办 to a colleague of the region", obj({
        "user": text(ps.OPINION_MAX, description="the colleague's user name"), "reason": OPINION}, ["user"])),
    "inbox.delegate": _inbox("委派 to a colleague of the region", obj({
        "user": text(ps.OPINION_MAX, description="the colleague's user name"), "reason": OPINION}, ["user"])),
    "inbox.resolve": _inbox("委派办理完毕，交回 (opinion required)", obj({
        "opinion": text(ps.OPINION_MAX, required_text=True), "data": ps.TASK_DATA}, ["opinion"]), semantic=True),
    "inbox.reclaim": _inbox("收回委派"),
    "inbox.signers": _inbox("加签 before / after", {"anyOf": [
        obj({"mode": {"type": "string", "enum": ["before"]}}, ["mode"]),
        obj({"mode": {"type": "string", "enum": ["after"]}, "opinion": text(ps.OPINION_MAX, required_text=True)},
            ["mode", "opinion"])], **obj({
                "users": dict(ps.USERS, maxItems=20, description="1 to 20 colleagues"),
                "mode": {"type": "string", "enum": ["before", "after"]}, "opinion": OPINION, "data": ps.TASK_DATA},
                ["users", "mode"])}, description="后加签 (after) completes the step now and needs an opinion",
        semantic=True),
    "inbox.remove_signer": _inbox("减签 (on the 加签 task)", REASON),
    "inbox.cc": _inbox("抄送", obj({"users": dict(ps.USERS, maxItems=50, description="1 to 50 colleagues"),
                                  "note": OPINION}, ["users"])),
    "inbox.urge": _inbox("催办", obj({"note": OPINION})),
    "inbox.draft": _inbox("暂存 the form", obj({"data": ps.TASK_DATA}), semantic=True),
    "inbox.suspend": _inbox("挂起 a case (administrators)", obj({
        "reason": text(ps.OPINION_MAX, required_text=True)}, ["reason"])),
    "inbox.resume": _inbox("激活 a case (administrators)", REASON),
    "inbox.terminate": _inbox("终止 a case (administrators)", obj({
        "reason": text(ps.OPINION_MAX, required_text=True)}, ["reason"])),
    "inbox.upload": _inbox("Attach a scan to a case", obj({
        "file": ps.UPLOAD, "kind": {"type": "string", "enum": ps.FILE_KINDS, "description": "default other"},
        "note": text(500), "task_id": text(description="the task the file belongs to")}, ["file"]),
        media="multipart/form-data", semantic=True),
}

# -- the applicant's drafts (app/web/portal/pages.py; the draft page's fetch) ---------------------------
PORTAL = "页面 · 网上办事大厅 (applicant portal pages)"
PAGE_REFUSAL = ref("PageRefusal")
PORTAL_OPS = {
    "portal.draft_save": op("暂存 a draft's form data", tag=PORTAL, body=obj({"data": obj(
        {}, description="the start form's data (required fields may be empty; filled ones must be valid)")},
        ["data"]), answer=ref("DraftSaved"), refusal=PAGE_REFUSAL, semantic=True),
    "portal.draft_submit": op("提交 a draft (its saved data, or ``data``)", tag=PORTAL, body=obj({
        "data": obj({}, description="the start form's data (all rules apply)")}),
        answer=ref("DraftSubmitted"), refusal={"anyOf": [PAGE_REFUSAL, ref("DraftSubmitted")]}, semantic=True,
        description="every missing field and material is listed at once (422); a second submit answers 409 with "
                    "the case"),
    "portal_projects.lookup": op(
        "项目代码 → the start form's prefill from the investment project platform", tag=PORTAL,
        security=SESSION_READ, redirect=False,
        answer=obj({"project": ps.ANY_OBJECT, "prefill": ps.ANY_OBJECT, "from_cache": ps.BOOLEAN}, ["project", "prefill"]),
        params=[{"in": "query", "name": "code", "required": True, "schema": {"type": "string", "maxLength": 40}}],
        description="401 without a session; 403 not an applicant, or a project of another enterprise; 404 a code the "
                    "platform does not know; 422 not a project code; 503 the platform cannot be asked now (or this "
                    "platform is not docked to it)",
        extra={"503": {"description": "project_unverifiable: the platform cannot be asked now; not_configured: "
                                      "this platform is not docked to it", "content": _json(ERROR)}}),
}

# -- the applicant's cases, mail intake, the QR card, the staff panels (app/web/portal/cases.py) ---------
CASES = "页面 · 我的办件与快递收件 (applicant cases, mail intake, results)"
MESSAGE = ref("PageMessage")
BEARER_OR_SESSION = [{"bearer": []}, {"session": []}]
CASES_OPS = {
    "portal_cases.my_cases": op("我的办件 (JSON for a JSON client)", tag=CASES, security=SESSION_READ,
                                answer=ref("MyCases"),
                                description="staff are sent to their inbox (302); without a session: 401"),
    "portal_cases.api_my_cases": op("我的办件 of the applicant", tag=CASES, security=BEARER_OR_SESSION,
                                    answer=ref("MyCases"), redirect=False),
    "portal_cases.api_case": op("An applicant's case: card, trail, files, mail intake", tag=CASES,
                                security=BEARER_OR_SESSION, answer=ref("ApplicantCase"), redirect=False),
    "portal_cases.mail": op("快递收件: the courier, the tracking number and three scans", tag=CASES, ok=201, body=obj({
        "courier": text(description="2 to 40 characters"),
        "tracking_no": text(description="6 to 40 letters, digits or hyphens (spaces are removed)"),
        "slip": ps.UPLOAD, "content_list": ps.UPLOAD, "commitment": ps.UPLOAD}, ["courier", "tracking_no"]),
        media="multipart/form-data", answer=MESSAGE, refusal=PAGE_REFUSAL, semantic=True),
    "portal_cases.qr_page": op("The receipt's QR page: the progress card", tag=CASES, security=PUBLIC,
                               answer=ref("ProgressCard"), redirect=False),
    "portal_cases.intake_confirm": op("确认快递收件 and issue the receipt (staff)", tag=CASES, answer=MESSAGE,
                                      refusal=PAGE_REFUSAL, redirect=False),
    "portal_cases.intake_refuse": op("退回快递收件材料 (staff)", tag=CASES, body=obj({
        "reason": text(500, required_text=True)}, ["reason"]), answer=MESSAGE, refusal=PAGE_REFUSAL, redirect=False),
    "portal_cases.result_upload": op("上传结果文书扫描件 (staff)", tag=CASES, body=obj({
        "file": ps.UPLOAD, "note": text(500)}, ["file"]), media="multipart/form-data", answer=MESSAGE,
        refusal=PAGE_REFUSAL, redirect=False, semantic=True),
    "portal_cases.result_mail": op("登记结果寄送 (staff)", tag=CASES, body=obj({
        "courier": text(description="2 to 40 characters"),
        "tracking_no": text(description="6 to 40 letters, digits or hyphens (spaces are removed)")},
        ["courier", "tracking_no"]), answer=MESSAGE, refusal=PAGE_REFUSAL, redirect=False),
}

# -- 一次性告知 / 补正 (app/web/portal/correction.py) ------------------------------------------------------
CORRECTION = "页面 · 一次性告知/补正 (one-time notices)"
CORRECTION_OPS = {
    "correction.request_": op("发出一次性告知 from a staff task", tag=CORRECTION, ok=201, body=ps.CORRECTION,
                              answer=ref("CorrectionSent"), refusal=PAGE_REFUSAL),
    "correction.withdraw": op("撤回补正要求 (after acceptance)", tag=CORRECTION, body=obj({"reason": text(
        ps.cv.NOTE_MAX, nullable=True)}), answer=PAGE_ANSWER, refusal=MESSAGE),
    "correction.answer": op("提交补正 (the applicant)", tag=CORRECTION, body=obj({
        "request_id": text(pattern="^[0-9]{1,9}$", description="the notice answered (a newer one: 409)"),
        "reply": text(ps.cv.REPLY_MAX), "express_no": text(description="the courier number of paper copies"),
    }, description="and per item n (1, 2 …): file_<n> (PDF, JPG, PNG or OFD) and remark_<n>"),
        media="multipart/form-data", refusal=PAGE_REFUSAL, semantic=True,
        redirect="done: back to the 补正 page; or no signed-in session: the sign-in page"),
}

# -- 好差评, questions, complaints, disclosure (app/web/feedback/pages.py): HTML forms ---------------------
FEEDBACK = "页面 · 好差评/咨询投诉/公示 (feedback forms)"
FORM = "application/x-www-form-urlencoded"


def _form(summary: str, body: dict, **kw) -> dict:
    return op(summary, tag=FEEDBACK, body=body, media=FORM, redirect="done: back to the page; or no signed-in "
              "session: the sign-in page", description="an HTML form: its refusals are JSON for a JSON client",
              **kw)


FEEDBACK_OPS = {
    "feedback.evaluate": _form("好差评 of a decided case (once)", ps.EVALUATION),
    "feedback.ask": _form("咨询 about a matter", obj({
        "category": {"type": "string", "enum": ps.CATEGORIES}, "subject": text(200, required_text=True),
        "body": text(4000, required_text=True)}, ["category", "subject", "body"])),
    "feedback.complain": _form("投诉", obj({
        "subject": text(200, required_text=True), "body": text(4000, required_text=True),
        "case_id": text(pattern="^[0-9]{0,9}$", description="one of the applicant's cases (optional)")},
        ["subject", "body"])),
    "feedback.question_reply": _form("评价答复 (rate: rating) or 追问 (follow-up: body)", obj({
        "rating": {"type": "string", "enum": ps.QUESTION_RATINGS}, "body": text(4000)}),
        params=[_path_enum("action", ["rate", "follow-up"])]),
    "feedback.rectification_action": _form("整改工单: one step (note required; 回访 with a result)", obj({
        "note": text(2000, required_text=True), "result": {"type": "string", "enum": ps.CALLBACK_RESULTS}},
        ["note"]), params=[_path_enum("action", ps.RECTIFICATION_ACTIONS)]),
    "feedback.question_action": _form("答复 (answer) or 延期 (extend: days, reason)", obj({
        "answer": text(4000), "days": text(pattern=f"^([1-9]|{ps.EXTENSION_DAYS})$"), "reason": text(1000)}),
        params=[_path_enum("action", ["answer", "extend"])]),
    "feedback.disclosure_action": _form("发布公示 (publish) or 撤销公示 (retract)", obj({
        "document_no": text(100), "project_name": text(200), "content": text(4000), "reason": text(1000),
        "correct": text(description="present: create a corrected record")}),
        params=[_path_enum("action", ["publish", "retract"])]),
}

# -- the designer (app/web/designer/pages.py; designer.js's fetch) -----------------------------------------
DESIGNER = "页面 · 流程设计 (designer)"
MODEL_REFUSED = ref("ModelRefused")
SUBMISSION = ref("DesignerSubmission")
DESIGNER_OPS = {
    "designer.form": op("A form of FORMS_DIR (form-js schema)", tag=DESIGNER, security=SESSION_READ,
                        answer=ps.ANY_OBJECT, redirect=False),
    "designer.check": op("检查: the deploy checks on the posted files, deploying nothing", tag=DESIGNER,
                         body=SUBMISSION, answer=ref("CheckResult"), redirect=False, semantic=True),
    "designer.scenarios": op("场景测试: the posted path tests on the posted model", tag=DESIGNER,
                             body={"allOf": [SUBMISSION, obj({}, ["scenarios"])]}, answer=ref("ScenarioResults"),
                             redirect=False, semantic=True),
    "designer.import_file": op("打开文件: a BPMN file → the editor's document (stores nothing)", tag=DESIGNER,
                               body=obj({"bpmn": text(required_text=True), "filename": text()}, ["bpmn"]),
                               answer=ref("EditorDocument"), refusal=MODEL_REFUSED, redirect=False, semantic=True),
    "designer.import_apply": op("导入助手: the accepted fixes made to a file, then the deploy check (stores nothing)",
                                tag=DESIGNER, body=obj({"bpmn": text(required_text=True), "filename": text(),
                                                        "accept": ps.ANY_OBJECT, "defaults": {"type": "boolean"},
                                                        "group": text(), "forms": ps.ANY_OBJECT}, ["bpmn"]),
                                answer=ps.ANY_OBJECT, refusal=MODEL_REFUSED, redirect=False, semantic=True),
    "designer.deploy": op("部署: check, write the files, deploy a new version", tag=DESIGNER, body=SUBMISSION,
                          answer=ref("Deployed"), refusal=MODEL_REFUSED, redirect=False, semantic=True),
}

# -- the rest: health, Twilio's status callback ------------------------------------------------------------
OTHER = "其他 (other)"
_CHECK = {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}}
READINESS = obj({"status": {"type": "string", "enum": ["ready", "degraded", "not_ready"]},
                 "checks": obj({"database": _CHECK, "migrations": _CHECK, "scheduler": _CHECK, "outbox": _CHECK},
                               ["database", "migrations", "scheduler", "outbox"],
                               description="operators only (loopback or the metrics token)")}, ["status"])
OTHER_OPS = {
    "ops_health.healthz": op("Liveness: the process serves requests (touches no database)", tag=OTHER,
                             security=PUBLIC, redirect=False,
                             answer=obj({"status": {"type": "string", "enum": ["ok"]}}, ["status"], closed=True)),
    "ops_health.readyz": op("Readiness: database reachable and migrations at head (else 503); a scheduler "
                            "heartbeat younger than SCHEDULER_STALE_SECONDS (else degraded, still 200); the "
                            "outboxes' backlog (informational)", tag=OTHER,
                            security=PUBLIC, redirect=False, answer=READINESS,
                            extra={"503": {"description": "not ready: the same body, status not_ready",
                                           "content": _json(READINESS)}}),
    "outbox.twilio_status": op("Twilio's status callback (signed by Twilio)", tag=OTHER, security=PUBLIC,
                               redirect=False, body=obj({"MessageSid": text(), "MessageStatus": text(),
                                                         "ErrorCode": text()}), media=FORM,
                               params=[{"in": "header", "name": "X-Twilio-Signature", "required": False,
                                        "schema": {"type": "string"},
                                        "description": "checked when Twilio is configured (else 403)"}],
                               extra={"204": {"description": "recorded"}, "404": {
                                   "description": "no SMS provider is configured (Error), or the MessageSid is "
                                                  "unknown (empty)",
                                   "content": {"application/json": {"schema": ERROR},
                                               "text/html": {"schema": {"type": "string", "maxLength": 0}}}}}),
}

CERT_REFUSAL = obj({"error": text(description="why, in Chinese (e.g. 证书已吊销, 挑战码已使用或已过期)"),
                    "reason": text(description="a stable code: revoked, untrusted, expired, bad_signature, nonce …")},
                   ["error", "reason"])
#: certificate sign-in (app/web/auth_cert.py; static/js/cert_login.js — its other fetch goes to the local key
#: client on 127.0.0.1, outside this app: docs/identity.md §1)
CERT_OPS = {
    "auth_cert.challenge": op("数字证书登录: a single-use nonce for the key client to sign, bound to this browser "
                              "session", tag=OTHER, redirect=False, refusal=CERT_REFUSAL,
                              answer=obj({"nonce": text(), "expires_in": {"type": "integer"},
                                          "to_sign": text(description='what the key client signs (UTF-8): '
                                                          '"yg-cert-login-v1|<origin of this app>|<nonce>"')},
                                         ["nonce", "to_sign", "expires_in"])),
    "auth_cert.login": op("数字证书登录: the certificate and its signature over to_sign (SM2-with-SM3, RSA or "
                          "ECDSA); signs the session in at HIGH assurance", tag=OTHER, redirect=False,
                          refusal=CERT_REFUSAL, semantic=True,
                          body=obj({"certificate": text(description="PEM, or Base64 of DER"),
                                    "signature": text(description="Base64 (DER or raw r||s for SM2)"), "nonce": text(),
                                    "next": text()}, ["certificate", "signature", "nonce"]),
                          answer=obj({"ok": {"type": "boolean"}, "redirect": text()}, ["ok", "redirect"])),
}

ENDPOINTS = {**INBOX_OPS, **PORTAL_OPS, **CASES_OPS, **CORRECTION_OPS, **FEEDBACK_OPS, **DESIGNER_OPS, **OTHER_OPS, **CERT_OPS}
METHODS = {"portal_cases.my_cases": "get", "portal_cases.api_my_cases": "get", "portal_cases.api_case": "get",
           "portal_cases.qr_page": "get", "designer.form": "get", "ops_health.healthz": "get",
           "ops_health.readyz": "get", "portal_projects.lookup": "get"}


def html_page(summary: str, tag: str, security=SESSION_READ) -> dict:
    """The GET of a URL whose POST is documented: the HTML page (so the document lists every method the
    URL answers, as its Allow header does)."""
    out = op(summary, tag=tag, security=security, description="an HTML page, not JSON")
    out["responses"]["200"] = {"description": "the page", "content": {"text/html": {"schema": {"type": "string"}}}}
    return out


EDITOR = "the designer page of a matter with this id (/designer/{process_id}, HTML)"
HTML_TOO = {
    "portal_cases.mail": html_page("快递收件 page", CASES), "correction.answer": html_page("补正 page", CORRECTION),
    "feedback.evaluate": html_page("好差评 page", FEEDBACK), "feedback.ask": html_page("咨询 page", FEEDBACK),
    "feedback.complain": html_page("投诉 page", FEEDBACK), "designer.check": html_page(EDITOR, DESIGNER),
    "designer.scenarios": html_page(EDITOR, DESIGNER), "designer.import_file": html_page(EDITOR, DESIGNER),
    "designer.deploy": html_page(EDITOR, DESIGNER),
}


def document_page_endpoints(spec, url_map) -> None:
    """Add the page endpoints to ``spec`` from their Flask rules (the real paths and path parameters)."""
    for name, schema in ps.COMPONENTS.items():
        spec.components.schema(name, schema)
    rules = {rule.endpoint: rule for rule in url_map.iter_rules()}
    for endpoint, operation in ENDPOINTS.items():
        operation = dict(operation)
        params = operation.pop("parameters", [])
        path_params = [p for p in params if p["in"] == "path"]
        other = [p for p in params if p["in"] != "path"]
        if other:
            operation["parameters"] = other
        operations = {METHODS.get(endpoint, "post"): operation}
        if endpoint in HTML_TOO:
            operations["get"] = HTML_TOO[endpoint]
        spec.path(rule=rules[endpoint], operations=operations, parameters=path_params)
