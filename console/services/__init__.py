"""What the console does, one module per family of operations.

* ``console.repository``: thin data access (look a row up or raise NotFoundError).
* ``audit``: the audit trail and the ticket snapshot carried by live events.
* ``transition``: the one guarded status change (update with a guard, rowcount, conflict, audit, enqueue).
* ``agents`` / ``sessions``: accounts, and logins with their server-side sessions.
* ``intake``: ticket requests and residents' messages from the Rasa side.
* ``delivery``: an agent message's way to the resident (sent, re-sent, confirmed, failed).
* ``operations``: what agents do to tickets (claim, transfer, reply, note, resolve, reopen).
* ``csat``: the resident's satisfaction score.
* ``account_lookup``: the 户号 a resident typed, looked up and verified from the ticket's side panel.
* ``queries``: the queue, filters and a ticket's transcript, notes and history.
* ``presence``: online / away / offline, from the agent's choice and whether their console is open.
* ``teams``: teams, the categories they handle, the team filter and transfer to a team.
* ``assignment``: auto-assignment by load (a supervisor's switch), after follow-up routing.
* ``handover``: a ticket given to an agent without their click, and the resident told who answers.

Functions do not commit; the caller commits with :func:`console.redis_ops.commit` so that the
Redis side effects recorded here run only after the rows are durable.
"""
