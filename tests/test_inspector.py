"""The receiver's inspector page over real HTTP, without a browser: where it lives, what
it keeps, its live stream, one request's detail and bytes, and Resend.
(tests/test_browser.py drives the page itself in Chromium.)"""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time

import aiohttp
import pytest
import requests
from conftest import NOW, ROOT

from simulator import Receiver, make_signer
from simulator.cli import receive as receive_cli
from simulator.cli import run
from simulator.generation.payloads import PayloadFactory
from simulator.receiving.history import History
from simulator.receiving.page import BATCH_EVERY, split_problem

SECRET = "s3cr3t-inspector"


def _payload(index: int = 0):
    return PayloadFactory("customer.order.created", seed=5, now=NOW).build(index)


def _post(receiver: Receiver, payload=None, **headers: str) -> requests.Response:
    payload = payload or _payload()
    signed = make_signer("voucherify", SECRET).headers(
        payload.body, msg_id=payload.id, timestamp=int(time.time()), event_type=payload.event
    )
    return requests.post(receiver.url, data=payload.body, headers={**signed, **headers})


def test_the_page_is_at_get_root_and_a_post_to_root_is_still_a_webhook():
    with Receiver(secret=SECRET) as receiver:
        page = requests.get(receiver.page_url)
        script = requests.get(receiver.page_url + "_sim/static/inspector.js")
        style = requests.get(receiver.page_url + "_sim/static/inspector.css")
        webhook = _post(receiver)
        [seen] = receiver.wait_for(1)

    assert receiver.page_url == receiver.url  # --path / : the page and the webhooks share it
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "<title>webhook-sim inspector</title>" in page.text
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert "new EventSource" in script.text
    assert style.headers["Content-Type"].startswith("text/css")
    assert webhook.status_code == 200 and seen.signature == "valid"
    assert receiver.stats.received == 1  # the page's own requests are not webhooks


def test_the_page_never_shadows_a_webhook_path():
    with Receiver(secret=SECRET, path="/hooks") as receiver:
        elsewhere = requests.post(receiver.page_url + "_sim/nothing", data=b"{}")
        page = requests.get(receiver.page_url)
        hello = requests.get(receiver.url)

    assert elsewhere.status_code == 404 and "error" in elsewhere.json()
    assert page.text.startswith("<!doctype html>")
    assert hello.text == "webhook-sim receiver: POST webhooks to /hooks\n"
    assert receiver.stats.received == 0


def test_the_history_keeps_the_last_n_and_counts_the_rest():
    history = History(keep=3)
    with Receiver(secret=SECRET, keep=3) as receiver:
        for i in range(5):
            _post(receiver, _payload(i))
        receiver.wait_for(5)
        for request in receiver.requests:
            history.add(request)
        gone = requests.get(receiver.page_url + "_sim/requests/2")
        kept = requests.get(receiver.page_url + "_sim/requests/3")
        never = requests.get(receiver.page_url + "_sim/requests/6")

    assert (history.total, history.dropped, history.first) == (5, 2, 3)
    assert [n for n, _ in history.since(0)] == [3, 4, 5]
    assert [n for n, _ in history.since(3)] == [4, 5]
    assert [n for n, _ in history.since(0, limit=1)] == [5]
    assert sum(sum(bucket[1:]) for bucket in history.chart()) == 5
    assert gone.status_code == 410
    assert gone.json() == {"error": "request 2 is no longer kept: only the last 3 are"}
    assert kept.json()["event_id"] == _payload(2).id
    assert never.status_code == 404


def test_the_stream_sends_a_snapshot_then_every_new_request_in_batches():
    signer = make_signer("voucherify", SECRET)

    async def send_all(session: aiohttp.ClientSession, url: str) -> None:
        for i in range(2, 202):
            payload = _payload(i)
            signed = signer.headers(payload.body, msg_id=payload.id, timestamp=0, event_type="x")
            async with session.post(url, data=payload.body, headers=signed) as answer:
                await answer.read()

    async def watch(receiver: Receiver) -> list[tuple[str, dict]]:
        messages: list[tuple[str, dict]] = []
        sending = None
        async with (
            aiohttp.ClientSession() as session,
            session.get(receiver.page_url + "_sim/events") as stream,
        ):
            assert stream.headers["Content-Type"] == "text/event-stream"
            event = None
            async for raw in stream.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    messages.append((event or "", json.loads(line.removeprefix("data: "))))
                    if sending is None:  # the page is open: now 200 webhooks come
                        sending = asyncio.create_task(send_all(session, receiver.url))
                    if messages[-1][1]["total"] == 202:
                        break
            assert sending is not None
            await sending
        return messages

    with Receiver(secret=SECRET, keep=1000) as receiver:
        _post(receiver, _payload(0))
        _post(receiver, _payload(1))
        receiver.wait_for(2)
        started = time.monotonic()
        messages = asyncio.run(asyncio.wait_for(watch(receiver), 30))
        elapsed = time.monotonic() - started

    (kind, hello), *batches = messages
    assert kind == "hello" and [r["number"] for r in hello["rows"]] == [1, 2]
    assert hello["receiver"]["keep"] == 1000 and hello["receiver"]["url"] == receiver.url
    assert {kind for kind, _ in batches} == {"batch"}
    numbers = [r["number"] for _, batch in batches for r in batch["rows"]]
    assert numbers == list(range(3, 203))  # each once, in order
    # One message per BATCH_EVERY at most, not one per request.
    assert len(batches) <= elapsed / BATCH_EVERY + 1 and len(batches) < 200
    row = batches[-1][1]["rows"][-1]
    assert row["signature"] == "valid" and row["schema_errors"] == 0 and row["status"] == 200
    assert sum(sum(b[1:]) for _, m in messages for b in m["chart"]) >= 202


def test_a_request_detail_shows_headers_but_not_the_secret_and_the_bytes_download_exactly():
    body = b"\xff\xfe not UTF-8"
    with Receiver(secret=SECRET, validate_schema=False) as receiver:
        requests.post(
            receiver.url, data=body, headers={"Authorization": "Bearer abc", "X-Leak": SECRET}
        )
        _post(receiver, _payload(1))
        receiver.wait_for(2)
        raw = requests.get(receiver.page_url + "_sim/requests/1/body")
        detail = requests.get(receiver.page_url + "_sim/requests/1").json()
        signed = requests.get(receiver.page_url + "_sim/requests/2").json()

    assert raw.content == body
    assert raw.headers["Content-Disposition"] == 'attachment; filename="request-1.bin"'
    assert detail["body_base64"] and detail["not_json"] and detail["signature"] == "missing"
    assert detail["headers"]["Authorization"] == "Bearer abc"  # the user's own receiver
    assert detail["headers"]["X-Leak"] == "[redacted]"
    assert SECRET not in json.dumps(detail) + json.dumps(signed)
    assert (
        signed["headers"]["x-voucherify-signature"]
        == receiver.requests[1].headers["x-voucherify-signature"]
    )


def test_schema_problems_come_with_their_json_path():
    broken = PayloadFactory(
        "customer.order.created", seed=5, now=NOW, overrides={"order.amount": "lots"}
    ).build(0)
    with Receiver(secret=SECRET) as receiver:
        _post(receiver, broken)
        receiver.wait_for(1)
        detail = requests.get(receiver.page_url + "_sim/requests/1").json()

    assert detail["schema_errors"] == 1
    assert detail["problems"] == [
        {
            "path": ["data", "order", "amount"],
            "text": "$.data.order.amount",
            "message": "'lots' is not of type 'integer'",
        }
    ]
    assert split_problem('$.a["odd key: x"][2]: bad') == {
        "path": ["a", "odd key: x", 2],
        "text": '$.a["odd key: x"][2]',
        "message": "bad",
    }
    assert split_problem("no path here")["path"] is None


def test_resend_posts_the_same_bytes_to_the_url_given_and_only_for_the_page():
    with Receiver(secret=SECRET) as receiver, Receiver(secret=SECRET, path="/in") as target:
        _post(receiver, _payload(3))
        [original] = receiver.wait_for(1)
        resend = receiver.page_url + "_sim/requests/1/resend"
        answer = requests.post(resend, json={"url": target.url}).json()
        [copy] = target.wait_for(1)
        again = requests.post(resend, json={"url": receiver.url}).json()
        [_, duplicate] = receiver.wait_for(2)
        foreign = requests.post(resend, json={"url": target.url}, headers={"Origin": "http://x"})
        form = requests.post(resend, data={"url": target.url})
        bad = requests.post(resend, json={"url": "ftp://example.test/"}).json()
        refused = requests.post(resend, json={"url": "http://127.0.0.1:9/"}).json()

    assert answer["status"] == 200 and answer["url"] == target.url
    assert copy.body == original.body and copy.signature == "valid" and copy.path == "/in"
    assert copy.headers["x-voucherify-signature"] == original.headers["x-voucherify-signature"]
    assert again["status"] == 200 and duplicate.duplicate  # the same id, accepted before
    assert foreign.status_code == 403 and form.status_code == 415
    assert target.stats.received == 1
    assert bad == {"url": "ftp://example.test/", "error": "use an http:// or https:// URL"}
    assert "error" in refused and "status" not in refused


def test_a_wildcard_bind_warns_that_the_page_is_on_the_network(monkeypatch, capsys):
    async def start_without_binding(self):  # nothing is exposed by this test
        self.port = 8000
        self.request_stop()

    monkeypatch.setattr(Receiver, "start", start_without_binding)
    code = run(["receive", "--host", "0.0.0.0", "--sign", "none", "--no-schema", "--keep", "5"])
    assert code == 0
    err = capsys.readouterr().err
    assert err == (
        "Warning: --host 0.0.0.0 shows the inspector page, every request's headers and "
        "body, and its Resend to the network\n"
    )
    assert Receiver(host="127.0.0.2", secret="x").loopback
    assert Receiver(host="localhost", secret="x").loopback
    assert not Receiver(host="0.0.0.0", secret="x").loopback
    assert Receiver(host="0.0.0.0", secret="x", port=8000).page_url == "http://127.0.0.1:8000/"
    assert receive_cli  # the command module the monkeypatched run() used


def _on_a_terminal(args: list[str], until: bytes, timeout: float = 20.0) -> bytes:
    """Run `webhook-sim ARGS` with stderr on a pseudo-terminal; what it wrote there up to
    and including `until` (then it gets SIGINT) or its end."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=follower,
        stdin=subprocess.DEVNULL,
    )
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + timeout
    try:
        while until not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # the process closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
        os.close(leader)
    return seen


def test_receive_and_send_give_the_page_address_on_a_terminal(tmp_path):
    line = rb"Inspector: http://127\.0\.0\.1:\d+/ \("
    received = _on_a_terminal(
        ["receive", "--port", "0", "--sign", "none", "--no-schema"], b"live page"
    )
    assert re.search(line, received), received
    sent = _on_a_terminal(
        ["send", "--count", "3", "--rate", "20/s", "--dead-letter", str(tmp_path / "d")],
        b"while the run lasts",
    )
    assert re.search(line, sent), sent


def test_a_stopped_receiver_ends_open_streams_at_once():
    async def main() -> float:
        receiver = Receiver(secret=SECRET)
        await receiver.start()
        async with aiohttp.ClientSession() as session:
            stream = await session.get(receiver.page_url + "_sim/events")
            await stream.content.readline()  # the snapshot has started
            started = time.monotonic()
            await receiver.stop()
            stopped = time.monotonic() - started
            rest = await stream.content.read()
            stream.close()
        assert rest.startswith(b"data: {") and rest.endswith(b"\n\n")  # then it ended
        return stopped

    assert asyncio.run(main()) < 0.5  # not the 1 s shutdown grace


@pytest.mark.parametrize("path", ["/_sim/", "/_sim/hooks"])
def test_the_reserved_prefix_is_refused_as_a_webhook_path(path):
    with pytest.raises(Exception, match="is the inspector page's"):
        Receiver(path=path, scheme="none")
