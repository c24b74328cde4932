/* 流程设计: Simplified Chinese for bpmn-js, diagram-js and the Camunda 7 properties panel of
 * camunda-bpmn-js — our own dictionary (the strings are the packages' translate() keys, found in
 * node_modules; English is the packages' own text).
 *
 *   BpmnZh.module(lang)  → a bpmn-js module {translate: ['value', fn]} for `additionalModules`
 *                          (lang 'en': the packages' text with {placeholders} filled in)
 *   BpmnZh.translate(template, replacements)   the zh translate function itself
 *   BpmnZh.missing       → keys asked for that the dictionary lacks (zh only; for tests)
 *
 * Keys are matched exactly, then case- and hyphen-insensitively (the properties panel header asks
 * for "User Task", "Message Start Event (Non Interrupting)", made from the element's type).
 */
(function (global) {
  'use strict';

  var ZH = {
    // diagram-js / bpmn-js: palette, context pad, tools
    'Search in diagram': '在图中搜索', 'Align elements': '对齐元素', 'Align elements ': '对齐元素 ',
    'Delete': '删除', 'Add lane above': '在上方添加泳道', 'Divide into two lanes': '分成两条泳道',
    'Divide into three lanes': '分成三条泳道', 'Add lane below': '在下方添加泳道',
    'Append receive task': '追加接收任务', 'Append message intermediate catch event': '追加消息中间捕获事件',
    'Append timer intermediate catch event': '追加定时中间捕获事件',
    'Append conditional intermediate catch event': '追加条件中间捕获事件',
    'Append signal intermediate catch event': '追加信号中间捕获事件',
    'Append compensation activity': '追加补偿活动', 'Append end event': '追加结束事件',
    'Append gateway': '追加网关', 'Append task': '追加任务', 'Append intermediate/boundary event': '追加中间/边界事件',
    'Change element': '更改元素类型', 'Change type': '更改类型', 'Add text annotation': '添加文本注释',
    'Connect to other element': '连接到其他元素', 'Connect using association': '用关联连接',
    'Connect using data input association': '用数据输入关联连接',
    'Distribute elements horizontally': '水平均匀分布', 'Distribute elements vertically': '垂直均匀分布',
    'Align elements left': '左对齐', 'Align elements right': '右对齐', 'Align elements center': '水平居中对齐',
    'Align elements top': '顶端对齐', 'Align elements bottom': '底端对齐', 'Align elements middle': '垂直居中对齐',
    'Open {element}': '打开{element}',
    'Activate hand tool': '抓手工具（平移画布）', 'Activate lasso tool': '套索工具（框选）',
    'Activate create/remove space tool': '插入/删除空间工具', 'Activate global connect tool': '全局连接工具',
    'Create start event': '创建开始事件', 'Create intermediate/boundary event': '创建中间/边界事件',
    'Create end event': '创建结束事件', 'Create gateway': '创建网关', 'Create task': '创建任务',
    'Create data object reference': '创建数据对象引用', 'Create data store reference': '创建数据存储引用',
    'Create expanded sub-process': '创建展开的子流程', 'Create pool/participant': '创建池/参与者',
    'Create group': '创建分组', 'Append element': '追加元素', 'Create element': '创建元素',
    'Templates': '模板', 'Events': '事件', 'Tasks': '任务', 'Gateways': '网关', 'Sub-processes': '子流程',
    'Data': '数据', 'Participants': '参与者', 'Set color': '设置颜色', 'Default': '默认', 'Blue': '蓝色',
    'Orange': '橙色', 'Green': '绿色', 'Red': '红色', 'Purple': '紫色',
    'Results': '结果', 'Close minimap': '关闭小地图', 'Open minimap': '打开小地图', 'Search': '搜索',
    'No matching entries found.': '没有匹配的项目。',
    // element types (replace menu, create/append menu, properties panel header)
    'Task': '任务', 'User task': '用户任务', 'Service task': '服务任务', 'Send task': '发送任务',
    'Receive task': '接收任务', 'Manual task': '人工任务', 'Business rule task': '业务规则任务',
    'Script task': '脚本任务', 'Call activity': '调用活动', 'Transaction': '事务',
    'Event sub-process': '事件子流程', 'Sub-process (collapsed)': '子流程（折叠）',
    'Sub-process (expanded)': '子流程（展开）', 'Ad-hoc sub-process (collapsed)': '自由子流程（折叠）',
    'Ad-hoc sub-process (expanded)': '自由子流程（展开）', 'Ad-hoc sub-process': '自由子流程',
    'Sub-process': '子流程', 'Collapsed sub process': '子流程（折叠）', 'Expanded sub process': '子流程（展开）',
    'Event sub process': '事件子流程', 'Collapsed ad hoc sub process': '自由子流程（折叠）',
    'Expanded ad hoc sub process': '自由子流程（展开）',
    'Exclusive gateway': '排他网关', 'Parallel gateway': '并行网关', 'Inclusive gateway': '包容网关',
    'Complex gateway': '复杂网关', 'Event-based gateway': '事件网关', 'Event based gateway': '事件网关',
    'Data store reference': '数据存储引用', 'Data object reference': '数据对象引用',
    'Expanded pool/participant': '展开的池/参与者', 'Empty pool/participant': '空的池/参与者',
    'Participant': '参与者', 'Lane': '泳道', 'Process': '流程', 'Collaboration': '协作',
    'Text annotation': '文本注释', 'Group': '分组', 'Association': '关联', 'Data input association': '数据输入关联',
    'Data output association': '数据输出关联', 'Message flow': '消息流', 'Data object': '数据对象',
    'Start event': '开始事件', 'Intermediate throw event': '中间抛出事件', 'Boundary event': '边界事件',
    'End event': '结束事件', 'Intermediate catch event': '中间捕获事件',
    'Message start event': '消息开始事件', 'Timer start event': '定时开始事件',
    'Conditional start event': '条件开始事件', 'Signal start event': '信号开始事件',
    'Error start event': '错误开始事件', 'Escalation start event': '升级开始事件',
    'Compensation start event': '补偿开始事件', 'Compensate start event': '补偿开始事件',
    'Message start event (non-interrupting)': '消息开始事件（不中断）',
    'Timer start event (non-interrupting)': '定时开始事件（不中断）',
    'Conditional start event (non-interrupting)': '条件开始事件（不中断）',
    'Signal start event (non-interrupting)': '信号开始事件（不中断）',
    'Escalation start event (non-interrupting)': '升级开始事件（不中断）',
    'Message intermediate catch event': '消息中间捕获事件', 'Message intermediate throw event': '消息中间抛出事件',
    'Timer intermediate catch event': '定时中间捕获事件', 'Escalation intermediate throw event': '升级中间抛出事件',
    'Conditional intermediate catch event': '条件中间捕获事件', 'Link intermediate catch event': '链接中间捕获事件',
    'Link intermediate throw event': '链接中间抛出事件', 'Compensation intermediate throw event': '补偿中间抛出事件',
    'Compensate intermediate throw event': '补偿中间抛出事件',
    'Signal intermediate catch event': '信号中间捕获事件', 'Signal intermediate throw event': '信号中间抛出事件',
    'Message boundary event': '消息边界事件', 'Timer boundary event': '定时边界事件',
    'Escalation boundary event': '升级边界事件', 'Conditional boundary event': '条件边界事件',
    'Error boundary event': '错误边界事件', 'Cancel boundary event': '取消边界事件',
    'Signal boundary event': '信号边界事件', 'Compensation boundary event': '补偿边界事件',
    'Compensate boundary event': '补偿边界事件',
    'Message boundary event (non-interrupting)': '消息边界事件（不中断）',
    'Timer boundary event (non-interrupting)': '定时边界事件（不中断）',
    'Escalation boundary event (non-interrupting)': '升级边界事件（不中断）',
    'Conditional boundary event (non-interrupting)': '条件边界事件（不中断）',
    'Signal boundary event (non-interrupting)': '信号边界事件（不中断）',
    'Message end event': '消息结束事件', 'Escalation end event': '升级结束事件', 'Error end event': '错误结束事件',
    'Cancel end event': '取消结束事件', 'Compensation end event': '补偿结束事件', 'Compensate end event': '补偿结束事件',
    'Signal end event': '信号结束事件', 'Terminate end event': '终止结束事件',
    'Parallel multi-instance': '并行多实例', 'Sequential multi-instance': '串行多实例', 'Loop': '循环',
    'Collection': '集合', 'Participant multiplicity': '参与者多重性', 'Toggle non-interrupting': '切换不中断',
    'Sequence flow': '顺序流', 'Default flow': '默认流', 'Conditional flow': '条件流',
    // create/append/replace menus: groups and one-line descriptions of each element (bpmn-js 18)
    'Start events': '开始事件', 'Intermediate catch events': '中间捕获事件', 'Intermediate throw events': '中间抛出事件',
    'Boundary events': '边界事件', 'End events': '结束事件', 'Non-empty pool/participant': '非空的池/参与者',
    'Collapsed pool/participant': '折叠的池/参与者', 'External': '外部', 'DMN': 'DMN',
    'Save and close': '保存并关闭', 'Opened in popup': '已在弹出窗口中打开',
    'The follow up date as an EL expression (e.g. ${someDate}) or an ISO date (e.g. 2015-06-26T09:54:00).': '跟进日期：EL 表达式（如 ${someDate}）或 ISO 日期（如 2015-06-26T09:54:00）。',
    'Atomic units of work in a process': '流程中不可再分的工作单元', 'Route the flow: branch or merge paths': '引导流向：分支或汇合路径',
    'Nested or reusable activities': '嵌套或可复用的活动', 'Things a process reacts to or emits': '流程响应或发出的事件',
    'Where a process or path begins': '流程或路径从这里开始', 'Wait for something to happen before continuing': '等某件事发生后再继续',
    'Emit an event, then continue': '发出事件后继续', 'React to something while an activity is running': '活动进行中对某件事作出响应',
    'Where a process path ends': '流程路径在这里结束', 'Data the process uses': '流程使用的数据',
    'Systems or organizations involved': '参与的系统或单位',
    'An unspecified step, often used as a placeholder': '未指定类型的步骤，常用作占位',
    'Work that needs to be done by a person': '需要由人办理的工作',
    'Automated work carried out by a job worker or connector': '由作业处理程序或连接器自动完成的工作',
    'Publishes a message to a receiver': '向接收方发布消息', 'Waits for a message to be received': '等待收到消息',
    'A task done by a person without any tooling or UI': '由人在系统外完成的任务',
    'Evaluates a business rule, typically a DMN decision': '执行业务规则，通常是 DMN 决策', 'Runs a script': '运行脚本',
    'Calls another process as a reusable subprocess': '把另一个流程作为可复用的子流程调用',
    'A subprocess that completes as a whole, or is compensated': '整体完成或整体补偿的子流程',
    'A subprocess triggered by an event in its scope': '由所在范围内的事件触发的子流程',
    'Groups elements into a subprocess, shown collapsed': '把元素组合为子流程，折叠显示',
    'Groups elements into a subprocess, shown inline': '把元素组合为子流程，展开显示',
    'Activities run in any order; shown collapsed': '活动按任意顺序执行；折叠显示',
    'Activities run in any order, any number of times': '活动按任意顺序执行，次数不限',
    'Routes the token down one path, based on data': '按数据选择其中一条路径',
    'Splits the flow into parallel paths, or joins them': '把流程分成并行路径，或把并行路径汇合',
    'Takes every outgoing path whose condition is met': '走所有条件成立的流出路径',
    'Models complex branching or merging behavior': '表示复杂的分支或汇合', 'Follows the path of whichever event occurs first': '走先发生的事件所在的路径',
    'Data that persists beyond the process instance': '流程实例结束后仍保留的数据',
    'Data created and used within a process instance': '在流程实例内创建和使用的数据',
    'Where the process begins': '流程从这里开始', 'Marks a point in the flow': '标记流程中的一个节点',
    'Handles an event that occurs while an activity is active': '处理活动进行中发生的事件', 'Ends the current path': '结束当前路径',
    'Starts the process when a message is received': '收到消息时启动流程', 'Starts the process on a defined timer': '按设定的时间启动流程',
    'Starts the process when a condition is met': '条件成立时启动流程',
    'Starts the process when a matching signal is broadcast': '收到匹配的信号广播时启动流程',
    'Starts an event subprocess when an error is thrown': '抛出错误时启动事件子流程',
    'Starts an event subprocess on an escalation': '发生升级时启动事件子流程',
    'Starts an event subprocess to handle compensation': '启动事件子流程处理补偿',
    'Starts an event subprocess on a message, without interrupting': '收到消息时启动事件子流程，不中断',
    'Starts an event subprocess on a timer, without interrupting': '到时启动事件子流程，不中断',
    'Starts an event subprocess when a condition is met, without interrupting': '条件成立时启动事件子流程，不中断',
    'Starts an event subprocess on a signal, without interrupting': '收到信号时启动事件子流程，不中断',
    'Starts an event subprocess on an escalation, without interrupting': '发生升级时启动事件子流程，不中断',
    'Waits until a message is received': '等到收到消息', 'Sends a message': '发送消息',
    'Waits for a defined time or duration': '等待到设定的时间或时长', 'Raises an escalation to a higher scope': '向上级范围发出升级',
    'Waits until a condition is met': '等到条件成立', 'Continues from a matching link event': '从匹配的链接事件继续',
    'Jumps to a matching link event': '跳到匹配的链接事件', 'Triggers compensation of completed activities': '触发已完成活动的补偿',
    'Waits for a matching signal to be broadcast': '等待匹配的信号广播', 'Broadcasts a signal': '广播信号',
    'Interrupts the activity when a message is received': '收到消息时中断活动',
    'Interrupts the activity on a defined timer': '到设定时间时中断活动', 'Interrupts the activity on an escalation': '发生升级时中断活动',
    'Interrupts the activity when a condition is met': '条件成立时中断活动',
    'Interrupts the activity when it throws an error': '活动抛出错误时中断活动', 'Reacts when a transaction is canceled': '事务取消时响应',
    'Interrupts the activity on a matching signal': '收到匹配信号时中断活动',
    'Attaches a compensation handler to the activity': '为活动附加补偿处理',
    'Reacts to a message while the activity continues': '收到消息时响应，活动继续',
    'Fires on a timer while the activity continues': '到时触发，活动继续',
    'Reacts to an escalation while the activity continues': '发生升级时响应，活动继续',
    'Reacts when a condition is met; activity continues': '条件成立时响应，活动继续',
    'Reacts to a signal while the activity continues': '收到信号时响应，活动继续',
    'Ends the path and sends a message': '结束路径并发送消息', 'Ends the path and raises an escalation': '结束路径并发出升级',
    'Ends the path by throwing an error': '抛出错误并结束路径', 'Cancels the transaction and ends the path': '取消事务并结束路径',
    'Ends the path and triggers compensation': '结束路径并触发补偿', 'Ends the path and broadcasts a signal': '结束路径并广播信号',
    'Immediately ends all active paths in the scope': '立即结束所在范围内所有进行中的路径',
    'Connects one element to the next in the flow': '把一个元素连到下一个元素',
    'The default path, taken when no other path condition is met': '默认路径：其他路径条件都不成立时走这条',
    'Taken only when its condition is met': '仅在条件成立时走这条',
    // properties panel (bpmn-js-properties-panel, Camunda 7)
    'Select an element to edit its properties.': '选择一个元素以编辑其属性。',
    'Multiple elements are selected. Select a single element to edit its properties.': '已选中多个元素。请只选择一个元素来编辑属性。',
    'Completion condition': '完成条件', 'Cancel remaining instances': '取消其余实例',
    'Wait for completion': '等待完成', '<none>': '<无>', 'Activity reference': '活动引用',
    'Element documentation': '元素说明', 'Process documentation': '流程说明', 'Create new ...': '新建…',
    'Global error reference': '全局错误引用', 'Name': '名称', 'Code': '代码',
    'Global escalation reference': '全局升级引用', 'Executable': '可执行',
    'ID must not be empty.': '标识不能为空。', 'ID must be unique.': '标识必须唯一。',
    'ID must not contain spaces.': '标识不能包含空格。', 'ID must not contain prefix.': '标识不能包含前缀。',
    'ID must be a valid QName.': '标识必须是有效的 QName（字母或下划线开头）。',
    'Global message reference': '全局消息引用', 'Loop cardinality': '循环次数', 'Participant Name': '参与者名称',
    'Process name': '流程名称', 'Process ID': '流程标识', 'Global signal reference': '全局信号引用',
    'Date': '日期', 'Duration': '持续时间', 'Cycle': '周期', 'Type': '类型', 'Value': '值',
    'A specific point in time defined as ISO 8601 combined date and time representation.': '以 ISO 8601 日期时间格式表示的某一时刻。',
    'UTC time': 'UTC 时间', 'UTC plus 2 hours zone offset': 'UTC 加 2 小时时区偏移',
    'Documentation: Timer events': '文档：定时事件',
    'A cycle defined as ISO 8601 repeating intervals format.': '以 ISO 8601 重复间隔格式表示的周期。',
    'every 10 seconds, up to 5 times': '每 10 秒一次，最多 5 次', 'every day, infinitely': '每天一次，无限次',
    'A time duration defined as ISO 8601 durations format.': '以 ISO 8601 持续时间格式表示的时长。',
    '15 seconds': '15 秒', '1 hour and 30 minutes': '1 小时 30 分', '14 days': '14 天',
    'General': '常规', 'Compensation': '补偿', 'Documentation': '说明', 'Error': '错误', 'Message': '消息',
    'Signal': '信号', 'Link': '链接', 'Escalation': '升级', 'Timer': '定时器', 'Multi-instance': '多实例',
    'Completion': '完成', 'BPMN': 'BPMN', 'Assignee': '办理人', 'Candidate groups': '候选组',
    'Candidate users': '候选用户', 'On': '开', 'Off': '关', 'DMN decision': 'DMN 决策',
    'Implementation': '实现', 'latest': '最新版本', 'deployment': '同一部署', 'version tag': '版本标签',
    'Binding': '绑定', 'Version tag': '版本标签', 'Result variable': '结果变量', 'Create': '新建',
    'Update': '更新', 'Variable events': '变量事件', 'Listener type': '监听器类型', 'Key': '键',
    'Headers': '头信息', 'Event type': '事件类型', 'Camunda Form': 'Camunda 表单', 'Priority': '优先级',
    'FEEL expression': 'FEEL 表达式', 'Due date': '到期日期', 'Follow up date': '跟进日期',
    'A cycle defined as ISO 8601 repeating intervals format, or a cron expression.': '以 ISO 8601 重复间隔格式或 cron 表达式表示的周期。',
    'every hour on the hour from 9-5 p.m. UTC Monday-Friday': '周一至周五 UTC 9 点至 17 点每个整点',
    'Script': '脚本', 'Condition': '条件', 'Form': '表单', 'Called element': '被调用元素',
    'Assignment': '分配', 'Execution listeners': '执行监听器', 'Task listeners': '任务监听器',
    'Extension properties': '扩展属性', 'Before': '之前', 'After': '之后', 'Exclusive': '排他',
    'version': '版本', 'Version': '版本', 'Tenant ID': '租户标识', 'Case ref': '案例引用', 'Class': '类',
    'Delegate expression': '委托表达式', 'Delegate Variable Mapping': '委托变量映射',
    'Delegate Expression': '委托表达式', 'Delegate Class': '委托类', 'CMMN': 'CMMN',
    'Business key': '业务键', 'Business key expression': '业务键表达式',
    'Candidate starter groups': '可发起的组',
    'Specify more than one group as a comma separated list.': '多个组用逗号分隔。',
    'Candidate starter users': '可发起的用户',
    'Specify more than one user as a comma separated list.': '多个用户用逗号分隔。',
    'Expression': '表达式', 'Condition Expression': '条件表达式', 'Format': '格式',
    'External resource': '外部资源', 'Inline script': '内联脚本', 'Script type': '脚本类型',
    'Resource': '资源', 'Variable name': '变量名',
    'Specify more than one variable change event as a comma separated list. Variable change events are:': '多个变量变更事件用逗号分隔。变量变更事件有：',
    'Documentation: Variable events': '文档：变量事件', 'List values': '列表值', 'Map': '映射', 'List': '列表',
    '<empty>': '<空>', 'Map entries': '映射条目', 'String or expression': '字符串或表达式',
    'Assignment type': '赋值类型', 'Start typing "${}" to create an expression.': '输入 "${}" 开始编写表达式。',
    'Code variable': '代码变量', 'Define the name of the variable that will contain the error code.': '存放错误代码的变量名。',
    'Message variable': '消息变量', 'Define the name of the variable that will contain the error message.': '存放错误消息的变量名。',
    'Throw expression': '抛出表达式',
    'Define the name of the variable that will contain the escalation code.': '存放升级代码的变量名。',
    'String': '字符串', 'Config': '配置', 'ID': '标识', 'Refers to the process variable name': '对应流程变量名',
    'Label': '标签', 'boolean': '布尔', 'date': '日期', 'enum': '枚举', 'long': '长整数', 'string': '字符串',
    '<custom type>': '<自定义类型>', 'Custom type': '自定义类型', 'Default value': '默认值', 'Values': '值',
    'Constraints': '约束', 'Properties': '属性', 'Camunda Forms': 'Camunda 表单',
    'Embedded or External Task Forms': '嵌入式或外部任务表单', 'Generated Task Forms': '生成的任务表单',
    'Form key': '表单键', 'Form reference': '表单引用', 'Time to live': '保留时间',
    'Decision reference': '决策引用', 'versionTag': '版本标签',
    'collectEntries (List<Object>)': 'collectEntries（List<Object>）',
    'resultList (List<Map<String, Object>>)': 'resultList（List<Map<String, Object>>）',
    'singleEntry (TypedValue)': 'singleEntry（TypedValue）',
    'singleResult (Map<String, Object>)': 'singleResult（Map<String, Object>）',
    'Map decision result': '决策结果映射', 'Java class': 'Java 类', 'Topic': '主题', 'Connector ID': '连接器标识',
    'Initiator': '发起人', 'Propagate all variables': '传递全部变量', 'Local': '局部', 'Source': '来源',
    'Source expression': '来源表达式', 'Target': '目标', 'Retry time cycle': '重试周期',
    'Element variable': '元素变量', 'Asynchronous before': '之前异步', 'Asynchronous after': '之后异步',
    'create': '创建', 'assignment': '分配', 'complete': '完成', 'delete': '删除', 'update': '更新',
    'timeout': '超时', 'take': '经过', 'start': '开始', 'end': '结束', 'Listener ID': '监听器标识',
    'Field injection': '字段注入', 'Scope': '作用域', 'Created in': '创建于', 'Startable': '可发起',
    'The due date as an EL expression (e.g. ${someDate}) or an ISO date (e.g. 2015-06-26T09:54:00).': '到期日期：EL 表达式（如 ${someDate}）或 ISO 日期（如 2015-06-26T09:54:00）。',
    'The follow up date as an EL expression (e.g. ${someDate}) or an ': '跟进日期：EL 表达式（如 ${someDate}）或 ',
    'This maps to the process definition key.': '对应流程定义的键。', 'Errors': '错误',
    'User assignment': '办理人分配', 'Start initiator': '发起人', 'External task': '外部任务',
    'Asynchronous continuations': '异步延续', 'Job execution': '作业执行', 'Candidate starter': '可发起者',
    'Field injections': '字段注入', 'History cleanup': '历史清理', 'Tasklist': '任务列表',
    'In mappings': '输入映射', 'In mapping propagation': '输入映射传递', 'Out mappings': '输出映射',
    'Out mapping propagation': '输出映射传递', 'Process variables': '流程变量', 'Form fields': '表单字段',
    'Forms': '表单', 'Inputs': '输入', 'Outputs': '输出', 'Connector inputs': '连接器输入',
    'Connector outputs': '连接器输出', 'Learn more.': '了解更多。', ' or ': ' 或 ', '). ': '）。', ', ': '、',
    'Number of days before this resource is being cleaned up. If specified, takes precedence over the engine configuration.': '该资源被清理前保留的天数；填写后优先于引擎配置。',
    'Open documentation': '打开文档', 'Toggle section': '展开/收起', 'Section contains an error': '本节有错误',
    'Section contains edits': '本节有修改', 'Toggle list item': '展开/收起此项', 'Delete item': '删除此项',
    'Create new list item': '新建一项', 'List contains {numOfItems} item': '列表有 {numOfItems} 项',
    'List contains {numOfItems} items': '列表有 {numOfItems} 项', 'Open pop-up editor': '在弹出窗口中编辑',
    'Opened in editor': '已在编辑器中打开',
    'Click to set a dynamic value with FEEL expression': '点击用 FEEL 表达式设置动态值',
    'Click to remove dynamic value with FEEL expression': '点击取消 FEEL 表达式动态值',
    'JSON contains errors': 'JSON 有错误', 'FEEL expression is mandatory': '必须填写 FEEL 表达式',
    'Unparsable FEEL expression.': '无法解析的 FEEL 表达式。',
    'Start': '开始', 'End': '结束', 'Take': '经过', 'Choose element template': '选择元素模板',
    'Element templates': '元素模板', 'Template': '模板', 'Custom properties': '自定义属性',
    'Script format': '脚本格式', 'Input/Output': '输入/输出', 'Connector': '连接器', 'Details': '详细信息',
    'Local variable name': '局部变量名', 'Process variable name': '流程变量名', 'Assignment value': '赋值',
    'Field type': '字段类型', 'Form field': '表单字段', 'Validation': '校验', 'Constraint': '约束',
    'Property': '属性', 'Input': '输入', 'Output': '输出', 'Listener': '监听器', 'Event': '事件',
    'Field': '字段', 'Definition': '定义', 'Called decision': '被调用决策'
  };

  var normalized = {};
  function norm(s) { return String(s).toLowerCase().replace(/[-\s]+/g, ' ').trim(); }
  Object.keys(ZH).forEach(function (k) { normalized[norm(k)] = ZH[k]; });

  var missing = [];
  function fill(template, replacements) {
    replacements = replacements || {};
    return String(template).replace(/{([^}]+)}/g, function (all, key) {
      return Object.prototype.hasOwnProperty.call(replacements, key) ? replacements[key] : all;
    });
  }
  function lookup(template) {
    if (Object.prototype.hasOwnProperty.call(ZH, template)) { return ZH[template]; }
    var n = norm(template);
    if (Object.prototype.hasOwnProperty.call(normalized, n)) { return normalized[n]; }
    // "Start: {type}" and alike — a translated prefix before ": "
    var m = /^([^:{}]+): (.*)$/.exec(template);
    if (m && Object.prototype.hasOwnProperty.call(normalized, norm(m[1]))) { return normalized[norm(m[1])] + '：' + m[2]; }
    return null;
  }
  function translateZh(template, replacements) {
    var zh = lookup(template);
    if (zh === null) {
      if (/[A-Za-z]/.test(template) && !/^replace-with-|^[a-z-]+$/.test(template) && missing.indexOf(template) < 0) {
        missing.push(template);
      }
      zh = template;
    }
    return fill(zh, replacements);
  }

  // texts of @bpmn-io/properties-panel components that bpmn-js-properties-panel renders without the
  // translate service: translated in the DOM (YG.localize over the panel's container)
  var PANEL_DOM = {
    exact: {},
    patterns: [[/^List contains (\d+) items?$/, function (m) { return '列表有 ' + m[1] + ' 项'; }]]
  };
  ['Toggle section', 'Section contains an error', 'Section contains edits', 'Toggle list item', 'Delete item',
   'Create new list item', 'Open pop-up editor', 'Opened in editor', 'Opened in popup', 'Open documentation',
   '<empty>', 'Create', 'Save and close', 'Click to set a dynamic value with FEEL expression',
   'Click to remove dynamic value with FEEL expression', 'FEEL expression is mandatory',
   'Unparsable FEEL expression.', 'JSON contains errors', 'Search', 'No matching entries found.', 'Results'].forEach(function (k) {
    PANEL_DOM.exact[k] = ZH[k];
  });

  global.BpmnZh = {
    dictionary: ZH,
    panelDom: PANEL_DOM,
    missing: missing,
    lookup: lookup,
    translate: translateZh,
    module: function (lang) {
      return { translate: ['value', String(lang || '').indexOf('en') === 0 ? fill : translateZh] };
    }
  };
})(window);
