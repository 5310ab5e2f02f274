"""What the console does beyond plain data access, one module per family of operations.

* ``account_lookup``: the 户号 a resident typed, looked up and verified from the ticket's side panel.
* ``presence``: online / away / offline, from the agent's choice and whether their console is open.
* ``teams``: teams, the categories they handle, the team filter and transfer to a team.
* ``assignment``: auto-assignment by load (a supervisor's switch), after follow-up routing.
* ``handover``: a ticket given to an agent without their click, and the resident told who answers.
"""
