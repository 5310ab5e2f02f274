"""Chinese texts the console itself puts in front of residents (the console's one messages module).

The agent UI's texts live in console/static/app/js/i18n.js; the bot's in domain.yml.
"""

from __future__ import annotations

#: The name residents see ("客服{name}正在处理您的问题") for an account created without one:
#: a staff number, never the login.
DEFAULT_DISPLAY_NAME = "{number}号"

#: Told to a resident whose follow-up went straight back to the agent who helped them (console/follow_up.py).
FOLLOW_UP_NOTICE = "您好，刚才为您服务的客服{agent}会继续处理您的问题（工单 {ticket_no}），请稍候。"

#: Told to a resident whose new ticket auto-assignment gave to an agent (console/services/assignment.py).
ASSIGNED_NOTICE = "您好，客服{agent}将为您处理问题（工单 {ticket_no}），请稍候。"

#: Told when a ticket transferred to a team went on to one of its agents at once.
TEAM_ASSIGNED_NOTICE = "您好，您的问题已转交客服{agent}继续处理（工单 {ticket_no}），请稍候。"

#: Canned-reply variables (console/canned.py) and the gap shown when a ticket cannot fill one.
CANNED_GAPS = {
    "name": "户主姓名",
    "account": "户号",
    "unpaid": "欠费金额",
    "late_fee": "滞纳金",
    "total": "合计金额",
    "ticket_no": "工单号",
    "agent": "客服姓名",
    "hotline": "热线电话",
}

#: The canned replies a new installation starts with (migration 0005); supervisors edit them.
#: (shortcut, title, text, category or None for every ticket)
DEFAULT_CANNED_REPLIES = (
    ("问候", "接入问候", "您好，我是客服{agent}，很抱歉让您久等了，我来帮您处理（工单 {ticket_no}）。", None),
    ("致歉", "安抚致歉", "非常理解您的心情，给您带来不便，我们深表歉意。", None),
    ("核实", "请提供户号", "请您提供一下供热户号和预留手机号后四位，我帮您核实。", None),
    ("欠费", "欠费明细", "{name}您好，您家（户号 {account}）目前欠费 {unpaid} 元，滞纳金 {late_fee} 元，合计 {total} 元，请您核对。", None),
    ("滞纳金", "滞纳金规则", "滞纳金按未缴金额每日千分之一计算，自 2024 年 1 月 1 日起执行；您家目前滞纳金 {late_fee} 元。", "dispute_late_fee"),
    ("缴费", "缴费渠道", "您可以通过微信公众号、营业厅或银行代缴完成缴费。", None),
    ("报修", "已登记维修", "已为您登记维修（工单 {ticket_no}），维修师傅会尽快与您联系上门。", None),
    ("漏水", "漏水先关阀", "如有漏水请先关闭进户阀门、远离热水；我已通知抢修调度，紧急情况请拨打 24 小时热线 {hotline}。", "report_leak"),
    ("记录", "已记录转办", "您的问题已记录并提交相关部门（工单 {ticket_no}），处理结果会及时通知您。", None),
    ("结束", "还有别的吗", "请问还有其他可以帮您的吗？", None),
)
