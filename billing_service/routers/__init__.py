"""One router per resource: accounts and reports."""
