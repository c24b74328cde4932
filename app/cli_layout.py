"""``flask processes layout [FILES...] [--check]``: give BPMN files written by hand, without a diagram,
the DI the browser designer (bpmn-js) needs to show them (app/engine/layout.py). Without FILES: every
``processes/*.bpmn`` and ``processes/lib/*.bpmn``. ``--check`` writes nothing and exits 1 when a file
lacks DI (for CI, or before a commit)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from .domain.errors import InvalidModel
from .engine.layout import add_layout, needs_layout
from .engine.library import LIBRARY_DIR


def default_files() -> list[Path]:
    root = Path(current_app.config["PROCESSES_DIR"])
    return sorted(root.glob("*.bpmn")) + sorted((root / LIBRARY_DIR).glob("*.bpmn"))


def _write(path: Path, data: bytes) -> None:
    """Write through a temporary file in the same folder, then rename: a crash leaves the old file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@click.command("layout", help="为缺少图形信息 (BPMN DI) 的流程文件自动生成布局 (add a diagram to BPMN files without "
                              "one; default: processes/*.bpmn and processes/lib/*.bpmn). --check: write nothing, "
                              "list the files without DI and exit 1 when there are any.")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--check", is_flag=True, help="只检查，不写文件 (only check; exit 1 when a file lacks DI)")
@with_appcontext
def layout_cmd(files, check):
    paths = list(files) or default_files()
    if not paths:
        click.echo("没有找到流程文件 (no .bpmn files found)", err=True)
        raise SystemExit(1)
    lacking, failed = [], []
    for path in paths:
        try:
            data = path.read_bytes()
            if check:
                if needs_layout(data):
                    lacking.append(path)
                    click.echo(f"缺少布局 (no DI): {path}")
                continue
            out = add_layout(data)
        except OSError as exc:
            failed.append(path)
            click.echo(f"无法读取 (cannot read) {path}: {exc.strerror or exc}", err=True)
            continue
        except InvalidModel as exc:
            failed.append(path)
            detail = "; ".join(e["message"] for e in exc.errors) or exc.message
            click.echo(f"不是有效的 BPMN 文件 (not a BPMN file) {path}: {detail}", err=True)
            continue
        if out == data:
            click.echo(f"已有布局 (unchanged): {path}")
            continue
        try:
            _write(path, out)
        except OSError as exc:
            failed.append(path)
            click.echo(f"无法写入 (cannot write) {path}: {exc.strerror or exc}", err=True)
            continue
        click.echo(f"已生成布局 (layout added): {path}")
    if check and not lacking and not failed:
        click.echo(f"全部 {len(paths)} 个文件都有布局 (all files have DI)")
    if lacking or failed:
        raise SystemExit(1)
