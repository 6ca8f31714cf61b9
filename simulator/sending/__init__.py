"""Sending: the send API, its config, the engine, workers and the HTTP client."""
