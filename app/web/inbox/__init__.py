"""The staff 工作台 (/inbox): the four lists, the task page with its form, diagram and trail, and the
case page (``pages``); every task operation posted from them, answered as a redirect or JSON
(``actions``). Its stylesheet is ``static/css/inbox.css`` (/inbox/static/…)."""
from . import actions  # noqa: F401  (registers the operation routes on the blueprint)
from .pages import bp

BLUEPRINTS = (bp,)
