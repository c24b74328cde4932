"""The task and case pages read the case's workflow from the engine's workflow cache: while a page reads it,
the workflow is the page's alone (``take_cached`` does not hand it to a step of another thread of the same
process, which would change it under the page's reads), and once the page has read it, it goes back to the
cache for the next step."""
from sqlalchemy import select

from app.extensions import db
from app.models import Case, ProcessInstance
from app.web.inbox import pages
from tests.web.inbox.test_inbox_pages import Browser, app, open_task, start  # noqa: F401 (fixture)


def instance(app, case_id) -> ProcessInstance:
    return db.session.execute(select(ProcessInstance).join(Case, Case.instance_id == ProcessInstance.id)
                              .where(Case.id == case_id)).scalar_one()


def test_a_page_keeps_the_workflow_to_itself_while_it_reads_it_then_gives_it_back(app):
    case = start(app)
    engine = app.extensions["engine"]
    with app.test_request_context():
        inst = instance(app, case["id"])
        assert engine.holds(inst.id, inst.revision)   # kept by the submit's step
        wf = pages._workflow(inst)                    # the page reads it (path, task variables) …
        assert engine.take_cached(inst.id, inst.revision) is None   # … and no step can take it meanwhile
        pages._give_back(inst, wf)
        assert engine.take_cached(inst.id, inst.revision) is wf
        engine.remember(inst.id, inst.revision, wf)
        db.session.rollback()
    task = open_task(app, "w1")
    for url in (f"/inbox/tasks/{task['id']}", f"/inbox/cases/{case['id']}"):
        Browser(app, "w1").get(url)
        with app.app_context():
            inst = instance(app, case["id"])
            assert engine.holds(inst.id, inst.revision), url   # the page gave it back for the next step
            db.session.rollback()
