"""HeatDesk's reference billing system (FastAPI + SQLAlchemy).

It exists so that the bot's billing client has a real server to talk to in
the demo and in tests. A heating company replaces it with its own system
behind the same API (docs/billing_api.md).
"""
