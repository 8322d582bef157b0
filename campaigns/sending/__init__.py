"""Sending: the ledger of dispatches and deliveries and the engine that fills it.

The engine turns one occurrence of a campaign into provider requests, exactly once. The
database is the ledger; the queue only wakes work up (docs/queue-and-http.md). In the
order a send goes through it:

* ``ticker``: every due occurrence becomes exactly one ``Dispatch`` (``dispatcher_tick``).
* ``wake``: a worker is woken for it through the queue (``enqueue_dispatch``).
* ``run``: the worker claims it (``claims``), checks on the first run that it is not too
  late and still approved, plans it (``plan``: every ``Delivery`` in one transaction, each
  with a deterministic idempotency key) and runs the send loop (``dispatch_run``).
* ``loop``: ``SendLoop`` sends chunk after chunk (``batches``), within the account's rate
  share (``ratelimit``), stores the answers (``outcomes``) and ends the dispatch
  (``finish``) or hands it to a new task.
* ``watchdog``: resumes dispatches whose worker died (``dispatches_recover``).
* ``operations``: the emergency stop and an operator's decision on an ``unknown`` request.
* ``transitions``: which dispatch and delivery status may follow which; every move is a
  compare-and-swap through ``dispatch_move`` / ``delivery_move``.

Beside it: ``native`` (provider-side scheduling), ``recall``, ``receipts`` and
``callbacks`` (per-user outcomes a provider reports), ``selectors`` and the REST API
(``api``, ``api_calendar``).
"""
