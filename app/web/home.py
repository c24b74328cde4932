"""The landing page: what is deployed and where the API is."""
from flask import Blueprint, render_template

from ..services.cases.registry import list_matters

bp = Blueprint("home", __name__, template_folder="templates")


@bp.get("/")
def index():
    matters = [{"process_id": m.process_id, "name": m.name, "basic_code": m.basic_code,
                "case_type": "即办件" if m.case_type == "1" else "承诺件",  # translated in the template
                "version": m.latest_version.number if m.latest_version else None,
                "promised": (m.latest_version.matter.get("promised_limit") if m.latest_version else None),
                "statutory": (m.latest_version.matter.get("statutory_limit") if m.latest_version else None)}
               for m in list_matters()]
    return render_template("home/index.html", matters=matters)
