"""What an audit is, checked in one place: target, signing, events, cases and outputs.
from_options() takes the command line's text, so `webhook-sim audit` and
`simulator.audit()` refuse the same input in the same words."""

from __future__ import annotations

import dataclasses
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.audit.cases import NAMES, Case, select
from simulator.errors import UsageError
from simulator.generation.catalog import discover, expand, lookup
from simulator.generation.options import GenerationOptions
from simulator.options import naming
from simulator.reports.records import check_distinct, check_page
from simulator.sending.parsing import check_connection, parse_header
from simulator.sending.schedule import parse_duration
from simulator.signing import make_signer, read_secret

DEFAULT_EVENT = "customer.order.created"
TIMEOUT_S = 10.0  # Voucherify waits this long for a 2xx


@dataclass(frozen=True)
class AuditConfig:
    """Everything one audit needs. `scheme` None is the first event's own; `only` and
    `skip` name cases (cases.NAMES)."""

    url: str
    events: tuple[str, ...] = (DEFAULT_EVENT,)
    generation: GenerationOptions = field(default_factory=GenerationOptions)
    scheme: str | None = None
    secret: str | None = field(default=None, repr=False)
    headers: tuple[tuple[str, str], ...] = ()
    timeout: float = TIMEOUT_S
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    report: str | None = None
    junit: str | None = None
    html: str | None = None
    insecure: bool = False
    ca_bundle: str | None = None

    def __post_init__(self) -> None:
        check_connection(
            url=self.url,
            scheme=self.scheme,
            headers=self.headers,
            timeout=self.timeout,
            insecure=self.insecure,
            ca_bundle=self.ca_bundle,
        )
        if not self.events:
            raise UsageError("no event given")
        for flag, names in (("--only", self.only), ("--skip", self.skip)):
            with naming(flag):
                select(names)
        with naming("--skip"):
            self.cases()
        check_distinct({"--report": self.report, "--junit": self.junit, "--html": self.html})
        if self.html is not None:
            check_page(self.html)
        # A missing or malformed secret is a usage error before any I/O.
        make_signer(self.own_scheme(), self.secret)

    @classmethod
    def from_options(
        cls,
        url: str,
        *,
        events: str | Sequence[str] = (),
        sign: str | None = None,
        secret: str | None = None,
        secret_env: str | None = None,
        headers: Sequence[str] | Mapping[str, str] = (),
        timeout: float | str = TIMEOUT_S,
        only: str | Sequence[str] = (),
        skip: str | Sequence[str] = (),
        environ: Mapping[str, str] | None = None,
        seed: int | str | None = None,
        now: str | int | None = None,
        locale: str = "en_US",
        scenario: str = "mixed",
        envelope: str | None = None,
        label: str | None = None,
        overrides: Sequence[str] | Mapping[str, Any] = (),
        set_new: bool = False,
        templates: Sequence[str | Path] = (),
        **options: Any,
    ) -> AuditConfig:
        """A config from the command line's options by their parameter names: text is
        parsed as the command line parses it ("5s", "a,b" for --only). The secret is read
        from $WEBHOOK_SECRET (or $`secret_env`) when none is given."""
        generation = GenerationOptions.from_options(
            seed=seed, now=now, locale=locale, scenario=scenario, envelope=envelope, label=label,
            overrides=overrides, set_new=set_new, templates=templates,
        )  # fmt: skip
        if isinstance(timeout, str):
            with naming("--timeout"):
                timeout = parse_duration(timeout)
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        with naming("-H", "--header"):
            parsed = tuple(parse_header(h) if isinstance(h, str) else tuple(h) for h in pairs)
        environ = os.environ if environ is None else environ
        names = (events,) if isinstance(events, str) else tuple(events)
        # Globs ('voucher.*') become the names they pick, as for send.
        names = expand(names or (DEFAULT_EVENT,), generation.templates)
        return cls(
            url=url,
            events=names,
            generation=generation,
            scheme=sign,
            secret=read_secret(secret, secret_env, environ),
            headers=parsed,  # type: ignore[arg-type]
            timeout=timeout,
            only=_names(only),
            skip=_names(skip),
            **options,
        )

    def own_scheme(self) -> str:
        """The scheme requests are signed with: the one asked for, else the event's own."""
        if self.scheme is not None:
            return self.scheme
        return lookup(discover(self.generation.templates), self.events[0]).signing

    def cases(self) -> tuple[Case, ...]:
        return select(self.only, self.skip)

    def resolve(self, rng: random.Random | None = None) -> AuditConfig:
        """This config with a fixed seed (drawn when none was given, and reported) and
        its scheme, so that the audit can be repeated."""
        changes: dict[str, Any] = {"scheme": self.own_scheme()}
        if self.generation.seed is None:
            seed = (rng or random.SystemRandom()).getrandbits(32)
            changes["generation"] = dataclasses.replace(self.generation, seed=seed)
        return dataclasses.replace(self, **changes)


def _names(value: str | Sequence[str]) -> tuple[str, ...]:
    """Case names from "a,b", or a list of such texts (a repeated option)."""
    items = [value] if isinstance(value, str) else list(value)
    return tuple(name.strip() for item in items for name in item.split(",") if name.strip())


__all__ = ["NAMES", "AuditConfig"]
