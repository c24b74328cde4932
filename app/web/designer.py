from flask import Blueprint

bp = Blueprint("designer", __name__, template_folder="templates")
