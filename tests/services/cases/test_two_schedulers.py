"""Two scheduler processes against the same database, many timers due at the same instant:
each timer takes effect exactly once."""
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from app.extensions import db
from app.models import CaseEvent, HumanTask, Timer
from app.services.identity.actors import actor_from_user
from app.services.cases.lifecycle import create_case
from app.models import User
from tests.conftest import FIXTURES, ROOT, add_user, deploy_all, make_app

N = 150


def test_two_scheduler_processes_fire_each_timer_exactly_once(db_url):
    # real time here: the scheduler processes run on the wall clock
    app = make_app(db_url, PROCESSES_DIR=str(FIXTURES / "processes"), FORMS_DIR=str(FIXTURES / "forms"),
                   CLOCK=lambda: datetime.now(timezone.utc))
    deploy_all(app)
    add_user(app, "alice", "applicant")
    fire_at = datetime.now(timezone.utc) + timedelta(seconds=20)  # room for 150 cases and two process starts on a loaded machine
    with app.app_context():
        alice = actor_from_user(db.session.execute(select(User).where(User.username == "alice")).scalar_one())
        for i in range(N):
            create_case(alice, "t_sleep", {"amount": i, "project_name": f"P{i}", "fire_at": fire_at.isoformat()})
        assert db.session.execute(select(func.count()).select_from(Timer).where(Timer.status == "waiting")).scalar() == N
    assert datetime.now(timezone.utc) < fire_at, "setup too slow for the test's due time"

    env = {**os.environ, "DATABASE_URL": db_url, "PROCESSES_DIR": str(FIXTURES / "processes"),
           "FORMS_DIR": str(FIXTURES / "forms"), "DEPLOY_ON_START": "0", "SUPERVISION_SECONDS": "3600",
           "APP_ENV": "development"}
    budget = (fire_at - datetime.now(timezone.utc)).total_seconds() + 40
    procs = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run",
                               "--max-seconds", str(budget)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(2)]
    outputs = [p.communicate(timeout=budget + 30)[0].decode() for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    assert "Traceback" not in "".join(outputs), outputs

    with app.app_context():
        statuses = dict(db.session.execute(select(Timer.status, func.count()).group_by(Timer.status)).all())
        assert statuses == {"fired": N}
        per_case = db.session.execute(select(CaseEvent.case_id, func.count()).where(
            CaseEvent.action == "timer").group_by(CaseEvent.case_id)).all()
        assert len(per_case) == N and {c for _, c in per_case} == {1}
        after = db.session.execute(select(HumanTask.case_id, func.count()).where(
            HumanTask.element_id == "after").group_by(HumanTask.case_id)).all()
        assert len(after) == N and {c for _, c in after} == {1}
        fired = [t.fired_at for t in db.session.execute(select(Timer)).scalars()]
        assert min(fired) >= fire_at
    if db_url.startswith("postgresql"):
        # with row locks and SKIP LOCKED both processes take part (SQLite serialises writers)
        assert all("fired" in out for out in outputs), outputs


def test_a_running_scheduler_fires_timers_within_two_seconds_of_their_due_time(db_url):
    app = make_app(db_url, PROCESSES_DIR=str(FIXTURES / "processes"), FORMS_DIR=str(FIXTURES / "forms"),
                   CLOCK=lambda: datetime.now(timezone.utc))
    deploy_all(app)
    add_user(app, "alice", "applicant")
    env = {**os.environ, "DATABASE_URL": db_url, "PROCESSES_DIR": str(FIXTURES / "processes"),
           "FORMS_DIR": str(FIXTURES / "forms"), "DEPLOY_ON_START": "0", "SUPERVISION_SECONDS": "3600",
           "APP_ENV": "development"}
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run", "--max-seconds", "14"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    start = datetime.now(timezone.utc)
    with app.app_context():
        alice = actor_from_user(db.session.execute(select(User).where(User.username == "alice")).scalar_one())
        # created while the scheduler already sleeps: it must notice them without a restart
        for delay in (5, 6.5, 8):
            create_case(alice, "t_sleep", {"amount": 1, "project_name": "准时",
                                           "fire_at": (start + timedelta(seconds=delay)).isoformat()})
    out = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 0, out
    with app.app_context():
        timers = db.session.execute(select(Timer)).scalars().all()
        lateness = [(t.fired_at - t.due_at).total_seconds() for t in timers]
    assert len(lateness) == 3 and all(0 <= s < 2 for s in lateness), (lateness, out)
