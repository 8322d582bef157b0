"""The django-q2 entry point of the audit app; its dotted name is stored in the schedule
that migration ``audit.0003`` creates, so it stays put."""

from __future__ import annotations

from audit.services import checkpoint_write


def write_checkpoint() -> int | None:
    """Write a signed checkpoint of the chain's head if it moved since the last; return its id."""
    checkpoint = checkpoint_write(only_if_moved=True)
    return checkpoint.pk if checkpoint else None
