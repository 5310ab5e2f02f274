"""One router per resource: auth, tickets, agents, events, metrics."""
