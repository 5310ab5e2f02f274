"""Code that runs inside the Rasa server: NLU components, the handoff router, settings."""
