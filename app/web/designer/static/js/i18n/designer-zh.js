/* 流程设计: Simplified Chinese for the form-js editor and for bpmnlint — our own tables.
 *
 *   DesignerZh.formEditor   {exact, patterns} for YG.localize (i18n.js) over a form editor's
 *                           container: form-js 1.x has no translate service, its palette and
 *                           properties panel texts are fixed English (docs/designer.md)
 *   DesignerZh.lintMessage(rule, message) → the bpmnlint report in Chinese (the English when unknown)
 *   DesignerZh.ruleName(rule)             → a short Chinese name of a bpmnlint rule
 */
(function (global) {
  'use strict';

  var FORM_EDITOR = {
    // palette and field types
    'Components': '组件', 'Search components': '搜索组件', 'Clear content': '清除内容',
    'No components found.': '没有找到组件。', 'Input': '输入', 'Selection': '选择', 'Presentation': '展示',
    'Containers': '容器', 'Action': '操作', 'Text field': '文本框', 'Text area': '多行文本',
    'Number': '数字', 'Date time': '日期时间', 'Expression': '表达式', 'File picker': '文件选择',
    'Checkbox': '复选框', 'Checkbox group': '复选框组', 'Radio group': '单选框组', 'Select': '下拉选择',
    'Tag list': '标签列表', 'Text view': '文本', 'Image view': '图片', 'Table': '表格', 'HTML view': 'HTML',
    'Document preview': '文件预览', 'Spacer': '空白', 'Separator': '分隔线', 'Group': '分组',
    'Dynamic list': '动态列表', 'iFrame': '内嵌页面', 'Button': '按钮',
    'Drag and drop components here.': '把组件拖到这里。', 'Build your form': '设计表单',
    'Drag and drop components here to start designing.': '把左侧的组件拖到这里开始设计。',
    'Use the preview window to test your form.': '可在预览窗口中试填表单。', 'Opened in popup': '已在弹出窗口中打开',
    'Select a form field to edit its properties.': '选择一个表单字段以编辑其属性。',
    'Multiple form fields are selected. Select a single form field to edit its properties.': '已选中多个字段。请只选择一个字段来编辑属性。',
    'Submit': '提交', 'Reset': '重置', 'Column 1': '第 1 列', 'Column 2': '第 2 列', 'Column 3': '第 3 列',
    'Content': '内容', 'Form': '表单', 'Default': '默认',
    // properties panel
    'General': '常规', 'Field label': '字段标签', 'Group label': '分组标签', 'Table label': '表格标题',
    'Title': '标题', 'Field description': '字段说明', 'Description': '说明', 'Default value': '默认值',
    'Checked': '选中', 'Not checked': '未选中', 'Disabled': '禁用', 'Read only': '只读', 'ID': '标识',
    'Key': '键', 'Binds to a form variable': '对应表单变量', 'Path': '路径', 'Show outline': '显示边框',
    'Date label': '日期标签', 'Time label': '时间标签', 'Height': '高度',
    'Height of the container in pixels.': '容器高度（像素）。', 'URL': '网址', 'Image source': '图片来源',
    'Alternative text': '替代文字', 'Descriptive text for screen reader accessibility.': '供读屏软件朗读的说明文字。',
    'Auto': '自动', 'Columns': '列宽', 'Text': '文本', 'Learn more': '了解更多', 'Decimal digits': '小数位数',
    'Increment': '步长', 'Target value': '目标值', 'Value changes': '值变化时', 'Form submission': '提交表单时',
    'Compute on': '计算时机', 'Output as string': '输出为字符串', 'Allows arbitrary precision values': '允许任意精度',
    'Subtype': '子类型', 'Use 24h': '24 小时制', 'Disallow past dates': '不允许过去的日期',
    'Time interval': '时间间隔', 'Time format': '时间格式', 'Searchable': '可搜索', 'Label': '标签',
    'Value': '值', 'Type': '类型', 'Input values key': '选项数据键', 'Prefix': '前缀', 'Suffix': '后缀',
    'Vertical alignment': '垂直对齐', 'Top': '顶部', 'Center': '居中', 'Bottom': '底部',
    'Default number of items': '默认条目数', 'Allow add/delete items': '允许增删条目',
    'Disable collapse': '禁止折叠', 'Number of non-collapsing items': '不折叠的条目数',
    'Options expression': '选项表达式', 'Data source': '数据来源', 'Pagination': '分页',
    'Number of rows per page': '每页行数', 'List of items': '条目列表', 'Column': '列',
    'Version tag': '版本标签', 'Supported file formats': '允许的文件格式', 'Upload multiple files': '允许多个文件',
    'Document reference': '文件引用', 'Max height of preview container': '预览区最大高度',
    'Serialization': '序列化', 'Constraints': '约束', 'Custom': '自定义', 'Email': '电子邮箱', 'Phone': '电话',
    'Validation': '校验', 'Required': '必填', 'Minimum length': '最小长度', 'Maximum length': '最大长度',
    'Custom regular expression': '自定义正则表达式', 'Custom error message': '自定义错误提示',
    'Minimum': '最小值', 'Maximum': '最大值', 'Validation pattern': '校验规则', 'Options source': '选项来源',
    'Dynamic options': '动态选项', 'Static options': '固定选项', 'Custom properties': '自定义属性',
    'Appearance': '外观', 'Layout': '布局', 'Security attributes': '安全属性', 'Condition': '条件',
    'Hide if': '隐藏条件', 'Headers source': '表头来源', 'Header items': '表头项', 'Repeatable': '可重复',
    'Options': '选项', 'Static': '固定', 'Input data': '输入数据', 'Headers': '表头', 'Source': '来源',
    'Action type': '动作类型', 'Format': '格式', 'Date': '日期', 'Time': '时间', 'Date & Time': '日期和时间',
    'Name': '名称', 'Toggle section': '展开/收起', 'Section contains an error': '本节有错误',
    'Section contains edits': '本节有修改', 'Toggle list item': '展开/收起此项', 'Delete item': '删除此项',
    'Create new list item': '新建一项', 'Create': '新建', 'Open documentation': '打开文档',
    'Open pop-up editor': '在弹出窗口中编辑', '<empty>': '<空>', 'Item': '项', 'Entry': '条目',
    'Add': '添加', 'Remove': '移除', 'Delete': '删除', 'Copy': '复制', 'Close': '关闭',
    'Disable this field when it should not be interactive for end-users. Its data will not be submitted. This setting takes precedence over read-only.': '不让申请人操作此字段时禁用；其数据不会提交。此设置优先于“只读”。',
    'Make this field read-only when it cannot be edited by the end-user, but its content is important for them to see. Its data will still be submitted.': '申请人不能修改但需要看到内容时设为只读；其数据仍会提交。',
    'Define an expression to calculate the value of this field': '用表达式计算此字段的值',
    'Define which input property to populate the values from': '从哪个输入属性取选项',
    'Define an expression to populate the options from.': '用表达式生成选项。',
    'Specify the source from which to populate the table': '表格数据的来源',
    'Specify an expression to populate column items': '用表达式生成列',
    'Version tag by which this form can be referenced.': '引用此表单时使用的版本标签。',
    'The error message to display when the input does not match the regular expression.': '输入不符合正则表达式时显示的提示。',
    'Add properties directly to the form schema, useful to configure functionality in custom-built task applications and form renderers.': '直接写入表单定义的属性，供自建的办件页面或表单渲染器使用。',
    'Where the child variables of this component are pathed to.': '此组件下各字段数据的存放路径。',
    'Condition under which the field is hidden': '满足此条件时隐藏字段',
    'Click to set a dynamic value with FEEL expression': '点击用 FEEL 表达式设置动态值',
    'Click to remove dynamic value with FEEL expression': '点击取消 FEEL 表达式动态值',
    'FEEL expression is mandatory': '必须填写 FEEL 表达式', 'Unparsable FEEL expression.': '无法解析的 FEEL 表达式。',
    'Opened in editor': '已在编辑器中打开', 'Save and close': '保存并关闭',
    'Deactivate if': '停用条件', 'Condition under which the field is deactivated': '满足此条件时停用字段',
    'A comma-separated list of': '以逗号分隔的', 'file type specifiers': '文件类型说明符',
    'Supports markdown and templating.': '支持 Markdown 和模板。',
    'Supports HTML, styling, and templating. Styles are automatically scoped to the HTML component.': '支持 HTML、样式和模板；样式只作用于此 HTML 组件。',
    'Expression or static value (link/data URI)': '表达式或固定值（链接 / data URI）',
    'A number is required.': '请填写数字。', 'The document data source is required.': '请填写文件数据来源。',
    'Expression is empty': '表达式为空', 'Html view is empty': 'HTML 内容为空', 'Text view is empty': '文本内容为空',
    'Allow same origin': '允许同源', 'Camera access': '允许使用摄像头', 'Forms submission': '允许提交表单',
    'Geolocation': '允许获取位置', 'Microphone access': '允许使用麦克风', 'Open in fullscreen': '允许全屏',
    'Open modal windows': '允许打开模态窗口', 'Open popups': '允许打开弹出窗口', 'Script execution': '允许运行脚本',
    'Storage access by user': '允许访问存储', 'Top level navigation': '允许跳转顶层页面',
    'These options can incur security risks, especially if used in combination with dynamic links. Ensure that you are aware of them, that you trust the source url and only enable what your use case requires.': '这些选项可能带来安全风险，与动态链接一起使用时尤甚。请确认了解其风险、信任来源网址，且只开启确实需要的选项。',
    'MDN iFrame documentation.': 'MDN iFrame 文档。', 'X-FRAME-OPTIONS documentation': 'X-FRAME-OPTIONS 文档',
    'Enter a HTTPS URL to a source or populate it dynamically via a template or an expression (e.g., to pass a value from the variable).': '填写 HTTPS 网址，或用模板、表达式动态生成（如从变量取值）。',
    'Please make sure that the URL is safe as it might impose security risks.': '请确认网址安全，否则可能带来安全风险。',
    'Link referring to a hosted image, or use a data URI directly to embed image data into the form.': '图片的链接，或直接用 data URI 把图片嵌入表单。',
    'Enter a form input variable that contains the data for the table or define an expression to populate the data dynamically.': '填写存放表格数据的表单变量，或用表达式动态生成数据。',
    'Use a unique "key" to link the form element and the related input/output data. When dealing with nested data, break it down in the user task\'s input mapping before using it.': '用唯一的“键”关联表单元素和对应的输入/输出数据；嵌套数据请先在用户任务的输入映射中拆开再用。'
  };
  var FORM_PATTERNS = [
    [/^Create an? (.+) element$/, function (m) { return '创建' + (FORM_EDITOR[m[1]] || m[1]) + '组件'; }],
    [/^List contains (\d+) items?$/, function (m) { return '列表有 ' + m[1] + ' 项'; }],
    [/^Remove (.+)$/, function (m) { return '移除' + (FORM_EDITOR[m[1]] || m[1]); }]
  ];
  var VIEWER = global.FormJsZh ? global.FormJsZh.viewer : { exact: {}, patterns: [] };
  var formEditor = {
    exact: Object.assign({}, VIEWER.exact, FORM_EDITOR),
    patterns: FORM_PATTERNS.concat(VIEWER.patterns)
  };

  // bpmnlint 11: element types in its messages, then the messages themselves
  var TYPES = {
    'Process': '流程', 'Sub Process': '子流程', 'SubProcess': '子流程', 'Ad Hoc Sub Process': '自由子流程',
    'Complex Gateway': '复杂网关', 'Inclusive Gateway': '包容网关', 'Event-based Gateway': '事件网关',
    'Start Event': '开始事件', 'End Event': '结束事件', 'Sequence Flow': '顺序流', 'Sequence Flows': '顺序流',
    'bpmn:Process': '流程', 'bpmn:SubProcess': '子流程', 'bpmn:ComplexGateway': '复杂网关',
    'bpmn:InclusiveGateway': '包容网关', 'bpmn:Transaction': '事务', 'bpmn:AdHocSubProcess': '自由子流程'
  };
  function typeName(s) { return TYPES[s] || TYPES[s.replace(/^bpmn:/, '')] || s; }
  var LINT = {
    'Conditional event is missing a condition': '条件事件缺少条件',
    'Duplicate incoming sequence flows': '进入的顺序流重复', 'Duplicate outgoing sequence flows': '流出的顺序流重复',
    'Element is an implicit end': '元素是隐式结束（没有流出的顺序流，应连到结束事件）',
    'Element is an implicit start': '元素是隐式开始（没有进入的顺序流，应从开始事件连出）',
    'Element is missing bpmndi': '元素缺少图形信息（bpmndi）', 'Element is missing label/name': '元素缺少名称',
    'Element is missing name': '元素缺少名称', 'Element is not connected': '元素没有连线',
    'Element is outside of parent boundary': '元素超出了所属容器的边界', 'Element is unused': '元素未被使用',
    'Element name is not unique': '元素名称重复', 'Element overlaps with other element': '元素与其他元素重叠',
    'Event has multiple event definitions': '事件有多个事件定义', 'Flow splits implicitly': '流程隐式分支（应使用网关）',
    'Gateway forks and joins': '网关同时分支和汇合', 'Gateway is superfluous. It only has one source and target.': '网关多余：只有一个来源和一个目标。',
    'Incoming flows do not join': '进入的流没有汇合（应使用汇合网关）', 'Link event is missing link name': '链接事件缺少链接名称',
    'Sequence flow has superfluous label': '顺序流的标签多余', 'Sequence flow is missing condition': '顺序流缺少条件',
    'SequenceFlow is a duplicate': '顺序流重复', 'Start event is missing event definition': '开始事件缺少事件定义',
    'Start event must be blank': '开始事件必须是空白开始事件', 'Termination is superfluous.': '终止结束事件多余。',
    'A <Sequence Flow> outgoing from an <Event-based Gateway> must not be conditional': '事件网关流出的顺序流不能带条件',
    'A <Start Event> is not allowed in <Ad Hoc Sub Process>': '自由子流程中不允许有开始事件',
    'An <End Event> is not allowed in <Ad Hoc Sub Process>': '自由子流程中不允许有结束事件',
    'An <Event-based Gateway> must have at least 2 outgoing <Sequence Flows>': '事件网关至少要有 2 条流出的顺序流'
  };
  var LINT_PATTERNS = [
    [/^(.+) is missing end event$/, function (m) { return typeName(m[1]) + '缺少结束事件'; }],
    [/^(.+) is missing start event$/, function (m) { return typeName(m[1]) + '缺少开始事件'; }],
    [/^(.+) has multiple blank start events$/, function (m) { return typeName(m[1]) + '有多个空白开始事件'; }],
    [/^Element type <(.+)> is discouraged$/, function (m) { return '不建议使用' + typeName(m[1]); }],
    [/^Element has a non-standard size; expected (\d+)x(\d+)$/, function (m) { return '元素尺寸不标准，应为 ' + m[1] + '×' + m[2]; }],
    [/^Duplicate link catch event with link name <(.*)> in scope$/, function (m) { return '同一范围内有重复的链接捕获事件 <' + m[1] + '>'; }],
    [/^Link (catch|throw) event with link name <(.*)> missing in scope$/, function (m) {
      return '同一范围内缺少链接名称为 <' + m[2] + '> 的链接' + (m[1] === 'catch' ? '捕获' : '抛出') + '事件'; }]
  ];
  var RULES = {
    'ad-hoc-sub-process': '自由子流程', 'conditional-event': '条件事件', 'conditional-flows': '条件流',
    'end-event-required': '需要结束事件', 'event-based-gateway': '事件网关',
    'event-sub-process-typed-start-event': '事件子流程的开始事件', 'fake-join': '假汇合', 'global': '全局元素',
    'label-required': '需要名称', 'link-event': '链接事件', 'no-bpmndi': '缺少图形信息',
    'no-complex-gateway': '复杂网关', 'no-disconnected': '未连接', 'no-duplicate-sequence-flows': '重复顺序流',
    'no-gateway-join-fork': '网关同时分支汇合', 'no-implicit-end': '隐式结束', 'no-implicit-split': '隐式分支',
    'no-implicit-start': '隐式开始', 'no-inclusive-gateway': '包容网关', 'no-overlapping-elements': '元素重叠',
    'single-blank-start-event': '单一空白开始事件', 'single-event-definition': '单一事件定义',
    'standard-size': '标准尺寸', 'start-event-required': '需要开始事件',
    'sub-process-blank-start-event': '子流程空白开始事件', 'superfluous-gateway': '多余网关',
    'superfluous-label': '多余标签', 'superfluous-termination': '多余终止', 'bpmnlint': 'bpmnlint'
  };

  function lintMessage(rule, message) {
    if (Object.prototype.hasOwnProperty.call(LINT, message)) { return LINT[message]; }
    for (var i = 0; i < LINT_PATTERNS.length; i++) {
      var m = LINT_PATTERNS[i][0].exec(message);
      if (m) { return LINT_PATTERNS[i][1](m); }
    }
    return message;
  }
  function ruleName(rule) { return RULES[rule] || rule; }

  global.DesignerZh = { formEditor: formEditor, lintMessage: lintMessage, ruleName: ruleName,
                        lint: LINT, rules: RULES };
})(window);
