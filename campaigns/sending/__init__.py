"""Sending: the ledger of dispatches and deliveries and the engine that fills it."""
