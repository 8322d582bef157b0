"""Metrics observed where things happen, in whichever process they happen (docs/metrics.md).

The bottom layer beside ``audit``: ``providers`` and ``campaigns`` record into it and it
imports none of our apps. ``config.metrics`` serves what it records at ``GET /metrics``.
"""
