/* A task's form-js form in the page: the form-js Form viewer (global FormViewer from
 * /vendor/form-viewer.js).
 *
 *   mountTaskForm(container, schema, data, {readOnly}) → Promise<handle>
 *     handle.submit()   → {data, errors}  validates every field (form-js Form#submit); errors is
 *                         {} when the form is valid, else {fieldId: [messages]} — POST data as JSON
 *     handle.validate() → errors, without submitting
 *     handle.form       → the form-js Form (handle.form.on('changed', fn) …)
 *     handle.destroy()
 *
 * A read-only form (readOnly: true) shows the data; its submit() returns the data given, no errors.
 *
 * Language (form-js 1.x has no i18n; docs/designer.md): in a zh page the validator's messages are
 * translated by a module decorating form-js's `validator` service (FormJsZh.validatorModule, given
 * as `additionalModules`), and the components' fixed texts (placeholders "Select", "Search", the
 * date/time format hints, …) by YG.localize (i18n.js) over the form's container. The designer's
 * form editor uses the same tables (FormJsZh.viewer).
 */
(function (global) {
  'use strict';

  var t = global.t || function (s) { return s; };
  var lang = (global.YG && global.YG.lang) || 'zh';

  var MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September',
                'October', 'November', 'December'];
  function dateHint(m) {        // "mm/dd/yyyy", "yyyy/mm/dd", "dd.mm.yyyy" → 月/日/年 …
    return m[0].replace(/y+/gi, '年').replace(/m+/gi, '月').replace(/d+/gi, '日');
  }
  var VIEWER = {
    exact: {
      'Field is required.': '此项为必填项。',
      'Value is not a number.': '请输入数字。',
      'Value is expected to be an integer.': '请输入整数。',
      'Min validation value is not a valid number.': '最小值设置不是有效数字。',
      'Max validation value is not a valid number.': '最大值设置不是有效数字。',
      'Field must be a valid  international phone number. (e.g. +4930664040900)': '请输入有效的国际格式电话号码（如 +861012345678）。',
      'Field must be a valid email.': '请输入有效的电子邮箱地址。',
      'Document reference is not defined.': '未指定文件引用。',
      'Select': '请选择', 'Search': '搜索', 'Browse': '浏览', 'Nothing to show.': '暂无内容。',
      'No files selected': '未选择文件', 'No file selected': '未选择文件',
      'hh:mm': '时:分', 'hh:mm --': '时:分 上午/下午', 'Remove': '移除', 'Clear': '清除',
      'Date': '日期', 'Time': '时间', 'No results': '没有结果', 'No options available.': '没有可选项。',
      'This is an image placeholder': '图片占位', '<none>': '<无>',
      // the flatpickr calendar of date fields
      'Month': '月', 'Year': '年', 'Increment': '增加', 'Decrement': '减少',
      'Sun': '日', 'Mon': '一', 'Tue': '二', 'Wed': '三', 'Thu': '四', 'Fri': '五', 'Sat': '六',
      'AM': '上午', 'PM': '下午'
    },
    patterns: [
      [/^Field must have minimum length of (.+)\.$/, function (m) { return '长度不能少于 ' + m[1] + ' 个字符。'; }],
      [/^Field must have maximum length of (.+)\.$/, function (m) { return '长度不能超过 ' + m[1] + ' 个字符。'; }],
      [/^Field must have minimum value of (.+)\.$/, function (m) { return '不能小于 ' + m[1] + '。'; }],
      [/^Field must have maximum value of (.+)\.$/, function (m) { return '不能大于 ' + m[1] + '。'; }],
      [/^Field must match pattern (.+)\.$/, function (m) { return '格式不符合要求（' + m[1] + '）。'; }],
      [/^Value is expected to have at most (\d+) decimal digits?\.$/, function (m) { return '最多 ' + m[1] + ' 位小数。'; }],
      [/^Please select a valid value, the two nearest valid values are (.+) and (.+)\.$/,
        function (m) { return '请输入有效的值，最接近的两个有效值是 ' + m[1] + ' 和 ' + m[2] + '。'; }],
      [/^[ymd]{1,4}([./ -])[ymd]{1,4}\1[ymd]{1,4}$/i, dateHint],
      [new RegExp('^(' + MONTHS.join('|') + ') (\\d{1,2}), (\\d{4})$'), function (m) {
        return m[3] + '年' + (MONTHS.indexOf(m[1]) + 1) + '月' + m[2] + '日'; }],
      [new RegExp('^(' + MONTHS.join('|') + ')$'), function (m) { return (MONTHS.indexOf(m[1]) + 1) + '月'; }]
    ]
  };

  function translateMessage(message) {
    if (typeof message !== 'string') { return message; }
    if (Object.prototype.hasOwnProperty.call(VIEWER.exact, message)) { return VIEWER.exact[message]; }
    for (var i = 0; i < VIEWER.patterns.length; i++) {
      var m = VIEWER.patterns[i][0].exec(message);
      if (m) { return VIEWER.patterns[i][1](m); }
    }
    return message;
  }

  /* didi module: decorates the form's `validator` so its error messages come out in Chinese. */
  function ValidatorZh(validator) {
    ['validateField', 'validateFieldInstance'].forEach(function (name) {
      var original = validator[name];
      if (typeof original !== 'function') { return; }
      validator[name] = function () {
        var errors = original.apply(validator, arguments);
        return Array.isArray(errors) ? errors.map(translateMessage) : errors;
      };
    });
  }
  ValidatorZh.$inject = ['validator'];
  var validatorModule = { __init__: ['ygValidatorZh'], ygValidatorZh: ['type', ValidatorZh] };

  function mountTaskForm(container, schema, data, options) {
    if (typeof container === 'string') { container = document.querySelector(container); }
    var readOnly = !!(options && options.readOnly);
    var lib = global.FormViewer;
    if (!lib || typeof lib.Form !== 'function') {
      var p = document.createElement('p');
      p.className = 'error taskform-error';
      p.textContent = t('表单组件未加载') + ' (form-js missing: run npm ci)';
      container.appendChild(p);
      return Promise.reject(new Error('form-js missing'));
    }
    var zh = lang !== 'en';
    var stopLocalize = zh && global.YG && global.YG.localize ? global.YG.localize(container, VIEWER) : function () {};
    // debounce: false — every keystroke goes to the form's data at once. With form-js's 300 ms
    // debounce, a number field re-sends its value after losing focus and the re-render that follows
    // puts the next field back to its stored value, wiping what was just typed there.
    var form = new lib.Form({ container: container, properties: { readOnly: readOnly }, debounce: false,
                              additionalModules: zh ? [validatorModule] : [] });
    var initial = JSON.parse(JSON.stringify(data || {}));
    return form.importSchema(schema, data || {}).then(function () {
      return {
        form: form,
        submit: function () {
          if (readOnly) { return { data: initial, errors: {} }; }
          var result = form.submit();  // {data, errors, files}
          return { data: result.data, errors: result.errors };
        },
        validate: function () { return readOnly ? {} : form.validate(); },
        destroy: function () { stopLocalize(); form.destroy(); }
      };
    });
  }

  global.FormJsZh = { viewer: VIEWER, validatorModule: validatorModule, translateMessage: translateMessage };
  global.mountTaskForm = mountTaskForm;
})(window);
