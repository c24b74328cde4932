from flask import Blueprint

bp = Blueprint("portal_cases", __name__, template_folder="templates")
