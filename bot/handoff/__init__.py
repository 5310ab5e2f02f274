"""Handoff to a human agent: the trigger policy and the owner router shared by all connectors."""
