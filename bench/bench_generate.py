"""Benchmark: unique payloads per second on one core, against a naive baseline in the same run.

    python bench/bench_generate.py                 # throughput + baseline + memory (1M events)
    python bench/bench_generate.py --memory-events 0

The full path is what `send` does per event: seed → context → template → body bytes.
The baseline is the obvious way to write it: default Faker calls, Jinja2's built-in
(HTML-escaping) `tojson`, then json.loads/json.dumps to get compact bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jinja2
from faker import Faker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.payloads import PayloadFactory  # noqa: E402

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


def naive_payloads(count: int) -> float:
    """Seconds to make `count` payloads the naive way."""
    fake = Faker("en_US")
    fake.seed_instance(1)
    template = jinja2.Environment(autoescape=True).from_string(NAIVE_TEMPLATE)
    started = time.perf_counter()
    for _ in range(count):
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
        text = template.render(context)
        json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False).encode()
    return time.perf_counter() - started


def project_payloads(count: int, warmup: int) -> tuple[float, int]:
    """Seconds to make `count` payloads through PayloadFactory, and their mean size."""
    factory = PayloadFactory("customer.order.created", seed=1, now=NOW)
    for index in range(warmup):  # fills the Faker value pools, as any long run does
        factory.build(index)
    size = 0
    started = time.perf_counter()
    for index in range(warmup, warmup + count):
        size += len(factory.build(index).body)
    return time.perf_counter() - started, size // count


def peak_rss_mb(events: int) -> float:
    """Peak RSS of `webhook-sim generate -n EVENTS -o /dev/null`, measured on its own."""
    # A wrapper process per measurement: RUSAGE_CHILDREN is a maximum over all children
    # ever waited for, so measuring two runs from one process would mix them up.
    command = [
        sys.executable,
        "-m",
        "simulator",
        "generate",
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50_000, help="payloads timed (project)")
    parser.add_argument("--naive-count", type=int, default=3_000, help="payloads timed (naive)")
    parser.add_argument("--warmup", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3, help="best of N rounds")
    parser.add_argument("--memory-events", type=int, default=1_000_000)
    args = parser.parse_args()

    project = min(project_payloads(args.count, args.warmup)[0] for _ in range(args.rounds))
    _, size = project_payloads(1000, 0)
    naive = min(naive_payloads(args.naive_count) for _ in range(args.rounds))
    project_rate = args.count / project
    naive_rate = args.naive_count / naive
    print(f"python {sys.version.split()[0]}, 1 core, customer.order.created (mixed), {size} B mean")
    print(
        f"webhook-simulator : {project_rate:>9,.0f} payloads/s  ({1e6 / project_rate:.0f} µs each)"
    )
    print(f"naive baseline    : {naive_rate:>9,.0f} payloads/s  ({1e6 / naive_rate:.0f} µs each)")
    print(f"speed-up          : {project_rate / naive_rate:>9.1f}x")
    if args.memory_events:
        small = peak_rss_mb(10_000)
        large = peak_rss_mb(args.memory_events)
        print(
            f"peak RSS          : {small:.0f} MB for 10,000 payloads, "
            f"{large:.0f} MB for {args.memory_events:,}"
        )


if __name__ == "__main__":
    main()
