"""The WeChat Official Account server protocol, split by concern like wechatpy.

Nothing here knows about Rasa: `signature`, `crypto`, `messages`, `replies` are
pure and deterministic (time and randomness are parameters); `api` and `dedupe`
do the I/O against WeChat's HTTP API and Redis.
"""
