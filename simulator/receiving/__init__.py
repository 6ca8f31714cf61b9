"""Receiving: the mock receiver and what it checks in each request."""
