"""The website widget's protocol pieces, split by concern like `connectors.wechat_protocol`.

`payloads` validates what clients send, `transcript` keeps a session's messages and
resume token in Redis, `events` names our events beyond Rasa's and emits to a
session's rooms. `connectors.widget` ties them to Rasa and socket.io.
"""
