"""Benchmark: unique payloads per second on one core, against a naive baseline in the same run.

    python bench/bench_generate.py                 # throughput + baseline + memory (1M events)
    python bench/bench_generate.py --memory-events 0
    python bench/bench_generate.py --rounds 0 --memory-event '*'   # memory, all 72 events

The full path is what `send` does per event: seed → context → template → body bytes.
The baseline is the obvious way to write it: default Faker calls, Jinja2's built-in
(HTML-escaping) `tojson`, then json.loads/json.dumps to get compact bytes.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import jinja2
from faker import Faker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.generation.payloads import PayloadFactory  # noqa: E402

NOW = "2024-03-12T14:41:49.128Z"

NAIVE_TEMPLATE = """{
  "id": {{ ids.whs|tojson }}, "project_id": "proj_YaEcEOLM", "created_at": {{ now|tojson }},
  "type": "customer.order.created",
  "data": {
    "customer": {"id": {{ customer.id|tojson }}, "name": {{ customer.name|tojson }},
      "email": {{ customer.email|tojson }}, "source_id": {{ customer.source_id|tojson }},
      "metadata": {"region": {{ customer.region|tojson }}}, "object": "customer"},
    "referrer": null,
    "order": {"id": {{ ids.order|tojson }}, "source_id": null, "created_at": {{ now|tojson }},
      "updated_at": null, "status": "CREATED", "amount": {{ amount|tojson }},
      "total_amount": {{ amount|tojson }},
      "items": [{% for item in items %}{"object": "order_item",
        "product_id": {{ item.product_id|tojson }}, "quantity": {{ item.quantity|tojson }},
        "amount": {{ item.amount|tojson }}, "price": {{ item.price|tojson }},
        "subtotal_amount": {{ item.amount|tojson }},
        "product": {"name": {{ item.name|tojson }}, "price": {{ item.price|tojson }}}}
        {%- if not loop.last %},{% endif %}{% endfor %}],
      "metadata": {"card": [{{ card|tojson }}], "region": "US", "currency": "USD"},
      "customer": {"id": {{ customer.id|tojson }}, "object": "customer"},
      "customer_id": {{ customer.id|tojson }}, "referrer_id": null, "object": "order"},
    "redemption": null
  },
  "source": {"id": "distr_0000", "object": "distribution", "target_url": "https://example.com"},
  "event": {"id": {{ ids.event|tojson }}, "type": "customer.order.created",
    "created_at": {{ now|tojson }}, "entity_id": {{ customer.id|tojson }},
    "group_id": {{ ids.group|tojson }}, "event_source": {"channel": "API"}}
}"""


class Naive:
    """The obvious way to write it: default Faker calls, `tojson`, json.loads/json.dumps."""

    def __init__(self) -> None:
        self.fake = Faker("en_US")
        self.fake.seed_instance(1)
        self.template = jinja2.Environment(autoescape=True).from_string(NAIVE_TEMPLATE)

    def build(self) -> bytes:
        fake = self.fake
        items = []
        for _ in range(fake.random_int(1, 3)):
            price = fake.random_int(500, 15000)
            quantity = fake.random_int(1, 3)
            items.append(
                {
                    "product_id": "prod_" + fake.hexify("^" * 18),
                    "name": fake.catch_phrase(),
                    "price": price,
                    "quantity": quantity,
                    "amount": price * quantity,
                }
            )
        context = {
            "ids": {
                "whs": "whs_" + fake.hexify("^" * 18),
                "order": "ord_" + fake.pystr(24, 24),
                "event": "evcus_" + fake.hexify("^" * 18),
                "group": "v-" + fake.hexify("^" * 18),
            },
            "now": fake.iso8601() + ".000Z",
            "customer": {
                "id": "cust_" + fake.pystr(24, 24),
                "name": fake.name(),
                "email": fake.email(),
                "source_id": fake.user_name(),
                "region": fake.country_code(),
            },
            "items": items,
            "amount": sum(i["amount"] for i in items),
            "card": fake.credit_card_provider(),
        }
        text = self.template.render(context)
        return json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False).encode()


def cpu_seconds_per_payload(make: Callable[[], object], count: int) -> float:
    started = time.process_time()
    for _ in range(count):
        make()
    return (time.process_time() - started) / count


def peak_rss_mb(events: int, event: str = "customer.order.created") -> float:
    """Peak RSS of `webhook-sim generate EVENT -n EVENTS -o /dev/null`, measured on its own."""
    # A wrapper process per measurement: RUSAGE_CHILDREN is a maximum over all children
    # ever waited for, so measuring two runs from one process would mix them up.
    command = [
        sys.executable,
        "-m",
        "simulator",
        "generate",
        event,
        "-n",
        str(events),
        "--seed",
        "1",
        "--now",
        NOW,
        "-o",
        os.devnull,
    ]
    wrapper = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    done = subprocess.run(
        [sys.executable, "-c", wrapper, *command],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return int(done.stdout) / 1024


def timed(args: argparse.Namespace) -> None:
    """Payloads per CPU-second, this project's against the naive baseline."""
    factory = PayloadFactory("customer.order.created", seed=1, now=NOW)
    indexes = itertools.count()
    for _ in range(args.warmup):  # fills the Faker value pools, as any long run does
        factory.build(next(indexes))
    size = sum(len(factory.build(i).body) for i in range(1000)) // 1000
    naive = Naive()

    def project() -> object:
        return factory.build(next(indexes)).body

    # Short rounds, alternating, in CPU time: on a shared machine the speed drifts over
    # seconds, and the fastest round of each is the cost of the code, not of neighbours.
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(args.rounds):
        ours.append(cpu_seconds_per_payload(project, args.count))
        theirs.append(cpu_seconds_per_payload(naive.build, args.naive_count))
    print(f"python {sys.version.split()[0]}, 1 core, customer.order.created (mixed), {size} B mean")
    print(f"{args.rounds} alternating rounds; best round (median round)")
    for label, rounds in (("webhook-simulator", ours), ("naive baseline", theirs)):
        best, median = min(rounds), statistics.median(rounds)
        print(
            f"{label:<18}: {1 / best:>9,.0f} payloads/s ({best * 1e6:.0f} µs)"
            f"  (median {1 / median:,.0f}/s)"
        )
    print(f"speed-up          : {min(theirs) / min(ours):>9.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="timed rounds of each")
    parser.add_argument("--count", type=int, default=2_000, help="payloads per round (project)")
    parser.add_argument("--naive-count", type=int, default=200, help="payloads per round (naive)")
    parser.add_argument("--warmup", type=int, default=20_000)
    parser.add_argument("--memory-events", type=int, default=1_000_000)
    parser.add_argument(
        "--memory-event", default="customer.order.created", help="an event or a glob: '*'"
    )
    args = parser.parse_args()

    if args.rounds:
        timed(args)
    if args.memory_events:
        small = peak_rss_mb(10_000, args.memory_event)
        large = peak_rss_mb(args.memory_events, args.memory_event)
        print(
            f"peak RSS          : {args.memory_event}: {small:.0f} MB for 10,000 payloads, "
            f"{large:.0f} MB for {args.memory_events:,}"
        )


if __name__ == "__main__":
    main()
