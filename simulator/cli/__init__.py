"""The command line: `webhook-sim`. Parses, validates, calls the core and echoes; nothing else."""

from __future__ import annotations

import sys
from enum import IntEnum

import click

from simulator import __version__
from simulator.errors import SimulatorError, UsageError


class ExitStatus(IntEnum):
    OK = 0
    FAILED = 1  # something was not delivered / not valid / could not run
    USAGE = 2
    THRESHOLD = 99
    INTERRUPTED = 130


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
    except BrokenPipeError:
        # `webhook-sim generate | head` closes our stdout early; that is not an error.
        sys.stderr.close()
        return ExitStatus.OK
    return int(result or 0)


from simulator.cli import generate as _generate  # noqa: E402  (commands register themselves)
from simulator.cli import receive as _receive  # noqa: E402
from simulator.cli import send as _send  # noqa: E402
from simulator.cli import validate as _validate  # noqa: E402

__all__ = ["ExitStatus", "_generate", "_receive", "_send", "_validate", "cli", "main", "run"]
