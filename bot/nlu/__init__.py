"""Custom Rasa NLU components for Chinese heating conversations."""
