"""The electronic receipt (回执单, 行政许可法 art. 32: a dated written receipt): a PDF with the case
number, matter, applicant name and code, the materials received, the receipt / acceptance time, the
promised completion date, the agency, and a QR code to the case's progress page (/p/<token>).

Chinese text is drawn with the embedded WenQuanYi Zen Hei font when installed (subset embedded with
a ToUnicode map, so any viewer shows it and text extraction works), else with reportlab's built-in
CID font STSong-Light (not embedded; viewers substitute a Song face)."""
from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from ...domain.errors import NotFound
from ...domain.workdays import CalendarMissing
from ...extensions import db
from ...models import Case, CaseFile, ProcessVersion
from ..cases.steps import now
from ..clocks.calendar import current_calendar
from ..clocks.deadlines import due_date
from ..common.clock import BEIJING
from ..common.urls import public_url
from ..identity.actors import Actor
from ..inbox.case_files import store_file

FONT_FILE = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
TOKEN_SALT = "progress-qr"


# -- the QR token ----------------------------------------------------------------------------------
def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=TOKEN_SALT)


def progress_token(case: Case) -> str:
    """A signed, non-expiring token naming one case (printed as a QR code on its receipt). It holds
    the case id and number only; changing a character breaks the signature."""
    return _serializer().dumps({"c": case.id, "n": case.case_no})


def case_for_token(token: str) -> Case:
    """The case a QR token names. Raises NotFound for a tampered or unknown token."""
    if not isinstance(token, str) or len(token) > 200:
        raise NotFound("链接无效")
    try:
        data = _serializer().loads(token)
    except BadSignature:
        raise NotFound("链接无效") from None
    case = db.session.get(Case, data.get("c")) if isinstance(data, dict) and isinstance(data.get("c"), int) \
        and 0 < data["c"] < 2 ** 31 else None
    if case is None or case.case_no != data.get("n"):
        raise NotFound("链接无效")
    return case


def progress_url(case: Case) -> str:
    """The absolute URL of the case's QR progress page (common/urls.py: PUBLIC_BASE_URL first)."""
    return public_url(f"/p/{progress_token(case)}")


# -- the PDF ---------------------------------------------------------------------------------------
def _font() -> str:
    from reportlab.pdfbase import pdfmetrics
    registered = pdfmetrics.getRegisteredFontNames()
    if FONT_FILE.exists():
        if "WQY" not in registered:
            from reportlab.pdfbase.ttfonts import TTFont
            pdfmetrics.registerFont(TTFont("WQY", str(FONT_FILE), subfontIndex=0))
        return "WQY"
    if "STSong-Light" not in registered:
        from reportlab.pdfbase.cidfonts import UnicodeCIDFont
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    from reportlab.pdfbase.pdfmetrics import stringWidth
    lines, cur = [], ""
    for ch in text:
        if stringWidth(cur + ch, font, size) > width:
            lines.append(cur)
            cur = ch
        else:
            cur += ch
    return lines + [cur] if cur else lines or [""]


def render_receipt(info: dict) -> bytes:
    """The receipt PDF (A4) for ``info``: case_no, matter, applicant_name, applicant_code, materials
    (list of (name, originals, copies)), courier, tracking_no, received_at, accepted_at,
    promised_due, agency, url."""
    import segno
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    font = _font()
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.setTitle(f"受理回执单 {info['case_no']}")
    c.setAuthor(info["agency"])
    width, height = A4
    left, right = 56, width - 56
    y = height - 70
    c.setFont(font, 20)
    c.drawCentredString(width / 2, y, info["agency"])
    y -= 30
    c.setFont(font, 18)
    c.drawCentredString(width / 2, y, "行政审批材料收件回执单")
    y -= 36

    # QR code to the progress page, top right of the table
    qr = segno.make(info["url"], error="m")
    size, border = 110, 4
    rows = list(qr.matrix)
    module = size / (len(rows) + 2 * border)
    qx, qy = right - size, y - size
    c.setFillColorRGB(0, 0, 0)
    for r, row in enumerate(rows):
        for col, dark in enumerate(row):
            if dark:
                c.rect(qx + (col + border) * module, qy + size - (r + border + 1) * module, module, module,
                       stroke=0, fill=1)
    c.setFont(font, 8)
    c.drawCentredString(qx + size / 2, qy - 10, "扫码查询办理进度")

    label_w, text_w = 96, right - left - 96 - size - 12
    fields = [("办件编号", info["case_no"]), ("事项名称", info["matter"]), ("申请人", info["applicant_name"]),
              ("统一社会信用代码", info.get("applicant_code") or "—"),
              ("收件方式", f"快递申请（{info['courier']} {info['tracking_no']}）"),
              ("收件时间", info["received_at"]), ("受理时间", info.get("accepted_at") or "收件后由窗口审查受理"),
              ("承诺办结日期", info["promised_due"]), ("办理机关", info["agency"])]
    for label, value in fields:
        c.setFont(font, 10)
        c.drawString(left, y, label)
        c.setFont(font, 11)
        for line in _wrap(str(value), font, 11, text_w if y > qy - 14 else right - left - label_w):
            c.drawString(left + label_w, y, line)
            y -= 16
        y -= 4
    y -= 8
    c.setFont(font, 12)
    c.drawString(left, y, "已收材料清单")
    y -= 18
    c.setFont(font, 10)
    c.drawString(left, y, "序号")
    c.drawString(left + 40, y, "材料名称")
    c.drawString(right - 110, y, "原件")
    c.drawString(right - 55, y, "复印件")
    y -= 4
    c.line(left, y, right, y)
    y -= 14
    for i, (name, originals, copies) in enumerate(info["materials"], 1):
        lines = _wrap(name, font, 10, right - left - 170)
        c.drawString(left, y, str(i))
        c.drawString(right - 110, y, str(originals))
        c.drawString(right - 55, y, str(copies))
        for line in lines:
            c.drawString(left + 40, y, line)
            y -= 14
        y -= 2
    for extra in ("快递面单扫描件", "材料清单", "承诺书（已签署）"):
        c.drawString(left + 40, y, f"{extra}（电子件）")
        y -= 14
    y -= 14
    c.setFont(font, 9)
    notes = ["说明：1. 本回执单证明本机关已收到上列纸质材料，是否受理以窗口审查结论为准；材料不齐全或不符合法定形式的，"
             "将一次性告知需补正的全部内容。2. 承诺办结日期按工作日计算（不含法定节假日），补正、专家评审等特别程序时间不计入。"
             "3. 可凭办件编号和手机短信验证码，或扫描右上方二维码查询办理进度。",
             f"进度查询：{info['url']}"]
    for note in notes:
        for line in _wrap(note, font, 9, right - left):
            c.drawString(left, y, line)
            y -= 13
    y -= 20
    c.setFont(font, 11)
    c.drawRightString(right, y, f"{info['agency']}（电子回执）")
    c.drawRightString(right, y - 18, info["issued_on"])
    c.showPage()
    c.save()
    return buf.getvalue()


def promised_date(case: Case, version: ProcessVersion, received: datetime) -> date | None:
    """The promised completion date: the case's own once accepted, else the promised limit counted in
    working days from the receipt day. None when the calendar lacks the year (never guessed)."""
    if case.promised_due:
        return case.promised_due
    try:
        return due_date(current_calendar(), received.astimezone(BEIJING).date(),
                        (version.matter or {}).get("promised_limit"))
    except CalendarMissing:
        return None


def issue_receipt(case: Case, intake, actor: Actor) -> tuple[CaseFile, str | None]:
    """Make the receipt PDF of a confirmed intake and store it as a case file of kind ``receipt``
    (in the caller's transaction). Returns (file, promised date as YYYY-MM-DD or None)."""
    version = db.session.get(ProcessVersion, case.version_id)
    matter = version.matter or {}
    ts = now()
    promised = promised_date(case, version, ts)
    materials = [(m.get("name", ""), m.get("originals", 0), m.get("copies", 0))
                 for m in matter.get("materials") or () if m.get("paper_required")]
    local = ts.astimezone(BEIJING)
    info = {"case_no": case.case_no, "matter": matter.get("name") or case.process_id,
            "applicant_name": case.applicant_name, "applicant_code": case.applicant_code,
            "materials": materials, "courier": intake.courier, "tracking_no": intake.tracking_no,
            "received_at": local.strftime("%Y-%m-%d %H:%M"),
            "accepted_at": case.accepted_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if case.accepted_at
            else None,
            "promised_due": promised.strftime("%Y年%m月%d日") if promised else "按承诺时限（工作日历待更新）",
            "agency": (matter.get("implementing_body") or {}).get("name") or current_app.config["AGENCY_NAME"],
            "url": progress_url(case), "issued_on": local.strftime("%Y年%m月%d日")}
    blob = render_receipt(info)
    f = store_file(case, blob, "application/pdf", f"回执单-{case.case_no}.pdf", kind="receipt",
                   uploaded_by=actor.username, note="电子回执单")
    return f, promised.isoformat() if promised else None


def latest_receipt(case_id: int) -> CaseFile | None:
    return db.session.execute(select(CaseFile).where(CaseFile.case_id == case_id, CaseFile.kind == "receipt")
                              .order_by(CaseFile.id.desc()).limit(1)).scalar_one_or_none()
