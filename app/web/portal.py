from flask import Blueprint

bp = Blueprint("portal", __name__, template_folder="templates")
