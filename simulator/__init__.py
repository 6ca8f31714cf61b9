"""webhook-simulator: realistic, signed webhooks on demand."""

from __future__ import annotations

__version__ = "0.1.0"
