// Chinese texts of the reminder campaign page and the account lookup, re-exported by i18n.js
// (import them from there). Code uses the English keys.

// The reminder campaign page (js/views/reminders.js).
export const REMINDER_KINDS = {
  bill_issued: "账单出账通知",
  deadline_approaching: "缴费截止提醒",
  overdue: "逾期欠费提醒",
  credit_warning: "征信预警（逾期第25天起）",
  payment_credited: "缴费到账通知",
};

export const REMINDER_STATES = {
  queued: "待发送",
  sending: "发送中",
  sent: "已发送",
  delivered: "已送达（住户已看到）",
  failed: "发送失败",
  no_channel: "无可用渠道",
  opted_out: "已退订",
  throttled: "近期已提醒",
  skipped_paid: "已缴费跳过",
};

export const REMINDER_STATUS = { planned: "待发送（预览）", sending: "发送中", done: "已完成", cancelled: "已取消" };

export const R = {
  nav: "催缴提醒",
  title: "催缴提醒与账单通知",
  notAllowed: "只有主管账号可以发起催缴提醒。",
  kind: "提醒类型",
  district: "区域（留空为全部）",
  minArrears: "欠费不低于（元）",
  days: "天数（逾期天数 / 截止前天数，可留空）",
  preview: "生成预览",
  send: "确认发送",
  cancel: "取消活动",
  previewTitle: "发送预览",
  campaign: (id, status) => `活动 #${id} · ${status}`,
  households: (n) => `目标住户 ${n} 户`,
  totalArrears: (amount) => `欠费合计 ${amount} 元`,
  asOf: (day) => `金额计算至 ${day}（含当日滞纳金）`,
  districtCol: "区域",
  householdsCol: "住户",
  arrearsCol: "欠费合计（元）",
  sample: (accountNo) => `示例消息（户号 ${accountNo}）`,
  noSample: "没有需要发送的住户。",
  tally: "发送进度",
  quietHours: "当前处于免打扰时段（21:00–08:00），消息将在免打扰结束后发送。",
  paused: (reason) => `微信接口限流，稍后自动继续（${reason}）。`,
  widgetNote: "官网聊天窗口的会话未绑定户号，仅能通过聊天窗口联系的住户计入“无可用渠道”。",
  recent: "最近的活动",
  planned: "预览已生成，确认无误后点击“确认发送”。",
  started: "已开始发送。",
  working: "正在计算，请稍候……",
};

// Account lookup in the ticket's side panel (js/views/account_lookup.js).
export const LOOKUP = {
  label: "查询户号（用户在会话中提供的户号）",
  hint: "将用户在会话中提供的手机尾号与预留手机核对；没有尾号或不一致时显示为未验证。",
  submit: "查询",
  working: "查询中…",
  verified: "已核实：用户在会话中提供的手机尾号与预留手机一致。",
  noTail: "用户尚未在会话中提供手机尾号，请勿向用户透露账单信息。请用户提供预留手机号后四位后再次查询即可核实。",
  tailMismatch: (tail) => `用户提供的手机尾号（${tail}）与预留手机不符，请勿向用户透露账单信息。`,
  payments: "缴费记录",
  noPayments: "暂无缴费记录",
  payDate: "缴费日期",
  payAmount: "金额",
  payChannel: "渠道",
  channels: { wechat: "微信", alipay: "支付宝", bank: "银行", counter: "营业厅", cash: "现金" },
  unverified: "未验证",
  historyVerified: "已核实",
  historyMissing: "收费系统无此户号",
  announceVerified: (no) => `户号 ${no} 已核实，账户信息已显示`,
  announceUnverified: (no) => `户号 ${no} 未验证，账户信息已显示`,
  errors: {
    400: "户号应为 8 到 10 位数字，请核对后再查。",
    403: "只有处理此工单的坐席或主管可以查询户号，请先领取工单。",
    404: "收费系统中没有这个户号，请与用户核对。",
    503: "收费系统暂时无响应，请稍后再试。",
    other: "查询失败，请稍后再试。",
  },
};
