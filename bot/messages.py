"""Chinese texts the Rasa runtime sends outside the dialogue: the channels' own messages and the
apology for an unreachable action server (the bot's dialogue replies live in domain.yml)."""

# Told by the delivery worker when the console had to give a handoff another ticket number (the
# first one was already taken after a Redis restart).
TICKET_RENUMBERED = "更正：您的工单号是 {ticket_no}（此前告知的 {previous_no} 作废），人工客服会尽快与您联系。"

# REST channel
REST_SERVICE_ERROR = "抱歉，系统开小差了，请稍后再试。着急的话可以回复「转人工」，或拨打供热服务热线。"

# WeChat Official Account channel (connectors/wechat.py, connectors/wechat_protocol/answers.py)
WECHAT_WELCOME = (
    "您好，欢迎关注！我是供热智能客服，7×24小时在线，可以帮您：\n"
    "1. 查询欠费和余额（需提供户号和预留手机号后四位）\n"
    "2. 解释滞纳金怎么计算\n"
    "3. 解答缴费渠道、采暖期、报停/复供、发票等问题\n"
    "4. 登记报修（屋里不热、管道漏水等）\n"
    "直接打字提问就可以，也可以点击下方菜单；需要人工服务请回复「转人工」。"
)
WECHAT_VOICE_PLEASE_TYPE = "抱歉，这条语音我没能听清。麻烦您用文字把问题发给我，谢谢！"
WECHAT_IMAGE_RECEIVED = (
    "收到您的图片，谢谢！不过我暂时还看不懂图片，请用文字描述一下您的问题"
    "（如需报修，请写明地址和具体情况）。"
)
WECHAT_UNSUPPORTED_MESSAGE = "抱歉，我目前只能处理文字消息，请直接输入您的问题。"
#: A text over `connectors.base.MAX_TEXT` characters (every channel applies the same limit).
WECHAT_MESSAGE_TOO_LONG = "消息太长了（最多 {limit} 个字），请精简后再发送，或分几次发送。"
WECHAT_UNKNOWN_MENU = "这个菜单暂时不可用，请直接输入您的问题，或回复「转人工」。"
#: Under numbered choices (WeChat text has no buttons): the resident answers with the digit.
WECHAT_CHOICE_HINT = "（回复数字即可选择）"
WECHAT_UNBOUND = "已解除本微信与户号的绑定。以后查询欠费需要重新提供户号和手机尾号。"
WECHAT_NOT_BOUND = "本微信没有绑定户号，无需解绑。"
WECHAT_SERVICE_ERROR = "抱歉，系统开小差了，请稍后再试。着急的话可以回复「转人工」，或拨打供热服务热线。"

# Told to the agent in the console when a reply could not reach a WeChat user.
WECHAT_AGENT_OUTSIDE_WINDOW = (
    "该微信用户已超过48小时未与公众号互动，微信不允许再发送客服消息。"
    "请等待用户再次留言，或通过电话等其他方式联系用户。"
)
WECHAT_AGENT_QUOTA_EXCEEDED = "用户回复前可发送的客服消息已达微信上限，请等待用户回复后再发送。"
WECHAT_AGENT_SEND_UNCERTAIN = "发送超时：微信可能已收到也可能未收到这条消息，请勿直接重发，必要时向用户确认。"
WECHAT_AGENT_SEND_FAILED = "微信拒绝了这条消息（错误码 {errcode}），消息未送达。"
WECHAT_AGENT_NOT_WECHAT = "这个会话不是微信会话，无法通过公众号发送。"
WECHAT_AGENT_NOT_CONFIGURED = "微信公众号的 AppID/AppSecret 未配置，无法发送客服消息。"

# Website chat widget (connectors/widget.py, connectors/widget_protocol/payloads.py); sent as `widget_error` events, never as exceptions.
WIDGET_EMPTY_MESSAGE = "消息是空的，请输入您想咨询的问题。"
WIDGET_MESSAGE_TOO_LONG = "消息太长了（最多 {limit} 个字），请精简后再发送，或分几次发送。"
WIDGET_INVALID_MESSAGE = "抱歉，这条消息的格式无法识别，请重新输入文字后发送。"
WIDGET_NO_SESSION = "会话已失效，请刷新页面后重试。"
WIDGET_TEMPORARILY_UNAVAILABLE = "抱歉，客服系统暂时繁忙，您的消息没有发出，请稍后再试。"
WIDGET_SERVICE_ERROR = "抱歉，系统开小差了，请稍后再试。着急的话可以回复「转人工」，或拨打供热服务热线。"

# An action could not run (bot/action_guard.py). "转人工" is not offered: handing over is an
# action too, so the hotline is the way to a person while the action server is away.
ACTION_FAILED = "抱歉，系统开小差了，暂时没能处理您的问题，请稍后再试。着急的话请拨打供热服务热线 {hotline}。"
ACTION_FAILED_NO_HOTLINE = "抱歉，系统开小差了，暂时没能处理您的问题，请稍后再试。"

# Reminders (bot/handoff/router.py): replies to 退订 / 恢复提醒 in any channel.
REMINDERS_STOPPED = "已为您退订缴费提醒和账单通知，之后不再推送。想重新接收，回复「恢复提醒」即可。"
REMINDERS_RESUMED = "已为您恢复缴费提醒和账单通知。不想再接收时，回复「退订」即可。"

# Satisfaction question after an agent resolved the ticket (bot/csat.py). The score first, so that
# WeChat residents (no buttons there) answer with the digit; 5 is the best.
CSAT_LABELS = {5: "非常满意", 4: "满意", 3: "一般", 2: "不满意", 1: "非常不满意"}
CSAT_OPTION = "{score} {label}"
CSAT_QUESTION = "请您为本次人工服务打分：\n{options}\n回复1-5为本次服务评分"
#: The widget shows the options as buttons under the question.
CSAT_QUESTION_BUTTONS = "请您为本次人工服务打分（点击下方按钮，或回复1-5）："
CSAT_THANKS = "感谢您的评价！您的反馈会帮助我们改进服务。还有其他问题可以随时问我。"
CSAT_THANKS_LOW = "感谢您的评价，很抱歉这次没让您满意，我们会认真改进。问题还没解决的话，回复「转人工」即可再次联系人工客服。"
