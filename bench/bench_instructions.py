"""Instructions per payload, counted by valgrind: a figure that neighbours cannot move.

    python bench/bench_instructions.py              # the project and the naive baseline
    python bench/bench_instructions.py --count 500  # quicker, a little less exact

On a shared machine, timings drift by ±30 % from minute to minute, so a change worth 3 %
is invisible to bench_generate.py. An instruction count is the same on every run. Each
side runs twice under `valgrind --tool=cachegrind --cache-sim=no`, building N and then 3N
payloads after the same start; the difference over 2N is what one payload costs, with
start-up, imports and warm-up cancelled out.

The project's side starts as a long run is after its first minute: the run's customers,
products and campaigns built and rendered, its value pools filled. Instructions are not
time (a cache miss counts as one), so confirm a gain with bench_generate.py as well.
Needs valgrind; the Python that runs this script is the one measured.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))


def _build(side: str, count: int) -> None:
    """The measured program: `count` payloads of `side`, after that side's warm-up."""
    from bench_generate import NOW, Naive

    if side == "naive":
        naive = Naive()
        for _ in range(count):
            naive.build()
        return

    from simulator.generation.payloads import PayloadFactory
    from simulator.generation.render import entity
    from simulator.generation.values import parse_instant
    from simulator.generation.world import CAMPAIGN_SLOTS, CUSTOMER_SLOTS, PRODUCT_SLOTS

    factory = PayloadFactory("customer.order.created", seed=1, now=NOW)
    factory.build(0)  # compiles the templates
    # Reaching every slot by building payloads would take ~40,000 builds, minutes under
    # valgrind: fill them directly, in the environment the factory renders with.
    world, env = factory.world, factory._plans[0][1].environment
    for slot in range(CUSTOMER_SLOTS):
        entity(env, world.customer(slot), "customer")
    for slot in range(PRODUCT_SLOTS):
        world.product(slot)
    for slot in range(CAMPAIGN_SLOTS):
        for kind in ("promotion", "coupons"):
            world.campaign(kind, slot, parse_instant(NOW))
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
    parser.add_argument("--child", nargs=2, metavar=("SIDE", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if min(args.count, args.naive_count) < 1:
        parser.error("--count and --naive-count must be 1 or more")
    if args.child:
        _build(args.child[0], int(args.child[1]))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed: this benchmark counts instructions with it")
    ours = per_payload("project", args.count)
    theirs = per_payload("naive", args.naive_count)
    print(f"python {sys.version.split()[0]}, customer.order.created (mixed), one payload:")
    print(f"webhook-simulator : {ours:>11,} instructions")
    print(f"naive baseline    : {theirs:>11,} instructions")
    print(f"ratio             : {theirs / ours:>11.1f}x")


if __name__ == "__main__":
    main()
