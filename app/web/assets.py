"""Browser assets: prebuilt dist files of the npm packages in package.json (bpmn-js, camunda-bpmn-js,
form-js), served from node_modules under ``/vendor/<name>`` — never committed bundles — and our own
small scripts: the shared ones in ``app/web/static`` (``/assets/static/js/diagram.js``,
``…/taskform.js``) and a wing's own in its ``static`` folder (``/designer/static/js/designer.js``). The one thing built: bpmnlint for the designer, bundled by scripts/setup with
esbuild (after ``npm ci``) into ``node_modules/.build/bpmnlint.js``.

Only the names of ``VENDOR`` are served (anything else is a 404). The URLs carry the package version
(``?v=18.31.1``; for the built file a hash of its content), so responses are cached for a year.
Without node_modules (``npm ci`` not run) the pages still render; the files answer 404 and the
scripts report that the library is missing.

Templates: ``{{ asset_tags('diagram', 'taskform') }}`` writes the <link>/<script> tags of a bundle,
``vendor_url(name)`` the URL of one file."""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, abort, send_file, url_for
from markupsafe import Markup, escape

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "node_modules"
YEAR = 365 * 24 * 3600

# name under /vendor/ → (npm package, path inside it)
VENDOR: dict[str, tuple[str, str]] = {
    "bpmn-navigated-viewer.js": ("bpmn-js", "dist/bpmn-navigated-viewer.production.min.js"),  # global BpmnJS
    "diagram-js.css": ("bpmn-js", "dist/assets/diagram-js.css"),
    "bpmn-js.css": ("bpmn-js", "dist/assets/bpmn-js.css"),
    "form-viewer.js": ("@bpmn-io/form-js", "dist/form-viewer.umd.js"),  # global FormViewer
    "form-js.css": ("@bpmn-io/form-js", "dist/assets/form-js.css"),  # includes the flatpickr styles
    # the designer: Camunda 7 modeler (bpmn-js + properties panel + camunda-bpmn-moddle built in)
    "camunda-platform-modeler.js": ("camunda-bpmn-js", "dist/camunda-platform-modeler.production.min.js"),  # global BpmnModeler
    "camunda-diagram-js.css": ("camunda-bpmn-js", "dist/assets/diagram-js.css"),
    "camunda-bpmn-js.css": ("camunda-bpmn-js", "dist/assets/bpmn-js.css"),
    "bpmn-embedded.css": ("camunda-bpmn-js", "dist/assets/bpmn-font/css/bpmn-embedded.css"),  # font inlined
    "properties-panel.css": ("camunda-bpmn-js", "dist/assets/properties-panel.css"),
    "element-templates.css": ("camunda-bpmn-js", "dist/assets/element-templates.css"),
    "color-picker.css": ("camunda-bpmn-js", "dist/assets/color-picker.css"),
    "popup-menu.css": ("camunda-bpmn-js", "dist/assets/popup-menu.css"),
    "form-editor.js": ("@bpmn-io/form-js", "dist/form-editor.umd.js"),  # global FormEditor
    "form-js-editor.css": ("@bpmn-io/form-js", "dist/assets/form-js-editor.css"),
    "draggle.css": ("@bpmn-io/form-js", "dist/assets/draggle.css"),
    "bpmnlint.js": (".build", "bpmnlint.js"),  # global BpmnLint, built by scripts/setup
}

# the page language for our scripts (t(), YG.localize): first of every bundle's own scripts; harmless
# when base.html loads it as well
I18N = ("assets.static", "js/i18n.js")
# bundle → vendor files, then our own scripts: (static endpoint, file) — app/web/static is
# "assets.static", a wing's static folder "<wing>.static"
BUNDLES: dict[str, tuple[tuple[str, ...], tuple[tuple[str, str], ...]]] = {
    "diagram": (("diagram-js.css", "bpmn-js.css", "bpmn-navigated-viewer.js"), (I18N, ("assets.static", "js/diagram.js"))),
    "taskform": (("form-js.css", "form-viewer.js"), (I18N, ("assets.static", "js/taskform.js"))),
    "designer": (("camunda-diagram-js.css", "camunda-bpmn-js.css", "bpmn-embedded.css", "properties-panel.css",
                  "element-templates.css", "color-picker.css", "popup-menu.css", "form-js.css",
                  "form-js-editor.css", "draggle.css", "camunda-platform-modeler.js", "form-editor.js",
                  "bpmnlint.js"), (I18N, ("assets.static", "js/taskform.js"), ("designer.static", "js/i18n/bpmn-zh.js"),
                                  ("designer.static", "js/i18n/designer-zh.js"), ("designer.static", "js/designer.js"))),
}

bp = Blueprint("assets", __name__, static_folder="static", static_url_path="/assets/static")


def vendor_path(name: str) -> Path | None:
    """The file behind a whitelisted name, or None (unknown name, or node_modules not installed)."""
    entry = VENDOR.get(name)
    if entry is None:
        return None
    path = NODE_MODULES / entry[0] / entry[1]
    return path if path.is_file() else None


@lru_cache(maxsize=None)
def _package_version(package: str) -> str:
    if package.startswith("."):  # built by scripts/setup: the content's hash is its version
        digest = hashlib.sha256()
        for path in sorted((NODE_MODULES / package).glob("*.js")):
            digest.update(path.read_bytes())
        return digest.hexdigest()[:12]
    try:
        return json.loads((NODE_MODULES / package / "package.json").read_text("utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        return "missing"


@bp.get("/vendor/<name>")
def vendor(name: str):
    path = vendor_path(name)
    if path is None:
        abort(404)
    response = send_file(path, max_age=YEAR, conditional=True)
    response.cache_control.public = True
    response.cache_control.immutable = True
    return response


@bp.app_template_global()
def vendor_url(name: str) -> str:
    if name not in VENDOR:
        raise KeyError(f"not a whitelisted vendor file: {name}")
    return url_for("assets.vendor", name=name, v=_package_version(VENDOR[name][0]))


@bp.app_template_global()
def asset_tags(*bundles: str) -> Markup:
    """<link> and <script> tags of the named bundles ('diagram', 'taskform', 'designer'), each file once."""
    seen: list[str] = []
    own: list[tuple[str, str]] = []
    for bundle in bundles:
        vendor_names, scripts = BUNDLES[bundle]
        seen += [n for n in vendor_names if n not in seen]
        own += [s for s in scripts if s not in own]
    tags = []
    for name in seen:
        url = escape(vendor_url(name))
        tags.append(f'<link rel="stylesheet" href="{url}">' if name.endswith(".css")
                    else f'<script src="{url}"></script>')
    for endpoint, script in own:
        tags.append(f'<script src="{escape(url_for(endpoint, filename=script))}"></script>')
    return Markup("\n".join(tags))
