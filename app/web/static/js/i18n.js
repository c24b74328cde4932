/* The page language for our own scripts. Load before any page script.
 *
 *   t('中文 {n} 条', {n: 3})  → the message in the page's language: the msgid itself in zh, its
 *                               English from window.YG_I18N (rendered by base.html from the gettext
 *                               catalog for lang en) — the msgid when the catalog lacks it.
 *                               {name} placeholders are filled from the second argument.
 *   YG.lang                   → 'zh' or 'en' (from <html lang>)
 *   YG.localize(root, table)  → translates library text inside root (text nodes and the
 *                               placeholder/title/aria-label attributes) from English to the page
 *                               language, now and on every later change (MutationObserver).
 *                               table: {exact: {en: zh}, patterns: [[RegExp, fn(match) → zh]]}.
 *                               Does nothing in en. Returns a function that stops it.
 */
(function (global) {
  'use strict';

  var lang = (document.documentElement.getAttribute('lang') || 'zh').toLowerCase().indexOf('en') === 0 ? 'en' : 'zh';

  function fill(text, params) {
    if (!params) { return text; }
    return String(text).replace(/{([A-Za-z0-9_]+)}/g, function (all, key) {
      return Object.prototype.hasOwnProperty.call(params, key) ? String(params[key]) : all;
    });
  }

  // the catalog: window.YG_I18N, or the JSON of <script type="application/json" id="yg-i18n">
  function catalogue() {
    if (!global.YG_I18N) {
      var node = document.getElementById('yg-i18n');
      try { if (node) { global.YG_I18N = JSON.parse(node.textContent); } } catch (err) { global.YG_I18N = {}; }
    }
    return global.YG_I18N || {};
  }

  function t(msgid, params) {
    var text = msgid;
    if (lang === 'en') {
      var catalog = catalogue();
      if (Object.prototype.hasOwnProperty.call(catalog, msgid) && catalog[msgid]) { text = catalog[msgid]; }
    }
    return fill(text, params);
  }

  var ATTRS = ['placeholder', 'title', 'aria-label'];

  function translateText(text, table) {
    var key = text.trim();
    if (!key || !/[A-Za-z]/.test(key)) { return null; }
    var exact = table.exact || {};
    var out = null;
    if (Object.prototype.hasOwnProperty.call(exact, key)) {
      out = exact[key];
    } else {
      (table.patterns || []).some(function (p) {
        var m = p[0].exec(key);
        if (m) { out = p[1](m); }
        return !!m;
      });
    }
    return out === null ? null : text.replace(key, out);
  }

  function localizeNode(node, table) {
    if (node.nodeType === 3) {
      var parent = node.parentNode;
      if (parent && /^(SCRIPT|STYLE|TEXTAREA)$/.test(parent.nodeName)) { return; }
      if (parent && parent.closest && parent.closest('[contenteditable], .cm-editor, .fjs-no-localize')) { return; }
      var out = translateText(node.nodeValue, table);
      if (out !== null && out !== node.nodeValue) { node.nodeValue = out; }
      return;
    }
    if (node.nodeType !== 1) { return; }
    ATTRS.forEach(function (name) {
      var value = node.getAttribute(name);
      if (value) {
        var out = translateText(value, table);
        if (out !== null && out !== value) { node.setAttribute(name, out); }
      }
    });
    for (var child = node.firstChild; child; child = child.nextSibling) { localizeNode(child, table); }
  }

  function localize(root, table) {
    if (lang === 'en' || !root) { return function () {}; }
    localizeNode(root, table);
    var observer = new MutationObserver(function (records) {
      records.forEach(function (r) {
        if (r.type === 'characterData') { localizeNode(r.target, table); }
        else if (r.type === 'attributes') { localizeNode(r.target, { exact: table.exact, patterns: table.patterns }); }
        else { Array.prototype.forEach.call(r.addedNodes, function (n) { localizeNode(n, table); }); }
      });
    });
    observer.observe(root, { subtree: true, childList: true, characterData: true,
                             attributes: true, attributeFilter: ATTRS });
    return function () { observer.disconnect(); };
  }

  global.t = t;
  global.YG = global.YG || {};
  global.YG.lang = lang;
  global.YG.t = t;
  global.YG.localize = localize;
})(window);
