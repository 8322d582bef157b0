"""Waking workers: the queue only wakes work up, the database is the ledger.

A task carries nothing but a dispatch id; whoever runs it must still win the claim
(``campaigns.sending.claims``), so a duplicated or late task is harmless
(docs/queue-and-http.md).
"""

from __future__ import annotations

from django.db import transaction
from django_q.tasks import async_task


def enqueue_dispatch(dispatch_id: int) -> None:
    """Wake a worker for ``dispatch_id`` once the current transaction commits."""
    transaction.on_commit(
        lambda: async_task("campaigns.tasks.run_dispatch", dispatch_id, task_name=f"dispatch-{dispatch_id}")
    )
