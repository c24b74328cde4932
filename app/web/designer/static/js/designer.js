/* 流程设计: the designer page (/designer/<process_id>, /designer/new).
 *
 * Globals from /vendor: BpmnModeler (camunda-bpmn-js camunda-platform-modeler: bpmn-js, the Camunda 7
 * properties panel, camunda-bpmn-moddle), FormEditor (@bpmn-io/form-js form-editor.umd.js) and
 * BpmnLint (bpmnlint, built by scripts/setup).
 *
 *   startDesigner(root, data) → the designer object (also window.designer; window.modeler)
 *     data: {process_id, name, version, bpmn, matter, forms: {id: schema}, new, form_ids, groups, urls}
 *
 * The diagram tab holds the modeler and its properties panel; "事项信息" edits <id>.matter.json;
 * one tab per formKey of the diagram (start event and user tasks) holds a form-js editor (a form
 * nobody has yet is created with one field). 检查 runs bpmnlint here and the deploy checks on the
 * server (POST urls.check), lists the problems and marks the elements; 部署 checks again and deploys
 * (POST urls.deploy) only when nothing is wrong. Clicking a problem selects its element.
 * 打开文件 posts a file to urls.import; the findings of its import assistant (doc.assistant) go to
 * import-assistant.js (global ImportAssistant), which calls back adoptImport with what was applied.
 */
(function (global) {
  'use strict';

  var ID_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
  var lang = (global.YG && global.YG.lang) || 'zh';
  var zh = lang !== 'en';
  var t = global.t || function (s, p) {
    return p ? String(s).replace(/{(\w+)}/g, function (a, k) { return k in p ? p[k] : a; }) : s;
  };

  function $(sel, root) { return (root || document).querySelector(sel); }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text != null) { e.textContent = text; }
    return e;
  }

  function emptyForm(id) {
    return { id: id, type: 'default', schemaVersion: 16,
             exporter: { name: '阳光发改 流程设计', version: '1.0' },
             components: [{ type: 'textarea', key: 'opinion', label: '意见', id: 'Field_opinion' }] };
  }

  // -- nested paths of the matter object ---------------------------------------------------------
  function getPath(obj, path) {
    return path.split('.').reduce(function (o, k) { return o == null ? undefined : o[k]; }, obj);
  }
  function setPath(obj, path, value) {
    var keys = path.split('.');
    var last = keys.pop();
    var o = keys.reduce(function (o, k) {
      if (o[k] == null || typeof o[k] !== 'object') { o[k] = {}; }
      return o[k];
    }, obj);
    o[last] = value;
  }

  function startDesigner(root, data) {
    var state = {
      processId: data.process_id,
      original: data.bpmn,        // sent as is while the diagram is unchanged (same hash, no new version)
      dirty: false,
      matter: JSON.parse(JSON.stringify(data.matter || {})),
      forms: JSON.parse(JSON.stringify(data.forms || {})),
      created: {},                // form ids created here
      editors: {},                // form id → Promise<form editor>
      knownForms: {},             // form ids that exist on the server
      errors: [], lint: [],
      scenarios: JSON.parse(JSON.stringify(data.scenarios || [])),
      scenarioResults: []
    };
    (data.form_ids || []).forEach(function (id) { state.knownForms[id] = true; });
    var csrf = root.getAttribute('data-csrf') || (document.querySelector('input[name=csrf_token]') || {}).value;
    var statusEl = $('#dsg-status', root);

    function status(text, isError) {
      statusEl.textContent = text;
      statusEl.className = isError ? 'error' : 'muted';
    }

    // -- the modeler ---------------------------------------------------------------------------------
    if (typeof global.BpmnModeler !== 'function') {
      status(t('建模组件未加载 (camunda-bpmn-js missing: run scripts/setup)'), true);
      return null;
    }
    var modeler = new global.BpmnModeler({
      container: '#dsg-canvas',
      propertiesPanel: { parent: '#dsg-properties' },
      additionalModules: global.BpmnZh ? [global.BpmnZh.module(lang)] : []   // i18n/bpmn-zh.js
    });
    global.modeler = modeler;
    if (zh && global.BpmnZh && global.YG && global.YG.localize) {   // panel texts outside the translate service
      global.YG.localize(document.getElementById('dsg-properties'), global.BpmnZh.panelDom);
      global.YG.localize(document.getElementById('dsg-canvas'), global.BpmnZh.panelDom);
    }
    var imported = modeler.importXML(data.bpmn).then(function (result) {
      modeler.get('canvas').zoom('fit-viewport', 'auto');
      if (result.warnings && result.warnings.length) {
        status(t('导入时有 {n} 条警告: {first}', { n: result.warnings.length, first: result.warnings[0].message }));
      }
      modeler.on('commandStack.changed', function () {
        state.dirty = true;
        scheduleFormTabs();
      });
      refreshFormTabs();
      return modeler;
    }, function (err) {
      status(t('流程图无法导入: {error}', { error: err && err.message ? err.message : err }), true);
      throw err;
    });

    // -- tabs ---------------------------------------------------------------------------------------
    var tabs = $('#dsg-tabs', root);
    function showTab(name) {
      Array.prototype.forEach.call(tabs.querySelectorAll('button'), function (b) {
        b.classList.toggle('active', b.getAttribute('data-tab') === name);
      });
      Array.prototype.forEach.call(root.querySelectorAll('section.dsg-tab'), function (s) {
        s.hidden = s.getAttribute('data-tab') !== name;
      });
      if (name === 'diagram') {
        modeler.get('canvas').resized();
      } else if (name === 'matter') {
        fillMatter();
      } else if (name === 'scenarios') {
        renderScenarios();
      } else if (name.indexOf('form:') === 0) {
        mountForm(name.slice(5));
      }
    }
    tabs.addEventListener('click', function (ev) {
      var b = ev.target.closest('button[data-tab]');
      if (b) { showTab(b.getAttribute('data-tab')); }
    });

    function formKeys() {
      var keys = [];
      modeler.get('elementRegistry').forEach(function (element) {
        var bo = element.businessObject;
        if (!bo || !(bo.$instanceOf('bpmn:UserTask') || bo.$instanceOf('bpmn:StartEvent'))) { return; }
        var key = bo.get('camunda:formKey') || bo.get('camunda:formRef');
        if (key && ID_RE.test(key) && keys.indexOf(key) < 0) { keys.push(key); }
      });
      return keys.sort();
    }

    function formNames() {   // formKey → the name of the first step using it (what a designer calls the form)
      var names = {};
      modeler.get('elementRegistry').forEach(function (element) {
        var bo = element.businessObject;
        if (!bo || !(bo.$instanceOf('bpmn:UserTask') || bo.$instanceOf('bpmn:StartEvent'))) { return; }
        var key = bo.get('camunda:formKey') || bo.get('camunda:formRef');
        if (key && bo.name && !names[key]) { names[key] = bo.name; }
      });
      return names;
    }

    // 表单 <the step's name> <the key as code>: the key is the form's file name, shown as a code, not as words
    function labelFormTab(button, id, name, created) {
      button.textContent = '';
      var label = el('span', null, name || '');
      var chinese = (name || '').split('').some(function (c) { return c >= '\u3400' && c <= '\u9fff'; });
      if (chinese) { label.setAttribute('lang', 'zh-CN'); }  // the model's words (no regex literal: the msgid extractor stops at one)
      button.appendChild(document.createTextNode(t('表单 {name}', { name: '' })));
      if (name) { button.appendChild(label); button.appendChild(document.createTextNode(' ')); }
      button.appendChild(el('code', { 'class': 'dsg-form-id' }, id));
      if (created) { button.appendChild(document.createTextNode(' ' + t('(新建)'))); }
      button.title = id;
    }

    var formTimer = null;
    function scheduleFormTabs() {
      clearTimeout(formTimer);
      formTimer = setTimeout(refreshFormTabs, 300);
    }

    function refreshFormTabs() {
      var keys = formKeys(), names = formNames();
      var holder = $('#dsg-form-tabs', root);
      keys.forEach(function (id) {
        if (!state.forms[id] && !state.knownForms[id]) {
          state.forms[id] = emptyForm(id);      // a formKey nobody has: create the form here
          state.created[id] = true;
        }
        if (!tabs.querySelector('button[data-tab="form:' + id + '"]')) {
          var b = el('button', { type: 'button', role: 'tab', 'data-tab': 'form:' + id });
          tabs.appendChild(b);
          var section = el('section', { 'class': 'dsg-tab', 'data-tab': 'form:' + id, id: 'tab-form-' + id });
          section.hidden = true;
          section.appendChild(el('div', { 'class': 'dsg-form-editor' }));
          holder.appendChild(section);
        }
        var button = tabs.querySelector('button[data-tab="form:' + id + '"]');
        labelFormTab(button, id, names[id], state.created[id]);
      });
      Array.prototype.forEach.call(tabs.querySelectorAll('button[data-tab^="form:"]'), function (b) {
        b.hidden = keys.indexOf(b.getAttribute('data-tab').slice(5)) < 0;   // formKey no longer used
      });
    }

    function loadForm(id) {
      if (state.forms[id]) { return Promise.resolve(state.forms[id]); }
      return fetch(data.urls.form.replace('FORM_ID', encodeURIComponent(id)), {
        headers: { Accept: 'application/json' }, credentials: 'same-origin'
      }).then(function (r) {
        if (r.status === 404) { state.created[id] = true; return emptyForm(id); }
        if (!r.ok) { throw new Error('HTTP ' + r.status); }
        return r.json();
      }).then(function (schema) { state.forms[id] = schema; refreshFormTabs(); return schema; });
    }

    function mountForm(id) {
      if (state.editors[id]) { return state.editors[id]; }
      var section = document.getElementById('tab-form-' + id);
      var container = section.querySelector('.dsg-form-editor');
      if (!global.FormEditor || typeof global.FormEditor.createFormEditor !== 'function') {
        container.textContent = t('表单编辑器未加载 (form-js missing: run scripts/setup)');
        return Promise.reject(new Error('form-js missing'));
      }
      state.editors[id] = loadForm(id).then(function (schema) {
        if (zh && global.YG && global.YG.localize && global.DesignerZh) {   // form-js has no translate service
          global.YG.localize(container, global.DesignerZh.formEditor);
        }
        return global.FormEditor.createFormEditor({ container: container, schema: schema });
      }).catch(function (err) {
        container.textContent = t('表单无法打开: {error}', { error: err && err.message ? err.message : err });
        delete state.editors[id];
        throw err;
      });
      return state.editors[id];
    }

    // -- matter metadata ------------------------------------------------------------------------------
    var matterForm = $('#dsg-matter', root);
    var jsonArea = $('#dsg-matter-json', root);
    var jsonError = $('#dsg-matter-json-error', root);

    function fieldValue(input) {
      var type = input.getAttribute('data-type');
      var v = input.value;
      if (type === 'int') { return v === '' ? null : parseInt(v, 10); }
      if (type === 'list') { return v.split(/[,，]/).map(function (s) { return s.trim(); }).filter(Boolean); }
      if (type === 'lines') { return v.split('\n').map(function (s) { return s.trim(); }).filter(Boolean); }
      return v;
    }
    function showValue(input, value) {
      var type = input.getAttribute('data-type');
      if (value == null) { input.value = ''; return; }
      if (type === 'list') { input.value = [].concat(value).join(', '); return; }
      if (type === 'lines') { input.value = [].concat(value).join('\n'); return; }
      input.value = String(value);
    }
    function fillMatter() {
      Array.prototype.forEach.call(matterForm.querySelectorAll('[data-path]'), function (input) {
        showValue(input, getPath(state.matter, input.getAttribute('data-path')));
      });
      renderMaterials();
      jsonArea.value = JSON.stringify(state.matter, null, 2);
      jsonError.hidden = true;
    }
    matterForm.addEventListener('input', function (ev) {
      var input = ev.target;
      if (input.hasAttribute('data-path')) {
        setPath(state.matter, input.getAttribute('data-path'), fieldValue(input));
      } else if (input.hasAttribute('data-material')) {
        var row = parseInt(input.closest('tr').getAttribute('data-row'), 10);
        var key = input.getAttribute('data-material');
        var item = state.matter.materials[row];
        item[key] = input.type === 'checkbox' ? input.checked
          : input.type === 'number' ? (input.value === '' ? 0 : parseInt(input.value, 10)) : input.value;
      } else {
        return;
      }
      jsonArea.value = JSON.stringify(state.matter, null, 2);
    });
    function renderMaterials() {
      var body = $('#dsg-materials', root);
      body.textContent = '';
      if (!Array.isArray(state.matter.materials)) { state.matter.materials = []; }
      state.matter.materials.forEach(function (m, i) {
        var tr = el('tr', { 'data-row': String(i) });
        [['name', 'text'], ['issuer', 'text'], ['originals', 'number'], ['copies', 'number'],
         ['required', 'checkbox'], ['paper_required', 'checkbox'], ['notes', 'text']].forEach(function (f) {
          var td = el('td');
          var input = el('input', { type: f[1], 'data-material': f[0] });
          if (f[1] === 'checkbox') { input.checked = !!m[f[0]]; } else { input.value = m[f[0]] == null ? '' : m[f[0]]; }
          if (f[1] === 'number') { input.min = '0'; input.max = '100'; }
          td.appendChild(input);
          tr.appendChild(td);
        });
        var del = el('button', { type: 'button', title: t('删除') }, '×');
        del.addEventListener('click', function () {
          state.matter.materials.splice(i, 1);
          fillMatter();
        });
        var td = el('td');
        td.appendChild(del);
        tr.appendChild(td);
        body.appendChild(tr);
      });
    }
    $('#dsg-add-material', root).addEventListener('click', function () {
      if (!Array.isArray(state.matter.materials)) { state.matter.materials = []; }
      state.matter.materials.push({ name: '', issuer: '申请单位', originals: 1, copies: 0, required: true,
                                    paper_required: false, notes: '' });
      fillMatter();
    });
    $('#dsg-matter-apply', root).addEventListener('click', function () {
      try {
        var obj = JSON.parse(jsonArea.value);
        if (!obj || typeof obj !== 'object' || Array.isArray(obj)) { throw new Error(t('应为 JSON 对象')); }
        state.matter = obj;
        fillMatter();
      } catch (err) {
        jsonError.textContent = t('JSON 无效: {error}', { error: err.message });
        jsonError.hidden = false;
      }
    });

    // -- scenario (path) tests ------------------------------------------------------------------------
    var scenarioList = $('#dsg-scenario-list', root);
    var scenariosRendered = false;
    if (data.scenarios_problem) {
      var sp = $('#dsg-scenarios-problem', root);
      sp.textContent = data.scenarios_problem;
      sp.hidden = false;
    }
    function elementIds(type) {
      var ids = [];
      modeler.get('elementRegistry').forEach(function (element) {
        var bo = element.businessObject;
        if (bo && bo.$instanceOf(type) && element.type !== 'label' && ids.indexOf(bo.id) < 0) { ids.push(bo.id); }
      });
      return ids.sort();
    }
    function fillDatalist(id, values) {
      var list = $('#' + id, root);
      list.textContent = '';
      values.forEach(function (v) { list.appendChild(el('option', { value: v })); });
    }
    function field(label, input, wide) {
      var l = el('label', wide ? { 'class': 'wide' } : {});
      l.appendChild(document.createTextNode(label));
      l.appendChild(input);
      return l;
    }
    function json(value) { return JSON.stringify(value == null ? {} : value, null, 1); }
    function stepRow(step) {
      var row = el('div', { 'class': 'dsg-step' });
      var task = el('input', { 'data-step': 'task', list: 'dsg-user-tasks', placeholder: t('环节标识'), 'aria-label': t('环节') });
      task.value = step.task || '';
      var stepData = el('textarea', { 'data-step': 'data', spellcheck: 'false', 'aria-label': t('表单数据 (JSON)') });
      stepData.value = json(step.data);
      var del = el('button', { type: 'button', title: t('删除步骤') }, '×');
      del.addEventListener('click', function () { row.remove(); });
      row.appendChild(task); row.appendChild(stepData); row.appendChild(del);
      return row;
    }
    function scenarioCard(sc, i) {
      var card = el('div', { 'class': 'dsg-scenario', 'data-index': String(i) });
      var name = el('input', { 'data-f': 'name' }); name.value = sc.name || '';
      var end = el('input', { 'data-f': 'end', list: 'dsg-end-events' }); end.value = sc.end || '';
      var st = el('input', { 'data-f': 'status', placeholder: t('可选，如 approved') }); st.value = sc.status || '';
      var path = el('input', { 'data-f': 'path', placeholder: t('可选: start → review → end') });
      path.value = Array.isArray(sc.path) ? sc.path.join(' → ') : '';
      var start = el('textarea', { 'data-f': 'start', spellcheck: 'false' }); start.value = json(sc.start);
      card.appendChild(field(t('名称'), name));
      card.appendChild(field(t('预期结束事件 end'), end));
      card.appendChild(field(t('预期办件状态 status'), st));
      card.appendChild(field(t('预期路径 path'), path, true));
      card.appendChild(field(t('申请数据 start (JSON)'), start, true));
      var steps = el('div', { 'class': 'wide dsg-steps' });
      steps.appendChild(el('strong', {}, t('步骤（环节标识 + 表单数据/决定）')));
      (sc.steps || []).forEach(function (step) { steps.appendChild(stepRow(step)); });
      card.appendChild(steps);
      var buttons = el('div', { 'class': 'wide' });
      var addStep = el('button', { type: 'button', 'class': 'dsg-add-step' }, t('+ 步骤'));
      addStep.addEventListener('click', function () { steps.appendChild(stepRow({ task: '', data: {} })); });
      var remove = el('button', { type: 'button', 'class': 'dsg-remove-scenario' }, t('删除场景'));
      remove.addEventListener('click', function () {
        var read = readScenarios(true);
        state.scenarios = read.scenarios;
        state.scenarios.splice(i, 1);
        state.scenarioResults = [];
        renderScenarios(true);
      });
      buttons.appendChild(addStep); buttons.appendChild(document.createTextNode(' ')); buttons.appendChild(remove);
      card.appendChild(buttons);
      var result = el('div', { 'class': 'wide dsg-scenario-result' });
      var r = state.scenarioResults[i];
      if (r) {
        result.classList.add(r.passed ? 'pass' : 'fail');
        result.appendChild(el('strong', {}, r.passed ? 'PASS' : 'FAIL'));
        result.appendChild(document.createTextNode(' ' + t('路径: ')));
        result.appendChild(el('code', { 'class': 'dsg-path' }, (r.path || []).join(' → ') || '—'));
        result.appendChild(document.createTextNode(' · ' + t('结束: ') + (r.end_event || t('(未结束)'))));
        if (r.message) { result.appendChild(el('div', { 'class': 'dsg-message' }, r.message)); }
      }
      card.appendChild(result);
      return card;
    }
    function renderScenarios(force) {
      if (scenariosRendered && !force) { return; }
      scenariosRendered = true;
      imported.then(function () {
        fillDatalist('dsg-user-tasks', elementIds('bpmn:UserTask'));
        fillDatalist('dsg-end-events', elementIds('bpmn:EndEvent'));
      });
      scenarioList.textContent = '';
      state.scenarios.forEach(function (sc, i) { scenarioList.appendChild(scenarioCard(sc, i)); });
      if (!state.scenarios.length) { scenarioList.appendChild(el('p', { 'class': 'muted' }, t('还没有场景测试。'))); }
    }
    function parseJson(text, where, errors) {
      if (!text.trim()) { return {}; }
      try {
        var v = JSON.parse(text);
        if (!v || typeof v !== 'object' || Array.isArray(v)) { throw new Error(t('应为 JSON 对象')); }
        return v;
      } catch (err) {
        errors.push(where + ': ' + t('JSON 无效: {error}', { error: err.message }));
        return {};
      }
    }
    /* The scenarios as edited on the page (state.scenarios when the tab was never opened). */
    function readScenarios(lenient) {
      if (!scenariosRendered) { return { scenarios: state.scenarios, errors: [] }; }
      var errors = [];
      var out = Array.prototype.map.call(scenarioList.querySelectorAll('.dsg-scenario'), function (card, i) {
        var get = function (f) { return card.querySelector('[data-f="' + f + '"]').value; };
        var where = t('场景 {n}', { n: i + 1 });
        var sc = { name: get('name').trim(), start: parseJson(get('start'), where + ' start', errors), steps: [],
                   end: get('end').trim() };
        if (get('status').trim()) { sc.status = get('status').trim(); }
        var path = get('path').split(/\s*(?:→|->|,|，)\s*/).map(function (x) { return x.trim(); }).filter(Boolean);
        if (path.length) { sc.path = path; }
        Array.prototype.forEach.call(card.querySelectorAll('.dsg-step'), function (row, j) {
          sc.steps.push({ task: row.querySelector('[data-step="task"]').value.trim(),
                          data: parseJson(row.querySelector('[data-step="data"]').value, where + ' ' + t('步骤 {n}', { n: j + 1 }), errors) });
        });
        return sc;
      });
      return { scenarios: out, errors: lenient ? [] : errors };
    }
    $('#dsg-add-scenario', root).addEventListener('click', function () {
      state.scenarios = readScenarios(true).scenarios;
      var tasks = elementIds('bpmn:UserTask');
      var ends = elementIds('bpmn:EndEvent');
      state.scenarios.push({ name: t('场景 {n}', { n: state.scenarios.length + 1 }), start: {},
                             steps: tasks.length ? [{ task: tasks[0], data: {} }] : [], end: ends[0] || '' });
      renderScenarios(true);
    });
    function runScenarioTests() {
      var summary = $('#dsg-scenario-summary', root);
      summary.textContent = t('运行中…');
      summary.className = 'muted';
      return collect().then(function (payload) {
        return post(data.urls.scenarios, payload);
      }).then(function (body) {
        state.scenarioResults = body.results || [];
        state.scenarios = readScenarios(true).scenarios;
        renderScenarios(true);
        var passed = state.scenarioResults.filter(function (r) { return r.passed; }).length;
        if (body.errors && body.errors.length) {
          state.errors = body.errors;
          showProblems();
          summary.textContent = t('模型有 {n} 处错误，场景未运行', { n: body.errors.length });
        } else {
          summary.textContent = t('{n} 个场景: {passed} 通过, {failed} 未通过', { n: state.scenarioResults.length,
            passed: passed, failed: state.scenarioResults.length - passed });
        }
        summary.className = body.ok ? '' : 'red';
        return body;
      }).catch(function (err) {
        summary.textContent = t('无法运行: {error}', { error: err && err.message ? err.message : err });
        summary.className = 'red';
        return { ok: false };
      });
    }
    $('#dsg-run-scenarios', root).addEventListener('click', function () { runScenarioTests(); });

    // -- collect, check, deploy ------------------------------------------------------------------------
    function collect() {
      return imported.then(function () {
        var xml = state.dirty ? modeler.saveXML({ format: true }).then(function (r) { return r.xml; })
                              : Promise.resolve(state.original);
        var keys = formKeys();
        var forms = {};
        var pending = keys.map(function (id) {
          if (state.editors[id]) {
            return state.editors[id].then(function (editor) { forms[id] = editor.saveSchema(); },
                                          function () { if (state.forms[id]) { forms[id] = state.forms[id]; } });
          }
          if (state.forms[id]) { forms[id] = state.forms[id]; }
          return null;
        });
        var read = readScenarios();
        if (read.errors.length) { return Promise.reject(new Error(read.errors.join('; '))); }
        return Promise.all([xml].concat(pending)).then(function (results) {
          return { process_id: state.processId, bpmn: results[0], matter: state.matter, forms: forms,
                   scenarios: read.scenarios };
        });
      });
    }

    function post(url, payload) {
      return fetch(url, {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF-Token': csrf },
        body: JSON.stringify(payload)
      }).then(function (r) {
        return r.json().catch(function () { return { message: 'HTTP ' + r.status }; }).then(function (body) {
          body.httpStatus = r.status;
          if (!Array.isArray(body.errors)) {      // a refusal of the request itself (422 details, 413, 403)
            var details = body.errors && typeof body.errors === 'object' ? body.errors : {};
            body.errors = Object.keys(details).map(function (k) {
              return { element: null, file: k, message: [].concat(details[k]).join('; ') };
            });
            if (r.status >= 400 && !body.errors.length) {
              body.errors = [{ element: null, file: '', message: body.message || ('HTTP ' + r.status) }];
            }
          }
          return body;
        });
      });
    }

    function lint() {
      if (!global.BpmnLint) {
        return Promise.resolve([{ id: null, rule: 'bpmnlint', category: 'warn',
                                  message: t('bpmnlint 未加载 (run scripts/setup)') }]);
      }
      return imported.then(function () { return global.BpmnLint.lint(modeler.getDefinitions()); });
    }

    function runChecks() {
      status(t('检查中…'));
      return collect().then(function (payload) {
        return Promise.all([post(data.urls.check, payload), lint()]).then(function (res) {
          state.errors = res[0].errors || [];
          state.lint = res[1] || [];
          showProblems();
          var lintErrors = state.lint.filter(function (l) { return l.category === 'error'; }).length;
          status(state.errors.length || lintErrors
            ? t('检查发现 {n} 处错误', { n: state.errors.length }) + (lintErrors ? t('，bpmnlint {n} 处错误', { n: lintErrors }) : '')
            : t('检查通过') + (state.lint.length ? t('（bpmnlint 提示 {n} 条）', { n: state.lint.length }) : ''),
            !!(state.errors.length || lintErrors));
          return { payload: payload, errors: state.errors, lint: state.lint, lintErrors: lintErrors };
        });
      }).catch(function (err) {
        status(t('检查失败: {error}', { error: err && err.message ? err.message : err }), true);
        throw err;
      });
    }

    function deploy() {
      return runChecks().then(function (checked) {
        if (checked.errors.length || checked.lintErrors) {
          status(t('有 {n} 处错误，未部署', { n: checked.errors.length + checked.lintErrors }), true);
          return { ok: false, errors: checked.errors, lint: checked.lint };
        }
        status(t('部署中…'));
        return post(data.urls.deploy, checked.payload).then(function (body) {
          if (!body.ok) {
            state.errors = body.errors || [];
            showProblems();
            status((body.message || t('未部署')) + '', true);
            return body;
          }
          state.original = checked.payload.bpmn;
          state.dirty = false;
          Object.keys(checked.payload.forms).forEach(function (id) {
            state.forms[id] = checked.payload.forms[id];
            state.knownForms[id] = true;
            delete state.created[id];
          });
          refreshFormTabs();
          status(body.created ? t('已部署为 v{version}', { version: body.version }) + '（' +
                                (body.files.length ? t('已写入 {files}', { files: body.files.join(', ') }) : t('文件未变')) + '）'
                              : t('内容未变，仍为 v{version}', { version: body.version }));
          if (data['new'] && global.history && global.history.replaceState) {
            global.history.replaceState(null, '', data.urls.index + '/' + encodeURIComponent(state.processId));
          }
          return body;
        });
      }).catch(function (err) {
        status(t('部署失败: {error}', { error: err && err.message ? err.message : err }), true);
        return { ok: false, errors: [{ element: null, file: '', message: String(err) }] };
      });
    }

    // -- problems on the page and on the diagram --------------------------------------------------------
    var marked = [];
    function clearMarks() {
      var canvas = modeler.get('canvas');
      marked.forEach(function (id) { canvas.removeMarker(id, 'dsg-error'); });
      marked = [];
      modeler.get('overlays').remove({ type: 'dsg-problem' });
    }
    function markElement(id, warn, count) {
      var registry = modeler.get('elementRegistry');
      var element = registry.get(id);
      if (!element || !element.parent) { return; }   // unknown id, or the process itself
      if (!warn) {
        modeler.get('canvas').addMarker(id, 'dsg-error');
        marked.push(id);
      }
      var badge = el('span', { 'class': 'dsg-badge' + (warn ? ' warn' : ''), title: t('点击查看') }, String(count));
      badge.addEventListener('click', function () { selectElement(id); });
      modeler.get('overlays').add(id, 'dsg-problem', { position: { top: -10, right: warn ? 20 : 8 }, html: badge });
    }
    function findElement(id) {        // an element, or the pool of a process (a collaboration's process)
      var registry = modeler.get('elementRegistry');
      return registry.get(id) || registry.filter(function (e) {
        return e.type === 'bpmn:Participant' && e.businessObject.processRef && e.businessObject.processRef.id === id;
      })[0] || null;
    }
    function selectElement(id) {
      var element = findElement(id);
      if (!element) { return false; }
      showTab('diagram');
      modeler.get('selection').select(element);
      if (element.parent) { modeler.get('canvas').scrollToElement(element); }
      return true;
    }
    function goTo(problem) {
      if (problem.element && selectElement(problem.element)) { return; }
      var file = problem.file || '';
      if (/\.matter\.json$/.test(file)) { showTab('matter'); return; }
      if (/\.scenarios\.json$/.test(file)) { showTab('scenarios'); return; }
      var m = /^(.+)\.form\.json$/.exec(file);
      if (m && tabs.querySelector('button[data-tab="form:' + m[1] + '"]')) { showTab('form:' + m[1]); }
    }
    function item(text, cls, problem) {
      var li = el('li', { 'class': cls }, text);
      if (problem.element) { li.setAttribute('data-element', problem.element); }
      li.addEventListener('click', function () { goTo(problem); });
      return li;
    }
    // bpmnlint reports in the page language (DesignerZh, i18n/designer-zh.js); the rule id stays
    function lintText(l) { return zh && global.DesignerZh ? global.DesignerZh.lintMessage(l.rule, l.message) : l.message; }
    function lintRule(rule) { return zh && global.DesignerZh ? global.DesignerZh.ruleName(rule) + ' (' + rule + ')' : rule; }
    function showProblems() {
      var box = $('#dsg-problems', root);
      var errList = $('#dsg-errors', root);
      var lintList = $('#dsg-lint', root);
      box.hidden = false;
      errList.textContent = '';
      lintList.textContent = '';
      clearMarks();
      if (!state.errors.length) { errList.appendChild(el('li', { 'class': 'ok' }, t('没有发现问题'))); }
      var counts = {};
      state.errors.forEach(function (e) {
        errList.appendChild(item((e.file ? '[' + e.file + '] ' : '') + (e.element ? e.element + ': ' : '') + e.message,
                                 'server-error', e));
        if (e.element) { counts[e.element] = (counts[e.element] || 0) + 1; }
      });
      Object.keys(counts).forEach(function (id) { markElement(id, false, counts[id]); });
      var lintCounts = {};
      if (!state.lint.length) { lintList.appendChild(el('li', { 'class': 'ok' }, t('没有发现问题'))); }
      state.lint.forEach(function (l) {
        lintList.appendChild(item((l.category === 'error' ? t('错误') : t('提示')) + ' ' + lintRule(l.rule) +
                                  (l.id ? ' · ' + l.id : '') + ': ' + lintText(l), 'lint-' + l.category, { element: l.id }));
        if (l.id && !counts[l.id]) { lintCounts[l.id] = (lintCounts[l.id] || 0) + 1; }
      });
      Object.keys(lintCounts).forEach(function (id) { markElement(id, true, lintCounts[id]); });
      box.classList.toggle('ok', !state.errors.length && !state.lint.some(function (l) { return l.category === 'error'; }));
    }

    function download() {
      return collect().then(function (payload) {
        var blob = new Blob([payload.bpmn], { type: 'application/xml' });
        var a = el('a', { href: URL.createObjectURL(blob), download: state.processId + '.bpmn' });
        document.body.appendChild(a);
        a.click();
        a.remove();
      });
    }

    // -- files made elsewhere (Camunda Modeler 7, bpmn.io) --------------------------------------------
    function loadDoc(doc) {
      state.processId = doc.process_id;
      state.original = doc.bpmn;       // sent back byte for byte until the diagram is changed
      state.matter = JSON.parse(JSON.stringify(doc.matter || {}));
      Object.keys(doc.forms || {}).forEach(function (id) { state.forms[id] = doc.forms[id]; });
      state.scenarios = JSON.parse(JSON.stringify(doc.scenarios || []));
      state.scenarioResults = [];
      scenariosRendered = false;
      data['new'] = !!doc['new'];
      $('#dsg-name', root).textContent = doc.name || doc.process_id;
      $('#dsg-pid', root).textContent = doc.process_id;
      $('#dsg-version', root).textContent = (doc.version ? 'v' + doc.version : t('新建流程')) + ' · ' + (doc.imported || '');
      state.errors = [];
      state.lint = [];
      return modeler.importXML(doc.bpmn).then(function (result) {
        state.dirty = false;
        clearMarks();
        modeler.get('canvas').zoom('fit-viewport', 'auto');
        refreshFormTabs();
        showTab('diagram');
        return result;
      });
    }
    function openFile(file) {
      status(t('正在打开 {file} …', { file: file.name }));
      return file.text().then(function (text) {
        return post(data.urls['import'], { bpmn: text, filename: file.name });
      }).then(function (doc) {
        if (doc.httpStatus !== 200) {
          state.errors = doc.errors || [];
          showProblems();
          status(t('文件无法打开: {error}', { error: doc.message || ('HTTP ' + doc.httpStatus) }), true);
          return doc;
        }
        return loadDoc(doc).then(function (result) {
          if (assistant) { assistant.show(doc.assistant, file.name); }
          var w = result.warnings || [];
          status(t('已打开 {file}', { file: file.name }) + '（' +
                 (doc['new'] ? t('新事项，请填写事项信息') : t('事项 {id}', { id: doc.process_id })) + '）' +
                 (w.length ? t('；导入警告 {n} 条: {first}', { n: w.length, first: w[0].message }) : ''), !!w.length);
          return doc;
        });
      }).catch(function (err) {
        status(t('文件无法打开: {error}', { error: err && err.message ? err.message : err }), true);
      });
    }
    // -- the import assistant (import-assistant.js): the fixes the server proposes for an opened file --
    function currentXml() {
      return imported.then(function () {
        return state.dirty ? modeler.saveXML({ format: true }).then(function (r) { return r.xml; }) : state.original;
      });
    }
    function dropEditor(id) {         // a form replaced by the assistant opens afresh in its tab
      var editor = state.editors[id];
      delete state.editors[id];
      editor.then(function (e) { if (e && typeof e.destroy === 'function') { e.destroy(); } }, function () {});
      var section = document.getElementById('tab-form-' + id);
      if (section) { section.querySelector('.dsg-form-editor').textContent = ''; }
    }
    /* The answer of POST /designer/import/apply: its BPMN into the modeler (sent as is until changed),
     * its forms as new forms, the process id and metadata when the id changed; then 检查 runs on the
     * page's files (forms created by an earlier apply and the metadata included, as deploy will see
     * them; the answer's own errors if that check cannot run). Resolves to the errors listed. */
    function adoptImport(result) {
      Object.keys(result.forms || {}).forEach(function (id) {
        state.forms[id] = result.forms[id];
        state.created[id] = true;
        delete state.knownForms[id];
        if (state.editors[id]) { dropEditor(id); }
      });
      if (result.process_id && result.process_id !== state.processId) {
        state.processId = result.process_id;
        if (result.matter) { state.matter = JSON.parse(JSON.stringify(result.matter)); }
        $('#dsg-pid', root).textContent = result.process_id;
        $('#dsg-name', root).textContent = state.matter.name || result.process_id;
        if (result['new'] != null) { data['new'] = !!result['new']; }
      }
      state.original = result.bpmn;
      var canvas = modeler.get('canvas');
      var view = canvas.viewbox();
      return modeler.importXML(result.bpmn).then(function () {
        state.dirty = false;
        if (view && view.width) { canvas.viewbox(view); } else { canvas.zoom('fit-viewport', 'auto'); }
        drawMissingFlows();
        refreshFormTabs();
        showTab('diagram');
        return runChecks().then(function (checked) { return checked.errors; }, function () {
          state.errors = result.errors || [];
          showProblems();
          return state.errors;
        });
      });
    }
    /* Sequence flows the file has no diagram edge for (a flow the assistant gave an id) are invisible
     * and bpmnlint refuses them: each is drawn between its shapes (bpmn-js lays the edge out), and
     * its source and target list it. Returns the ids drawn. */
    function drawMissingFlows() {
      var registry = modeler.get('elementRegistry');
      var modeling = modeler.get('modeling');
      var drawn = [];
      function walk(container) {
        (container.flowElements || []).forEach(function (bo) {
          if (bo.$instanceOf('bpmn:SubProcess')) { walk(bo); }
          if (!bo.$instanceOf('bpmn:SequenceFlow') || !bo.id || registry.get(bo.id)) { return; }
          var source = bo.sourceRef && registry.get(bo.sourceRef.id);
          var target = bo.targetRef && registry.get(bo.targetRef.id);
          if (!source || !target || !source.parent) { return; }
          if (bo.sourceRef.get('outgoing').indexOf(bo) < 0) { bo.sourceRef.get('outgoing').push(bo); }
          if (bo.targetRef.get('incoming').indexOf(bo) < 0) { bo.targetRef.get('incoming').push(bo); }
          modeling.connect(source, target, { type: 'bpmn:SequenceFlow', businessObject: bo });
          drawn.push(bo.id);
        });
      }
      modeler.getDefinitions().rootElements.forEach(function (root) {
        if (root.$instanceOf('bpmn:Process')) { walk(root); }
      });
      return drawn;
    }
    function showErrors(errors) { state.errors = errors || []; showProblems(); }
    var assistant = global.ImportAssistant ? global.ImportAssistant.create({
      root: root, modeler: modeler, post: post, url: data.urls.import_apply || (data.urls['import'] + '/apply'),
      groups: data.groups || [], currentXml: currentXml, adopt: adoptImport, showErrors: showErrors,
      selectElement: selectElement, findElement: findElement, status: status,
      pageForms: function () { return state.forms; }
    }) : null;

    var fileInput = $('#dsg-open-file', root);
    $('#dsg-open', root).addEventListener('click', function () { fileInput.click(); });
    fileInput.addEventListener('change', function () {
      var file = fileInput.files && fileInput.files[0];
      if (file) { openFile(file).then(function () { fileInput.value = ''; }); }
    });

    $('#dsg-check', root).addEventListener('click', function () { runChecks().catch(function () {}); });
    $('#dsg-deploy', root).addEventListener('click', function () { deploy(); });
    $('#dsg-download', root).addEventListener('click', function () { download(); });

    var designer = { modeler: modeler, state: state, ready: imported, collect: collect, check: runChecks,
                     deploy: deploy, showTab: showTab, selectElement: selectElement, formKeys: formKeys,
                     refreshFormTabs: refreshFormTabs, mountForm: mountForm, runScenarios: runScenarioTests, openFile: openFile,
                     readScenarios: readScenarios, assistant: assistant };
    global.designer = designer;
    return designer;
  }

  global.startDesigner = startDesigner;
})(window);
