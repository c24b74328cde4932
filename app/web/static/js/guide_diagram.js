/* The service guide's process diagram (办事指南, issue 19): drawn by renderDiagram (diagram.js, the
 * bpmn-js NavigatedViewer: drag to pan, ctrl/⌘ + wheel to zoom), fitted to its box on load and on
 * resize, with a toolbar: ＋ / － (zoom), 适应 (fit), 全屏查看 (the Fullscreen API on the box; where
 * the API is missing, a fixed full-window overlay; Esc or the same button closes it). For print the
 * diagram is also exported once as SVG into an <img> that only the print stylesheet shows (fits A4).
 *
 *   mountGuideDiagram(box, bpmnXml) → Promise<{viewer}>
 *
 * ``box`` holds [data-zoom=in|out|fit|full] buttons, a .diagram element (the canvas) and an
 * img.diagram-print; the full-screen button's data-label-exit is its text while full screen (the
 * page puts its texts in the markup, so this file has none of its own). Also: before printing,
 * every <details> of the page is opened (and closed again after), so the printed guide is whole.
 */
(function (global) {
  'use strict';

  var STEP = 1.25;

  function fullscreenElement() {
    return document.fullscreenElement || document.webkitFullscreenElement || null;
  }

  function requestFullscreen(el) {
    var fn = el.requestFullscreen || el.webkitRequestFullscreen;
    if (!fn || document.fullscreenEnabled === false) { return null; }
    try {
      var p = fn.call(el);
      return p && typeof p.then === 'function' ? p : Promise.resolve();
    } catch (e) {
      return null;
    }
  }

  function exitFullscreen() {
    var fn = document.exitFullscreen || document.webkitExitFullscreen;
    if (fn) { try { fn.call(document); } catch (e) { /* already out */ } }
  }

  function mountGuideDiagram(box, bpmnXml) {
    if (typeof box === 'string') { box = document.querySelector(box); }
    var canvasEl = box.querySelector('.diagram');
    var fullBtn = box.querySelector('[data-zoom=full]');
    var enterLabel = fullBtn ? fullBtn.textContent : '';
    var exitLabel = fullBtn ? (fullBtn.getAttribute('data-label-exit') || enterLabel) : '';
    var viewer = null;
    box.dataset.full = '';  // not full screen: '' from the start, 'fullscreen' or 'overlay' once opened

    function canvas() { return viewer ? viewer.get('canvas') : null; }

    function fit() {
      var c = canvas();
      if (!c || !canvasEl.clientWidth || !canvasEl.clientHeight) { return; }  // hidden: nothing to fit into
      c.resized();
      c.zoom('fit-viewport', 'auto');
      box.dataset.zoom = String(Math.round(c.zoom() * 1000) / 1000);
    }

    function zoomBy(factor) {
      var c = canvas();
      if (!c) { return; }
      var vb = c.viewbox();
      var center = { x: vb.outer.width / 2, y: vb.outer.height / 2 };
      c.zoom(Math.min(4, Math.max(0.1, c.zoom() * factor)), center);
      box.dataset.zoom = String(Math.round(c.zoom() * 1000) / 1000);
    }

    function isFull() { return fullscreenElement() === box || box.classList.contains('is-overlay'); }

    function setFullState() {
      var full = isFull();
      box.classList.toggle('is-full', full);
      document.documentElement.classList.toggle('guide-diagram-open', box.classList.contains('is-overlay'));
      if (fullBtn) {
        fullBtn.textContent = full ? exitLabel : enterLabel;
        fullBtn.setAttribute('aria-pressed', full ? 'true' : 'false');
      }
      box.dataset.full = full ? (box.classList.contains('is-overlay') ? 'overlay' : 'fullscreen') : '';
      global.requestAnimationFrame(fit);
    }

    function openOverlay() {
      box.classList.add('is-overlay');
      setFullState();
    }

    function closeFull() {
      if (box.classList.contains('is-overlay')) {
        box.classList.remove('is-overlay');
        setFullState();
      } else if (fullscreenElement() === box) {
        exitFullscreen();
      }
    }

    function toggleFull() {
      if (isFull()) { closeFull(); return; }
      var pending = box.dataset.noFullscreenApi ? null : requestFullscreen(box);
      if (!pending) { openOverlay(); return; }
      pending.then(null, openOverlay);  // refused (no user gesture, iframe …): the overlay
    }

    box.addEventListener('click', function (e) {
      var btn = e.target.closest ? e.target.closest('[data-zoom]') : null;
      if (!btn || !box.contains(btn)) { return; }
      e.preventDefault();
      var what = btn.getAttribute('data-zoom');
      if (what === 'in') { zoomBy(STEP); }
      else if (what === 'out') { zoomBy(1 / STEP); }
      else if (what === 'fit') { fit(); }
      else if (what === 'full') { toggleFull(); }
    });
    document.addEventListener('fullscreenchange', setFullState);
    document.addEventListener('webkitfullscreenchange', setFullState);
    document.addEventListener('keydown', function (e) {
      if ((e.key === 'Escape' || e.key === 'Esc') && box.classList.contains('is-overlay')) { closeFull(); }
    });

    if (typeof global.renderDiagram !== 'function') {
      return Promise.reject(new Error('renderDiagram missing'));
    }
    return global.renderDiagram(canvasEl, bpmnXml, {}).then(function (r) {
      viewer = r.viewer;
      fit();
      box.dataset.ready = 'true';
      var img = box.querySelector('img.diagram-print');
      if (img && typeof viewer.saveSVG === 'function') {
        viewer.saveSVG().then(function (out) {
          img.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(out.svg);
          box.dataset.print = 'ready';
        }, function () { /* the canvas prints instead */ });
      }
      return { viewer: viewer, fit: fit, zoomBy: zoomBy, toggleFull: toggleFull, closeFull: closeFull };
    });
  }

  /* Printing: the whole guide, every folded part open. */
  var reopened = [];
  global.addEventListener('beforeprint', function () {
    reopened = Array.prototype.filter.call(document.querySelectorAll('main details:not([open])'), function (d) {
      d.setAttribute('open', '');
      return true;
    });
  });
  global.addEventListener('afterprint', function () {
    reopened.forEach(function (d) { d.removeAttribute('open'); });
    reopened = [];
  });

  global.mountGuideDiagram = mountGuideDiagram;
})(window);
