"""The command line: `webhook-sim`. Parses, validates, calls the core and echoes; nothing else."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum

import click

from simulator import __version__
from simulator.errors import OptionError, RecordError, SimulatorError, UsageError


class ExitStatus(IntEnum):
    OK = 0
    FAILED = 1  # something was not delivered / not valid / could not run
    USAGE = 2
    THRESHOLD = 99
    INTERRUPTED = 130


# Command name -> the module that defines it. Modules load when their command runs, so
# `generate` does not pay for aiohttp, and Ctrl-C during start-up lands in run().
_COMMANDS = {
    "audit": "audit",
    "events": "generate",
    "generate": "generate",
    "validate": "validate",
    "send": "send",
    "replay": "send",
    "receive": "receive",
    "merge": "merge",
}


class _Command(click.Command):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except OptionError as exc:
            # The core names the option; Click shows it with the command's usage.
            raise click.BadParameter(exc.message, ctx=ctx, param_hint=exc.hint) from None


class _LazyGroup(click.Group):
    command_class = _Command

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        module = _COMMANDS.get(name)
        if module is not None and name not in self.commands:
            importlib.import_module(f"simulator.cli.{module}")  # registers its commands
        return super().get_command(ctx, name)


@click.group(
    cls=_LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="webhook-sim")
def cli() -> None:
    """Generate, send and receive realistic, signed webhooks (Voucherify first).

    Example:

        webhook-sim send --count 100 --rate 20/s
    """


def main(argv: list[str] | None = None) -> None:
    """The one place that turns errors into messages and exit codes."""
    sys.exit(run(argv))


def run(argv: list[str] | None = None) -> int:
    try:
        result = cli.main(args=argv, prog_name="webhook-sim", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("Aborted.", err=True)
        return ExitStatus.INTERRUPTED
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return ExitStatus.INTERRUPTED
    except UsageError as exc:
        click.echo(f"Error: {exc}", err=True)
        return ExitStatus.USAGE
    except SimulatorError as exc:
        click.echo(f"Error: {exc}", err=True)
        return ExitStatus.FAILED
    return int(result or 0)


@contextmanager
def stdout_guard() -> Iterator[None]:
    """Writing to stdout: a reader that stops early is fine, a full disk is an error."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        # `webhook-sim generate | head` closes the pipe once it has what it wants. Point
        # stdout at /dev/null so the interpreter's last flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError as exc:
        raise RecordError(f"cannot write to standard output: {exc.strerror}") from None


__all__ = ["ExitStatus", "cli", "main", "run", "stdout_guard"]
