"""流程设计 for designers and administrators (/designer): the matters, the modeler and form editors,
检查, scenario runs, 部署 and migration of waiting cases (``pages``). Its scripts are
``static/js/designer.js`` and the bpmnlint entry ``static/js/designer-lint.src.js`` that
scripts/setup bundles (/designer/static/…)."""
from .catalog import catalog_bp
from .pages import bp

BLUEPRINTS = (bp, catalog_bp)
