"""Request and response bodies of the console API (what /docs shows), one module per area.

``common`` (shared literals and validators), ``agents``, ``tickets`` (how a ticket, its messages,
notes and history are shown, and the conversions from rows), ``operations`` (what agents send to
change a ticket), ``metrics`` (dashboard and health), ``canned`` (canned replies) and ``teams``
(presence, teams and auto-assignment).
"""
