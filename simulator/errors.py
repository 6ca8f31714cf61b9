"""The one exception hierarchy: every failure the core reports to a caller."""

from __future__ import annotations


class SimulatorError(Exception):
    """Base of every error the simulator raises on purpose."""


class UsageError(SimulatorError):
    """The caller asked for something that cannot be done (bad option, unknown name)."""


class UnknownEventError(UsageError):
    """An event name that no template defines."""

    def __init__(self, name: str, suggestions: list[str], glob: bool = False) -> None:
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        what = f"no event matches '{name}'" if glob else f"unknown event '{name}'"
        super().__init__(f"{what}.{hint} See 'webhook-sim events'.")
        self.name = name
        self.suggestions = suggestions


class TemplateError(SimulatorError):
    """A payload template that does not load or does not render to valid JSON."""


class OverrideError(UsageError):
    """A --set override that is malformed or names a path that does not exist."""


class SigningError(UsageError):
    """A signing scheme that cannot sign: unknown scheme, missing or malformed secret."""


class SchemaError(SimulatorError):
    """A payload that the project's schema rejects, or a schema that cannot be loaded."""


class DeliveryError(SimulatorError):
    """A send that could not run (target unreachable at start, bad URL, I/O failure)."""


class RecordError(SimulatorError):
    """A log, dead-letter or replay file that cannot be read or written."""


class OptionError(UsageError):
    """A value or a combination of options that a run cannot have, named as the command
    line names the option, so that the CLI and the Python API say the same words."""

    def __init__(self, flags: tuple[str, ...], message: str) -> None:
        self.flags = flags
        self.message = message
        self.hint = " / ".join(f"'{flag}'" for flag in flags)
        super().__init__(f"Invalid value for {self.hint}: {message}")
