"""What the console does beyond plain data access, one module per family of operations.

* ``account_lookup``: the 户号 a resident typed, looked up and verified from the ticket's side panel.
"""
