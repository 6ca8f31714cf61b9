"""Our generator, signing and accounting inside other load engines (Locust)."""
