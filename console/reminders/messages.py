"""Chinese texts of reminder notices (the one messages module of the console's reminders).

Each kind has the customer-service text (inside WeChat's 48-hour window) and the fields of
the template message (outside it): first, keyword1 (户号), keyword2 (金额), keyword3 (日期),
remark. ``{…}`` are filled by ``planner.render``.
"""

from __future__ import annotations

TEXTS: dict[str, str] = {
    "bill_issued": (
        "【热费账单】{holder}您好，您家（户号{account_no}）{season}采暖季热费账单已出：应缴{principal}元，"
        "请于{due_date}前缴清，逾期每天按未交金额的1‰收取滞纳金。"
    ),
    "deadline_approaching": (
        "【缴费提醒】{holder}您好，您家（户号{account_no}）{season}采暖季热费还有{unpaid}元未缴，"
        "缴费截止日{due_date}，还剩{days_left}天。逾期后每天按未交金额的1‰收取滞纳金。"
    ),
    "overdue": (
        "【欠费提醒】{holder}您好，您家（户号{account_no}）热费已逾期{overdue_days}天：未交{unpaid}元，"
        "截至{as_of}滞纳金{late_fee}元，合计{total}元。滞纳金每天按未交金额的1‰继续累计，请尽快缴纳。"
    ),
    "credit_warning": (
        "【征信提醒】{holder}您好，您家（户号{account_no}）热费已逾期{overdue_days}天：未交{unpaid}元，"
        "截至{as_of}滞纳金{late_fee}元，合计{total}元。逾期超过{credit_days}天可能被报送征信系统，请尽快缴纳。"
    ),
    "payment_credited": (
        "【缴费到账】{holder}您好，您家（户号{account_no}）{paid_on}缴纳的{paid}元已到账，"
        "截至{as_of}尚欠{total}元。感谢您按时缴费！"
    ),
}

TEMPLATE_FIRST: dict[str, str] = {
    "bill_issued": "您的热费账单已出",
    "deadline_approaching": "热费缴费截止日临近",
    "overdue": "您的热费已逾期",
    "credit_warning": "热费逾期即将影响征信",
    "payment_credited": "您的热费缴费已到账",
}

PAY_LINE = "点击缴费：{pay_url}"
OPT_OUT_LINE = "回复「退订」不再接收提醒。"
TEMPLATE_REMARK = "点击本消息即可缴费。回复「退订」不再接收提醒。"
