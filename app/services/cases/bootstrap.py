"""Start-up: deploy every matter of processes/ when the schema is there."""
from __future__ import annotations

import logging

from sqlalchemy import inspect

from ...domain.errors import InvalidModel
from ...extensions import db
from ..clocks.calendar import seed_from_package
from .registry import deploy_directory

log = logging.getLogger(__name__)


def deploy_on_start(app) -> None:
    """Deploy processes/ at start. A schema that is not migrated yet is skipped (the CLI migrates
    first); a broken model stops the start with its errors, never a half-deployed registry."""
    with app.app_context():
        if not inspect(db.engine).has_table("process_versions"):
            log.warning("database not migrated yet: run `flask db upgrade`; matters not deployed")
            return
        seeded = seed_from_package()
        if seeded:
            db.session.commit()
            log.info("calendar seeded from chinesecalendar: %s-%s", seeded[0], seeded[-1])
        try:
            results = deploy_directory(app.config["PROCESSES_DIR"], app.config["FORMS_DIR"])
        except InvalidModel as exc:
            lines = "\n".join(f"  {e['file']} {e['element'] or ''}: {e['message']}" for e in exc.errors)
            raise RuntimeError(f"processes/ could not be deployed:\n{lines}") from None
        created = [r for r in results if r.created]
        if created:
            log.info("deployed %s", ", ".join(f"{r.process_id} v{r.version}" for r in created))
