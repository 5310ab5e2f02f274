"""The WeChat Official Account server protocol, split by concern like wechatpy.

Nothing here knows about Rasa: `signature`, `crypto`, `messages`, `replies`,
`callback` and `answers` are pure and deterministic (time and randomness are
parameters); `api`, `dedupe`, `push` and `choices` do the I/O against WeChat's
HTTP API and Redis; `passive` is the 5-second passive-reply state machine over
any awaitable bot turn.
"""
