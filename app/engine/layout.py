"""Automatic diagram layout: BPMN DI (``bpmndi:BPMNDiagram``) for process files written without one.

Matters and library processes are often written by hand, as XML, without a diagram; the browser
designer (bpmn-js) cannot show a model that has no DI. ``add_layout`` gives such a file a readable
left-to-right diagram and touches nothing else: the file's bytes are kept and the generated
``bpmndi:BPMNDiagram`` elements are inserted before ``</bpmn:definitions>`` (a file whose DI is
incomplete has its old DI removed, which re-serialises the rest of the tree — same elements,
attributes and text). Deterministic: document order breaks every tie.

The layout, per process (and per collapsed sub-process, which bpmn-js shows on a plane of its own):

* **layers** — a DFS from the start events along the sequence flows finds the back edges (a flow to
  a node still on the DFS stack: loops such as 补正 → 收件审查); without them the flows form a DAG
  and each node's layer is its longest path from a source. A boundary event's flows count as its
  host's, so what follows a timer stands to the right of the task it hangs on;
* **rows** — nodes of one layer are stacked vertically, in the band of their lane (one band when
  there are no lanes); each node asks for the mean row of its predecessors (a boundary event's
  target one row lower), so a straight path stays straight and branches fan out below;
* **sizes** — tasks, call activities and collapsed sub-processes 100×80, events 36×36, gateways
  50×50; boundary events sit on the bottom edge of their host;
* **edges** — orthogonal waypoints from the source's bounds to the target's: a straight line on one
  row, else one bend (gateways branch out from their top or bottom, joins are entered from theirs);
  back edges run below the nodes they pass;
* **pools and lanes** — a participant gets a pool around its process, each lane a band spanning its
  nodes (nested lanes inside their parent), pools of one collaboration share one width.

Labels are left to bpmn-js (it places an element's label itself when the DI has no label bounds).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from heapq import heappop, heappush
from xml.sax.saxutils import quoteattr

from lxml import etree

from .parser import BPMN_NS, FLOW_NODES, parse_xml

BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DI_NS = "http://www.omg.org/spec/DD/20100524/DI"
#: preferred prefixes when the definitions do not declare the DI namespaces themselves
PREFIXES = ((BPMNDI_NS, "bpmndi"), (DC_NS, "dc"), (DI_NS, "di"))
CONTAINERS = {"subProcess", "transaction", "adHocSubProcess"}

TASK = (100, 80)
EVENT = (36, 36)
GATEWAY = (50, 50)
H_GAP = 70          # between two columns: room for a bend and a flow's name
ROW_H = 130         # one row of a band: a task, its boundary events and the labels below them
BAND_PAD = 10
LANE_MIN_H = 150
POOL_LABEL_W = 30   # the name strip of a pool, and of each lane
LEFT = 160          # where pools (or, without one, the first column) begin
TOP = 60
POOL_GAP = 40
MARGIN = 50


def _local(el) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _is(el, ns: str, name: str) -> bool:
    return isinstance(el.tag, str) and el.tag == f"{{{ns}}}{name}"


def _size(kind: str) -> tuple[int, int]:
    if kind.endswith("Event"):
        return EVENT
    if kind.endswith("Gateway"):
        return GATEWAY
    return TASK


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int
    cx = property(lambda b: b.x + b.w // 2)
    cy = property(lambda b: b.y + b.h // 2)
    right = property(lambda b: b.x + b.w)
    bottom = property(lambda b: b.y + b.h)


@dataclass
class Plane:
    """The DI of one plane: shapes and edges in output order (element id, box or waypoints, attrs)."""
    element_id: str
    shapes: list = field(default_factory=list)
    edges: list = field(default_factory=list)
    boxes: dict = field(default_factory=dict)


def missing_shapes(root) -> list[str]:
    """The flow nodes (ids, document order) no BPMNShape of any diagram shows; every one of them when
    the file has no diagram at all."""
    shown = {s.get("bpmnElement") for s in root.iter(f"{{{BPMNDI_NS}}}BPMNShape")}
    nodes = [el.get("id") for proc in root.findall(f"{{{BPMN_NS}}}process") for el in proc.iter()
             if _is_flow_node(el)]
    return [n for n in nodes if n not in shown]


def needs_layout(xml: bytes) -> bool:
    """True when the file has no BPMNDiagram or one of its flow nodes has no shape. Raises
    InvalidModel (from the safe parser) for what is not a BPMN file."""
    root = parse_xml(xml, "<layout>", max_bytes=len(xml) + 1)
    return _needs(root)


def _needs(root) -> bool:
    has_diagram = root.find(f"{{{BPMNDI_NS}}}BPMNDiagram") is not None
    return not has_diagram or bool(missing_shapes(root))


@dataclass
class _Graph:
    nodes: list                 # the flow nodes drawn in columns (not boundary events)
    boundaries: dict            # host id -> [boundary event elements]
    flows: list                 # (flow element, source id, target id, from-node id, to-node id, from boundary)
    succ: dict                  # node id -> [(flow index, target id)]


def _graph(container) -> _Graph:
    elements = [el for el in container if _is_flow_node(el)]
    ids = {el.get("id") for el in elements}
    hosts = {el.get("id") for el in elements if _local(el) != "boundaryEvent"}
    host_of, boundaries = {}, {}
    for el in elements:
        host = el.get("attachedToRef")
        if _local(el) == "boundaryEvent" and host in hosts:
            host_of[el.get("id")] = host
            boundaries.setdefault(host, []).append(el)
    nodes = [el for el in elements if el.get("id") not in host_of]
    succ = {el.get("id"): [] for el in nodes}
    flows = []
    for f in container:
        if not _is(f, BPMN_NS, "sequenceFlow"):
            continue
        s, t = f.get("sourceRef"), f.get("targetRef")
        if s not in ids or t not in ids:
            continue        # a dangling reference is the parser's to report, not the layout's
        a, b = host_of.get(s, s), host_of.get(t, t)
        succ[a].append((len(flows), b))
        flows.append((f, s, t, a, b, s in host_of))
    return _Graph(nodes, boundaries, flows, succ)


def _is_flow_node(el) -> bool:
    return isinstance(el.tag, str) and el.tag.startswith(f"{{{BPMN_NS}}}") and _local(el) in FLOW_NODES \
        and bool(el.get("id"))


def _back_edges(g: _Graph) -> set[int]:
    """Flows closing a cycle: found by an iterative DFS from the start events, then from nodes
    nothing flows into, then from whatever is left (document order everywhere)."""
    incoming = {t for lst in g.succ.values() for _, t in lst}
    roots = [n.get("id") for n in g.nodes if _local(n) == "startEvent"]
    roots += [n.get("id") for n in g.nodes if n.get("id") not in incoming]
    roots += [n.get("id") for n in g.nodes]
    state, back = {}, set()
    for root in roots:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(g.succ[root]))]
        while stack:
            node, it = stack[-1]
            for index, target in it:
                if state.get(target) == 1:
                    back.add(index)
                elif target not in state:
                    state[target] = 1
                    stack.append((target, iter(g.succ[target])))
                    break
            else:
                state[node] = 2
                stack.pop()
    return back


def _layers(g: _Graph, back: set[int]) -> dict[str, int]:
    """Longest path from a source over the forward flows (Kahn's order, ties by document order)."""
    order = {n.get("id"): i for i, n in enumerate(g.nodes)}
    indeg = dict.fromkeys(order, 0)
    for lst in g.succ.values():
        for index, t in lst:
            if index not in back:
                indeg[t] += 1
    layer = dict.fromkeys(order, 0)
    heap = [(i, n) for n, i in order.items() if indeg[n] == 0]
    while heap:
        _, n = heappop(heap)
        for index, t in g.succ[n]:
            if index in back:
                continue
            layer[t] = max(layer[t], layer[n] + 1)
            indeg[t] -= 1
            if indeg[t] == 0:
                heappush(heap, (order[t], t))
    return layer


def _lanes(container) -> list[list]:
    """Every lane of the container's lane sets, parents before their children: [lane, depth, leaf]."""
    out = []

    def walk(lane_set, depth):
        for lane in lane_set.findall(f"{{{BPMN_NS}}}lane"):
            if not lane.get("id"):
                continue
            child = lane.find(f"{{{BPMN_NS}}}childLaneSet")
            entry = [lane, depth, True]
            out.append(entry)
            if child is not None and child.find(f"{{{BPMN_NS}}}lane") is not None:
                entry[2] = False
                walk(child, depth + 1)

    for lane_set in container.findall(f"{{{BPMN_NS}}}laneSet"):
        walk(lane_set, 0)
    return out


def _band_of(lanes: list[list], node_ids: set[str]) -> dict[str, int]:
    """Each node's band: the index (in ``lanes``) of its leaf lane. A node named only by a parent
    lane goes to that parent's first leaf."""
    band = {}
    for leaf_pass in (True, False):
        for i, (lane, _, leaf) in enumerate(lanes):
            if leaf != leaf_pass:
                continue
            target = i if leaf else next((j for j in range(i + 1, len(lanes)) if lanes[j][2]), None)
            if target is None:
                continue
            for ref in lane.findall(f"{{{BPMN_NS}}}flowNodeRef"):
                nid = (ref.text or "").strip()
                if nid in node_ids and nid not in band:
                    band[nid] = target
    return band


def _rows(g: _Graph, back: set[int], layer: dict, band: dict) -> dict[str, int]:
    """Row of each node inside its band: layer by layer, a node asks for the mean row of its forward
    predecessors in the same band (+1 behind a boundary event) and gets the first free row from there;
    of two asking for one row, the one with the longer way still to go keeps it (the main path stays
    straight, an end event steps aside)."""
    preds = {n.get("id"): [] for n in g.nodes}
    ahead = dict.fromkeys(preds, 0)     # the longest forward path from the node on
    for index, (_, _, _, a, b, from_boundary) in enumerate(g.flows):
        if index not in back:
            preds[b].append((a, 1 if from_boundary else 0))
    for nid in sorted(preds, key=lambda n: -layer[n]):
        for p, _ in preds[nid]:
            ahead[p] = max(ahead[p], ahead[nid] + 1)
    order = {n.get("id"): -ahead[n.get("id")] * len(preds) + i for i, n in enumerate(g.nodes)}
    row = {}
    by_slot: dict[tuple, list] = {}
    for n in g.nodes:
        nid = n.get("id")
        by_slot.setdefault((layer[nid], band.get(nid, -1)), []).append(nid)
    for lay in sorted({k[0] for k in by_slot}):
        for key in sorted(k for k in by_slot if k[0] == lay):
            wanted = []
            for nid in by_slot[key]:
                rs = [row[p] + extra for p, extra in preds[nid] if p in row and band.get(p, -1) == key[1]]
                want = (2 * sum(rs) + len(rs)) // (2 * len(rs)) if rs else 0
                wanted.append((want, order[nid], nid))
            last = -1
            for want, _, nid in sorted(wanted):
                last = max(want, last + 1)
                row[nid] = last
    return row


@dataclass
class _Laid:
    """One container laid out from (x0, y0): boxes of its nodes, bands, its flows' waypoints."""
    graph: _Graph
    boxes: dict
    lanes: list          # [lane, depth, leaf] as _lanes
    bands: list          # (lane index or -1, top, height)
    edges: list          # (flow id, waypoints)
    right: int
    bottom: int


def _place(container, x0: int, y0: int, min_band_h: int) -> _Laid:
    g = _graph(container)
    back = _back_edges(g)
    layer = _layers(g, back)
    lanes = _lanes(container)
    ids = {n.get("id") for n in g.nodes}
    band = _band_of(lanes, ids) if lanes else {}
    row = _rows(g, back, layer, band)
    columns = max(layer.values(), default=-1) + 1
    col_w = [EVENT[0]] * columns
    for n in g.nodes:
        col_w[layer[n.get("id")]] = max(col_w[layer[n.get("id")]], _size(_local(n))[0])
    col_x, x = [], x0
    for w in col_w:
        col_x.append(x)
        x += w + H_GAP
    band_keys = [i for i, entry in enumerate(lanes) if entry[2]]
    if not lanes or any(band.get(n) is None for n in ids):
        band_keys.append(-1)
    bands, top = [], y0
    for key in band_keys:
        rows = max((row[n] + 1 for n in ids if band.get(n, -1) == key), default=0)
        height = max(rows * ROW_H + 2 * BAND_PAD, min_band_h)
        bands.append((key, top, height))
        top += height
    band_top = {key: (t, h, max((row[n] + 1 for n in ids if band.get(n, -1) == key), default=0))
                for key, t, h in bands}
    boxes = {}
    for n in g.nodes:
        nid = n.get("id")
        w, h = _size(_local(n))
        t, bh, rows = band_top[band.get(nid, -1)]
        cy = t + (bh - rows * ROW_H) // 2 + row[nid] * ROW_H + ROW_H // 2
        boxes[nid] = Box(col_x[layer[nid]] + (col_w[layer[nid]] - w) // 2, cy - h // 2, w, h)
    for host, events in g.boundaries.items():
        hb = boxes[host]
        step = (hb.w - 44) // max(len(events) - 1, 1)
        for k, ev in enumerate(events):     # from the right corner leftwards: back edges enter on the left
            cx = hb.right - 22 - k * step
            boxes[ev.get("id")] = Box(cx - EVENT[0] // 2, hb.bottom - EVENT[1] // 2, *EVENT)
    edges = _route_all(g, back, layer, boxes)
    right = max((b.right for b in boxes.values()), default=x0)
    return _Laid(g, boxes, lanes, bands, edges, right, top)


def _route_all(g: _Graph, back: set[int], layer: dict, boxes: dict) -> list:
    kinds = {el.get("id"): _local(el) for el in g.nodes}
    edges, loops = [], 0
    for index, (f, s, t, a, b, from_boundary) in enumerate(g.flows):
        sb, tb = boxes[s], boxes[t]
        points = None
        if index not in back and layer[b] > layer[a]:
            points = _route_forward(sb, tb, from_boundary, kinds.get(s, ""), kinds.get(t, ""), boxes)
        if points is None:      # a loop, or no clear way forward: below the nodes in between
            points = _route_under(sb, tb, boxes, loops)
            loops += 1
        if f.get("id"):
            edges.append((f.get("id"), points))
    return edges


def _route_forward(s: Box, t: Box, from_boundary: bool, skind: str, tkind: str, boxes: dict) -> list | None:
    """The first of a few orthogonal routes that crosses no other node; None when each of them does."""
    near_s, near_t = s.right + H_GAP // 2, t.x - H_GAP // 2
    candidates = []
    if from_boundary:
        if t.cy > s.bottom:
            candidates.append([(s.cx, s.bottom), (s.cx, t.cy), (t.x, t.cy)])
        y = s.bottom + 20
        candidates.append([(s.cx, s.bottom), (s.cx, y), (near_t, y), (near_t, t.cy), (t.x, t.cy)])
    elif s.cy == t.cy:
        candidates.append([(s.right, s.cy), (t.x, t.cy)])
    else:
        if skind.endswith("Gateway"):
            candidates.append([(s.cx, s.bottom if t.cy > s.cy else s.y), (s.cx, t.cy), (t.x, t.cy)])
        if tkind.endswith("Gateway"):
            candidates.append([(s.right, s.cy), (t.cx, s.cy), (t.cx, t.y if s.cy < t.cy else t.bottom)])
        candidates.append([(s.right, s.cy), (near_t, s.cy), (near_t, t.cy), (t.x, t.cy)])
        candidates.append([(s.right, s.cy), (near_s, s.cy), (near_s, t.cy), (t.x, t.cy)])
    others = [b for b in boxes.values() if b != s and b != t]
    return next((p for p in candidates if not any(_crosses(p, b) for b in others)), None)


def _crosses(points: list, b: Box) -> bool:
    """Does the polyline run through the inside of ``b`` (touching its outline is fine)?"""
    for (x1, y1), (x2, y2) in zip(points, points[1:]):
        if min(x1, x2) < b.right and max(x1, x2) > b.x and min(y1, y2) < b.bottom and max(y1, y2) > b.y:
            return True
    return False


def _route_under(s: Box, t: Box, boxes: dict, k: int) -> list:
    """Down from the source, left (or right) below every node in between, up into the target."""
    if s == t:
        y = s.bottom + 25
        return [(s.cx + s.w // 4, s.bottom), (s.cx + s.w // 4, y), (s.cx - s.w // 4, y), (s.cx - s.w // 4, s.bottom)]
    lo, hi = min(s.cx, t.cx), max(s.cx, t.cx)
    top, bottom = min(s.y, t.y), max(s.bottom, t.bottom)
    below = max([b.bottom for b in boxes.values() if lo <= b.cx <= hi and b.y < bottom and b.bottom > top]
                + [bottom])
    y = below + 20 + 10 * (k % 4)
    sx, tx = (b.x + b.w // 4 if b.w >= TASK[0] else b.cx for b in (s, t))
    return [(sx, s.bottom), (sx, y), (tx, y), (tx, t.bottom)]


def _lane_depth(lanes: list) -> int:
    return max((depth for _, depth, _ in lanes), default=-1) + 1


def _add_container(plane: Plane, planes: list, container, laid: _Laid, lane_x: int, right: int) -> None:
    """Shapes of the container's lanes, nodes (document order, boundary events included) and edges;
    a collapsed sub-process gets a plane of its own, appended to ``planes``."""
    lanes = laid.lanes
    band_box = {key: (top, height) for key, top, height in laid.bands}
    for i, (lane, depth, leaf) in enumerate(lanes):
        if leaf:
            top, height = band_box[i]
        else:
            kids = [j for j in range(i + 1, len(lanes)) if lanes[j][2]]
            end = next((j for j in range(i + 1, len(lanes)) if lanes[j][1] <= depth), len(lanes))
            kids = [j for j in kids if j < end]
            if not kids:
                continue
            top = band_box[kids[0]][0]
            height = band_box[kids[-1]][0] + band_box[kids[-1]][1] - top
        x = lane_x + depth * POOL_LABEL_W
        box = Box(x, top, right - x, height)
        plane.shapes.append((lane.get("id"), box, {"isHorizontal": "true"}))
        plane.boxes[lane.get("id")] = box
    for el in container:
        if not _is_flow_node(el) or el.get("id") not in laid.boxes:
            continue
        kind, attrs = _local(el), {}
        if kind == "exclusiveGateway":
            attrs["isMarkerVisible"] = "true"
        if kind in CONTAINERS:
            attrs["isExpanded"] = "false"
            planes.append(_standalone(el, planes))
        box = laid.boxes[el.get("id")]
        plane.shapes.append((el.get("id"), box, attrs))
        plane.boxes[el.get("id")] = box
    plane.edges.extend(laid.edges)


def _standalone(container, planes: list) -> Plane:
    """A process outside any pool, or a collapsed sub-process on its own plane."""
    plane = Plane(container.get("id"))
    lanes = _lanes(container)
    x0 = LEFT + (POOL_LABEL_W * _lane_depth(lanes) + MARGIN if lanes else 0)
    laid = _place(container, x0, TOP, LANE_MIN_H if lanes else 0)
    _add_container(plane, planes, container, laid, LEFT, laid.right + MARGIN)
    return plane


def _collaboration(collab, processes: dict, planes: list) -> tuple[Plane, set]:
    plane, used, pools = Plane(collab.get("id")), set(), []
    y = TOP
    for part in collab.findall(f"{{{BPMN_NS}}}participant"):
        if not part.get("id"):
            continue
        proc = processes.get(part.get("processRef"))
        if proc is None or proc.get("id") in used:
            pools.append((part, None, None, y))
            y += 100 + POOL_GAP
            continue
        used.add(proc.get("id"))
        lanes = _lanes(proc)
        x0 = LEFT + POOL_LABEL_W + (POOL_LABEL_W * _lane_depth(lanes) if lanes else 0) + MARGIN
        laid = _place(proc, x0, y, LANE_MIN_H if lanes else 2 * ROW_H)
        pools.append((part, proc, laid, y))
        y = laid.bottom + POOL_GAP
    right = max([laid.right + MARGIN for _, _, laid, _ in pools if laid is not None] + [LEFT + 600])
    sub_planes: list = []
    for part, proc, laid, top in pools:
        height = (laid.bottom - top) if laid is not None else 100
        box = Box(LEFT, top, right - LEFT, height)
        plane.shapes.append((part.get("id"), box, {"isHorizontal": "true"}))
        plane.boxes[part.get("id")] = box
        if laid is not None:
            _add_container(plane, sub_planes, proc, laid, LEFT + POOL_LABEL_W, right)
    for mf in collab.findall(f"{{{BPMN_NS}}}messageFlow"):
        s, t = plane.boxes.get(mf.get("sourceRef")), plane.boxes.get(mf.get("targetRef"))
        if s is not None and t is not None and mf.get("id"):
            plane.edges.append((mf.get("id"), _route_message(s, t)))
    planes.extend(sub_planes)
    return plane, used


def _route_message(s: Box, t: Box) -> list:
    if t.y >= s.bottom or t.bottom <= s.y:
        down = t.y >= s.bottom
        y1, y2 = (s.bottom, t.y) if down else (s.y, t.bottom)
        if s.cx == t.cx or s.w > 400 or t.w > 400:
            x = t.cx if s.w > 400 else s.cx
            return [(x, y1), (x, y2)]
        mid = (y1 + y2) // 2
        return [(s.cx, y1), (s.cx, mid), (t.cx, mid), (t.cx, y2)]
    return [(s.right, s.cy), (t.x, t.cy)] if t.x >= s.right else [(s.x, s.cy), (t.right, t.cy)]


def _planes(root) -> list[Plane]:
    processes = {p.get("id"): p for p in root.findall(f"{{{BPMN_NS}}}process") if p.get("id")}
    planes: list = []
    used: set = set()
    collab = root.find(f"{{{BPMN_NS}}}collaboration")
    head = []
    if collab is not None and collab.get("id") and collab.find(f"{{{BPMN_NS}}}participant") is not None:
        plane, used = _collaboration(collab, processes, planes)
        head.append(plane)
    for pid, proc in processes.items():
        if pid not in used:
            extra: list = []
            head.append(_standalone(proc, extra))
            planes.extend(extra)
    return head + planes


def _prefixes(root) -> tuple[dict, list]:
    """The prefix of each DI namespace: the definitions' own, else a free one, declared on each diagram."""
    nsmap = root.nsmap
    chosen, declare = {}, []
    for uri, preferred in PREFIXES:
        own = sorted(p for p, u in nsmap.items() if u == uri and p)
        if own:
            chosen[uri] = preferred if preferred in own else own[0]
            continue
        name, i = preferred, 1
        while name in nsmap or name in chosen.values():
            name, i = f"{preferred}{i}", i + 1
        chosen[uri] = name
        declare.append((name, uri))
    return chosen, declare


def _render(planes: list, root, indent: str) -> str:
    chosen, declare = _prefixes(root)
    b, dc, di = chosen[BPMNDI_NS], chosen[DC_NS], chosen[DI_NS]
    taken = {el.get("id") for el in root.iter() if isinstance(el.tag, str) and el.get("id")}

    def new_id(base: str) -> str:
        candidate, i = base, 2
        while candidate in taken:
            candidate, i = f"{base}_{i}", i + 1
        taken.add(candidate)
        return quoteattr(candidate)

    decl = "".join(f" xmlns:{p}={quoteattr(u)}" for p, u in declare)
    lines = []
    for plane in planes:
        ref = quoteattr(plane.element_id)
        lines.append((0, f"<{b}:BPMNDiagram id={new_id('BPMNDiagram_' + plane.element_id)}{decl}>"))
        lines.append((1, f"<{b}:BPMNPlane id={new_id('BPMNPlane_' + plane.element_id)} bpmnElement={ref}>"))
        for element_id, box, attrs in plane.shapes:
            extra = "".join(f" {k}={quoteattr(v)}" for k, v in attrs.items())
            lines.append((2, f"<{b}:BPMNShape id={new_id(element_id + '_di')} bpmnElement={quoteattr(element_id)}{extra}>"))
            lines.append((3, f'<{dc}:Bounds x="{box.x}" y="{box.y}" width="{box.w}" height="{box.h}" />'))
            lines.append((2, f"</{b}:BPMNShape>"))
        for element_id, points in plane.edges:
            lines.append((2, f"<{b}:BPMNEdge id={new_id(element_id + '_di')} bpmnElement={quoteattr(element_id)}>"))
            lines.extend((3, f'<{di}:waypoint x="{x}" y="{y}" />') for x, y in points)
            lines.append((2, f"</{b}:BPMNEdge>"))
        lines.append((1, f"</{b}:BPMNPlane>"))
        lines.append((0, f"</{b}:BPMNDiagram>"))
    return "".join(indent * (level + 1) + text + "\n" for level, text in lines)


def _drop_diagrams(root) -> None:
    """Remove the old (incomplete) DI, keeping the whitespace layout of what stays."""
    for diagram in root.findall(f"{{{BPMNDI_NS}}}BPMNDiagram"):
        prev = diagram.getprevious()
        if prev is not None:
            if not (prev.tail or "").strip():
                prev.tail = diagram.tail
        elif not (root.text or "").strip():
            root.text = diagram.tail
        root.remove(diagram)


def add_layout(xml: bytes) -> bytes:
    """``xml`` with a generated diagram when it has none, or one that misses a flow node's shape;
    else ``xml`` unchanged. Everything but the DI is kept (the bytes, when the file had no DI).
    Raises InvalidModel (from the safe parser) for what is not a BPMN file."""
    root = parse_xml(xml, "<layout>", max_bytes=len(xml) + 1)
    if not _needs(root):
        return xml
    planes = _planes(root)
    if not planes:
        return xml
    base = xml
    encoding = (root.getroottree().docinfo.encoding or "UTF-8").upper()
    if root.find(f"{{{BPMNDI_NS}}}BPMNDiagram") is not None or encoding not in ("UTF-8", "UTF8"):
        _drop_diagrams(root)
        base = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
                + etree.tostring(root.getroottree(), encoding="UTF-8", xml_declaration=False))
    text = root.text or ""
    indent = text.lstrip("\r\n") if text.strip() == "" and text.lstrip("\r\n") else "  "
    qname = f"{root.prefix}:definitions" if root.prefix else "definitions"
    end = base.rfind(b"</" + qname.encode("utf-8"))
    if end < 0:
        return xml      # a self-closed definitions holds no process: nothing to draw
    head = base[:end]
    if not head.endswith(b"\n"):
        head += b"\n"
    return head + _render(planes, root, indent).encode("utf-8") + base[end:]
