"""JSON Schema pieces of the page endpoints' part of the OpenAPI document (app/web/api/page_endpoints.py):
the bodies the pages post and the JSON they get back, written as the views and services check them.

Rules the schema language can say are here (lengths, enums, required, patterns, ranges); the ones it
cannot (a form's fields, a file's content, who may act on which task) are in the descriptions."""
from __future__ import annotations

from ...domain.case_status import CaseStatus
from ...engine.parser import ID_RE
from ...services.design.designer import MAX_FORMS, MAX_SCENARIOS
from ...services.feedback import consultations as qsvc
from ...services.feedback import evaluations as esvc
from ...services.inbox import case_files as file_svc
from ...services.inbox.task_base import OPINION_MAX
from ...services.portal import correction_views as cv
from .schemas import NOT_BLANK

ERROR = {"$ref": "#/components/schemas/Error"}
ID_PATTERN = ID_RE.pattern.replace("\\Z", "$")
STATUSES = [s.value for s in CaseStatus]
BJ_MINUTE = "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}$"  # "2026-03-02 09:00", Beijing time


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict, required=(), *, closed: bool = False, description: str | None = None) -> dict:
    """An object schema; ``closed``: no other keys (the answer's keys are all listed)."""
    out = {"type": "object", "properties": properties}
    if required:
        out["required"] = list(required)
    if closed:
        out["additionalProperties"] = False
    if description:
        out["description"] = description
    return out


def text(max_length: int | None = None, *, required_text: bool = False, nullable: bool = False,
         description: str | None = None, **extra) -> dict:
    """A string; ``required_text``: not blank (the services strip before they check)."""
    out: dict = {"type": "string", **extra}
    if max_length is not None:
        out["maxLength"] = max_length
    if required_text:
        out["pattern"] = NOT_BLANK
    if nullable:
        out["nullable"] = True
    if description:
        out["description"] = description
    return out


def nullable(schema: dict) -> dict:
    return dict(schema, nullable=True)


STRING = {"type": "string"}
OPT_STRING = {"type": "string", "nullable": True}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}
ANY_OBJECT = {"type": "object"}

MODEL_PROBLEM = obj({"element": OPT_STRING, "file": STRING, "message": STRING}, ["element", "file", "message"],
                    closed=True, description="one problem of a model: the element's id (or null), the file, why")

SCENARIO = obj({
    "name": text(required_text=True),
    "start": ANY_OBJECT,
    "steps": {"type": "array", "items": {"oneOf": [
        obj({"task": STRING, "data": ANY_OBJECT}, ["task"], closed=True, description="a user task completed with data"),
        obj({"message": STRING, "data": ANY_OBJECT}, ["message"], closed=True,
            description="a message delivered, with data as its payload")]}},
    "platform_level": {"type": "string", "enum": ["province", "city", "county"],
                       "description": "the process variable platform_level (default province)"},
    "end": text(minLength=1, description="the end event the path must reach"),
    "path": nullable({"type": "array", "items": STRING}),
}, ["name", "end"], description="a path test (processes/<id>.scenarios.json): at most 512 KB for all of them")

SUBMISSION = obj({
    "process_id": text(64, pattern=ID_PATTERN),
    "bpmn": text(required_text=True, description="the BPMN 2.0 XML (at most 1 MB of UTF-8)"),
    "matter": obj({}, description="the matter's metadata (<id>.matter.json), checked by the deploy checks"),
    "forms": obj({}, description=f"form-js schemas by form id (an id is [A-Za-z_][A-Za-z0-9_]*, at most 64); "
                                 f"at most {MAX_FORMS}") | {"maxProperties": MAX_FORMS,
                                                            "additionalProperties": ANY_OBJECT},
    "scenarios": nullable({"type": "array", "maxItems": MAX_SCENARIOS, "items": SCENARIO}),
}, ["process_id", "bpmn", "matter"], description="what the designer posts: nothing with a NUL character or a lone "
                                                  "surrogate, nothing nested deeper than 64 levels")

CARD_DEADLINE = obj({"due": nullable({"type": "string", "format": "date"}), "remaining": nullable(INTEGER),
                     "state": STRING, "note": STRING}, ["due", "remaining", "state"], closed=True)

PROGRESS_CARD = obj({
    "id": INTEGER, "case_no": OPT_STRING, "matter": STRING, "process_id": STRING,
    "status": {"type": "string", "enum": STATUSES}, "status_label": STRING, "hint": STRING,
    "current_steps": {"type": "array", "items": STRING}, "finished": BOOLEAN,
    "submitted_at": nullable(text(pattern=BJ_MINUTE)), "accepted_at": nullable(text(pattern=BJ_MINUTE)),
    "decided_at": nullable(text(pattern=BJ_MINUTE)), "clock_state": STRING, "suspended": BOOLEAN,
    "limits": obj({"statutory": nullable(ANY_OBJECT), "promised": nullable(ANY_OBJECT)}, closed=True),
    "statutory": CARD_DEADLINE, "promised": CARD_DEADLINE, "suspended_days": INTEGER, "extended_days": INTEGER,
    "special_procedures": {"type": "array", "items": obj({
        "kind": STRING, "reason": STRING, "started_at": nullable(text(pattern=BJ_MINUTE)),
        "ended_at": nullable(text(pattern=BJ_MINUTE)), "planned": STRING, "running": BOOLEAN,
        "counted_days": nullable(INTEGER)}, closed=True)},
    "todo": {"type": "array", "items": obj({"key": STRING, "text": STRING, "url": OPT_STRING},
                                           ["key", "text", "url"], closed=True)},
}, ["id", "case_no", "status", "finished"], closed=True,
    description="the progress card: no names, no project, no files (the receipt's QR page shows this)")

MY_CASE = obj({
    "id": INTEGER, "case_no": OPT_STRING, "matter": STRING, "project_name": OPT_STRING,
    "status": {"type": "string", "enum": STATUSES}, "status_label": STRING, "current_step": OPT_STRING,
    "promised_due": nullable({"type": "string", "format": "date"}), "suspended": BOOLEAN,
    "submitted_at": nullable(text(pattern=BJ_MINUTE)),
}, ["id", "case_no", "status"], closed=True)

TIMELINE_ROW = obj({"at": nullable(text(pattern=BJ_MINUTE)), "action": STRING, "label": STRING, "step": OPT_STRING,
                    "detail": OPT_STRING, "by": STRING}, ["at", "action", "label"], closed=True)

COMPONENTS = {
    "PageAnswer": obj({"message": STRING, "redirect": text(description="where the page goes next (a path)")},
                      ["message", "redirect"], closed=True,
                      description="a staff page's answer: the message (flashed on the next page on success) and "
                                  "where to go; a refusal has the same shape with the error's status"),
    "PageRefusal": obj({"message": STRING, "errors": nullable(obj({}, description="what was wrong, by field"))},
                       ["message"], closed=True, description="a refused page request (the error's status)"),
    "PageMessage": obj({"message": STRING}, ["message"], closed=True),
    "DraftSaved": obj({"message": STRING, "saved_at": text(pattern=BJ_MINUTE)}, ["message", "saved_at"],
                      closed=True),
    "DraftSubmitted": obj({"message": STRING, "case_no": OPT_STRING, "redirect": STRING},
                          ["message", "case_no", "redirect"], closed=True,
                          description="submitted (200), or submitted already (409): the case's page"),
    "CorrectionSent": obj({"message": STRING, "redirect": STRING, "request": INTEGER},
                          ["message", "redirect", "request"], closed=True),
    "ModelProblem": MODEL_PROBLEM,
    "DesignerSubmission": SUBMISSION,
    "CheckResult": obj({"ok": BOOLEAN, "errors": {"type": "array", "items": ref("ModelProblem")}},
                       ["ok", "errors"], closed=True),
    "ScenarioResults": obj({"ok": BOOLEAN, "errors": {"type": "array", "items": ref("ModelProblem")},
                            "results": {"type": "array", "items": ANY_OBJECT}}, ["ok", "errors", "results"],
                           closed=True),
    "ModelRefused": obj({"ok": {"type": "boolean", "enum": [False]}, "message": STRING,
                         "errors": {"type": "array", "items": ref("ModelProblem")}}, ["ok", "message", "errors"],
                        closed=True, description="the model cannot be opened or deployed: every problem"),
    "Deployed": obj({"ok": {"type": "boolean", "enum": [True]}, "process_id": STRING, "version": INTEGER,
                     "created": BOOLEAN, "content_hash": STRING, "files": {"type": "array", "items": STRING},
                     "diff_counts": nullable(ANY_OBJECT)}, ["ok", "process_id", "version", "created"], closed=True),
    "EditorDocument": obj({"process_id": STRING, "name": STRING, "version": nullable(INTEGER),
                           "content_hash": OPT_STRING, "bpmn": STRING, "matter": ANY_OBJECT, "forms": ANY_OBJECT,
                           "new": BOOLEAN, "scenarios": {"type": "array", "items": ANY_OBJECT},
                           "scenarios_problem": OPT_STRING, "imported": STRING},
                          ["process_id", "bpmn", "matter", "forms"], closed=True),
    "ProgressCard": PROGRESS_CARD,
    "MyCases": obj({"cases": {"type": "array", "items": MY_CASE}}, ["cases"], closed=True),
    "ApplicantCase": {"allOf": [PROGRESS_CARD | {"additionalProperties": True}, obj({
        "timeline": {"type": "array", "items": TIMELINE_ROW},
        "mailing": nullable(obj({"courier": STRING, "tracking_no": STRING, "at": OPT_STRING}, closed=True)),
        "files": {"type": "array", "items": obj({"id": INTEGER, "kind": STRING, "filename": STRING, "size": INTEGER,
                                                 "url": STRING}, closed=True)},
        "paper_materials": {"type": "array", "items": OPT_STRING},
        "intake": nullable(obj({"status": STRING, "courier": OPT_STRING, "tracking_no": OPT_STRING,
                                "refuse_reason": OPT_STRING}, closed=True)),
    }, ["timeline", "files", "intake"])], "description": "the applicant's case: the card, the public trail, "
                                                        "their files, the mail intake"},
}

# -- request bodies ----------------------------------------------------------------------------------
OPINION = text(OPINION_MAX, nullable=True)
TASK_DATA = nullable(obj({}, description="the step's form data (checked against the task's form)"))
COMPLETE = obj({"data": TASK_DATA, "opinion": text(OPINION_MAX, nullable=True, description=(
    "办理意见 / 理由: required (not blank) unless the form data holds an opinion field")),
    "revision": nullable(dict(INTEGER, description="the revision the page was read at (stale: 409)"))})
USERS = {"type": "array", "items": STRING, "minItems": 1}
CORRECTION_ITEM = obj({"material": text(cv.MATERIAL_MAX, required_text=True),
                       "problem": text(cv.PROBLEM_MAX, required_text=True)}, ["material", "problem"])
CORRECTION = obj({
    "items": {"type": "array", "items": CORRECTION_ITEM, "minItems": 1, "maxItems": cv.MAX_ITEMS,
              "uniqueItems": True, "description": "every missing or defective material, at once, no item twice"},
    "note": text(cv.NOTE_MAX, nullable=True),
    "days": {"type": "integer", "minimum": 1, "maximum": 60, "nullable": True,
             "description": "补正期限 in working days (after acceptance; default 10)"},
}, ["items"])
LEVEL = {"type": "string", "enum": [str(n) for n in esvc.LEVELS]}
EVALUATION = obj({
    "level": LEVEL, **{key: LEVEL for key in esvc.INDICATORS},
    "comment": text(1000, description="required (not blank) for a bad level (4, 5)"),
    "channel": {"type": "string", "description": "qr or sms when the link names it"},
    "anonymous": {"type": "string", "description": "present: an anonymous evaluation"},
}, ["level", *esvc.INDICATORS])
UPLOAD = {"type": "string", "format": "binary", "description": "PDF, JPG, PNG or OFD (checked by content), at most "
                                                              "FILE_MAX_BYTES"}
FILE_KINDS = list(file_svc.KINDS)
QUESTION_RATINGS = list(qsvc.RATINGS)
CALLBACK_RESULTS = list(esvc.CALLBACK_RESULTS)
RECTIFICATION_ACTIONS = ["verify", "reply", "callback", "appeal", "uphold", "dismiss"]
CATEGORIES = list(qsvc.CATEGORIES)
EXTENSION_DAYS = qsvc.MAX_EXTENSION_DAYS
