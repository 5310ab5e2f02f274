"""The contract between HeatDesk's two runtimes, spelled once (docs/architecture.md).

The Rasa side (Python 3.10: bot, connectors, actions) and the service side (Python 3.11:
console, billing service) talk over Redis only; both import this package, so a Redis key, a
stream name, a stream field or the masking of a phone number cannot drift between them.
Standard library only (plus ``billing_client.rule``, itself stdlib-only), importable from
both virtualenvs; nothing here reads the environment: each runtime's settings pass the
key prefix and the city file in.

* ``keys``: Redis key names under one prefix (:class:`KeySpace`) and the queue's score.
* ``streams``: stream names, consumer groups, how an entry is read, the console-only entries;
  the entries themselves in ``tickets`` (Rasa side → console) and ``outbox`` (console → Rasa
  side), what they share in ``fields``. Import them all from ``streams``.
* ``owner``: the conversation-owner hash and the Lua scripts that change it.
* ``masking``: phone numbers, names and ID numbers as residents and agents see them.
* ``city``: the late-fee policy built from ``config/city.yml``.
* ``digits``: digits as residents type them (full-width, grouped, in Chinese), read alike by the
  bot's identity form and the console's account lookup.
"""
