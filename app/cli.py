"""Command line: ``flask processes deploy|list``, ``flask demo seed``, ``flask users add``,
``flask org ...`` (departments, staff users, role assignments), ``flask files sweep``."""
from __future__ import annotations

import json
import secrets

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from .cli_import import import_cmd
from .cli_layout import layout_cmd
from .domain.errors import InvalidModel, ValidationError
from .domain.groups import GROUPS
from .extensions import db


def init_cli(app):
    app.cli.add_command(scheduler_cmd)
    app.cli.add_command(calendar_cmd)
    app.cli.add_command(processes)
    app.cli.add_command(demo)
    app.cli.add_command(users)
    app.cli.add_command(org)
    app.cli.add_command(sms_cmd)
    app.cli.add_command(files_cmd)


@click.group(cls=AppGroup, help="部署与查看事项流程 (deploy and list matters)")
def processes():
    pass


processes.add_command(layout_cmd)   # ``flask processes layout``: app/cli_layout.py
processes.add_command(import_cmd)   # ``flask processes import``: app/cli_import.py


@processes.command("deploy", help="Validate and deploy every file in processes/ (all or nothing).")
def processes_deploy():
    from .services.cases.registry import deploy_directory
    try:
        results = deploy_directory(current_app.config["PROCESSES_DIR"], current_app.config["FORMS_DIR"])
    except InvalidModel as exc:
        click.echo(f"部署失败: {exc.message}", err=True)
        for e in exc.errors:
            click.echo(f"  {e['file']} [{e['element'] or '-'}] {e['message']}", err=True)
        raise SystemExit(1)
    for r in results:
        click.echo(f"{r.process_id:24} v{r.version:<3} {r.content_hash[:12]} {'new' if r.created else 'unchanged'}")


@processes.command("list")
def processes_list():
    from .services.cases.registry import list_matters
    for m in list_matters():
        click.echo(f"{m.process_id:24} v{m.latest_version.number:<3} {m.name}")


@processes.command("versions", help="Every version of PROCESS_ID, newest first, with its diff.")
@click.argument("process_id")
def processes_versions(process_id):
    from .domain.errors import DomainError
    from .services.cases.registry import list_versions, version_details
    from .services.identity.actors import SYSTEM
    try:
        rows = [version_details(SYSTEM, process_id, v["number"]) for v in list_versions(SYSTEM, process_id)]
    except DomainError as exc:
        click.echo(f"失败: {exc.message}", err=True)
        raise SystemExit(1)
    for v in rows:
        at = v["deployed_at"].isoformat(timespec="seconds") if v["deployed_at"] else "-"
        click.echo(f"v{v['number']:<3} {v['content_hash'][:12]} {at} {v['deployed_by']:12} "
                   f"running={v['running_instances']}{'  (latest)' if v['latest'] else ''}")
        diff = v["diff"]
        if diff is None:
            click.echo("    (no diff recorded)")
            continue
        click.echo(f"    against v{diff['base']}" if diff.get("base") else "    first version")
        for kind, sign in (("added", "+"), ("removed", "-"), ("changed", "~")):
            for e in diff["elements"][kind]:
                what = f" [{', '.join(e['fields'])}]" if kind == "changed" else ""
                click.echo(f"    {sign} {e['type']} {e['id']}{' ' + e['name'] if e['name'] else ''}{what}")
        forms = diff["forms"]
        for fid in forms["added"]:
            click.echo(f"    + form {fid}")
        for fid in forms["removed"]:
            click.echo(f"    - form {fid}")
        for f in forms["changed"]:
            keys = [f"+{k}" for k in f["fields_added"]] + [f"-{k}" for k in f["fields_removed"]] + \
                   [f"~{k}" for k in f["fields_changed"]]
            click.echo(f"    ~ form {f['id']} [{', '.join(keys)}]")
        if diff["matter"]["changed"] and diff.get("base"):
            click.echo(f"    ~ matter [{', '.join(diff['matter']['changed'])}]")


@processes.command("test", help="Run the path tests (<id>.scenarios.json) of deployed matters (all, or the "
                                 "PROCESS_IDs), or with --dir of the files of a directory before deploying. "
                                 "Exit code 1 if any fails.")
@click.argument("process_ids", nargs=-1)
@click.option("--dir", "processes_dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="test the *.bpmn of this directory (not deployed) instead of the deployed versions")
@click.option("--forms", "forms_dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="forms of --dir (default FORMS_DIR)")
def processes_test(process_ids, processes_dir, forms_dir):
    from .services.design.scenarios import test_deployed, test_directory
    if processes_dir:
        reports = test_directory(processes_dir, forms_dir or current_app.config["FORMS_DIR"], list(process_ids))
    else:
        reports = test_deployed(list(process_ids))
    if not reports:
        click.echo("没有可测试的事项 (nothing to test: deploy first, or use --dir processes/)", err=True)
        raise SystemExit(1)
    total = failed = broken = 0
    for report in reports:
        click.echo(f"{report.process_id}" + (f" v{report.version}" if report.version else ""))
        broken += bool(report.errors)
        for line in report.errors:
            click.echo(f"  ERROR {line}")
        for r in report.results:
            total += 1
            failed += not r.passed
            click.echo(f"  {'PASS' if r.passed else 'FAIL'} {r.name} → {r.end_event or '(not ended)'}")
            click.echo(f"       path: {' → '.join(r.path)}")
            if not r.passed:
                click.echo(f"       {r.message}")
    click.echo(f"{total} scenarios: {total - failed} passed, {failed} failed"
               + (f"; {broken} matter(s) could not be tested" if broken else ""))
    if failed or broken:
        raise SystemExit(1)


@processes.command("migrate", help="Move the waiting cases of older versions of PROCESS_ID to its newest "
                                    "version (or list, with --dry-run, which can move and why the others "
                                    "cannot). Exit code 1 if any was refused.")
@click.argument("process_id")
@click.option("--dry-run", is_flag=True, help="only show what would move and why the rest would not")
@click.option("--case", "case_no", default=None, help="only this case (办件编号)")
def processes_migrate(process_id, dry_run, case_no):
    from .domain.errors import DomainError
    from .services.design import migration
    from .services.identity.actors import SYSTEM
    try:
        if dry_run:
            out = migration.preview(SYSTEM, process_id, case_no)
            moved = [c for c in out["candidates"] if c.movable]
            refused = [c for c in out["candidates"] if not c.movable]
        else:
            out = migration.move(SYSTEM, process_id, case_no)
            moved, refused = out["moved"], out["refused"]
    except DomainError as exc:
        click.echo(f"失败: {exc.message}", err=True)
        raise SystemExit(1)
    target = out["target"]["version"]
    verb = "can move" if dry_run else "moved"
    for c in moved:
        click.echo(f"{verb:9} {c.case_no or '#' + str(c.instance_id)} v{c.version} → v{target}  "
                   f"[{', '.join(c.waiting)}]")
    for c in refused:
        click.echo(f"{'refused':9} {c.case_no or '#' + str(c.instance_id)} v{c.version}: {'; '.join(c.reasons)}")
    click.echo(f"{process_id} → v{target}: {len(moved)} {verb}, {len(refused)} refused")
    if refused:
        raise SystemExit(1)


@click.group("scheduler", cls=AppGroup, help="定时器与电子监察调度进程 (timers and supervision)")
def scheduler_cmd():
    pass


@scheduler_cmd.command("run", help="Run the scheduler: fires timers on time, runs supervision. "
                                    "Several may run at once.")
@click.option("--max-seconds", type=float, default=None, help="stop after this many seconds (tests, benchmarks)")
def scheduler_run(max_seconds):
    from .jobs.scheduler import run
    from .observability.logs import configure_logging
    configure_logging(current_app)  # LOG_FORMAT / LOG_LEVEL (per-task and per-job lines kept at WARNING)
    run(current_app._get_current_object(), max_seconds=max_seconds)


@scheduler_cmd.command("drain", help="Fire every timer due now, once, and exit.")
def scheduler_drain():
    from .services.cases.timers import drain
    click.echo(f"fired {drain()} timers")


@click.group("calendar", cls=AppGroup, help="工作日历 (working-day calendar)")
def calendar_cmd():
    pass


@calendar_cmd.command("seed", help="Load the years the chinesecalendar package knows (2004–2026).")
def calendar_seed():
    from .services.clocks.calendar import seed_from_package
    years = seed_from_package()
    db.session.commit()
    click.echo(f"seeded {years[0]}–{years[-1]}" if years else "nothing to seed")


@calendar_cmd.command("import", help="Import a year file: lines 'YYYY-MM-DD,holiday|workday,名称'.")
@click.argument("year", type=int)
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--note", default="", help="e.g. the notice's document number (国办发明电〔…〕)")
def calendar_import(year, path, note):
    from .domain.errors import ValidationError
    from .services.clocks.calendar import import_year
    from .services.identity.actors import SYSTEM
    try:
        n = import_year(SYSTEM, year, open(path, encoding="utf-8").read(), note)
    except ValidationError as exc:
        click.echo(f"导入失败: {exc.message}", err=True)
        for where, msgs in exc.details.items():
            click.echo(f"  {where}: {'; '.join(msgs)}", err=True)
        raise SystemExit(1)
    click.echo(f"{year}: {n} days imported")


@calendar_cmd.command("show", help="List the holidays and adjusted workdays of a year.")
@click.argument("year", type=int)
def calendar_show(year):
    from .services.clocks.calendar import year_days
    for d in year_days(year):
        click.echo(f"{d.day.isoformat()} {d.kind:8} {d.name}")


@click.group(cls=AppGroup, help="用户管理 (users)")
def users():
    pass


def _upsert_user(username, display_name, kind, groups, org_code=None, phone=None, token=None, region=None):
    from .models import User
    from .services.identity.actors import hash_token
    user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        user = User(username=username)
        db.session.add(user)
    user.display_name, user.kind, user.groups = display_name, kind, sorted(groups)
    user.org_code, user.phone = org_code, phone
    user.region_code = region or current_app.config["REGION_CODE"]
    token = token or secrets.token_urlsafe(24)
    user.token_hash = hash_token(token)
    return user, token


@users.command("add", help="Create or update a user and print a fresh API token.")
@click.argument("username")
@click.option("--name", "display_name", required=True)
@click.option("--kind", type=click.Choice(["staff", "applicant"]), required=True)
@click.option("--group", "groups", multiple=True, type=click.Choice(sorted(GROUPS)))
@click.option("--org-code", default=None)
@click.option("--password", default=None, help="also set a sign-in password (≥ 10 characters)")
def users_add(username, display_name, kind, groups, org_code, password):
    from .domain.codes import is_credit_code
    if org_code and not is_credit_code(org_code):
        raise click.BadParameter("统一社会信用代码校验位不正确", param_hint="--org-code")
    user, token = _upsert_user(username, display_name, kind, groups, org_code)
    if password:
        from .domain.errors import ValidationError
        from .services.identity.auth import set_password
        try:
            set_password(user, password)
        except ValidationError as exc:
            raise click.BadParameter(exc.message, param_hint="--password")
    db.session.commit()
    click.echo(token)


DEMO_USERS = [
    ("demo_applicant", "江苏示范能源科技有限公司", "applicant", [], "91320000MA1XY00001"),
    ("window1", "窗口 王敏", "staff", ["window"], None),
    ("invest1", "投资处 李强", "staff", ["investment"], None),
    ("invest_chief", "投资处处长 张伟", "staff", ["investment_chief"], None),
    ("energy1", "环资处 陈静", "staff", ["energy_saving"], None),
    ("energy_chief", "环资处处长 刘洋", "staff", ["energy_saving_chief"], None),
    ("power1", "电力处 周杰", "staff", ["power"], None),
    ("power_chief", "电力处处长 吴芳", "staff", ["power_chief"], None),
    ("foreign1", "外资处 郑爽", "staff", ["foreign_investment"], None),
    ("foreign_chief", "外资处处长 冯涛", "staff", ["foreign_investment_chief"], None),
    ("hightech1", "高技术处 何玲", "staff", ["high_tech"], None),
    ("hightech_chief", "高技术处处长 罗斌", "staff", ["high_tech_chief"], None),
    ("price1", "价格认定中心 马骏", "staff", ["price"], None),
    ("price_chief", "价格认定中心主任 韩梅", "staff", ["price_chief"], None),
    ("credit1", "信用处 朱琳", "staff", ["credit"], None),
    ("credit_chief", "信用处处长 秦川", "staff", ["credit_chief"], None),
    ("legal1", "法规处 许诺", "staff", ["legal"], None),
    ("legal_chief", "法规处处长 沈言", "staff", ["legal_chief"], None),
    ("assess1", "省工程咨询中心 评估员 邓远", "staff", ["assess_center"], None),
    ("leader1", "委领导 赵刚", "staff", ["leader"], None),
    ("head1", "委主任 钱明", "staff", ["leader", "head"], None),
    ("admin", "系统管理员", "staff", ["admin", "designer", "inspector"], None),
] + [(f"{code}_1", f"{name} 联络员", "staff", [code], None) for code, name in GROUPS.items()
     if code.startswith("cs_")]
#: demo users of another region (region separation): username, name, groups, region
DEMO_REGION_USERS = [("nj_invest1", "南京市发改委投资处 孙磊", ["investment"], "320100")]
DEMO_REGION_DEPARTMENTS = [("investment", "南京市发展和改革委员会 固定资产投资处", "320100", "division")]


@click.group(cls=AppGroup, help="演示数据 (demo data)")
def demo():
    pass


@demo.command("seed", help="Create the demo users (token = username) and deploy processes/.")
def demo_seed():
    from .domain.codes import credit_code_check_char
    from .models import Department
    from .services.cases.registry import deploy_directory
    from .services.clocks.calendar import seed_demo_years, seed_from_package
    from .services.common.clock import today_beijing
    from .services.identity.auth import set_password
    from .services.identity.org import find_department, seed_departments, set_roles_from_groups
    seed_from_package()
    for year in seed_demo_years(today_beijing()):
        click.echo(f"{year}: 演示日历（仅固定日期的法定节日）/ demo calendar with the fixed-date holidays only", err=True)
    own = current_app.config["REGION_CODE"]
    seed_departments(own)  # the departments of this deployment's region (a city's platform: the city's)
    # a province's platform also hosts a city's staff (region separation); another level's does not
    others = [d for d in DEMO_REGION_DEPARTMENTS if own.endswith("0000") and d[2][:2] == own[:2]]
    for code, name, region, kind in others:
        if find_department(code, region) is None:
            db.session.add(Department(code=code, name=name, region_code=region, kind=kind, active=True))
    db.session.flush()
    seeded = [(u, n, k, g, o, None) for u, n, k, g, o in DEMO_USERS] + \
             [(u, n, "staff", g, None, r) for u, n, g, r in DEMO_REGION_USERS if any(d[2] == r for d in others)]
    for username, name, kind, groups, org, region in seeded:
        if org:
            org = org[:17] + credit_code_check_char(org[:17])
        user, _ = _upsert_user(username, name, kind, groups, org, token=f"demo-{username}", region=region)
        set_password(user, f"demo-{username}-pass")
        db.session.flush()
        if kind == "staff":
            set_roles_from_groups(user, groups)
    _demo_applicant_profile()
    db.session.commit()
    deploy_directory(current_app.config["PROCESSES_DIR"], current_app.config["FORMS_DIR"])
    made = _demo_cases()
    click.echo(json.dumps({"demo_users": [u[0] for u in seeded], "token": "demo-<username>",
                           "demo_cases": made}, ensure_ascii=False))


DEMO_APPLICANT_MOBILE = "13800138000"


def _demo_applicant_profile() -> None:
    """The demo enterprise signs in on the portal with its mobile and an SMS code (shown on /dev/outbox
    while no Twilio account is configured)."""
    from sqlalchemy import select

    from .models import User
    from .models.accounts import ApplicantProfile
    user = db.session.execute(select(User).where(User.username == "demo_applicant")).scalar_one()
    user.phone = DEMO_APPLICANT_MOBILE
    if db.session.get(ApplicantProfile, user.id) is None:
        db.session.add(ApplicantProfile(user_id=user.id, kind="enterprise", name=user.display_name,
                                        credit_code=user.org_code, legal_representative="张明",
                                        contact_person="李华", mobile=DEMO_APPLICANT_MOBILE))


#: matters the demo enterprise applies for itself (its name, code and contacts in the start data)
DEMO_OWN_MATTERS = ("xmgl_beian",)


def _demo_owner(pid: str, start: dict):
    """Who files a demo case: the demo enterprise for DEMO_OWN_MATTERS (the start data made its own),
    else an applicant account of the organisation the start data names (``demo_<credit code>``, its
    contact phone as the mobile it signs in with): each account's 我的办件 holds only its own."""
    from sqlalchemy import select

    from .models import User
    from .models.accounts import ApplicantProfile
    code = start.get("applicant_code")
    if pid in DEMO_OWN_MATTERS or not code:
        user = db.session.execute(select(User).where(User.username == "demo_applicant")).scalar_one()
        profile = db.session.get(ApplicantProfile, user.id)
        own = {"applicant_name": user.display_name, "applicant_code": user.org_code, "contact_phone": profile.mobile,
               "legal_representative": profile.legal_representative, "contact_person": profile.contact_person}
        return user, {k: own.get(k, v) for k, v in start.items()}  # only the fields its form has
    name, phone = start.get("applicant_name") or code, start.get("contact_phone")
    user, _ = _upsert_user(f"demo_{code}", name, "applicant", [], code, phone, token=f"demo-demo_{code}")
    db.session.flush()
    taken = db.session.execute(select(ApplicantProfile.user_id).where(
        (ApplicantProfile.mobile == phone) | (ApplicantProfile.credit_code == code))).first()
    if phone and taken is None:  # a mobile or code of another account: this one signs in with its token only
        db.session.add(ApplicantProfile(user_id=user.id, kind="enterprise", name=name, credit_code=code,
                                        legal_representative=start.get("legal_representative"),
                                        contact_person=start.get("contact_person"), mobile=phone))
    db.session.commit()
    return user, start


def _demo_cases() -> list[str]:
    """A few applications from the shipped path tests' start data, so the inboxes are not empty:
    made once (only while there is no case at all), each by the account of the organisation it
    names (``_demo_owner``)."""
    from pathlib import Path

    from sqlalchemy import func, select

    from .models import Case
    from .services.cases.lifecycle import create_case
    from .services.identity.actors import actor_from_user
    if db.session.execute(select(func.count()).select_from(Case)).scalar():
        return []
    made = []
    for path in sorted(Path(current_app.config["PROCESSES_DIR"]).glob("*.scenarios.json")):
        scenarios = json.loads(path.read_text(encoding="utf-8")).get("scenarios") or []
        if scenarios:
            pid = path.name.split(".")[0]
            user, start = _demo_owner(pid, scenarios[0]["start"])
            actor = actor_from_user(user)
            try:
                case = create_case(actor, pid, start)
            except ValidationError:  # a 前置事项 (requires) not approved yet: the application waits as a draft
                case = create_case(actor, pid, start, submit=False)
            made.append(case.case_no or f"draft #{case.id}")
    return made


@click.group(cls=AppGroup, help="组织机构：部门、工作人员、角色 (departments, staff, roles)")
def org():
    pass


def _fail(exc) -> None:
    click.echo(f"失败: {exc.message}", err=True)
    for field, msgs in (exc.details or {}).items():
        click.echo(f"  {field}: {'; '.join(msgs)}", err=True)
    raise SystemExit(1)


def _org_call(fn, *args, **kwargs):
    from .domain.errors import DomainError
    from .services.identity.actors import SYSTEM
    try:
        return fn(SYSTEM, *args, **kwargs)
    except DomainError as exc:
        db.session.rollback()
        _fail(exc)


@org.command("departments", help="List departments (optionally of one region).")
@click.option("--region", default=None)
def org_departments(region):
    from .services.identity.org import list_departments
    for d in list_departments(region):
        click.echo(f"{d.region_code} {d.code:24} {d.kind:10} {'' if d.active else '(停用) '}{d.name}")


@org.command("department-add", help="Create a department: CODE (lower-case, as BPMN groups name it) NAME.")
@click.argument("code")
@click.argument("name")
@click.option("--region", default="320000", show_default=True)
@click.option("--kind", default="division", show_default=True,
              type=click.Choice(["division", "hall", "leadership", "external", "platform"]))
def org_department_add(code, name, region, kind):
    from .services.identity.org import create_department
    d = _org_call(create_department, code, name, region, kind)
    click.echo(f"created {d.region_code} {d.code}")


@org.command("users", help="List staff users with region, roles' groups and lock state.")
@click.option("--region", default=None)
@click.option("--role", default=None)
def org_users(region, role):
    from .services.identity.org import is_locked, list_users
    for u in _org_call(list_users, region_code=region, role_code=role):
        state = "inactive" if not u.active else "locked" if is_locked(u) else "ok"
        click.echo(f"{u.username:20} {u.region_code} {state:8} {','.join(u.groups or []) or '-':40} {u.display_name}")


@org.command("user-add", help="Create a staff user with a sign-in password.")
@click.argument("username")
@click.option("--name", "display_name", required=True)
@click.option("--region", default="320000", show_default=True)
@click.option("--phone", default=None)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def org_user_add(username, display_name, region, phone, password):
    from .services.identity.org import create_user
    u = _org_call(create_user, username, display_name, region, password, phone=phone)
    click.echo(f"created {u.username} ({u.region_code})")


@org.command("assign", help="Give USERNAME a ROLE (--dept CODE of a department in the user's region "
                            "for handler, chief, liaison).")
@click.argument("username")
@click.argument("role")
@click.option("--dept", default=None)
def org_assign(username, role, dept):
    from .services.identity.org import assign_role, get_user
    _org_call(assign_role, username, role, dept)
    click.echo(f"{username}: {', '.join(get_user(username).groups)}")


@org.command("unassign", help="Take ROLE (in --dept CODE) away from USERNAME.")
@click.argument("username")
@click.argument("role")
@click.option("--dept", default=None)
def org_unassign(username, role, dept):
    from .services.identity.org import get_user, remove_role
    _org_call(remove_role, username, role, dept)
    click.echo(f"{username}: {', '.join(get_user(username).groups) or '-'}")


@org.command("unlock", help="Clear USERNAME's failed sign-ins and lock.")
@click.argument("username")
def org_unlock(username):
    from .services.identity.org import unlock
    _org_call(unlock, username)
    click.echo(f"{username} unlocked")


@org.command("passwd", help="Set USERNAME's password (prompted unless --password).")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def org_passwd(username, password):
    from .services.identity.org import reset_password
    _org_call(reset_password, username, password)
    click.echo(f"{username}: password set")


@click.group("sms", cls=AppGroup, help="短信：发送与发件箱 (SMS through Twilio, outbox)")
def sms_cmd():
    pass


@sms_cmd.command("send", help="One pass of the SMS sender: send the due SMS through Twilio and exit.")
@click.option("--limit", type=int, default=None, help="At most this many SMS (default SMS_BATCH).")
def sms_send(limit):
    from .services.messaging.sms import deliver_pending
    counts = deliver_pending(limit=limit)
    if not counts["configured"]:
        click.echo("Twilio is not configured (TWILIO_ACCOUNT_SID …): SMS stay in the development outbox /dev/outbox")
    click.echo("claimed {claimed}, sent {sent}, retry later {retry}, failed {failed}, expired codes {expired}"
               .format(**counts))


@sms_cmd.command("outbox", help="List the newest SMS of the outbox (optionally for one phone).")
@click.option("--phone", default=None, help="Only this phone number.")
@click.option("--limit", type=int, default=20)
def sms_outbox(phone, limit):
    from .services.messaging.sms import recent_sms
    for n in recent_sms(phone, limit=max(1, min(limit, 500))):
        when = n.created_at.strftime("%Y-%m-%d %H:%M:%S") if n.created_at else ""
        click.echo(f"{n.id}\t{when}\t{n.recipient}\t{n.status}\t{n.provider_sid or '-'}\t"
                   f"attempts={n.attempts}\t{n.error_code or ''} {n.last_error or ''}".rstrip())
        click.echo(f"\t{n.text}")


@click.group("files", cls=AppGroup, help="存储的附件文件 (stored files under FILES_DIR)")
def files_cmd():
    pass


@files_cmd.command("sweep", help="Delete the stored files no row references any more, once older than the "
                                 "grace period (FILES_SWEEP_GRACE_SECONDS); the scheduler does this every "
                                 "FILES_SWEEP_SECONDS.")
@click.option("--grace-seconds", type=click.IntRange(min=0), default=None,
              help="only files last written or kept longer ago than this (default: FILES_SWEEP_GRACE_SECONDS)")
@click.option("--dry-run", is_flag=True, help="count what would go, delete nothing")
def files_sweep(grace_seconds, dry_run):
    from .services.common.blobs import sweep_files
    counts = sweep_files(grace_seconds, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{verb} {counts['deleted']} files ({counts['bytes']} bytes) of {counts['checked']} old enough")
