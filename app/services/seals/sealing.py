"""盖章签发: staff who may record the case's result, signed in with a HIGH level of assurance (a CA
certificate), seal the decision document of a decided case or one of its notices.

The document is generated (documents.py), drawn with a QR code to /verify/<code> (render.py), and
sealed as a PAdES signature (pyhanko, SHA-256, the seal image as the visible appearance, the case
number as the signature's reason). The sealed PDF is stored as a case file — kind ``result`` for the
decision (the applicant downloads it from the portal case page, like a scan), ``notice`` for a notice
— with a ``sealed_documents`` row. An approval whose result is a licence issues its electronic
licence record (``licences``): licensing matters (matter_type 01, 核准/审批) and matters whose result is
a 证照 (xmgl_beian's 江苏省投资项目备案证); a 备案通知书 of another filing matter is a notice, no licence."""
from __future__ import annotations

import hashlib
import io
import logging
import secrets

from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.stamp import StaticStampStyle
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ...domain.errors import Conflict, NotAuthorized, NotFound
from ...extensions import db
from ...models import Case, CaseFile
from ...models.notice import CaseNotice
from ...models.seals import LICENCE_STATUS, Licence, SealedDocument
from ..cases.steps import now, record_event
from ..common.clock import BEIJING
from ..common.db_support import row_by_id
from ..common.urls import public_url
from ..identity import assurance
from ..identity.actors import Actor
from ..identity.permissions import can_read_case
from ..inbox.case_files import store_file
from ..inbox.task_base import touch
from ..portal.notices import KINDS as NOTICE_KINDS
from ..portal.results import may_record_result
from .documents import decision_document, family, matter_of, notice_document, organ_code_of
from .keys import SealKey, SealUnavailable, seal_key
from .loop import outside_event_loop
from .render import Document, render, seal_image

logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)

DECISION = "decision"
KIND_TITLES = {DECISION: "决定文书", **NOTICE_KINDS}
FIELD = "Seal"
WHAT = "电子印章"


def verify_url(code: str) -> str:
    """The absolute URL of /verify/<code> (common/urls.py: PUBLIC_BASE_URL first)."""
    return public_url(f"/verify/{code}")


def seal_pdf(pdf: bytes, page: int, box: tuple, key: SealKey, reason: str, organ: str) -> bytes:
    """PAdES-sign ``pdf`` with the seal key: a signature field over ``box`` on ``page`` whose
    appearance is the seal image; reason = the case number, location = the organ."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    fields.append_signature_field(writer, fields.SigFieldSpec(sig_field_name=FIELD, on_page=page, box=box))
    meta = signers.PdfSignatureMetadata(field_name=FIELD, reason=reason, location=organ, name=organ,
                                        subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256")
    style = StaticStampStyle(background=PdfImage(seal_image(organ)), border_width=0)
    out = outside_event_loop(signers.PdfSigner(meta, signer=key.signer, stamp_style=style).sign_pdf, writer)
    return out.getvalue()


def _new_code() -> str:
    return secrets.token_urlsafe(12)


def _case_for_sealing(actor: Actor, case_id: int) -> Case:
    case = row_by_id(Case, case_id, lock=True)
    if case is None:
        raise NotFound("办件不存在")
    if not may_record_result(actor, case):
        raise NotAuthorized("只有办理该办件的工作人员可以盖章签发")
    assurance.require(actor, assurance.HIGH, WHAT)
    return case


def _seal(actor: Actor, case: Case, kind: str, doc: Document, file_kind: str) -> SealedDocument:
    if db.session.execute(select(SealedDocument.id).where(SealedDocument.case_id == case.id,
                                                          SealedDocument.kind == kind)).first():
        raise Conflict(f"该办件的{doc.title}已盖章签发，不能重复签发")
    key = seal_key()
    code = _new_code()
    pdf, page, box = render(doc, verify_url(code), code)
    sealed = seal_pdf(pdf, page, box, key, case.case_no, doc.organ)
    f = store_file(case, sealed, "application/pdf", f"{doc.title}-{case.case_no}.pdf", kind=file_kind,
                   uploaded_by=actor.username, note=f"{doc.title}（电子印章）")
    row = SealedDocument(case_id=case.id, kind=kind, title=doc.title, doc_no=doc.doc_no, case_no=case.case_no,
                         file_id=f.id, sha256=hashlib.sha256(sealed).hexdigest(), cert_sha256=key.fingerprint,
                         cert_subject=key.subject[:300], organ=doc.organ, sealed_at=now(), sealed_by=actor.username,
                         verify_code=code)
    db.session.add(row)
    db.session.flush()
    record_event(case, actor.username, "seal", data_change={
        "kind": kind, "title": doc.title, "doc_no": doc.doc_no, "file": f.filename, "sha256": row.sha256,
        "cert_sha256": key.fingerprint, "verify_code": code})
    touch(case, actor.username, "seal")
    return row


def _commit(work):
    try:
        result = work()
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("该文书已由他人同时盖章签发，请刷新页面") from None
    except BaseException:
        db.session.rollback()
        raise
    return result


def issues_licence(case: Case, matter: dict) -> bool:
    """An approval whose result is a licence: a licensing matter (matter_type 01) or a 证照 result."""
    return case.status == "approved" and (str(matter.get("matter_type")) == "01"
                                          or (matter.get("result") or {}).get("type") == "证照")


def _issue_licence(case: Case, sealed: SealedDocument) -> Licence | None:
    matter = matter_of(case)
    if not issues_licence(case, matter):
        return None
    organ_code = organ_code_of(matter)
    type_code = str(matter.get("basic_code") or case.process_id)[:40]
    day = (case.decided_at or now()).astimezone(BEIJING).date()
    result = matter.get("result") or {}
    row = Licence(case_id=case.id, sealed_document_id=sealed.id,
                  licence_id=f"{type_code}.{organ_code or '-'}.{case.case_no}"[:120], type_code=type_code,
                  type_name=(result.get("name") or matter.get("name") or case.process_id)[:200],
                  licence_no=sealed.doc_no, holder_name=case.applicant_name[:200], holder_code=case.applicant_code,
                  issuer_name=sealed.organ, issuer_code=organ_code, issued_on=day, valid_from=day, valid_to=None,
                  status="valid", created_at=now())
    db.session.add(row)
    db.session.flush()
    record_event(case, "system", "licence", data_change={"licence_id": row.licence_id, "licence_no": row.licence_no,
                                                         "type": row.type_name})
    return row


def seal_decision(actor: Actor, case_id: int) -> SealedDocument:
    """盖章签发 the decision document of a case decided on the merits; issues the licence of an
    approval whose result is one. Raises NotFound / NotAuthorized (not the case's staff, or the
    sign-in is below HIGH) / Conflict (not decided, 不予受理, already sealed) / SealUnavailable. Commits."""
    def work():
        case = _case_for_sealing(actor, case_id)
        if case.status not in ("approved", "rejected") or case.decided_at is None:
            raise Conflict("办件尚未作出准予或不予的决定，不能签发决定文书")
        if case.status == "rejected" and case.accepted_at is None:
            raise Conflict("该办件为不予受理，请签发不予受理决定书")
        doc = decision_document(case)
        sealed = _seal(actor, case, DECISION, doc, "result")
        _issue_licence(case, sealed)
        return sealed
    return _commit(work)


def seal_notice(actor: Actor, case_id: int, kind: str) -> SealedDocument:
    """盖章签发 the 受理通知书 (``accept``) or 不予受理决定书 (``refuse``) recorded for the case."""
    if kind not in NOTICE_KINDS:
        raise NotFound("文书不存在")

    def work():
        case = _case_for_sealing(actor, case_id)
        notice = db.session.execute(select(CaseNotice).where(CaseNotice.case_id == case.id, CaseNotice.kind == kind)
                                    ).scalar_one_or_none()
        if notice is None:
            raise Conflict(f"尚未出具{NOTICE_KINDS[kind]}，不能盖章签发")
        return _seal(actor, case, kind, notice_document(notice), "notice")
    return _commit(work)


# -- reading ---------------------------------------------------------------------------------------
def sealed_of(case_id: int) -> list[SealedDocument]:
    return list(db.session.execute(select(SealedDocument).where(SealedDocument.case_id == case_id)
                                   .order_by(SealedDocument.id)).scalars())


def licence_of(case_id: int) -> Licence | None:
    return db.session.execute(select(Licence).where(Licence.case_id == case_id)).scalar_one_or_none()


def record_for_code(code: str) -> SealedDocument:
    if not isinstance(code, str) or not 8 <= len(code) <= 32 or not code.replace("-", "").replace("_", "").isalnum() \
            or not code.isascii():
        raise NotFound("验证码无效：没有这份文书的盖章记录")
    row = db.session.execute(select(SealedDocument).where(SealedDocument.verify_code == code)).scalar_one_or_none()
    if row is None:
        raise NotFound("验证码无效：没有这份文书的盖章记录")
    return row


def record_for_hash(sha256: str) -> SealedDocument | None:
    return db.session.execute(select(SealedDocument).where(SealedDocument.sha256 == sha256)
                              .order_by(SealedDocument.id).limit(1)).scalar_one_or_none()


def known_fingerprints() -> set[str]:
    """Seal certificates this platform sealed with (the current one and every earlier one)."""
    found = set(db.session.execute(select(SealedDocument.cert_sha256).distinct()).scalars())
    try:
        found.add(seal_key().fingerprint)
    except SealUnavailable:  # verifying still works on the certificates recorded
        pass
    return found


def readable_sealed(actor: Actor, case_id: int, doc_id: int) -> tuple[SealedDocument, CaseFile]:
    """A sealed document's file for the case's applicant or staff who may read the case (else 404)."""
    case = row_by_id(Case, case_id)
    if case is None or not (case.applicant_id == actor.id if actor.is_applicant else can_read_case(actor, case)):
        raise NotFound("文书不存在")
    row = row_by_id(SealedDocument, doc_id)
    if row is None or row.case_id != case.id:
        raise NotFound("文书不存在")
    return row, db.session.get(CaseFile, row.file_id)


def panel(actor: Actor, case: Case) -> dict | None:
    """What the staff case page's seal card shows (None: nothing for this actor)."""
    if actor is None or not actor.is_staff or case is None:
        return None
    notices = {n.kind: n for n in db.session.execute(select(CaseNotice).where(CaseNotice.case_id == case.id)).scalars()}
    sealed = {s.kind: s for s in sealed_of(case.id)}
    decidable = case.status in ("approved", "rejected") and case.decided_at is not None \
        and not (case.status == "rejected" and case.accepted_at is None)
    if not notices and not decidable and not sealed:
        return None
    may = may_record_result(actor, case)
    offers = []
    if decidable and DECISION not in sealed:
        offers.append((DECISION, decision_document_title(case)))
    offers += [(k, NOTICE_KINDS[k]) for k in notices if k not in sealed]
    return {"sealed": list(sealed.values()), "offers": offers if may else [], "may": may,
            "high": actor.assurance >= assurance.HIGH, "licence": licence_of(case.id),
            "licence_status": LICENCE_STATUS}


def decision_document_title(case: Case) -> str:
    matter = matter_of(case)
    fam = family(case, matter)
    return {"licence": "准予/不予行政许可决定书", "filing": "备案通知书/不予备案决定书"}.get(fam, "办理结果文书")
