"""Payloads: the event catalog, the run's world, context builders and templates."""
