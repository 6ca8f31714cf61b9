"""The `events`, `generate` and `validate` commands: output, exit codes and messages."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import orjson
import pytest
from conftest import NOW, ROOT, VOUCHERIFY

from simulator.cli import cli
from simulator.cli.generate import _write
from simulator.generation.payloads import Payload, PayloadFactory


def test_events_lists_the_catalog_grouped(invoke) -> None:
    result = invoke("events")
    assert result.code == 0
    lines = result.out.splitlines()
    headers = [line for line in lines if not line.startswith(" ")]
    names = [line.split()[0] for line in lines if line.startswith(" ")]
    assert headers == [
        "bus_val_rule.* (5)", "campaign.* (14)", "customer.* (32)", "distribution.* (1)",
        "publication.* (1)", "redemption.* (4)", "voucher.* (15)",
    ]  # fmt: skip
    assert len(names) == len(set(names)) == 72
    created = next(line for line in lines if "customer.order.created" in line)
    assert "distribution" in created and "Order created" in created
    assert "--scenario plain|promotion|send-code|mixed" in created


def test_events_as_json_for_tools(invoke) -> None:
    result = invoke("events", "--format", "json")
    assert result.code == 0
    events = {e["name"]: e for e in json.loads(result.out)}
    created = events["customer.order.created"]
    assert created["delivery"] == "distribution"
    assert created["signing"] == "voucherify"
    assert created["default_envelope"] == "v2024"
    assert created["scenarios"] == ["plain", "promotion", "send-code", "mixed"]
    assert len(events) == 72
    assert events["voucher.created"]["delivery"] == "project"
    assert events["voucher.created"]["scenarios"] == []
    assert events["bus_val_rule.created"]["type"] == "business_validation_rule.created"


def test_a_glob_picks_every_event_it_matches(invoke) -> None:
    result = invoke("generate", "customer.order.*", "-n", "200", "--seed", "3")
    assert result.code == 0, result.err
    types = {json.loads(line)["event"]["type"] for line in result.out.splitlines()}
    assert types == {"customer.order.created", "customer.order.updated",
                     "customer.order.paid", "customer.order.canceled"}  # fmt: skip


def test_a_glob_that_matches_nothing_is_a_usage_error(invoke) -> None:
    result = invoke("generate", "vouchr.*")
    assert result.code == 2
    assert "no event matches 'vouchr.*'" in result.err


def test_generate_defaults_to_one_order_created_envelope(invoke) -> None:
    result = invoke("generate")
    assert result.code == 0, result.err
    (line,) = result.out.splitlines()
    body = json.loads(line)
    assert body["event"]["type"] == "customer.order.created"
    assert body["id"].startswith("whs_")


def test_generate_is_byte_identical_with_seed_and_now(invoke) -> None:
    args = ("generate", "customer.order.paid", "-n", "25", "--seed", "7", "--now", NOW)
    first, second = invoke(*args), invoke(*args)
    assert first.code == second.code == 0
    assert first.stdout_bytes == second.stdout_bytes
    assert len(first.out.splitlines()) == 25


def test_generate_is_byte_identical_across_processes() -> None:
    # A fresh interpreter per run, with different hash seeds: nothing may depend on hash().
    outputs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)}
        outputs.append(
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "simulator",
                    "generate",
                    "-n",
                    "40",
                    "--seed",
                    "3",
                    "--now",
                    NOW,
                    "--locale",
                    "fr_FR",
                ],
                env=env,
                capture_output=True,
                check=True,
                cwd=ROOT,
            ).stdout
        )
    assert outputs[0] == outputs[1] and outputs[0].count(b"\n") == 40


def test_formats(invoke) -> None:
    args = ("generate", "-n", "3", "--seed", "1", "--now", NOW)
    ndjson = [json.loads(line) for line in invoke(*args).out.splitlines()]
    as_array = json.loads(invoke(*args, "--format", "json").out)
    pretty = invoke(*args, "--format", "pretty").out
    assert as_array == ndjson == json.loads(pretty)
    assert pretty.startswith('[\n  {\n    "id": ')


def test_count_zero_writes_nothing(invoke) -> None:
    assert invoke("generate", "-n", "0").out == ""
    assert invoke("generate", "-n", "0", "--format", "json").out == "[]\n"


def test_output_file(invoke, tmp_path: Path) -> None:
    target = tmp_path / "out.ndjson"
    result = invoke("generate", "-n", "4", "--seed", "2", "-o", str(target))
    assert result.code == 0 and result.out == ""
    assert len(target.read_bytes().splitlines()) == 4


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["generate", "customer.order.payed", "--seed", "1"],
            2,
            "Error: unknown event 'customer.order.payed'. Did you mean: customer.order.paid, "
            "customer.order.updated, customer.order.created? See 'webhook-sim events'.\n",
        ),
        (
            ["generate", "--seed", "1", "--set", "order.nope.x=1"],
            2,
            "Error: --set order.nope.x=1: path 'data.order.nope' does not exist in the payload "
            "(use --set-new to create it)\n",
        ),
        (
            ["generate", "--seed", "1", "-o", "/no/such/dir/out.json"],
            1,
            "Error: cannot write '/no/such/dir/out.json': No such file or directory\n",
        ),
    ],
)
def test_runtime_errors_are_one_line(invoke, args, code, message) -> None:
    result = invoke(*args)
    assert (result.code, result.err) == (code, message)
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--scenario", "promo"],
            "Invalid value for '--scenario': unknown scenario 'promo': "
            "choose one of plain, promotion, send-code, mixed",
        ),
        (
            ["--locale", "xx_XX"],
            "Invalid value for '--locale': unknown locale 'xx_XX': choose one of en_US",
        ),
        (["--format", "xml"], "Invalid value for '--format': 'xml' is not one of"),
        (["--set", "order.amount"], "invalid --set 'order.amount': use PATH=VALUE"),
        (["--set", "order..x=1"], "invalid --set path 'order..x': use dotted keys and [index]"),
        (["--now", "yesterday"], "invalid time 'yesterday': use ISO 8601"),
        (
            ["-n", "-1"],
            "Invalid value for '-n' / '--count': invalid count -1: use a whole number, 0 or more",
        ),
        (
            ["--templates", "/no/such/dir"],
            "Invalid value for '--templates': template folder "
            "'/no/such/dir' does not exist or is not a folder",
        ),
    ],
)
def test_bad_options_are_usage_errors(invoke, args, message) -> None:
    result = invoke("generate", *args)
    assert result.code == 2
    assert message in result.err
    assert "Traceback" not in result.err


def test_a_broken_user_template_is_one_line_exit_1(invoke, tmp_path: Path) -> None:
    (tmp_path / "bad.json.j2").write_text("{\n{% for %}\n}")
    result = invoke("generate", "bad", "--templates", str(tmp_path))
    assert result.code == 1
    assert result.err.startswith(f"Error: {tmp_path / 'bad.json.j2'}:2: template syntax error: ")
    assert result.err.count("\n") == 1


def test_validate_accepts_generated_and_official_payloads(invoke, tmp_path: Path) -> None:
    bodies = invoke("generate", "customer.order.updated", "-n", "30", "--seed", "1").out
    result = invoke("validate", input=bodies)
    assert (result.code, result.out) == (0, "30 checked, 30 valid, 0 invalid\n")
    official = VOUCHERIFY / "official-data" / "customer.order.created.data.json"
    assert invoke("validate", str(official)).code == 0


def test_validate_reports_every_problem_with_its_path(invoke) -> None:
    bodies = invoke(
        "generate", "-n", "2", "--seed", "1", "--envelope", "none",
        "--set", "order.amount=1.5", "--set", "customer.id=7",
    ).out + "{not json\n"  # fmt: skip
    result = invoke("validate", input=bodies)
    assert result.code == 1
    assert result.out.splitlines() == [
        "line 1: $.customer.id: 7 is not of type 'string'",
        "line 1: $.order.amount: 1.5 is not of type 'integer'",
        "line 2: $.customer.id: 7 is not of type 'string'",
        "line 2: $.order.amount: 1.5 is not of type 'integer'",
        "line 3: not JSON: unexpected character, expected a string key: line 1 column 2 (char 1)",
        "3 checked, 0 valid, 3 invalid",
    ]


def test_validate_names_the_byte_of_a_line_that_is_not_utf8(invoke, tmp_path: Path) -> None:
    (tmp_path / "bodies.ndjson").write_bytes(b'{"a": 1}\n{"b": "caf\xe9"}\n')
    result = invoke("validate", str(tmp_path / "bodies.ndjson"), "--envelope", "none")
    assert result.out.splitlines()[-2:] == [
        "line 2: not JSON: not UTF-8 text (byte 0xe9 at offset 10 of the line)",
        "2 checked, 0 valid, 2 invalid",
    ]


def test_validate_of_binary_input_is_one_line(invoke, tmp_path: Path) -> None:
    png = tmp_path / "image.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)) * 12)
    result = invoke("validate", str(png))
    assert (result.code, result.out, result.err) == (
        1, "", f"Error: '{png}' is binary (a NUL byte at offset 8), not JSON text\n")  # fmt: skip


def test_validate_lists_only_the_first_lines_of_a_run_that_is_not_json(invoke) -> None:
    body = invoke("generate", "--seed", "1").out
    text = body + "oops\n" * 7 + body + "\n" + "oops\n" * 6 + body
    result = invoke("validate", input=text)
    assert result.code == 1
    assert result.out.splitlines() == [
        *[f"line {n}: not JSON: unexpected character, expected a JSON value: line 1 column 1 "
          "(char 0)" for n in range(2, 7)],
        "lines 7-8: not JSON either, not listed",
        *[f"line {n}: not JSON: unexpected character, expected a JSON value: line 1 column 1 "
          "(char 0)" for n in range(11, 16)],
        "line 16: not JSON either, not listed",
        "16 checked, 3 valid, 13 invalid",
    ]  # fmt: skip
    quiet = invoke("validate", "--quiet", input=text)
    assert (quiet.code, quiet.out) == (1, "16 checked, 3 valid, 13 invalid\n")


def test_validate_of_an_unreadable_file_is_a_usage_error(invoke, tmp_path: Path) -> None:
    # Exit 2, not 1: a wrong path must not look like invalid payloads.
    result = invoke("validate", "/no/such/file.json")
    assert (result.code, result.err) == (
        2, "Error: cannot read '/no/such/file.json': No such file or directory\n")  # fmt: skip
    result = invoke("validate", str(tmp_path))
    assert (result.code, result.err) == (2, f"Error: cannot read '{tmp_path}': Is a directory\n")


def test_validate_help_lists_its_exit_codes(invoke) -> None:
    help_text = " ".join(invoke("validate", "--help").out.split())
    assert "Exit: 0 all valid, 1 some invalid" in help_text
    assert "2 usage error (such as FILE missing or unreadable)" in help_text


def _commands(group: click.Group) -> list[click.Command]:
    return [group.get_command(click.Context(group), name) for name in group.list_commands(None)]


@pytest.mark.parametrize("command", _commands(cli), ids=lambda c: c.name)
def test_every_command_has_help_with_an_example(invoke, command: click.Command) -> None:
    result = invoke(command.name, "--help")
    assert result.code == 0
    assert "Example:" in result.out and "webhook-sim " in result.out.split("Example:")[1]


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "simulator", "--version"],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout.startswith("webhook-sim, version ")


def _shell(command: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", command], env=env, capture_output=True, cwd=ROOT
    )


def test_a_reader_that_stops_early_is_not_an_error() -> None:
    done = _shell(f"{sys.executable} -m simulator generate -n 100000 --seed 1 | head -c 50")
    assert (done.returncode, len(done.stdout), done.stderr) == (0, 50, b"")


def test_a_full_disk_is_one_line_exit_1() -> None:
    done = _shell(f"{sys.executable} -m simulator generate -n 3 --seed 1 > /dev/full")
    assert done.returncode == 1
    assert done.stderr == b"Error: cannot write to standard output: No space left on device\n"


def test_without_a_seed_generate_says_which_seed_to_repeat_with(invoke) -> None:
    result = invoke("generate", "--now", NOW)
    seed = result.err.split()[1]
    assert result.err == f"seed {seed} (pass --seed {seed} to repeat this output)\n"
    assert invoke("generate", "--now", NOW, "--seed", seed).out == result.out
    assert invoke("generate", "--seed", "1").err == ""


def test_without_a_seed_or_now_the_hint_says_the_dates_will_differ(invoke) -> None:
    result = invoke("generate", "-n", "0")
    seed = result.err.split()[1]
    assert result.err == (
        f"seed {seed} (--seed {seed} repeats this output but for its dates, which follow "
        "the clock; add --now to fix them too)\n"
    )


def test_pretty_output_is_one_json_text(invoke) -> None:
    args = ("--seed", "1", "--now", NOW, "--format", "pretty")
    several = json.loads(invoke("generate", "-n", "3", *args).out)
    one = json.loads(invoke("generate", *args).out)
    assert len(several) == 3 and several[0] == one


@pytest.mark.parametrize("count", [0, 1, 3])
def test_pretty_output_is_the_same_bytes_as_indenting_the_whole_run(invoke, count) -> None:
    # The shape streaming must keep: an object for one payload, else an array.
    args = ("generate", "-n", str(count), "--seed", "1", "--now", NOW)
    items = [json.loads(line) for line in invoke(*args).out.splitlines()]
    whole = orjson.dumps(items[0] if count == 1 else items, option=orjson.OPT_INDENT_2) + b"\n"
    assert invoke(*args, "--format", "pretty").stdout_bytes == whole


def test_pretty_output_is_written_as_the_payloads_are_made() -> None:
    # A run that is never held whole: what is made is written before the next is built.
    def two_then_fail() -> Iterator[Payload]:
        yield from PayloadFactory(seed=1, now=NOW).stream(count=2)
        raise RuntimeError("the run goes on")

    out = io.BytesIO()
    with pytest.raises(RuntimeError):
        _write(out, two_then_fail(), "pretty", 3)
    assert out.getvalue().startswith(b'[\n  {\n    "id": ')
    assert out.getvalue().count(b'\n    "event": ') == 2


def test_set_on_a_missing_list_item_says_so(invoke) -> None:
    result = invoke("generate", "--seed", "1", "--set", "order.items[99].price=1", "--set-new")
    assert (result.code, result.err) == (
        2,
        "Error: --set order.items[99].price=1: index 99 is out of range at "
        "'data.order.items[99]' (the list has 4 items; --set-new does not add items)\n",
    )


def test_validate_names_the_event_bare_data_is_for(invoke) -> None:
    body = json.dumps(
        json.loads((VOUCHERIFY / "official-data" / "voucher.created.data.json").read_text())
    )
    assert invoke("validate", "--event", "voucher.created", input=body + "\n").code == 0
    typo = invoke("validate", "--event", "voucher.creatd", input=body + "\n")
    assert typo.code == 2
    assert "unknown event 'voucher.creatd'. Did you mean: voucher.created" in typo.err
    assert typo.err.count("\n") < 6  # one line, not the 72 names


def test_validate_does_not_check_other_events_as_orders(invoke) -> None:
    result = invoke("validate", input='{"id": "re_1", "object": "refund", "customer": {}}\n')
    assert result.code == 1
    assert result.out.splitlines()[0] == (
        "document: $: bare data that is no order names no event: pass the event to check "
        "it against ('webhook-sim events' lists them)"
    )


def test_generate_does_not_load_the_http_engine() -> None:
    code = (
        "import sys; from simulator.cli import run; "
        "run(['generate', '--seed', '1', '-o', '/dev/null']); "
        "print('aiohttp' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.stdout == "False\n", done.stderr


def test_set_refuses_a_number_it_would_change(invoke) -> None:
    result = invoke("generate", "--seed", "1", "--set", "order.amount=12345678901234567890123")
    assert (result.code, result.out) == (2, "")
    assert result.err.endswith(
        "Error: Invalid value for '--set': --set order.amount=12345678901234567890123: the "
        "integer 12345678901234567890123 cannot be written exactly (JSON output holds integers "
        "from -9223372036854775808 to 18446744073709551615); quote it to make it a string\n"
    )
    result = invoke("generate", "--seed", "1", "--set", "customer.name=1e400")
    assert (result.code, result.out) == (2, "")
    assert "--set customer.name=1e400: the number 1e400 is out of range" in result.err


def test_set_new_is_not_suggested_when_it_was_given(invoke) -> None:
    result = invoke("generate", "--seed", "1", "--set-new", "--set", "order.amount.x=5")
    assert result.code == 2
    assert "--set order.amount.x=5: 'data.order.amount' is a number, not an object" in result.err
    assert "use --set-new" not in result.err


@pytest.mark.parametrize("fmt", ["ndjson", "json", "pretty"])
def test_a_set_that_fails_part_way_names_the_payload_and_what_was_written(invoke, fmt) -> None:
    # redemption is null in some payloads only: with seed 11, first in payload index 2.
    args = ("generate", "-n", "10", "--seed", "11", "--now", NOW, "--format", fmt)
    result = invoke(*args, "--set", "redemption.amount=1")
    assert (result.code, result.err) == (
        2,
        "Error: payload 3 of 10 (index 2): --set redemption.amount=1: path "
        "'data.redemption.amount' does not exist in the payload (use --set-new to create it); "
        "2 payloads were already written before it, so the output is incomplete\n",
    )
    whole = invoke(*args, "-n", "2", "--set-new", "--set", "redemption.amount=1").stdout_bytes
    assert result.stdout_bytes == whole.removesuffix(b"\n]\n" if fmt == "pretty" else b"]\n")
    first = invoke(*args, "--set", "order.nope.x=1")
    assert first.err.startswith("Error: payload 1 of 10 (index 0): --set order.nope.x=1: ")
    assert first.out == "" and first.err.endswith("; nothing was written\n")


def test_a_template_that_fails_part_way_names_the_payload(invoke, tmp_path: Path) -> None:
    (tmp_path / "flaky.json.j2").write_text(
        '{% if index == 1 %}[{% else %}{"a": {{ index }}}{% endif %}'
    )
    result = invoke("generate", "flaky", "--templates", str(tmp_path), "-n", "3", "--seed", "1")
    assert (result.code, result.out) == (1, '{"a":0}\n')
    template = tmp_path / "flaky.json.j2"
    assert result.err.startswith(f"Error: payload 2 of 3 (index 1): {template} rendered ")
    assert result.err.endswith(
        "; 1 payload was already written before it, so the output is incomplete\n"
    )


@pytest.mark.parametrize("text", ["[]\n", " [ ]"])
def test_validate_of_an_empty_array_says_so(invoke, text) -> None:
    result = invoke("validate", input=text)
    assert (result.code, result.out, result.err) == (
        1, "", "Error: no bodies in '-' (an empty array)\n")  # fmt: skip
    assert invoke("validate", input="\n \n").err == "Error: no JSON found in '-'\n"


def test_validate_of_indented_documents_run_together_is_one_line(invoke) -> None:
    # What `>>` of two `generate --format pretty` runs gives: not JSON, and not NDJSON.
    pretty = invoke("generate", "--seed", "1", "--now", NOW, "--format", "pretty").out
    result = invoke("validate", input=pretty + pretty)
    line = pretty.count("\n") + 1
    assert (result.code, result.out, result.err) == (
        1,
        "",
        "Error: '-' is neither one JSON document nor NDJSON (its first line is not JSON "
        f"either): unexpected content after document: line {line} column 1 (char {len(pretty)})\n",
    )


def test_validate_of_a_document_with_a_syntax_error_names_it_once(invoke, tmp_path) -> None:
    result = invoke("validate", input='{\n  "a": 1,\n}\n')
    assert (result.code, result.out) == (1, "")
    assert result.err.endswith("(its first line is not JSON either): trailing comma is not "
                               "allowed: line 2 column 9 (char 10)\n")  # fmt: skip
    (tmp_path / "latin1.json").write_bytes(b'caf\xe9\n{"a": 1}\n')
    result = invoke("validate", str(tmp_path / "latin1.json"))
    assert result.err.endswith("not UTF-8 text (byte 0xe9 at offset 3 of the input)\n")
