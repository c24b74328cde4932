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
 */
(function (global) {
  'use strict';

  function mountTaskForm(container, schema, data, options) {
    if (typeof container === 'string') { container = document.querySelector(container); }
    var readOnly = !!(options && options.readOnly);
    var lib = global.FormViewer;
    if (!lib || typeof lib.Form !== 'function') {
      var p = document.createElement('p');
      p.className = 'error taskform-error';
      p.textContent = '表单组件未加载 (form-js missing: run npm ci)';
      container.appendChild(p);
      return Promise.reject(new Error('form-js missing'));
    }
    // debounce: false — every keystroke goes to the form's data at once. With form-js's 300 ms
    // debounce, a number field re-sends its value after losing focus and the re-render that follows
    // puts the next field back to its stored value, wiping what was just typed there.
    var form = new lib.Form({ container: container, properties: { readOnly: readOnly }, debounce: false });
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
        destroy: function () { form.destroy(); }
      };
    });
  }

  global.mountTaskForm = mountTaskForm;
})(window);
