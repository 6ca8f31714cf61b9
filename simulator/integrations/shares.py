"""One process's share of a distributed run, whatever engine runs its users: the run's
identity, the users' slots, one set of books (RunStats, records) and, per user class,
the config, payload factory and attempts that `send` itself uses. Knows nothing of
Locust, so it is tested without it.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.errors import OptionError, RecordError, UsageError
from simulator.generation.payloads import Payload, PayloadFactory
from simulator.integrations.partition import MAX_WORKERS, Slots, event_index
from simulator.redaction import public_url
from simulator.reports.parts import record_name, write_part
from simulator.reports.records import Records
from simulator.reports.stats import RunStats
from simulator.seeds import derive_seed
from simulator.sending.attempts import Attempts, Event
from simulator.sending.config import SendConfig
from simulator.signing import make_signer

# What a user class may set, by SendConfig.from_options() keyword: send's options, named
# as its command line names them (`overrides` for --set, `sign` for --sign).
USER_OPTIONS = (
    "events", "seed", "now", "locale", "scenario", "envelope", "label", "overrides", "set_new",
    "templates", "sign", "secret", "secret_env", "headers", "timeout", "expect_status",
    "retries", "retry_schedule", "retry_time_scale", "max_retry_after", "insecure",
    "ca_bundle",
)  # fmt: skip
_SCHEDULE = frozenset(
    {"count", "duration_s", "rate", "ramp", "stages", "arrivals", "concurrency",
     "max_in_flight", "workers", "replay", "keep_signature"}
)  # fmt: skip
# A command line flag as a user class's attribute, where the two differ.
_ATTRIBUTES = {"set": "overrides", "header": "headers", "url": "host"}


def new_run_id(rng: random.Random | None = None) -> str:
    """A run's id: when it started (UTC) and 16 random bits, e.g. 20240312-144149-3fa2."""
    tail = (rng or random.SystemRandom()).getrandbits(16)
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{tail:04x}"


def new_seed() -> int:
    return secrets.randbits(32)


def user_config(
    options: Mapping[str, Any], url: str | None, environ: Mapping[str, str] | None = None
) -> SendConfig:
    """The SendConfig of a user class's options (USER_OPTIONS keys) for target `url`.
    OptionError names the attribute (`retries`) rather than the flag (`--retries`)."""
    given = {name: value for name, value in options.items() if value is not None}
    unknown = sorted(set(given) - set(USER_OPTIONS))
    if unknown:
        raise UsageError(f"unknown option '{unknown[0]}'")
    try:
        # Records are the share's own, per process: the config writes none.
        return SendConfig.from_options(url=url, dead_letter=None, environ=environ, **given)
    except OptionError as exc:
        flag = exc.flags[-1].lstrip("-")
        name = _ATTRIBUTES.get(flag, flag.replace("-", "_"))
        raise UsageError(f"invalid value for {name}: {exc.message}") from None


@dataclass(frozen=True)
class RunIdentity:
    """Who this process is in which run: the run's id and seed, this worker's index,
    the indexes every worker had at the start, and where its records go."""

    run: str
    worker: int
    workers: tuple[int, ...]
    seed: int
    out: Path
    log: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.worker < MAX_WORKERS:
            raise UsageError(f"worker index {self.worker}: a run has at most {MAX_WORKERS}")


class UserKit:
    """One user class in one process: its config, payloads, records and attempts."""

    def __init__(
        self,
        name: str,
        config: SendConfig,
        identity: RunIdentity,
        stats: RunStats,
        offset: float,
        clock: Callable[[], float],
    ) -> None:
        self.name = name
        self.config = config
        url = public_url(config.url or "")
        self.factory = PayloadFactory(config.events, config.generation, target_url=url)
        run, worker = identity.run, identity.worker
        self.log = record_name(run, worker, name, "log") if identity.log else None
        self.dead_letter = record_name(run, worker, name, "dead-letter")
        self.records = Records(
            log=identity.out / self.log if self.log else None,
            dead_letter=identity.out / self.dead_letter,
            append_dead_letter=False,
            secrets=[config.secret or ""],
            url=url,
            scheme=config.scheme or "",
        )
        self.records.offset = offset
        self.attempts = Attempts(
            config,
            stats,
            self.records,
            make_signer(config.scheme or "voucherify", config.secret),
            closed=True,  # a user sends one event at a time: there is no slot to hold
            clock=clock,
            rng=random.Random(derive_seed(identity.seed, "retry", worker, name)),
        )

    def describe(self) -> dict[str, Any]:
        config = self.config
        # The engine paces the users: send's schedule options play no part.
        options = {k: v for k, v in config.describe().items() if k not in _SCHEDULE}
        return {
            "url": public_url(config.url or ""),
            "scheme": config.scheme,
            "events": list(config.events),
            "options": options,
            "log": self.log,
            "dead_letter": self.dead_letter,
            "dead_lettered": self.records.dead_lettered,
            "dead_unwritten": self.records.dead_unwritten,
        }


class Share:
    """This process's share of a run: slots for its users, one RunStats for all of them,
    and a UserKit per user class. finish() writes the part that `merge` reads."""

    def __init__(
        self,
        identity: RunIdentity,
        *,
        engine: str = "locust",
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        try:
            identity.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RecordError(f"cannot write into '{identity.out}': {exc.strerror}") from None
        self.identity = identity
        self.engine = engine
        self.slots = Slots()
        self._clock, self._wall = clock, wall
        self.stats = RunStats()
        self.stats.started_at = wall()
        # Attempts are timed on the monotonic clock; records and merges need the wall's.
        self.offset = self.stats.started_at - clock()
        self.kits: dict[str, UserKit] = {}
        self.record_errors: list[str] = []
        self.finished: Path | None = None

    def kit(self, name: str, options: Mapping[str, Any], url: str | None) -> UserKit:
        """The kit of user class `name`, made on its first use with the run's seed unless
        the class sets its own."""
        kit = self.kits.get(name)
        if kit is None:
            given = {k: v for k, v in options.items() if v is not None}
            config = user_config({"seed": self.identity.seed, **given}, url)
            config = config.resolve()
            kit = UserKit(name, config, self.identity, self.stats, self.offset, self._clock)
            self.kits[name] = kit
        return kit

    def event(self, kit: UserKit, slot: int, sequence: int) -> Event:
        """The event a user sends as its slot's `sequence`-th: built, not yet sent."""
        index = event_index(self.identity.worker, slot, sequence)
        payload: Payload = kit.factory.build(index)
        return Event(payload, index)

    def now(self) -> float:
        return self._clock()

    def flush(self) -> None:
        """Write buffered records; a file that cannot be written is remembered once."""
        for kit in self.kits.values():
            try:
                kit.records.flush()
            except RecordError as exc:
                self._problem(str(exc))

    def _problem(self, text: str) -> None:
        if text not in self.record_errors:
            self.record_errors.append(text)

    def finish(self) -> Path:
        """Close the records and write this worker's part (once); RecordError if the
        part itself cannot be written."""
        if self.finished is not None:
            return self.finished
        stats = self.stats
        stats.finished_at = self._wall()
        if stats.first_send is not None and stats.last_send is not None:
            stats.first_send += self.offset
            stats.last_send += self.offset
        for kit in self.kits.values():
            try:
                kit.records.close()
            except RecordError as exc:
                self._problem(str(exc))
        identity = self.identity
        document = {
            "engine": self.engine,
            "run": identity.run,
            "worker": identity.worker,
            "workers": list(identity.workers),
            "seed": identity.seed,
            "users": {name: kit.describe() for name, kit in self.kits.items()},
            "record_errors": self.record_errors,
            "stats": stats.to_dict(),
        }
        self.finished = write_part(identity.out, document)
        return self.finished
