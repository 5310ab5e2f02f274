"""Chinese texts the console itself puts in front of residents (the console's one messages module).

The agent UI's texts live in console/static/app/js/i18n.js; the bot's in domain.yml.
"""

from __future__ import annotations

#: The name residents see ("客服{name}正在处理您的问题") for an account created without one:
#: a staff number, never the login.
DEFAULT_DISPLAY_NAME = "{number}号"

#: Told to a resident whose follow-up went straight back to the agent who helped them (console/follow_up.py).
FOLLOW_UP_NOTICE = "您好，刚才为您服务的客服{agent}会继续处理您的问题（工单 {ticket_no}），请稍候。"
