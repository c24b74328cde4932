/* 导入助手: the import assistant's panel on the designer page (issue 18 point 5).
 *
 * After 打开文件 the server answers the editor's document with `assistant: {findings, defaults: {group},
 * groups: [{code, name}]}` (app/services/design/import_assistant.py). designer.js hands it to
 *
 *   ImportAssistant.create(ctx) → {show(assistant, filename), hide(), apply(), render(findings)}
 *     ctx: {root, modeler, post(url, payload) → Promise<body>, url (POST /designer/import/apply), groups,
 *           currentXml() → Promise<xml>, adopt(result) → Promise<errors listed>, showErrors(errors), selectElement(id),
 *           findElement(id) → the element or the pool of process id, status(text, isError)}
 *
 * The panel lists the findings in three groups — 需要修改 (a fix is offered), 无法自动修改 (no fix),
 * 提示 (notes) — each with its element (a button selecting it on the canvas) and its fix: a checkbox
 * (checked when the fix is one of the defaults), a group select for the people/lane/default-group
 * fixes (preset by 默认办理组 at the top), a text field for the new process id. Nothing changes until
 * 采用所选修改: then the accepted fixes are posted with the current diagram, the result replaces the
 * diagram (ctx.adopt), and the panel lists what remains. 暂不修改 hides the panel (the bar's
 * 导入助手 button opens it again). The texts come from the template (#dsg-assistant-text, through
 * the page's gettext), so the English mode of the page applies.
 */
(function (global) {
  'use strict';

  var GROUP_FIXES = { people: true, lane_group: true, default_group: true };
  var TEXT_FIXES = { process_id: true };

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text != null) { e.textContent = text; }
    return e;
  }

  function texts(root) {
    var node = root.querySelector('#dsg-assistant-text') || document.getElementById('dsg-assistant-text');
    try { return node ? JSON.parse(node.textContent) : {}; } catch (err) { return {}; }
  }

  function section(finding) {
    if (finding.fix) { return 'fix'; }
    return finding.kind === 'note' ? 'note' : 'manual';
  }

  function create(ctx) {
    var root = ctx.root;
    var panel = root.querySelector('#dsg-assistant');
    if (!panel) { return null; }
    var T = texts(root);
    function phrase(key, fallback) { return T[key] || fallback; }
    var list = panel.querySelector('#dsg-assistant-findings');
    var groupSelect = panel.querySelector('#dsg-assistant-group');
    var groupRow = panel.querySelector('.dsg-assistant-top');
    var applyButton = panel.querySelector('#dsg-assistant-apply');
    var dismissButton = panel.querySelector('#dsg-assistant-dismiss');
    var panelStatus = panel.querySelector('#dsg-assistant-status');
    var fileLabel = panel.querySelector('#dsg-assistant-file');
    var reopen = root.querySelector('#dsg-assistant-open');
    var current = { findings: [], groups: [], filename: '', busy: false };

    function groupName(code) {
      var g = current.groups.filter(function (x) { return x.code === code; })[0];
      return g ? g.name + ' (' + code + ')' : code;
    }
    function optionOf(option) {       // a code, or {code|value, name|label}
      if (option && typeof option === 'object') {
        var value = option.code != null ? option.code : option.value;
        return { value: String(value), label: option.name || option.label || String(value) };
      }
      return { value: String(option), label: groupName(String(option)) };
    }
    function fillGroups(select, options, value) {
      select.textContent = '';
      options.map(optionOf).forEach(function (o) {
        var opt = el('option', { value: o.value }, o.label);
        select.appendChild(opt);
      });
      if (value != null) { select.value = String(value); }
    }
    function elementRef(finding) {
      var id = finding.element;
      if (!id) { return null; }
      if (ctx.findElement ? ctx.findElement(id) : ctx.modeler.get('elementRegistry').get(id)) {
        var button = el('button', { type: 'button', 'class': 'dsg-link', 'data-element': id,
                                    title: phrase('select', '在流程图中选中') }, id);
        button.addEventListener('click', function () { ctx.selectElement(id); });
        return button;
      }
      return el('code', {}, id);
    }
    function fixControls(finding, n) {
      var fix = finding.fix;
      var box = el('div', { 'class': 'dsg-fix' });
      var check = el('input', { type: 'checkbox', id: 'dsg-fix-' + n, 'data-finding': finding.id });
      check.checked = !!fix.by_default;
      var label = el('label', { 'for': 'dsg-fix-' + n, 'class': 'dsg-fix-check' });
      label.appendChild(check);
      label.appendChild(el('span', {}, fix.label || phrase('apply_fix', '修改')));
      box.appendChild(label);
      var input = null;
      var what = phrase('new_id', '新标识');
      if (Array.isArray(fix.options) && fix.options.length) {
        input = el('select', { id: 'dsg-fix-' + n + '-value', 'data-value-of': finding.id });
        fillGroups(input, fix.options, fix['default']);
        what = phrase('choice', '选择');
        if (GROUP_FIXES[finding.kind] || GROUP_FIXES[fix.type]) {
          input.setAttribute('data-group-fix', '');
          what = phrase('group', '办理组');
        }
      } else if ((TEXT_FIXES[finding.kind] || TEXT_FIXES[fix.type]) && typeof fix['default'] === 'string') {
        input = el('input', { type: 'text', id: 'dsg-fix-' + n + '-value', 'data-value-of': finding.id,
                              maxlength: '64', spellcheck: 'false', autocomplete: 'off' });
        input.value = fix['default'];
      } else if (fix['default'] != null && fix['default'] !== '' && fix.type !== 'unsupported') {
        box.appendChild(document.createTextNode(' → '));
        box.appendChild(el('code', { 'class': 'dsg-fix-default' }, String(fix['default'])));
      }
      if (input) {
        var valueLabel = el('label', { 'for': input.id, 'class': 'dsg-fix-value-label' }, what);
        input.addEventListener('change', function () { check.checked = true; });
        var wrap = el('span', { 'class': 'dsg-fix-value' });
        wrap.appendChild(valueLabel);
        wrap.appendChild(input);
        box.appendChild(wrap);
      }
      return box;
    }
    function item(finding, n) {
      var li = el('li', { 'class': 'dsg-finding', 'data-finding': finding.id, 'data-kind': finding.kind || '' });
      if (finding.element) { li.setAttribute('data-element', finding.element); }
      var head = el('div', { 'class': 'dsg-finding-head' });
      var ref = elementRef(finding);
      if (ref) { head.appendChild(ref); head.appendChild(document.createTextNode(' ')); }
      head.appendChild(el('span', { 'class': 'dsg-finding-message' }, finding.message || ''));
      li.appendChild(head);
      if (finding.fix) { li.appendChild(fixControls(finding, n)); }
      return li;
    }

    function render(findings) {
      current.findings = findings || [];
      list.textContent = '';
      var parts = [['fix', phrase('need', '需要修改')], ['manual', phrase('manual', '无法自动修改')], ['note', phrase('notes', '提示')]];
      var n = 0;
      parts.forEach(function (part) {
        var mine = current.findings.filter(function (f) { return section(f) === part[0]; });
        if (!mine.length) { return; }
        var block = el('div', { 'class': 'dsg-assistant-group', 'data-section': part[0] });
        var id = 'dsg-assistant-h-' + part[0];
        block.appendChild(el('h4', { id: id }, part[1] + ' (' + mine.length + ')'));
        var ul = el('ul', { 'aria-labelledby': id });
        mine.forEach(function (f) { n += 1; ul.appendChild(item(f, n)); });
        block.appendChild(ul);
        list.appendChild(block);
      });
      var fixable = current.findings.some(function (f) { return !!f.fix; });
      applyButton.disabled = !fixable;
      groupRow.hidden = !list.querySelector('select[data-group-fix]');
      if (reopen) { reopen.textContent = phrase('title', '导入助手') + ' (' + current.findings.length + ')'; }
    }

    function show(assistant, filename) {
      var findings = assistant && Array.isArray(assistant.findings) ? assistant.findings : [];
      current.filename = filename || '';
      current.groups = (assistant && Array.isArray(assistant.groups) && assistant.groups.length)
        ? assistant.groups : (ctx.groups || []);
      if (!findings.length) { hide(true); return; }
      fillGroups(groupSelect, current.groups, assistant.defaults && assistant.defaults.group);
      if (fileLabel) { fileLabel.textContent = current.filename; }
      panelStatus.textContent = '';
      render(findings);
      open();
    }
    function open() {
      panel.hidden = false;
      if (reopen) { reopen.hidden = true; }
    }
    function hide(forget) {
      panel.hidden = true;
      if (forget) { current.findings = []; }
      if (reopen) { reopen.hidden = forget || !current.findings.length; }
    }

    groupSelect.addEventListener('change', function () {   // 默认办理组 presets every group fix
      Array.prototype.forEach.call(list.querySelectorAll('select[data-group-fix]'), function (s) {
        if (Array.prototype.some.call(s.options, function (o) { return o.value === groupSelect.value; })) {
          s.value = groupSelect.value;
        }
      });
    });

    function accepted() {
      var accept = {};
      Array.prototype.forEach.call(list.querySelectorAll('input[type=checkbox][data-finding]'), function (check) {
        if (!check.checked) { return; }
        var id = check.getAttribute('data-finding');
        var finding = current.findings.filter(function (f) { return f.id === id; })[0];
        var input = list.querySelector('[data-value-of="' + (global.CSS && CSS.escape ? CSS.escape(id) : id) + '"]');
        if (!input) { accept[id] = true; return; }
        var value = input.value.trim();
        accept[id] = input.tagName === 'SELECT' || (finding && finding.fix && value !== finding.fix['default'])
          ? value : true;
      });
      return accept;
    }

    function busy(on) {
      current.busy = on;
      applyButton.disabled = on || !current.findings.some(function (f) { return !!f.fix; });
      dismissButton.disabled = on;
      panel.setAttribute('aria-busy', on ? 'true' : 'false');
    }

    function apply() {
      if (current.busy) { return Promise.resolve(null); }
      var accept = accepted();
      var count = Object.keys(accept).length;
      if (!count) {
        panelStatus.textContent = phrase('none_selected', '没有勾选任何修改');
        return Promise.resolve(null);
      }
      busy(true);
      panelStatus.textContent = phrase('applying', '正在采用所选修改…');
      return ctx.currentXml().then(function (xml) {
        var payload = { bpmn: xml, filename: current.filename, accept: accept };
        if (ctx.pageForms) { payload.forms = ctx.pageForms(); }  // forms an earlier apply made
        if (groupSelect.value) { payload.group = groupSelect.value; }
        return ctx.post(ctx.url, payload);
      }).then(function (result) {
        if (result.httpStatus !== 200 || typeof result.bpmn !== 'string') {
          ctx.showErrors(result.errors || []);
          var why = phrase('failed', '未能采用修改') + ': ' + (result.message || ('HTTP ' + result.httpStatus));
          panelStatus.textContent = why;
          ctx.status(why, true);
          return result;
        }
        return ctx.adopt(result).then(function (listed) {
          var applied = (result.applied || []).length;
          var errors = (listed || []).length;
          var text = phrase('applied', '已采用修改') + ': ' + applied + ' · ' +
            (errors ? phrase('errors', '检查发现错误') + ': ' + errors : phrase('passed', '检查通过'));
          render(result.findings || []);
          panelStatus.textContent = text;
          ctx.status(text, !!errors);
          if (!current.findings.length) { hide(true); }
          return result;
        });
      }).catch(function (err) {
        var why = phrase('failed', '未能采用修改') + ': ' + (err && err.message ? err.message : err);
        panelStatus.textContent = why;
        ctx.status(why, true);
        return null;
      }).then(function (result) { busy(false); return result; });
    }

    applyButton.addEventListener('click', function () { apply(); });
    dismissButton.addEventListener('click', function () {
      hide(false);
      ctx.status(phrase('dismissed', '未作修改；可随时点“导入助手”再打开'));
      if (reopen) { reopen.focus(); }
    });
    if (reopen) {
      reopen.addEventListener('click', function () {
        open();
        var first = panel.querySelector('input, select, button');
        if (first) { first.focus(); }
      });
    }
    return { show: show, hide: hide, apply: apply, render: render, findings: function () { return current.findings; } };
  }

  global.ImportAssistant = { create: create };
})(window);
