"""The applicant portal's pages (办事大厅): catalog, service guides, sign-in and accounts, drafts and
the materials library (``pages``); my cases, mail intake, receipts, results and the progress query,
with the staff panels for intake and results shown on the inbox task page (``cases``); 一次性告知 /
补正 for both sides (``correction``). Templates and styles in ``templates/``."""
from .cases import bp as cases_bp
from .correction import bp as correction_bp
from .pages import bp as pages_bp
from .progress_text import bp as progress_text_bp
from .projects import bp as projects_bp
from .sso import bp as sso_bp

BLUEPRINTS = (pages_bp, cases_bp, correction_bp, sso_bp, projects_bp, progress_text_bp)
