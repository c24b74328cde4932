"""One case whose timer cannot fire (its stored state was written by a newer release, which this one
refuses to load) never holds up the others: with two scheduler processes, 100 timers due at the same
instant all fire within 5 s of their due time, and the poisoned case gets one incident (not one per
attempt) and backs off."""
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from app.extensions import db
from app.models import Case, CaseEvent, Incident, ProcessInstance, Timer, User
from app.services.cases.lifecycle import create_case
from app.services.identity.actors import actor_from_user
from tests.conftest import FIXTURES, ROOT, add_user, deploy_all, make_app

N = 100


def poison(instance: ProcessInstance) -> None:
    """What a rolling upgrade leaves behind: a state saved by a newer release in a format this one
    does not know (``load_state`` refuses it loudly, as it should)."""
    state = json.loads(instance.state)
    state["platform_format"] = 2
    instance.state = json.dumps(state, ensure_ascii=False)


def test_a_poisoned_timer_does_not_hold_up_100_others_under_two_schedulers(db_url):
    app = make_app(db_url, PROCESSES_DIR=str(FIXTURES / "processes"), FORMS_DIR=str(FIXTURES / "forms"),
                   CLOCK=lambda: datetime.now(timezone.utc))
    deploy_all(app)
    add_user(app, "alice", "applicant")
    with app.app_context():
        alice = actor_from_user(db.session.execute(select(User).where(User.username == "alice")).scalar_one())
        # how long creating a case takes here decides how far ahead the due time must be
        far = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
        started = time.monotonic()
        for i in range(3):
            create_case(alice, "t_sleep", {"amount": i, "project_name": "预热", "fire_at": far})
        per_case = (time.monotonic() - started) / 3
        fire_at = datetime.now(timezone.utc) + timedelta(seconds=8 + 2 * per_case * (N + 1))
        # the poisoned case is due first: an unordered or stopping drain would take it again and again
        bad = create_case(alice, "t_sleep", {"amount": 0, "project_name": "坏状态",
                                             "fire_at": (fire_at - timedelta(seconds=1)).isoformat()})
        poison(db.session.get(ProcessInstance, bad.instance_id))
        db.session.commit()
        good = [create_case(alice, "t_sleep", {"amount": i, "project_name": f"P{i}", "fire_at": fire_at.isoformat()}).id
                for i in range(N)]
        bad_id, bad_instance = bad.id, bad.instance_id
    assert datetime.now(timezone.utc) < fire_at - timedelta(seconds=4), "setup overran the due time"

    env = {**os.environ, "DATABASE_URL": db_url, "PROCESSES_DIR": str(FIXTURES / "processes"),
           "FORMS_DIR": str(FIXTURES / "forms"), "DEPLOY_ON_START": "0", "SUPERVISION_SECONDS": "3600",
           "APP_ENV": "development"}
    budget = (fire_at - datetime.now(timezone.utc)).total_seconds() + 12
    procs = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run",
                               "--max-seconds", f"{budget:.1f}"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(2)]
    outputs = [p.communicate(timeout=budget + 60)[0].decode() for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs

    with app.app_context():
        rows = db.session.execute(select(Case.id, Timer).join(Timer, Timer.instance_id == Case.instance_id)
                                  .where(Case.id.in_(good))).all()
        lateness = sorted((t.fired_at - t.due_at).total_seconds() for _, t in rows if t.status == "fired")
        assert len(lateness) == N, (len(lateness), [t.status for _, t in rows][:5], outputs)
        assert 0 <= lateness[0] and lateness[-1] < 5, (lateness[-5:], outputs)
        per_case = dict(db.session.execute(select(CaseEvent.case_id, func.count()).where(
            CaseEvent.action == "timer", CaseEvent.case_id.in_(good)).group_by(CaseEvent.case_id)).all())
        assert len(per_case) == N and set(per_case.values()) == {1}

        [stuck] = db.session.execute(select(Timer).where(Timer.instance_id == bad_instance)).scalars().all()
        assert stuck.status == "waiting" and stuck.attempts >= 1 and stuck.next_attempt_at > stuck.due_at
        incidents = db.session.execute(select(Incident)).scalars().all()
        assert [(i.case_id, i.status, i.error_type) for i in incidents] == [(bad_id, "open", "StateFormatError")]
        [incident] = incidents
        assert incident.details["source"] == "timer" and incident.details["timers"] == [stuck.id]
        assert incident.details["attempts"] == stuck.attempts and "platform state format" in incident.message
        assert db.session.execute(select(func.count()).select_from(CaseEvent).where(
            CaseEvent.case_id == bad_id, CaseEvent.action == "incident")).scalar() == 1
        assert db.session.get(Case, bad_id).status == "submitted"  # nothing else changed on it
