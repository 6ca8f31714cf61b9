"""webhook-simulator: realistic, signed webhooks on demand.

The public API, imported lazily so that `import simulator` stays cheap (the HTTP engine
is only loaded by code that sends or receives):

    from simulator import generate, validate, send, audit, Receiver
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # `simulator.audit` is also a package: this tells type checkers the name is callable.
    from simulator.audit.api import audit as audit

__version__ = "0.1.0"

_EXPORTS = {
    # generation
    "generate": "simulator.generation.payloads",
    "render_context": "simulator.generation.payloads",
    "PayloadFactory": "simulator.generation.payloads",
    "Payload": "simulator.generation.payloads",
    "GenerationOptions": "simulator.generation.options",
    "discover": "simulator.generation.catalog",
    "LOCALES": "simulator.generation.values",
    "SCENARIO_CHOICES": "simulator.generation.builders.spec",
    "ENVELOPES": "simulator.generation.catalog",
    # sending
    "send": "simulator.sending.api",
    "SendConfig": "simulator.sending.config",
    "RetryPolicy": "simulator.sending.retry",
    "SendResult": "simulator.sending.results",
    "Progress": "simulator.sending.results",
    "ARRIVALS": "simulator.sending.schedule",
    "RETRY_SCHEDULES": "simulator.sending.retry",
    # merging the parts of a distributed run
    "merge": "simulator.reports.merge",
    "MergeResult": "simulator.reports.merge",
    "DEFAULT_PARTS": "simulator.reports.parts",
    # auditing a receiver
    "audit": "simulator.audit.api",
    "AuditConfig": "simulator.audit.config",
    "AuditResult": "simulator.audit.results",
    "audit_cases": "simulator.audit.cases",
    # receiving
    "Receiver": "simulator.receiving.receiver",
    "Behaviour": "simulator.receiving.behaviour",
    "ReceivedRequest": "simulator.receiving.checks",
    "ReceiverStats": "simulator.receiving.checks",
    # schema and signing
    "validate": "simulator.schema",
    "supported_events": "simulator.schema",
    "make_signer": "simulator.signing",
    "SCHEMES": "simulator.signing",
    # errors
    "SimulatorError": "simulator.errors",
    "UsageError": "simulator.errors",
    "OptionError": "simulator.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'simulator' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
