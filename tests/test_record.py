"""Delivery records: redaction, lazily created NDJSON files, part joining, replay input."""

from __future__ import annotations

import base64
import os

import orjson
import pytest

from simulator.errors import RecordError, UsageError
from simulator.redaction import REDACTED, redact
from simulator.reports.records import (
    NdjsonWriter,
    check_distinct,
    check_writable,
    concat_parts,
    encode_body,
    part_path,
    replacing,
)
from simulator.reports.replay import read_replay

BODY = b'{"id":"whs_1","type":"customer.order.created","data":{"n":1}}'


def test_redact_hides_credentials_and_any_value_holding_the_secret():
    headers = {
        "Authorization": "Bearer abc",
        "cookie": "a=b",
        "Proxy-Authorization": "x",
        "X-Api-Key": "k",
        "X-Echo": "prefix-s3cr3t-suffix",
        "x-voucherify-signature": "deadbeef",
    }
    assert redact(headers, ["s3cr3t"]) == {
        "Authorization": REDACTED,
        "cookie": REDACTED,
        "Proxy-Authorization": REDACTED,
        "X-Api-Key": REDACTED,
        "X-Echo": REDACTED,
        "x-voucherify-signature": "deadbeef",
    }


def test_redact_ignores_an_empty_secret():
    assert redact({"A": "b"}, [""]) == {"A": "b"}


def test_encode_body_is_text_for_utf8_and_base64_otherwise():
    assert encode_body(BODY) == {"body": BODY.decode(), "body_base64": False}
    raw = b"\xff\x00"
    assert encode_body(raw) == {"body": base64.b64encode(raw).decode(), "body_base64": True}


def test_writer_creates_its_file_only_when_a_line_is_written(tmp_path):
    path = tmp_path / "out.ndjson"
    writer = NdjsonWriter(path)
    writer.flush()
    writer.close()
    assert not path.exists()
    writer = NdjsonWriter(path)
    writer.write({"a": 1})
    assert not path.exists()  # buffered until flushed
    writer.flush()
    writer.write({"a": 2})
    writer.close()
    assert path.read_bytes() == b'{"a":1}\n{"a":2}\n'
    assert writer.count == 2


def test_a_writer_told_to_create_leaves_an_empty_file_not_an_old_one(tmp_path):
    path = tmp_path / "log.ndjson"
    path.write_bytes(b'{"earlier":"run"}\n')
    writer = NdjsonWriter(path, create=True)
    writer.flush()
    writer.close()
    assert path.read_bytes() == b""
    path.write_bytes(b'{"a":1}\n')
    writer.close()  # closing again touches nothing
    assert path.read_bytes() == b'{"a":1}\n'


def test_writer_appends_when_asked(tmp_path):
    path = tmp_path / "dead.ndjson"
    path.write_bytes(b'{"old":true}\n')
    writer = NdjsonWriter(path, append=True)
    writer.write({"new": True})
    writer.close()
    assert path.read_bytes() == b'{"old":true}\n{"new":true}\n'


def test_writer_reports_an_unwritable_path(tmp_path):
    writer = NdjsonWriter(tmp_path / "missing" / "x.ndjson")
    writer.write({})
    with pytest.raises(RecordError, match=r"cannot write '.*x\.ndjson': No such file"):
        writer.flush()


def test_check_distinct_sees_one_file_through_a_symlink(tmp_path):
    (tmp_path / "real.ndjson").touch()
    (tmp_path / "link.ndjson").symlink_to(tmp_path / "real.ndjson")
    check_distinct({"--log": tmp_path / "real.ndjson", "--report": None, "--junit": "x.xml"})
    check_distinct({"--log": os.devnull, "--dead-letter": os.devnull})  # discards, twice
    with pytest.raises(UsageError, match=r"--log and --report name the same file '.*link"):
        check_distinct({"--log": tmp_path / "real.ndjson", "--report": tmp_path / "link.ndjson"})


def test_check_writable_accepts_a_new_or_writable_file_and_creates_nothing(tmp_path):
    check_writable(tmp_path / "new.ndjson")
    existing = tmp_path / "old.ndjson"
    existing.write_bytes(b"kept\n")
    check_writable(existing)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.ndjson"]
    assert existing.read_bytes() == b"kept\n"


@pytest.mark.parametrize(
    ("relative", "reason"),
    [
        ("missing/out.ndjson", "No such file or directory"),
        ("a-file/out.ndjson", "Not a directory"),
        ("a-dir", "Is a directory"),
    ],
)
def test_check_writable_names_the_path_and_why(tmp_path, monkeypatch, relative, reason):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_bytes(b"")
    (tmp_path / "a-dir").mkdir()
    with pytest.raises(RecordError) as caught:
        check_writable(relative)
    assert str(caught.value) == f"cannot write '{relative}': {reason}"


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_check_writable_asks_the_file_system_not_the_permissions():
    # /proc looks writable to root, yet nothing can be created in it.
    with pytest.raises(RecordError) as caught:
        check_writable("/proc/webhook-sim-out.ndjson")
    assert str(caught.value) == (
        "cannot write '/proc/webhook-sim-out.ndjson': No such file or directory"
    )


def test_check_writable_refuses_a_pipe_nobody_reads_at_once(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(RecordError) as caught:
        check_writable(fifo)  # a plain open would wait for a reader forever
    assert str(caught.value) == f"cannot write '{fifo}': a pipe that no process reads"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to a read-only folder")
def test_check_writable_refuses_a_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(RecordError, match="Permission denied"):
            check_writable(folder / "out.ndjson")
    finally:
        folder.chmod(0o755)


def test_replacing_swaps_in_the_new_file_at_the_end_or_leaves_the_old_one(tmp_path):
    path = tmp_path / "dead.ndjson"
    path.write_bytes(b"old\n")
    path.chmod(0o600)
    with replacing(path) as temp:
        assert temp.parent == tmp_path and temp.read_bytes() == b""
        temp.write_bytes(b"new\n")
        assert path.read_bytes() == b"old\n"
    assert path.read_bytes() == b"new\n" and path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(KeyboardInterrupt), replacing(path) as temp:
        temp.write_bytes(b"half")
        raise KeyboardInterrupt
    assert path.read_bytes() == b"new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["dead.ndjson"]


def test_replacing_reports_a_folder_it_cannot_write(tmp_path):
    path = tmp_path / "missing" / "x.ndjson"
    with pytest.raises(RecordError) as caught, replacing(path):
        pass
    assert str(caught.value) == f"cannot write '{path}': No such file or directory"


def test_concat_parts_joins_in_order_and_removes_parts(tmp_path):
    dest = tmp_path / "log.ndjson"
    part_path(dest, 0).write_bytes(b"a\n")
    part_path(dest, 2).write_bytes(b"c\n")
    written = concat_parts([part_path(dest, w) for w in range(3)], dest, append=False)
    assert written == 4
    assert dest.read_bytes() == b"a\nc\n"
    assert not part_path(dest, 0).exists()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_concat_parts_keeps_the_parts_when_the_file_cannot_take_them(tmp_path):
    part = part_path(tmp_path / "dl.ndjson", 0)
    part.write_bytes(b"an undelivered event\n")
    with pytest.raises(RecordError, match="cannot write '/dev/full': No space left on device"):
        concat_parts([part], "/dev/full", append=True)
    assert part.read_bytes() == b"an undelivered event\n"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_writer_on_a_full_disk_keeps_memory_bounded_and_counts_what_it_lost():
    writer = NdjsonWriter("/dev/full", append=True)
    for n in range(2 * NdjsonWriter.MAX_BUFFERED + 5):
        writer.write({"n": n})  # never raises
    assert writer.lost == 2 * NdjsonWriter.MAX_BUFFERED and writer.unwritten == writer.count
    with pytest.raises(RecordError) as caught:
        writer.close()
    assert str(caught.value) == (
        "cannot write '/dev/full': No space left on device; 2,053 lines not written"
    )


def test_concat_parts_creates_nothing_without_parts(tmp_path):
    dest = tmp_path / "dead.ndjson"
    assert concat_parts([part_path(dest, 0)], dest, append=True) == 0
    assert not dest.exists()


def test_concat_parts_empties_a_file_it_replaces_even_without_parts(tmp_path):
    dest = tmp_path / "log.ndjson"
    dest.write_bytes(b"an earlier run\n")
    assert concat_parts([part_path(dest, 0)], dest, append=False) == 0
    assert dest.read_bytes() == b""


def _lines(path, *records):
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def test_replay_reads_generate_output_as_exact_bytes(tmp_path):
    spaced = b'{"id": "whs_2",  "type": "customer.order.paid"}'
    path = tmp_path / "gen.ndjson"
    path.write_bytes(BODY + b"\n\n" + spaced + b"\r\n")
    replay = read_replay(path)
    assert [i.body for i in replay.items] == [BODY, spaced]
    assert [(i.event, i.id, i.line) for i in replay.items] == [
        ("customer.order.created", "whs_1", 1),
        ("customer.order.paid", "whs_2", 3),
    ]


def test_replay_reads_dead_letters_with_their_headers(tmp_path):
    record = {
        "id": "whs_1",
        "event": "customer.order.created",
        "reason": "failed",
        "attempts": 3,
        "headers": {"x-voucherify-signature": "ab"},
        **encode_body(BODY),
    }
    [item] = read_replay(_lines(tmp_path / "dl.ndjson", record)).items
    assert item.body == BODY
    assert item.headers == {"x-voucherify-signature": "ab"}


def test_replay_reads_receiver_records_in_text_and_base64(tmp_path):
    raw = b"\xff not utf-8"
    records = [
        {"event_id": "whs_1", "event_type": "customer.order.created", "body": BODY.decode(),
         "body_base64": False, "headers": {}},
        {"event_id": "sha256:x", "event_type": None, "body": base64.b64encode(raw).decode(),
         "body_base64": True, "headers": {}},
    ]  # fmt: skip
    items = read_replay(_lines(tmp_path / "rec.ndjson", *records)).items
    assert [i.body for i in items] == [BODY, raw]
    assert items[1].id == "sha256:x"


def test_replay_takes_each_event_of_a_receiver_record_once(tmp_path):
    first = {"event_id": "whs_1", "body": BODY.decode(), "duplicate": False}
    path = _lines(tmp_path / "rec.ndjson", first, {**first, "duplicate": True})
    assert [i.id for i in read_replay(path).items] == ["whs_1"]


def test_replay_takes_each_event_of_a_log_once(tmp_path):
    attempt = {"id": "whs_1", "event": "customer.order.created", **encode_body(BODY)}
    other = {"id": "whs_2", "event": "customer.order.created", **encode_body(BODY)}
    path = _lines(
        tmp_path / "log.ndjson",
        {**attempt, "attempt": 1},
        {**attempt, "attempt": 2},
        {**other, "attempt": 1},
    )
    assert [i.id for i in read_replay(path).items] == ["whs_1", "whs_2"]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "a JSON array, not one body (write bodies with 'generate --format ndjson')"),
        (b"42", "not a JSON object"),
        (
            b'{"id": "whs_1", "attempt": 1, "status": 200}',
            "no body (a --log written without --log-bodies, or a broken record)",
        ),
    ],
)
def test_replay_names_the_file_and_line_of_a_bad_line(tmp_path, line, reason):
    path = tmp_path / "bad.ndjson"
    path.write_bytes(BODY + b"\n" + line + b"\n")
    with pytest.raises(RecordError) as caught:
        read_replay(path)
    assert str(caught.value) == f"{path}, line 2: {reason}"


def test_replay_can_skip_bad_lines_and_count_them(tmp_path):
    path = tmp_path / "bad.ndjson"
    path.write_bytes(b"oops\n" + BODY + b"\n{\n")
    replay = read_replay(path, skip_bad=True)
    assert replay.skipped == 2
    assert [i.body for i in replay.items] == [BODY]


def test_replay_reports_a_missing_file(tmp_path):
    with pytest.raises(RecordError, match=r"cannot read '.*nope': No such file or directory"):
        read_replay(tmp_path / "nope")
