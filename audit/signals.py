"""The one signal the audit trail sends: an event was recorded.

``event_recorded`` is sent by :func:`audit.services.record_event` inside the transaction
that records the event (and makes the change it describes), with ``event`` the saved
:class:`~audit.models.AuditEvent`. A receiver that writes rows therefore commits or rolls
back with the change; a receiver that raises rolls the change back. Higher layers derive
what they need from the trail this way without the trail importing them (the
``notifications`` app writes its outbox here: docs/architecture.md).
"""

from django.dispatch import Signal

event_recorded = Signal()
