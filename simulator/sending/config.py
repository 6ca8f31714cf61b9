"""What a send run is, checked in one place: target, schedule, signing, retries, records.

SendConfig holds typed values and refuses any combination a run cannot have; its
from_options() takes the command line's text (and the Python API's keywords) and parses
it. Every error names the option as the command line spells it, so `webhook-sim send`
and `simulator.send()` refuse the same input in the same words.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.errors import UsageError
from simulator.generation.catalog import discover, expand, lookup
from simulator.generation.options import GenerationOptions
from simulator.options import choice, naming, refuse, whole
from simulator.redaction import redact
from simulator.reports.records import check_distinct, check_page
from simulator.reports.thresholds import Threshold
from simulator.seeds import derive_seed
from simulator.sending.faults import TIMESTAMPED, FaultRates, check_share
from simulator.sending.parsing import (
    check_connection,
    check_workers,
    parse_option,
)
from simulator.sending.retry import RetryPolicy
from simulator.sending.schedule import (
    ARRIVALS,
    Schedule,
    Stage,
    build_schedule,
    parse_duration,
)
from simulator.signing import make_signer, read_secret

DEFAULT_EVENT = "customer.order.created"
DEFAULT_DEAD_LETTER = "dead-letter.ndjson"


@dataclass(frozen=True)
class SendConfig:
    """Everything one send run needs. Plain data, so worker processes receive it whole.

    With neither count nor duration one event is sent; rate None means "max": a closed
    model with `concurrency` senders. `ramp` is (start, end) events/s across `duration`;
    `stages` replace the rate. `scheme` None means the first event's own scheme, fixed
    by resolve(), as is a random seed, so every worker makes the same run. `replay` names
    a file to send again instead of generating. `secret_env` says where `secret` was read.
    """

    url: str | None = None  # None: the built-in receiver, started by send()
    events: tuple[str, ...] = (DEFAULT_EVENT,)
    generation: GenerationOptions = field(default_factory=GenerationOptions)
    replay: str | None = None
    skip_bad: bool = False
    keep_signature: bool = False
    count: int | None = None
    duration: float | None = None
    rate: float | None = None
    ramp: tuple[float, float] | None = None
    stages: tuple[Stage, ...] | None = None
    arrivals: str = "uniform"
    concurrency: int = 64
    max_in_flight: int = 512
    workers: int = 1
    scheme: str | None = None
    secret: str | None = field(default=None, repr=False)
    secret_env: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    timeout: float = 10.0
    expect_status: frozenset[int] | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    thresholds: tuple[Threshold, ...] = ()
    log: str | None = None
    log_bodies: bool = False
    dead_letter: str | None = DEFAULT_DEAD_LETTER
    report: str | None = None
    junit: str | None = None
    html: str | None = None
    insecure: bool = False
    ca_bundle: str | None = None
    grace: float = 5.0
    # Faults mixed into the run (sending/faults.py): shares of events, a reorder window.
    duplicates: float = 0.0
    reorder: int = 0
    tamper: float = 0.0
    wrong_secret: float = 0.0
    stale: float = 0.0

    def __post_init__(self) -> None:
        if not self.events:
            raise UsageError("no event given")
        check_connection(
            url=self.url,
            scheme=self.scheme,
            headers=self.headers,
            timeout=self.timeout,
            insecure=self.insecure,
            ca_bundle=self.ca_bundle,
        )
        with naming("--arrivals"):
            choice(self.arrivals, ARRIVALS, "arrivals")
        for name, flags in (("count", ("-n", "--count")), ("concurrency", ("--concurrency",)),
                            ("max_in_flight", ("--max-in-flight",))):  # fmt: skip
            if name != "count" or self.count is not None:
                with naming(*flags):
                    whole(getattr(self, name), 1, name.replace("_", " "))
        with naming("--workers"):
            check_workers(whole(self.workers, 1, "workers"))
        if not self.grace >= 0:
            raise refuse("--grace", f"invalid grace {self.grace!r}: use 0 or more seconds")
        self._check_pace()
        self._check_sources()
        self._check_faults()
        check_distinct(
            {"--dead-letter": self.dead_letter, "--log": self.log, "--report": self.report,
             "--junit": self.junit, "--html": self.html}
        )  # fmt: skip
        # A replay may read its own dead-letter file (it is rewritten), but no other output.
        check_distinct(
            {"the replayed file": self.replay, "--log": self.log, "--report": self.report,
             "--junit": self.junit, "--html": self.html}
        )  # fmt: skip
        if self.html is not None:
            check_page(self.html)

    def _check_pace(self) -> None:
        if self.ramp is not None:
            if self.rate is not None:
                raise refuse("--ramp", "cannot be combined with --rate")
            if self.duration is None:
                raise refuse("--ramp", "needs --duration, e.g. --ramp 10/s..500/s --duration 1m")
        if self.stages is not None:
            for other in ("rate", "count", "duration"):
                if getattr(self, other) is not None:
                    raise refuse(
                        "--stages", f"cannot be combined with --{other}: the stages set the length"
                    )
        if self.arrivals == "poisson" and self.closed:
            raise refuse("--arrivals", "poisson needs a rate, e.g. --rate 50/s")
        # The schedule's own checks (a rate above 0, stages that send) in these words.
        with naming("--rate"):
            self.schedule()

    def _check_sources(self) -> None:
        if self.log_bodies and not self.log:
            raise refuse("--log-bodies", "needs --log FILE")
        if self.keep_signature and self.scheme is not None:
            raise refuse("--keep-signature", "cannot be combined with --sign")
        lifecycle = self.generation.lifecycle
        if lifecycle is not None and self.replay is not None:
            raise refuse("--lifecycle", "cannot be combined with a replay")
        if lifecycle is not None and self.events != lifecycle.names:
            raise refuse("--lifecycle", "names the events itself: give no EVENT")
        if self.replay is not None and not os.path.isfile(self.replay):
            raise UsageError(f"cannot read '{self.replay}': no such file")
        if self.url is not None and not self.keep_signature:
            # A missing or malformed secret is a usage error before any I/O; the built-in
            # receiver (no url) makes a secret of its own.
            make_signer(self.scheme or self.own_scheme(), self.secret)

    def _check_faults(self) -> None:
        for name in ("duplicates", "tamper", "wrong_secret", "stale"):
            with naming("--" + name.replace("_", "-")):
                check_share(getattr(self, name), f"{getattr(self, name):g}")
        with naming("--reorder"):
            whole(self.reorder, 0, "reorder window")
        if self.faults.any and self.replay is not None:
            raise refuse(_first_fault(self, _FAULTS), "cannot be combined with a replay")
        scheme = self.scheme or self.own_scheme()
        if self.faults.forged and scheme == "none":
            flag = _first_fault(self, _FAULTS[2:])
            raise refuse(flag, "needs a signing scheme: --sign none signs nothing")
        if self.stale and scheme not in TIMESTAMPED:
            raise refuse(
                "--stale",
                f"needs a scheme that signs a timestamp (--sign standard or stripe), not {scheme}",
            )

    @property
    def faults(self) -> FaultRates:
        return FaultRates(self.duplicates, self.tamper, self.wrong_secret, self.stale, self.reorder)

    @classmethod
    def from_options(
        cls,
        *,
        events: str | Sequence[str] = (),
        seed: int | str | None = None,
        now: str | int | None = None,
        locale: str = "en_US",
        scenario: str = "mixed",
        envelope: str | None = None,
        label: str | None = None,
        overrides: Sequence[str] | Mapping[str, Any] = (),
        set_new: bool = False,
        templates: Sequence[str | Path] = (),
        lifecycle: str | Sequence[str] | None = None,
        sign: str | None = None,
        secret_env: str | None = None,
        retries: int | str | None = None,
        retry_schedule: str = "exponential",
        retry_time_scale: float | str = 1.0,
        max_retry_after: float | str = 60.0,
        retry: RetryPolicy | None = None,
        environ: Mapping[str, str] | None = None,
        **options: Any,
    ) -> SendConfig:
        """A config from the command line's options, by their parameter names (`rate`,
        `max_in_flight`, `sign`, `retry_schedule`, `thresholds`…): text is parsed as the
        command line parses it ("50/s", "30s", "10/s..500/s", "auto", "2xx", "p99<250ms"),
        the secret is read from $WEBHOOK_SECRET (or $`secret_env`) when none is given. A
        RetryPolicy may be given whole as `retry`, in place of the four retry options."""
        unknown = sorted(set(options) - _FIELDS)
        if unknown:
            raise UsageError(f"unknown option '{unknown[0]}'")
        parsed = {name: parse_option(name, value) for name, value in options.items()}
        generation = GenerationOptions.from_options(
            seed=seed, now=now, locale=locale, scenario=scenario, envelope=envelope, label=label,
            overrides=overrides, set_new=set_new, templates=templates, lifecycle=lifecycle,
        )  # fmt: skip
        if retry is None:
            with naming("--retry-time-scale"):
                time_scale = _number(retry_time_scale, "retry time scale")
            with naming("--max-retry-after"):
                max_wait = _seconds(max_retry_after)
            with naming("--retries"):
                retries = None if retries is None else whole(retries, 0, "retries")
            retry = RetryPolicy(
                retries=retries,
                schedule=retry_schedule,
                time_scale=time_scale,
                max_retry_after_s=max_wait,
            )
        environ = os.environ if environ is None else environ
        secret = read_secret(parsed.pop("secret", None), secret_env, environ)
        names = (events,) if isinstance(events, str) else tuple(events)
        if generation.lifecycle is not None and not names:
            names = generation.lifecycle.names
        # Globs ('voucher.*') become the names they pick: a run's report names events.
        names = expand(names or (DEFAULT_EVENT,), generation.templates)
        return cls(
            events=names,
            generation=generation,
            scheme=sign,
            secret=secret,
            secret_env=secret_env,
            retry=retry,
            **parsed,
        )

    @property
    def seed(self) -> int | None:
        return self.generation.seed

    @property
    def closed(self) -> bool:
        return self.rate is None and self.ramp is None and self.stages is None

    def resolve(self, rng: random.Random | None = None, **changes: Any) -> SendConfig:
        """This config made whole for a run, with `changes`: a fixed seed, so that every
        worker plans the same run, and the signing scheme (the first event's own)."""
        if self.seed is None and "generation" not in changes:
            seed = (rng or random.SystemRandom()).getrandbits(32)
            changes["generation"] = dataclasses.replace(self.generation, seed=seed)
        # Resent signatures are the recorded ones: no scheme signs them.
        if self.scheme is None and not self.keep_signature and "scheme" not in changes:
            changes["scheme"] = self.own_scheme()
        return dataclasses.replace(self, **changes) if changes else self

    def own_scheme(self) -> str:
        """The scheme events are signed with when none is asked for: the event's own."""
        if self.replay is not None:
            return "voucherify"
        return lookup(discover(self.generation.templates), self.events[0]).signing

    def schedule(self, count: int | None = None) -> Schedule:
        """The run's send schedule; `count` caps it (a replay file's length)."""
        if count is not None:
            count = count if self.count is None else min(count, self.count)
            if count == 0:
                raise UsageError("nothing to send")
        else:
            count = self.count
        # Only Poisson arrivals draw from the seed: a uniform plan is the same for any.
        seed = (self.seed or 0) if self.arrivals == "poisson" else 0
        return _planned(
            self.rate, self.ramp, self.stages, count, self.duration, self.arrivals, seed
        )

    def describe(self) -> dict[str, Any]:
        """The options for a report: secret-free, JSON-safe."""
        secrets = [self.secret] if self.secret else []
        return {
            "count": self.count,
            "duration_s": self.duration,
            "rate": "max" if self.closed else self.rate,
            "ramp": list(self.ramp) if self.ramp else None,
            "stages": [[s.duration, s.target] for s in self.stages] if self.stages else None,
            "arrivals": self.arrivals,
            "concurrency": self.concurrency,
            "max_in_flight": self.max_in_flight,
            "workers": self.workers,
            "headers": redact(dict(self.headers), secrets),
            "timeout_s": self.timeout,
            "expect_status": sorted(self.expect_status) if self.expect_status else "2xx",
            "retries": self.retry.limit,
            "retry_schedule": self.retry.schedule,
            "retry_time_scale": self.retry.time_scale,
            "max_retry_after_s": self.retry.max_retry_after_s,
            "insecure": self.insecure,
            "replay": self.replay,
            "keep_signature": self.keep_signature,
            "generation": self.generation.describe(),
            "faults": vars(self.faults),
        }


_FIELDS = frozenset(f.name for f in dataclasses.fields(SendConfig)) - {
    "events", "generation", "scheme", "secret_env", "retry",
}  # fmt: skip


@functools.lru_cache(maxsize=16)
def _planned(
    rate: float | None,
    ramp: tuple[float, float] | None,
    stages: tuple[Stage, ...] | None,
    count: int | None,
    duration: float | None,
    arrivals: str,
    seed: int,
) -> Schedule:
    """A schedule, planned once per process: validating a config plans it, the run and
    each worker's engine reuse it (a Schedule never changes once made)."""
    rng = random.Random(derive_seed(seed, "arrivals"))
    if ramp is not None:
        start, end = ramp
        plan = [Stage(0.0, start), Stage(duration or 0.0, end)]
        return build_schedule(
            stages=plan, count=count, duration=duration, arrivals=arrivals, rng=rng
        )
    return build_schedule(
        rate=rate,
        count=count,
        duration=duration,
        stages=list(stages) if stages is not None else None,
        arrivals=arrivals,
        rng=rng,
    )


def _number(value: float | str, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"invalid {what} {value!r}: use a number, e.g. 0.001") from None
    return number


def _seconds(value: float | str) -> float:
    return parse_duration(value) if isinstance(value, str) else float(value)


_FAULTS = ("duplicates", "reorder", "tamper", "wrong_secret", "stale")


def _first_fault(config: SendConfig, names: tuple[str, ...]) -> str:
    """The flag of the first of `names` that a config sets, to name in an error."""
    name = next((name for name in names if getattr(config, name)), names[0])
    return "--" + name.replace("_", "-")
