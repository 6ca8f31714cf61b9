"""Payloads from events: seed → context → template → exact body bytes."""

from __future__ import annotations

import random
import secrets
import time
from _random import Random as _CRandom
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from simulator.errors import OptionError, TemplateError, UsageError
from simulator.generation import render
from simulator.generation.builders.envelope import webhook
from simulator.generation.builders.orders import lifecycle_event
from simulator.generation.builders.spec import EventSpec
from simulator.generation.catalog import ENVELOPES, Event, discover, lookup, select
from simulator.generation.options import GenerationOptions
from simulator.generation.world import World
from simulator.options import naming, whole
from simulator.seeds import derive_seed, mix64

DEFAULT_EVENT = "customer.order.created"
Clock = Callable[[], int]  # epoch milliseconds
# Random.seed's Python wrapper only sorts out str/bytes seeds; an int goes straight to
# the C seeding, ~1 µs of the 5 a payload spends reseeding.
_reseed = _CRandom.seed


class Payload:
    """One generated webhook: its event type, ids and the exact bytes to send."""

    __slots__ = ("_data", "body", "event", "id", "index")

    def __init__(self, event: str, index: int, id: str, body: bytes, data: Any = None) -> None:
        self.event = event
        self.index = index
        self.id = id  # the sendout id (whs_…): kept across retries, the idempotency key
        self.body = body
        self._data = data

    @property
    def data(self) -> Any:
        """The body as Python objects, parsed on first use (a sender never needs it)."""
        if self._data is None:
            self._data = orjson.loads(self.body)
        return self._data

    def __repr__(self) -> str:
        return f"Payload(event={self.event!r}, index={self.index}, id={self.id!r})"


def real_clock() -> int:
    return time.time_ns() // 1_000_000


class PayloadFactory:
    """Builds payload number `index` of a run; the same index always gives the same bytes.

    Every random choice for an event comes from a generator seeded by (seed, index), so
    a run can be split between processes, resumed or replayed without changing a byte.
    Give GenerationOptions, or its from_options() keywords: seed (0 or more; None draws
    one), now (an ISO 8601 instant or epoch milliseconds; None reads the real clock),
    locale, scenario, envelope, label, overrides, set_new, templates.
    """

    def __init__(
        self,
        events: str | Sequence[str] | None = None,
        options: GenerationOptions | None = None,
        *,
        target_url: str | None = None,
        **keywords: Any,
    ) -> None:
        if options is None:
            options = GenerationOptions.from_options(**keywords)
        elif keywords:
            raise UsageError("pass GenerationOptions or keyword options, not both")
        names = _event_names(events, options)
        self.options = options
        self.seed = secrets.randbits(32) if options.seed is None else options.seed
        self.spec = EventSpec(scenario=options.scenario, target_url=target_url, label=options.label)
        self.world = World(self.seed, options.locale)
        fixed = options.now
        self._clock: Clock = real_clock if fixed is None else (lambda: fixed)
        self._salt = derive_seed(self.seed, "event")
        self._rng = random.Random()
        self._create = options.create_paths
        self._overrides = options.overrides
        templates = options.templates

        # Built-in templates are tested to render valid JSON; user templates are checked
        # on every payload so a broken one is reported, not sent.
        self._check_json = bool(templates)
        catalog = discover(templates)
        self.events: list[Event] = select(catalog, names)
        env = render.make_environment(templates)
        # Built-in templates use no Jinja globals; user templates may (range, namespace…).
        self._globals = dict(env.globals) if templates else {}
        envelope = options.envelope
        self._plans = [self._plan(env, ev, envelope, bool(templates)) for ev in self.events]
        self._lifecycle = options.lifecycle
        self._named = {plan[0].name: plan for plan in self._plans}
        self._chain_salt = derive_seed(self.seed, "chain")
        self._chain_rng = random.Random()

    def _plan(self, env: Any, event: Event, envelope: str | None, user: bool) -> tuple:
        envelope = envelope or event.default_envelope
        name = event.template if envelope == "none" else event.template + "@" + envelope
        template = render.load(env, name)
        # Reseeding Faker costs ~6 µs a payload, and built-in templates take their values
        # from the builders, never from `fake` (tests/test_catalog.py checks): only with
        # user folders does a template get it, since a macro it imports may use it unseen.
        return event, template, self.world.fakes.faker if user else None

    def build(self, index: int) -> Payload:
        if index < 0:
            raise UsageError(f"invalid payload index {index}: payloads are numbered from 0")
        rng = self._rng
        _reseed(rng, mix64(self._salt ^ index))
        plans = self._plans
        now_ms = self._clock()
        if self._lifecycle is None:
            event, template, fake = plans[0] if len(plans) == 1 else rng.choice(plans)
            context = event.builder(self.world, event.name, index, rng, now_ms, self.spec)
        else:
            name, context, now_ms = self._chain_step(index, now_ms)
            event, template, fake = self._named[name]
        hook = webhook(self.world, event, index, rng, now_ms, context, self.spec)
        context["webhook"] = hook
        context["data_template"] = event.template
        if fake is not None:
            fake.seed_instance(mix64(self._salt ^ index ^ 0x5EED))
            # fake.unique remembers what it gave: across events, payload n would depend on
            # the ones built before it. Unique within one event is what a template can have.
            fake.unique.clear()
            context["fake"] = fake
        if self._globals:
            context = {**self._globals, **context}
        body = render.render(template, context).encode()
        if not (self._overrides or self._check_json):
            return Payload(event.name, index, hook["id"], body)
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            # The output is compacted, so its position says little: show the text there.
            # orjson's position counts characters, not bytes.
            text, pos = body.decode(), exc.pos
            near = text[max(pos - 30, 0) : pos + 10]
            # A quoted {{ expression }} puts a JSON string inside a string: "" or "id-"
            # closes first, and the value's own text follows that quote directly. Any
            # other failure would get a hint that does not apply.
            quoted = text[pos - 1 : pos] == '"' and text[pos : pos + 1] not in '",:]}'
            hint = (
                "every {{ expression }} is already a JSON value, so do not quote it"
                if quoted
                else "look there for a missing or extra value, comma or bracket"
            )
            env = template.environment
            where = env.loader.get_source(env, event.template)[1] or event.template
            raise TemplateError(
                f"{where} rendered invalid JSON ({exc.msg} at {near!r}); {hint}"
            ) from None
        if self._overrides:
            for item in self._overrides:
                item.apply(data, create=self._create)
            body = orjson.dumps(data)
        return Payload(event.name, index, hook["id"], body, data)

    def _chain_step(self, index: int, now_ms: int) -> tuple[str, dict, int]:
        """Payload `index` as a step of its order's chain: (event, context, its time)."""
        lifecycle = self._lifecycle
        assert lifecycle is not None
        chain, step = lifecycle.position(index)
        rng = self._chain_rng
        _reseed(rng, mix64(self._chain_salt ^ chain))
        return lifecycle_event(self.world, lifecycle.steps, chain, step, rng, now_ms, self.spec)

    def stream(self, start: int = 0, step: int = 1, count: int | None = None) -> Iterator[Payload]:
        """Payloads start, start+step, … (`step` > 1 lets worker processes share a run)."""
        index = start
        made = 0
        while count is None or made < count:
            yield self.build(index)
            index += step
            made += 1


def _event_names(events: str | Sequence[str] | None, options: GenerationOptions) -> list[str]:
    """The events to build: those given, else the lifecycle's, else order creation."""
    names = [events] if isinstance(events, str) else list(events or ())
    lifecycle = options.lifecycle
    if lifecycle is not None:
        if names and names != list(lifecycle.names):
            raise OptionError(("--lifecycle",), "names the events itself: give no EVENT")
        return list(lifecycle.names)
    if events is not None and not names:
        raise UsageError("no event given")
    return names or [DEFAULT_EVENT]


def render_context(
    event: str,
    context: dict,
    *,
    envelope: str = "none",
    templates: Sequence[str | Path] = (),
) -> bytes:
    """Render one event's template with a context you give (e.g. from a fixture file).

    The context has the shape the built-in builders produce (customer, referrer, order,
    redemption, campaign, promotion_tier, voucher, webhook); see fixtures/voucherify/contexts/.
    """
    if envelope not in ENVELOPES:
        raise UsageError(f"unknown envelope '{envelope}': choose one of {', '.join(ENVELOPES)}")
    found = lookup(discover(templates), event)
    env = render.make_environment(templates)
    name = found.template if envelope == "none" else found.template + "@" + envelope
    return render.render(render.load(env, name), render.with_globals(env, context)).encode()


class Batch:
    """`count` payloads of one factory, made as they are asked for; `seed` is the seed
    that makes them (drawn when none was given), so a run can say how to repeat it."""

    def __init__(self, factory: PayloadFactory, count: int) -> None:
        self.factory = factory
        self.seed = factory.seed
        self.count = count
        self._payloads = factory.stream(count=count)

    def __iter__(self) -> Iterator[Payload]:
        return self._payloads

    def __next__(self) -> Payload:
        return next(self._payloads)


def generate(
    event: str | Sequence[str] | None = None,
    count: int | str = 1,
    **options: Any,
) -> Batch:
    """`count` payloads, made as they are iterated; options are those of PayloadFactory.

    Example:
        for p in generate("customer.order.paid", count=3, seed=7, now="2024-03-12T14:41:49Z"):
            print(p.data["data"]["order"]["total_amount"], len(p.body))
    """
    with naming("-n", "--count"):
        total = whole(count, 0, "count")
    return Batch(PayloadFactory(event, **options), total)
