"""Real local servers that stand in for outside systems in tests (stdlib only: both envs import them)."""
