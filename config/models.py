"""The project's own models: none any more.

A signed-in person's language preference (README, "Languages") moved to
``notifications.models.UserPreference`` (migrations ``notifications.0003`` and
``config.0002``), where notifications can read it without importing this layer
(docs/architecture.md, "Languages of pages and notifications").
"""
