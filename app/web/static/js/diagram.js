/* Process diagram with the case's progress: bpmn-js NavigatedViewer (global BpmnJS from
 * /vendor/bpmn-navigated-viewer.js), fitted to its container, current steps highlighted strongly
 * (marker class hl-current), steps done and sequence flows taken softly (hl-done).
 *
 *   renderDiagram(container, bpmnXml, {current: [ids], done: [ids], flows: [ids]})
 *     → Promise<{viewer, warnings, missing}>   (missing: highlighted ids not in the diagram)
 *
 * The container needs a height (CSS); the viewer fills it. Pan with drag, zoom with ctrl+wheel.
 */
(function (global) {
  'use strict';

  var t = global.t || function (s, p) {              // static/js/i18n.js: the page language
    return p ? String(s).replace(/{(\w+)}/g, function (a, k) { return k in p ? p[k] : a; }) : s;
  };
  var STYLE_ID = 'hl-diagram-style';
  var CSS = [
    '.hl-diagram{position:relative;background:#fff;overflow:hidden}',
    /* the bpmn.io watermark (.bjs-powered-by) stays as bpmn-js draws it: its licence says it must
       not be removed, changed or covered (docs/designer.md, Language) */
    /* current step: strong red outline and light fill */
    '.hl-diagram .djs-shape.hl-current .djs-visual>:first-child{stroke:#b71c1c!important;stroke-width:4px!important;fill:#fde2e2!important}',
    '.hl-diagram .djs-shape.hl-current .djs-visual>text{fill:#b71c1c!important;font-weight:bold}',
    '.hl-diagram .djs-shape.hl-current .djs-outline{visibility:visible;stroke:#b71c1c;stroke-width:2px;stroke-dasharray:4 3}',
    /* path taken: soft green */
    '.hl-diagram .djs-shape.hl-done .djs-visual>:first-child{stroke:#2e7d32!important;fill:#eef7ee!important}',
    '.hl-diagram .djs-connection.hl-done .djs-visual>path{stroke:#43a047!important;stroke-width:3px!important}'
  ].join('\n');

  function ensureStyle() {
    if (document.getElementById(STYLE_ID)) { return; }
    var style = document.createElement('style');
    style.id = STYLE_ID;
    style.textContent = CSS;
    document.head.appendChild(style);
  }

  function fail(container, message) {
    var p = document.createElement('p');
    p.className = 'error hl-diagram-error';
    p.textContent = message;
    container.appendChild(p);
    return Promise.reject(new Error(message));
  }

  function renderDiagram(container, bpmnXml, highlight) {
    if (typeof container === 'string') { container = document.querySelector(container); }
    highlight = highlight || {};
    if (typeof global.BpmnJS !== 'function') {
      return fail(container, t('流程图组件未加载') + ' (bpmn-js missing: run npm ci)');
    }
    ensureStyle();
    container.classList.add('hl-diagram');
    var viewer = new global.BpmnJS({ container: container });
    return viewer.importXML(bpmnXml).then(function (result) {
      var canvas = viewer.get('canvas');
      var registry = viewer.get('elementRegistry');
      var missing = [];
      function mark(ids, cls) {
        (ids || []).forEach(function (id) {
          if (registry.get(id)) { canvas.addMarker(id, cls); } else { missing.push(id); }
        });
      }
      mark(highlight.done, 'hl-done');
      mark(highlight.flows, 'hl-done');
      mark(highlight.current, 'hl-current');
      canvas.zoom('fit-viewport', 'auto');
      var timer = null;
      global.addEventListener('resize', function () {
        clearTimeout(timer);
        timer = setTimeout(function () { canvas.resized(); canvas.zoom('fit-viewport', 'auto'); }, 150);
      });
      return { viewer: viewer, warnings: result.warnings || [], missing: missing };
    }, function (err) {
      viewer.destroy();
      return fail(container, t('流程图无法显示: {error}', { error: err && err.message ? err.message : err }));
    });
  }

  global.renderDiagram = renderDiagram;
})(window);
