"""``flask processes import FILE [--defaults] [--group G] [--accept ID[=VALUE] ...] [--write]``: the
import assistant (app/services/design/import_assistant.py) on the command line. It lists what the
file lacks for this platform (one finding per element, with the proposed fix), makes the fixes asked
for (``--defaults``: every fix marked as a default; ``--accept``: one finding, with its default or
the VALUE given), and runs the deploy check on the result. ``--write`` puts the result into
PROCESSES_DIR (``<id>.bpmn``, ``<id>.matter.json`` when there is none yet) and the forms it created
into FORMS_DIR — never over a different existing file, and only when the check passes, so that
``flask processes deploy`` deploys it. Exit 1 while the result still has check errors."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from .domain.errors import InvalidModel, ValidationError
from .services.design import import_assistant
from .services.identity.actors import SYSTEM


def _accepted(pairs: tuple[str, ...]) -> dict:
    out: dict = {}
    for pair in pairs:
        fid, sep, value = pair.partition("=")
        out[fid.strip()] = value if sep else True
    return out


def _json_bytes(obj) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _write(path: Path, data: bytes) -> None:
    """Through a temporary file in the same folder, then renamed: a crash leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _files(result: dict) -> tuple[dict[Path, bytes], list[str]]:
    """What --write puts where, and the existing different files that stop it."""
    processes = Path(current_app.config["PROCESSES_DIR"])
    forms_dir = Path(current_app.config["FORMS_DIR"])
    pid = result["process_id"]
    files = {processes / f"{pid}.bpmn": result["bpmn"].encode("utf-8")}
    meta = processes / f"{pid}.matter.json"
    if not meta.exists():
        files[meta] = _json_bytes(result["matter"])
    for form_id, form in result["forms"].items():
        files[forms_dir / f"{form_id}.form.json"] = _json_bytes(form)
    clashes = [str(p) for p, data in files.items() if p.exists() and p.read_bytes() != data]
    return {p: d for p, d in files.items() if not (p.exists() and p.read_bytes() == d)}, clashes


@click.command("import", help="导入外部建模工具的 BPMN 文件：列出平台需要而文件缺少的内容并给出修复 (the import "
                              "assistant: list what FILE lacks, make the fixes asked for, run the deploy check; "
                              "--write puts the result into processes/ and forms/).")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--defaults", is_flag=True, help="执行所有默认修复 (make every fix marked as a default)")
@click.option("--group", default=None, help="默认办理部门 (the default group for people fixes)")
@click.option("--accept", "accepts", multiple=True, metavar="ID[=VALUE]",
              help="执行一项修复，可指定值 (make one fix, with its default or VALUE); repeatable")
@click.option("--write", is_flag=True, help="写入 processes/ 和 forms/ (write the result; never over a different file)")
@with_appcontext
def import_cmd(file, defaults, group, accepts, write):
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        click.echo(f"无法读取 (cannot read) {file}: {getattr(exc, 'strerror', None) or exc}", err=True)
        raise SystemExit(2)
    payload = {"bpmn": text, "filename": file.name, "accept": _accepted(accepts), "defaults": defaults}
    if group is not None:
        payload["group"] = group
    try:
        found = import_assistant.import_document(SYSTEM, {"bpmn": text, "filename": file.name})["assistant"]
        result = import_assistant.apply(SYSTEM, payload)
    except InvalidModel as exc:
        click.echo(f"无法导入 (cannot import) {file}: {exc.message}", err=True)
        for e in exc.errors:
            click.echo(f"  {e.get('file')} [{e.get('element') or '-'}] {e.get('message')}", err=True)
        raise SystemExit(1)
    except ValidationError as exc:
        click.echo(f"无法导入 (cannot import) {file}: {exc.message}", err=True)
        for key, problems in (exc.details or {}).items():
            click.echo(f"  {key}: {'; '.join(map(str, problems))}", err=True)
        raise SystemExit(1)
    click.echo(f"{file.name}: {len(found['findings'])} 项发现 (findings)")
    for f in found["findings"]:
        fix = f["fix"]
        default = "" if fix is None else f"  → {fix['default']}{'' if fix['by_default'] else ' (须确认 not a default)'}"
        click.echo(f"  {f['id']}  [{f['element'] or '-'}] {f['message']}{default}")
    if defaults or accepts:
        click.echo(f"已修复 (applied): {', '.join(result['applied']) or '无 (none)'}")
        if result["findings"]:
            click.echo("仍需处理 (remaining):")
            for f in result["findings"]:
                click.echo(f"  {f['id']}  [{f['element'] or '-'}] {f['message']}")
    if result["errors"]:
        click.echo(f"部署检查 {len(result['errors'])} 处错误 (deploy check errors):")
        for e in result["errors"]:
            click.echo(f"  {e.get('file')} [{e.get('element') or '-'}] {e.get('message')}")
    else:
        click.echo(f"部署检查通过 (the deploy check passes): {result['process_id']}")
    if write:
        if result["errors"]:
            click.echo("未写入：结果仍有检查错误 (not written: the result does not pass the check)", err=True)
            raise SystemExit(1)
        files, clashes = _files(result)
        if clashes:
            for path in clashes:
                click.echo(f"未写入：已有不同的文件 (not written: a different file exists) {path}", err=True)
            raise SystemExit(1)
        for path, data in files.items():
            _write(path, data)
            click.echo(f"已写入 (written): {path}")
        click.echo("用 flask processes deploy 部署 (deploy with flask processes deploy)")
    raise SystemExit(1 if result["errors"] else 0)
