"""Drawing: the red round seal (drawn at run time with Pillow — no image file in the repository) and
the A4 PDF of a document (reportlab, the receipts' embedded WenQuanYi Zen Hei font), with a QR code
to the public verify page. The PDF leaves the seal's place empty: pyhanko puts the seal image there
as the signature's visible appearance (app/services/seals/sealing.py)."""
from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

import segno
from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas

from ..portal.receipts import FONT_FILE, _font, _wrap

RED = (204, 20, 20, 255)
SEAL_PT = 128  # the seal's size on the page (points: about 45 mm, a common official seal is 42 mm)


@dataclass
class Document:
    """What a sealed document prints."""
    kind: str
    title: str
    doc_no: str
    organ: str
    addressee: str
    applicant_code: str | None
    paragraphs: list[str]
    facts: list[tuple[str, str]] = field(default_factory=list)
    date_text: str = ""
    case_no: str = ""
    footer: str = "本文书加盖电子印章，与加盖实物印章的纸质文书具有同等效力。"


def _pil_font(size: int):
    if FONT_FILE.exists():
        return ImageFont.truetype(str(FONT_FILE), size, index=0)
    return ImageFont.load_default(size)


def seal_image(organ: str, label: str = "行政审批专用章", px: int = 480) -> Image.Image:
    """A red round seal: a ring, the organ's name around the top, a five-pointed star in the middle
    and the seal's use below it (transparent background)."""
    img = Image.new("RGBA", (px, px), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    c, ring = px / 2, px * 0.028
    d.ellipse((ring / 2 + 2, ring / 2 + 2, px - ring / 2 - 2, px - ring / 2 - 2), outline=RED, width=int(ring))
    # the star
    r_out, r_in = px * 0.15, px * 0.15 * 0.382
    pts = []
    for i in range(10):
        r = r_out if i % 2 == 0 else r_in
        a = math.radians(90 + i * 36)
        pts.append((c + r * math.cos(a), c - r * math.sin(a)))
    d.polygon(pts, fill=RED)
    # the organ's name along the top arc, each character turned outwards
    name = organ[:20] or "印章"
    char_px = int(px * (0.115 if len(name) <= 12 else 0.09))
    font = _pil_font(char_px)
    radius = c - ring - char_px * 0.72
    span = min(250.0, 20.0 * len(name))
    n = len(name)
    for i, ch in enumerate(name):
        theta = 90 + span / 2 - (span * i / (n - 1) if n > 1 else span / 2)
        tile = Image.new("RGBA", (char_px * 2, char_px * 2), (0, 0, 0, 0))
        ImageDraw.Draw(tile).text((char_px, char_px), ch, font=font, fill=RED, anchor="mm")
        tile = tile.rotate(theta - 90, resample=Image.BICUBIC)
        x = c + radius * math.cos(math.radians(theta))
        y = c - radius * math.sin(math.radians(theta))
        img.alpha_composite(tile, (int(x - char_px), int(y - char_px)))
    small = _pil_font(int(px * 0.075))
    d.text((c, c + px * 0.27), label, font=small, fill=RED, anchor="mm")
    return img


def _qr(c, url: str, x: float, y: float, size: float) -> None:
    qr = segno.make(url, error="m")
    rows = list(qr.matrix)
    border = 2
    module = size / (len(rows) + 2 * border)
    c.setFillColorRGB(0, 0, 0)
    for r, row in enumerate(rows):
        for col, dark in enumerate(row):
            if dark:
                c.rect(x + (col + border) * module, y + size - (r + border + 1) * module, module, module,
                       stroke=0, fill=1)


def render(doc: Document, verify_url: str, verify_code: str) -> tuple[bytes, int, tuple[int, int, int, int]]:
    """The PDF (A4, one page; more when the text is long), the index of its last page and the seal's
    box there (x1, y1, x2, y2 in points) — over the organ's name and the date, as on paper."""
    font = _font()
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.setTitle(f"{doc.title} {doc.doc_no}")
    c.setAuthor(doc.organ)
    c.setSubject(doc.case_no)
    width, height = A4
    left, right = 72, width - 72
    y = height - 80
    c.setFillColorRGB(0.75, 0.05, 0.05)
    c.setFont(font, 22)
    c.drawCentredString(width / 2, y, doc.organ)
    c.setFillColorRGB(0, 0, 0)
    y -= 36
    c.setFont(font, 20)
    c.drawCentredString(width / 2, y, doc.title)
    y -= 26
    c.setFont(font, 11)
    c.drawCentredString(width / 2, y, doc.doc_no)
    y -= 8
    c.setStrokeColorRGB(0.75, 0.05, 0.05)
    c.setLineWidth(1.2)
    c.line(left, y, right, y)
    y -= 30

    page = 0

    def need(space: float) -> None:
        nonlocal y, page
        if y - space < 150:
            c.showPage()
            page += 1
            y = height - 80

    c.setFont(font, 13)
    head = doc.addressee + (f"（统一社会信用代码：{doc.applicant_code}）" if doc.applicant_code else "") + "："
    for line in _wrap(head, font, 13, right - left):
        c.drawString(left, y, line)
        y -= 22
    for para in doc.paragraphs:
        lines = _wrap("\u3000\u3000" + para, font, 13, right - left)
        need(22 * len(lines))
        c.setFont(font, 13)
        for line in lines:
            c.drawString(left, y, line)
            y -= 22
        y -= 4
    if doc.facts:
        need(18 * len(doc.facts) + 10)
        y -= 6
        for label, value in doc.facts:
            c.setFont(font, 10)
            c.drawString(left, y, label)
            for line in _wrap(str(value or "—"), font, 10, right - left - 90):
                c.drawString(left + 90, y, line)
                y -= 16
    need(SEAL_PT + 40)
    y -= 40
    c.setFont(font, 13)
    c.drawRightString(right - 20, y, doc.organ)
    c.drawRightString(right - 20, y - 24, doc.date_text)
    sx = int(right - 20 - stringWidth(doc.organ, font, 13) / 2)  # centred on the organ's name, as on paper
    sy = int(y - 12 - SEAL_PT / 2)
    box = (sx - SEAL_PT // 2, sy - SEAL_PT // 2 + 6, sx + SEAL_PT // 2, sy + SEAL_PT // 2 + 6)
    # the QR code to /verify/<code>, bottom left
    qsize = 84
    _qr(c, verify_url, left, 70, qsize)
    c.setFont(font, 8)
    c.drawString(left + qsize + 8, 70 + qsize - 12, "扫码或访问下列地址验证电子印章：")
    for i, line in enumerate(_wrap(verify_url, font, 8, right - left - qsize - 8)[:3]):
        c.drawString(left + qsize + 8, 70 + qsize - 26 - 11 * i, line)
    c.drawString(left + qsize + 8, 70 + 8, f"验证码：{verify_code}    {doc.footer}")
    c.showPage()
    c.save()
    return buf.getvalue(), page, box
