"""Administration pages: the working-day calendar."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, redirect, render_template, request, url_for

from ...domain.errors import ValidationError
from ...services.clocks import calendar as cal_svc
from .. import i18n
from ..auth import current_actor, login_required
from . import labels

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")
bp.context_processor(labels.helpers)
MAX_FILE = 64 * 1024
#: the notes the platform writes on a year (CalendarYear.note by source, app/services/clocks/calendar.py), shown
#: in the page language; a note an administrator typed when importing is shown as written
YEAR_NOTES = {"chinesecalendar": i18n.N_("按国务院办公厅公布的节假日安排，由开源软件包导入"),
              "demo": i18n.N_("演示数据：仅含固定日期的法定节日（元旦、劳动节、国庆节），无春节等农历节日和调休；"
                              "正式使用前须按国务院办公厅通知导入")}


def _page(year: int, status: int = 200, **extra):
    years = cal_svc.years()
    return render_template("admin/calendar.html", year=year, years=years, year_numbers={y.year for y in years},
                           days=cal_svc.year_days(year), year_notes=YEAR_NOTES, **extra), status


@bp.get("/calendar")
@login_required(lambda a: a.is_admin)
def calendar():
    try:
        year = int(request.args.get("year") or date.today().year)
        if not 2000 <= year <= 2100:
            raise ValueError
    except ValueError:
        return _page(date.today().year, 422, error=i18n.gettext("年份不正确"))
    return _page(year, message=request.args.get("msg"))


@bp.post("/calendar/day")
@login_required(lambda a: a.is_admin)
def calendar_day():
    try:
        day = date.fromisoformat(request.form.get("day", ""))
    except ValueError:
        return _page(date.today().year, 422, error=i18n.gettext("日期格式应为 YYYY-MM-DD"))
    try:
        cal_svc.set_day(current_actor(), day, request.form.get("kind") or None, request.form.get("name", ""))
    except ValidationError as exc:
        return _page(day.year, 422, error=exc.message, details=exc.details)
    return redirect(url_for("admin.calendar", year=day.year, msg=i18n.gettext("%(day)s 已保存", day=day.isoformat())))


@bp.post("/calendar/import")
@login_required(lambda a: a.is_admin)
def calendar_import():
    try:
        year = int(request.form.get("year", ""))
    except ValueError:
        return _page(date.today().year, 422, error=i18n.gettext("年份不正确"))
    upload = request.files.get("file")
    if upload is None:
        return _page(year, 422, error=i18n.gettext("请选择文件"))
    data = upload.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        return _page(year, 413, error=i18n.gettext("文件过大（最大 64 KB）"))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _page(year, 422, error=i18n.gettext("文件必须是 UTF-8 文本"))
    try:
        n = cal_svc.import_year(current_actor(), year, text, request.form.get("note", ""))
    except ValidationError as exc:
        return _page(year, 422, error=exc.message, details=exc.details)
    return redirect(url_for("admin.calendar", year=year, msg=i18n.gettext("%(year)s 年已导入 %(n)s 天", year=year, n=n)))
