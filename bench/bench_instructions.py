"""Instructions per payload, counted by valgrind: a figure that neighbours cannot move.

    python bench/bench_instructions.py              # the project and the naive baseline
    python bench/bench_instructions.py --count 500  # quicker, a little less exact
    python bench/bench_instructions.py --events     # every event, against customer.order.created

On a shared machine, timings drift by ±30 % from minute to minute, so a change worth 3 %
is invisible to bench_generate.py. An instruction count is the same on every run. Each
side runs twice under `valgrind --tool=cachegrind --cache-sim=no`, building N and then 3N
payloads after the same start; the difference over 2N is what one payload costs, with
start-up, imports and warm-up cancelled out.

The project's side starts as a long run is after its first minute: the run's customers,
products and campaigns built and rendered, its value pools filled. Instructions are not
time (a cache miss counts as one), so confirm a gain with bench_generate.py as well.
Needs valgrind; the Python that runs this script is the one measured.

With --events, one process under valgrind makes the run's world and every event's
templates and caches once, then forks a child per event and count: a child's count
includes what its parent did before the fork, the same for both of an event's children,
so their difference is again what 2N payloads of that event cost.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))


def _fill(factory: object, now: str) -> None:
    """What a long run has made by its first minute: every customer (rendered), product,
    campaign, profile, card and coupon of the world."""
    from simulator.generation import cards, programs
    from simulator.generation.builders.customers import profile
    from simulator.generation.render import entity
    from simulator.generation.values import parse_instant
    from simulator.generation.world import CAMPAIGN_SLOTS, CUSTOMER_SLOTS, PRODUCT_SLOTS

    now_ms = parse_instant(now)
    world, env = factory.world, factory._plans[0][1].environment  # type: ignore[attr-defined]
    for slot in range(CUSTOMER_SLOTS):
        entity(env, world.customer(slot), "customer")
    for slot in range(PRODUCT_SLOTS):
        world.product(slot)
    for slot in range(CAMPAIGN_SLOTS):
        for kind in ("promotion", "coupons"):
            world.campaign(kind, slot, now_ms)
    if len(factory._plans) == 1:  # type: ignore[attr-defined]
        return  # the order events' own benchmark: as it always was
    for slot in range(CUSTOMER_SLOTS):
        profile(world, slot, now_ms)
        for kind, programs_of_kind in (("gift", programs.GIFT_SLOTS),
                                       ("loyalty", programs.LOYALTY_SLOTS),
                                       ("referral", programs.REFERRAL_SLOTS)):  # fmt: skip
            for program in range(programs_of_kind):
                cards.card(world, kind, program, slot, now_ms)
    for slot in range(CAMPAIGN_SLOTS):
        for n in range(cards.COUPONS_PER_CAMPAIGN):
            cards.coupon(world, slot, n, now_ms)


def _build_events(count: int) -> None:
    """Under valgrind: warm every event once, then a child per (event, count)."""
    from bench_generate import NOW

    from simulator.generation.catalog import builtin
    from simulator.generation.payloads import PayloadFactory

    factory = PayloadFactory(sorted(builtin()), seed=1, now=NOW)
    _fill(factory, NOW)
    plans = list(factory._plans)
    for plan in plans:  # templates, partials and the event's own caches
        factory._plans = [plan]
        for index in range(1, 201):
            factory.build(index)
    for plan in plans:
        for n in (count, 3 * count):
            pid = os.fork()
            if pid == 0:
                factory._plans = [plan]
                for index in range(1_000_000, 1_000_000 + n):
                    factory.build(index)
                print(os.getpid(), plan[0].name, n, flush=True)
                os._exit(0)
            os.waitpid(pid, 0)


def per_event(count: int) -> dict[str, int]:
    """Instructions per payload of every built-in event."""
    with tempfile.TemporaryDirectory() as logs:
        done = subprocess.run(
            ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
             f"--log-file={logs}/vg.%p", sys.executable, __file__, "--child", "events",
             str(count)],
            capture_output=True, text=True, check=True, cwd=ROOT,
        )  # fmt: skip
        counts: dict[str, dict[int, int]] = {}
        for line in done.stdout.splitlines():
            pid, name, n = line.split()
            log = Path(logs, f"vg.{pid}").read_text()
            found = re.search(r"I\s+refs:\s+([\d,]+)", log)
            if found is None:
                raise SystemExit(f"valgrind printed no count for {name}:\n{log[-2000:]}")
            counts.setdefault(name, {})[int(n)] = int(found.group(1).replace(",", ""))
    return {name: (c[3 * count] - c[count]) // (2 * count) for name, c in counts.items()}


def _build(side: str, count: int) -> None:
    """The measured program: `count` payloads of `side`, after that side's warm-up."""
    from bench_generate import NOW, Naive

    if side == "naive":
        naive = Naive()
        for _ in range(count):
            naive.build()
        return

    from simulator.generation.payloads import PayloadFactory

    factory = PayloadFactory("customer.order.created", seed=1, now=NOW)
    factory.build(0)  # compiles the templates
    # Reaching every slot by building payloads would take ~40,000 builds, minutes under
    # valgrind: fill them directly, in the environment the factory renders with.
    _fill(factory, NOW)
    for index in range(1, 1001):  # order lines, distributions, partials met along the way
        factory.build(index)
    for index in range(1_000_000, 1_000_000 + count):
        factory.build(index)


def _instructions(side: str, count: int) -> int:
    done = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         sys.executable, __file__, "--child", side, str(count)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if found is None:
        raise SystemExit(f"valgrind printed no instruction count:\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def per_payload(side: str, count: int) -> int:
    return (_instructions(side, 3 * count) - _instructions(side, count)) // (2 * count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="N for the project's side")
    parser.add_argument("--naive-count", type=int, default=100, help="N for the naive side")
    parser.add_argument(
        "--events", action="store_true", help="every event, N payloads each (try --count 200)"
    )
    parser.add_argument("--child", nargs=2, metavar=("SIDE", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if min(args.count, args.naive_count) < 1:
        parser.error("--count and --naive-count must be 1 or more")
    if args.child:
        if args.child[0] == "events":
            _build_events(int(args.child[1]))
        else:
            _build(args.child[0], int(args.child[1]))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed: this benchmark counts instructions with it")
    if args.events:
        costs = per_event(args.count)
        base = costs["customer.order.created"]
        print(f"python {sys.version.split()[0]}, instructions per payload, every event "
              f"(x: against customer.order.created, {base:,}):")  # fmt: skip
        width = max(map(len, costs))
        for name, cost in sorted(costs.items(), key=lambda item: -item[1]):
            print(f"{name:<{width}}  {cost:>11,}  {cost / base:5.2f}x")
        return
    ours = per_payload("project", args.count)
    theirs = per_payload("naive", args.naive_count)
    print(f"python {sys.version.split()[0]}, customer.order.created (mixed), one payload:")
    print(f"webhook-simulator : {ours:>11,} instructions")
    print(f"naive baseline    : {theirs:>11,} instructions")
    print(f"ratio             : {theirs / ours:>11.1f}x")


if __name__ == "__main__":
    main()
