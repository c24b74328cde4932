from flask import Blueprint

bp = Blueprint("correction", __name__, template_folder="templates")
