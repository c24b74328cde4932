"""Automatic diagram layout (app/engine/layout.py, ``flask processes layout``): a shipped matter with
its DI stripped gets a shape for every flow node and an edge for every flow, boundary events on their
host's bottom edge, lanes around their nodes, the process part untouched, the same bytes every time;
the library files get their DI from the command; the designer's import lays out a file without DI."""
from __future__ import annotations

import re
import shutil

import pytest
from lxml import etree

from app.domain.errors import InvalidModel
from app.engine.layout import add_layout, missing_shapes, needs_layout
from tests.conftest import ROOT, make_app
from tests.web.designer.test_designer import app, dirs, post, signed_in  # noqa: F401  (fixtures: the designer's app)

B = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
BPMNDI = "{http://www.omg.org/spec/BPMN/20100524/DI}"
DC = "{http://www.omg.org/spec/DD/20100524/DC}"
DI = "{http://www.omg.org/spec/DD/20100524/DI}"
SHIPPED_WITH_DI = ["xmgl_hezhun", "xmgl_beian", "zjsq_zhongyang", "jnsc_jieneng", "xhd_rending"]
LIB = ["lib_window", "lib_countersign", "lib_decision"]


def strip_di(data: bytes) -> bytes:
    """The file as if written by hand: its bpmndi:BPMNDiagram removed, everything else as it was."""
    out = re.sub(rb"\s*<bpmndi:BPMNDiagram.*</bpmndi:BPMNDiagram>", b"", data, flags=re.S)
    assert out != data and b"BPMNShape" not in out
    return out


def shipped(name: str) -> bytes:
    folder = ROOT / "processes" / ("lib" if name.startswith("lib_") else "")
    return (folder / f"{name}.bpmn").read_bytes()


def canonical(root, tag: str) -> list[bytes]:
    return [etree.tostring(el, method="c14n") for el in root.iter(B + tag)]


def bounds(root) -> dict:
    out = {}
    for shape in root.iter(BPMNDI + "BPMNShape"):
        b = shape.find(DC + "Bounds")
        out[shape.get("bpmnElement")] = tuple(int(float(b.get(k))) for k in ("x", "y", "width", "height"))
    return out


def waypoints(root) -> dict:
    return {e.get("bpmnElement"): [(int(float(w.get("x"))), int(float(w.get("y")))) for w in e.iter(DI + "waypoint")]
            for e in root.iter(BPMNDI + "BPMNEdge")}


def on_outline(point, box) -> bool:
    x, y = point
    bx, by, w, h = box
    inside = bx <= x <= bx + w and by <= y <= by + h
    return inside and (x in (bx, bx + w) or y in (by, by + h))


def flow_nodes(root) -> list:
    kinds = ("Event", "Gateway", "Task", "task", "callActivity", "subProcess")
    return [el for proc in root.iter(B + "process") for el in proc.iter()
            if isinstance(el.tag, str) and el.tag.startswith(B) and el.tag[len(B):].endswith(kinds)]


@pytest.mark.parametrize("name", SHIPPED_WITH_DI)
def test_a_shipped_matter_without_its_di_gets_a_complete_layout(name):
    bare = strip_di(shipped(name))
    assert needs_layout(bare) and not needs_layout(shipped(name))
    out = add_layout(bare)
    root = etree.fromstring(out)
    boxes, edges = bounds(root), waypoints(root)
    nodes = flow_nodes(root)
    assert nodes and missing_shapes(root) == []
    assert {n.get("id") for n in nodes} <= set(boxes)
    flows = list(root.iter(B + "sequenceFlow"))
    assert {f.get("id") for f in flows} <= set(edges)
    for f in flows:     # orthogonal, from the source's outline to the target's
        points = edges[f.get("id")]
        assert len(points) >= 2 and on_outline(points[0], boxes[f.get("sourceRef")]), f.get("id")
        assert on_outline(points[-1], boxes[f.get("targetRef")]), f.get("id")
        assert all(a[0] == b[0] or a[1] == b[1] for a, b in zip(points, points[1:])), (f.get("id"), points)
    for n in nodes:     # standard sizes
        kind = n.tag[len(B):]
        size = boxes[n.get("id")][2:]
        assert size == ((36, 36) if kind.endswith("Event") else (50, 50) if kind.endswith("Gateway") else (100, 80))
    # the process part (and the collaboration) is exactly what it was, and the bytes before the DI too
    original = etree.fromstring(bare)
    assert canonical(root, "process") == canonical(original, "process")
    assert canonical(root, "collaboration") == canonical(original, "collaboration")
    end = bare.rindex(b"</bpmn:definitions>")
    assert out.startswith(bare[:end]) and out.endswith(bare[end:])
    # deterministic, and a laid-out file is left alone
    assert add_layout(bare) == out and add_layout(out) == out


@pytest.mark.parametrize("name", SHIPPED_WITH_DI + LIB)
def test_boundary_events_sit_on_the_bottom_edge_of_their_host(name):
    data = shipped(name)
    root = etree.fromstring(add_layout(strip_di(data) if not needs_layout(data) else data))
    boxes = bounds(root)
    events = list(root.iter(B + "boundaryEvent"))
    for ev in events:
        x, y, w, h = boxes[ev.get("id")]
        hx, hy, hw, hh = boxes[ev.get("attachedToRef")]
        assert y + h // 2 == hy + hh, ev.get("id")                 # centred on the host's bottom edge
        assert hx <= x + w // 2 <= hx + hw, ev.get("id")


def test_lanes_span_their_nodes_and_the_pool_holds_the_lanes():
    root = etree.fromstring(add_layout(strip_di(shipped("xmgl_hezhun"))))
    boxes = bounds(root)
    pool = boxes["Participant_xmgl_hezhun"]
    lanes = list(root.iter(B + "lane"))
    assert len(lanes) == 6
    previous_bottom = None
    for lane in lanes:
        lx, ly, lw, lh = boxes[lane.get("id")]
        assert pool[0] < lx and lx + lw == pool[0] + pool[2] and pool[1] <= ly and ly + lh <= pool[1] + pool[3]
        assert previous_bottom is None or ly >= previous_bottom    # bands do not overlap
        previous_bottom = ly + lh
        for ref in lane.iter(B + "flowNodeRef"):
            x, y, w, h = boxes[ref.text.strip()]
            assert lx < x and x + w <= lx + lw and ly <= y and y + h <= ly + lh, (lane.get("id"), ref.text)
    # layered left to right: the path of a case runs from 提交申请 to 准予核准
    order = ["start", "window_review", "gw_window", "ev_accepted", "division_review", "chief_review",
             "leader_decision", "end_approved"]
    xs = [boxes[i][0] for i in order]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)


def test_a_loop_back_to_an_earlier_step_does_not_break_the_layers():
    data = shipped("lib_window")
    root = etree.fromstring(add_layout(data if needs_layout(data) else strip_di(data)))
    boxes, edges = bounds(root), waypoints(root)
    chain = ["lib_window_start", "window_review", "gw_window", "correction"]
    assert [boxes[i][0] for i in chain] == sorted(boxes[i][0] for i in chain)
    # 补正 → 收件审查 runs back below the nodes it passes, entering the review from below
    back = edges["lw_f5"]
    assert back[0][1] == boxes["correction"][1] + 80 and back[-1][1] == boxes["window_review"][1] + 80
    assert max(y for _, y in back) > boxes["window_deemed"][1] + 36


@pytest.mark.parametrize("name", LIB)
def test_library_files_get_a_diagram_of_their_own_process(name):
    data = shipped(name)
    data = data if needs_layout(data) else strip_di(data)
    out = add_layout(data)
    root = etree.fromstring(out)
    assert not needs_layout(out) and missing_shapes(root) == []
    plane = root.find(f"{BPMNDI}BPMNDiagram/{BPMNDI}BPMNPlane")
    assert plane.get("bpmnElement") == name
    assert canonical(root, "process") == canonical(etree.fromstring(data), "process")


def test_an_incomplete_diagram_is_replaced_and_other_markup_is_kept():
    data = shipped("xmgl_beian")
    partial = re.sub(rb'<bpmndi:BPMNShape id="[^"]*" bpmnElement="start">.*?</bpmndi:BPMNShape>', b"", data,
                     count=1, flags=re.S)
    assert partial != data and needs_layout(partial)
    out = add_layout(partial)
    root = etree.fromstring(out)
    assert len(root.findall(BPMNDI + "BPMNDiagram")) == 1 and missing_shapes(root) == []
    assert canonical(root, "process") == canonical(etree.fromstring(data), "process")
    assert out.count(b"<?xml") == 1 and add_layout(out) == out


def test_undeclared_di_namespaces_collapsed_sub_processes_and_message_flows():
    xml = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <collaboration id="c">
    <participant id="p1" processRef="p" />
    <participant id="p2" name="outside" />
    <messageFlow id="m1" sourceRef="t1" targetRef="p2" />
  </collaboration>
  <process id="p" isExecutable="true">
    <startEvent id="s" /><sequenceFlow id="f1" sourceRef="s" targetRef="sub" />
    <subProcess id="sub">
      <startEvent id="s2" /><sequenceFlow id="f2" sourceRef="s2" targetRef="t2" />
      <task id="t2" /><sequenceFlow id="f3" sourceRef="t2" targetRef="e2" /><endEvent id="e2" />
    </subProcess>
    <sequenceFlow id="f4" sourceRef="sub" targetRef="t1" /><task id="t1" />
    <sequenceFlow id="f5" sourceRef="t1" targetRef="t1" />
    <sequenceFlow id="f6" sourceRef="t1" targetRef="e" /><endEvent id="e" />
  </process>
</definitions>
"""
    out = add_layout(xml)
    root = etree.fromstring(out)
    diagrams = root.findall(BPMNDI + "BPMNDiagram")
    assert [d.find(BPMNDI + "BPMNPlane").get("bpmnElement") for d in diagrams] == ["c", "sub"]
    boxes, edges = bounds(root), waypoints(root)
    assert {"p1", "p2", "s", "sub", "t1", "e", "s2", "t2", "e2"} <= set(boxes)
    assert {"m1", "f1", "f2", "f3", "f4", "f5", "f6"} <= set(edges)
    assert root.find(f".//{BPMNDI}BPMNShape[@bpmnElement='sub']").get("isExpanded") == "false"
    assert boxes["s2"] not in (boxes["s"],) and add_layout(out) == out


def test_what_is_not_bpmn_is_refused_clearly():
    for bad in (b"<html/>", b"not xml", b'<!DOCTYPE x [<!ENTITY a "b">]><x/>'):
        with pytest.raises(InvalidModel):
            add_layout(bad)


def test_the_command_lays_out_files_without_di_and_check_reports_them(db_url, tmp_path):
    folder = tmp_path / "processes"
    (folder / "lib").mkdir(parents=True)
    for name in LIB:     # as written by hand (the shipped ones have their DI since the command ran)
        data = shipped(name)
        (folder / "lib" / f"{name}.bpmn").write_bytes(strip_di(data) if not needs_layout(data) else data)
    shutil.copy(ROOT / "processes" / "xmgl_hezhun.bpmn", folder)
    (folder / "hand_written.bpmn").write_bytes(strip_di(shipped("xmgl_beian")))
    app = make_app(db_url, PROCESSES_DIR=str(folder))
    run = app.test_cli_runner().invoke
    before = run(args=["processes", "layout", "--check"])
    assert before.exit_code == 1 and "hand_written.bpmn" in before.output
    assert all(f"{n}.bpmn" in before.output for n in LIB) and "xmgl_hezhun.bpmn" not in before.output
    hezhun = (folder / "xmgl_hezhun.bpmn").read_bytes()
    done = run(args=["processes", "layout"])
    assert done.exit_code == 0, done.output
    assert (folder / "xmgl_hezhun.bpmn").read_bytes() == hezhun and "unchanged" in done.output
    for path in [folder / "hand_written.bpmn"] + [folder / "lib" / f"{n}.bpmn" for n in LIB]:
        assert not needs_layout(path.read_bytes()), path
    after = run(args=["processes", "layout", "--check"])
    assert after.exit_code == 0 and "all files have DI" in after.output
    # a file that is not BPMN is named, the others are still done, the exit code says so
    (folder / "broken.bpmn").write_text("<bpmn:definitions", encoding="utf-8")
    one = folder / "one.bpmn"
    one.write_bytes(shipped("lib_decision"))
    mixed = run(args=["processes", "layout", str(folder / "broken.bpmn"), str(one), str(tmp_path / "none.bpmn")])
    assert mixed.exit_code == 1 and "broken.bpmn" in mixed.output and "none.bpmn" in mixed.output
    assert not needs_layout(one.read_bytes())


def test_the_designer_lays_out_an_imported_file_without_di(app):
    c = signed_in(app, "d1")
    bare = strip_di(shipped("xmgl_beian")).decode("utf-8")
    doc = post(c, "/designer/import", {"bpmn": bare, "filename": "hand.bpmn"}).json
    assert doc["laid_out"] is True and "<bpmndi:BPMNShape" in doc["bpmn"]
    assert doc["bpmn"] == add_layout(bare.encode("utf-8")).decode("utf-8")
    with_di = shipped("xmgl_beian").decode("utf-8")
    again = post(c, "/designer/import", {"bpmn": with_di}).json
    assert again["laid_out"] is False and again["bpmn"] == with_di
