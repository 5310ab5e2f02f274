"""Arrears reminders and bill notices (issue 17): campaigns a supervisor plans, previews and sends.

* ``planner``: pure — accounts from the billing API → the households a campaign targets, with
  their own amounts and the late fee as of the send day (billing_client's rule, in-process).
* ``channels``: who can be reached where (WeChat bindings, the 48-hour window, opt-outs) from Redis.
* ``service``: campaigns and their per-household rows in SQL (the exactly-once record).
* ``sender``: the console's background worker that sends queued rows through the WeChat API.
* ``router``: the console API; ``cli``: the same for cron.
"""
