"""--lifecycle: chains of one order's events, consistent within a chain, schema-valid,
and payload n still a function of the seed and n."""

from __future__ import annotations

import orjson
import pytest
from conftest import NOW

from simulator import PayloadFactory, generate, send, validate
from simulator.errors import UsageError
from simulator.generation.lifecycle import parse_lifecycle

STEPS = "created,updated,paid|canceled"
STATUSES = {"customer.order.created": "CREATED", "customer.order.paid": "PAID",
            "customer.order.canceled": "CANCELED"}  # fmt: skip


def _chains(lifecycle: str, count: int, **options) -> list[list]:
    length = parse_lifecycle(lifecycle).length
    payloads = list(generate(count=count, lifecycle=lifecycle, **options))
    return [payloads[i : i + length] for i in range(0, count, length)]


@pytest.mark.parametrize("envelope", ["v2024", "v2018"])
def test_a_chain_follows_one_order_through_its_steps(envelope):
    chains = _chains(STEPS, 120, seed=9, now=NOW, envelope=envelope)
    ends = set()
    for chain in chains:
        datas = [p.data for p in chain]
        orders = [d["data"]["order"] for d in datas]
        assert [p.event for p in chain[:2]] == ["customer.order.created", "customer.order.updated"]
        ends.add(chain[2].event)
        # One order, one customer, the same amounts and lines.
        for key in ("id", "created_at", "amount", "total_amount", "discount_amount", "customer_id"):
            assert len({o.get(key) for o in orders}) == 1, key
        assert len({d["data"]["customer"]["id"] for d in datas}) == 1
        # The redemption is the same one; it shows the order as it is now.
        redemptions = [d["data"]["redemption"] for d in datas]
        bare = [{k: v for k, v in r.items() if k != "order"} if r else r for r in redemptions]
        assert len({orjson.dumps(r) for r in bare}) == 1
        for r, o in zip(redemptions, orders, strict=True):
            assert r is None or (r["order"]["id"], r["order"]["status"]) == (o["id"], o["status"])
        stripped = [[{k: v for k, v in i.items() if k != "id"} for i in o["items"]] for o in orders]
        assert stripped[0] == stripped[1] == stripped[2]
        # Status and updated_at move on; line ids appear once the order is touched again.
        assert [o["status"] for o in orders] == ["CREATED", "CREATED", STATUSES[chain[2].event]]
        assert orders[0]["updated_at"] is None
        assert orders[0]["created_at"] < orders[1]["updated_at"] < orders[2]["updated_at"]
        assert all("id" not in i for i in orders[0]["items"])
        assert orders[1]["items"] == orders[2]["items"]
        # Each event its own ids and a later time.
        times = [d["created_at"] for d in datas]
        assert times == sorted(times) and len(set(times)) == 3
        assert len({p.id for p in chain}) == 3
        for payload in chain:
            assert validate(payload.data) == [], payload
    assert ends == {"customer.order.paid", "customer.order.canceled"}
    assert len({c[0].data["data"]["order"]["id"] for c in chains}) == len(chains)


def test_payload_n_depends_only_on_the_seed_and_n():
    run = list(generate(count=9, seed=4, now=NOW, lifecycle=STEPS))
    factory = PayloadFactory(seed=4, now=NOW, lifecycle=STEPS)
    assert [factory.build(n).body for n in (8, 3, 5, 0)] == [run[n].body for n in (8, 3, 5, 0)]
    other = list(generate(count=9, seed=5, now=NOW, lifecycle=STEPS))
    assert [p.body for p in other] != [p.body for p in run]


def test_the_generate_command_writes_the_chains(invoke):
    result = invoke("generate", "--lifecycle", "created,paid", "-n", "4", "--seed", "1",
                    "--now", NOW)  # fmt: skip
    assert result.code == 0, result.err
    bodies = [orjson.loads(line) for line in result.out.splitlines()]
    assert [b["event"]["type"].rpartition(".")[2] for b in bodies] == [
        "created", "paid", "created", "paid"]  # fmt: skip
    orders = [b["data"]["order"]["id"] for b in bodies]
    assert orders[0] == orders[1] != orders[2] == orders[3]


def test_send_delivers_chains_the_receiver_finds_valid():
    result = send(lifecycle="created,updated,paid", count=7, rate="200/s", seed=2, now=NOW,
                  environ={}, signals=False, dead_letter=None)  # fmt: skip
    assert result.outcome == "ok" and result.stats.delivered == 7
    assert set(result.summary["event_types"]) == {
        "customer.order.created", "customer.order.updated", "customer.order.paid"}  # fmt: skip
    assert result.receiver["schema_errors"] == 0 and result.receiver["duplicates"] == 0
    assert result.report()["run"]["options"]["generation"]["lifecycle"] == "created,updated,paid"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("created,shipped", "unknown lifecycle step 'shipped': use created, updated, paid"),
        ("paid,created", "'created' can only be the first step"),
        ("created,paid,paid", "'paid' appears in two steps"),
        ("created,canceled,paid", "after 'canceled' only 'updated' can follow"),
        ("created,paid|paid", "step 2 names an event twice: customer.order.paid"),
        ("created,,paid", "unknown lifecycle step '(empty)'"),
    ],
)
def test_a_lifecycle_that_cannot_happen_is_refused(text, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_lifecycle(text)


def test_full_event_names_and_lists_are_the_same_lifecycle():
    short = parse_lifecycle("created,paid|canceled")
    full = parse_lifecycle(["customer.order.created", ["paid", "customer.order.canceled"]])
    assert short == full and full.text == "created,paid|canceled"
    assert short.names == ("customer.order.created", "customer.order.paid",
                           "customer.order.canceled")  # fmt: skip
