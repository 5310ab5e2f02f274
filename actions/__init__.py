"""rasa-sdk custom actions, grouped by topic."""
