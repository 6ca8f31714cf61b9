"""User templates: new events, overrides of built-ins, the sandbox, and error messages."""

from __future__ import annotations

import json
from pathlib import Path

import jinja2
import pytest
from conftest import FIXTURES, NOW

from simulator.errors import TemplateError, UsageError
from simulator.generation import render
from simulator.generation.payloads import PayloadFactory, generate, render_context

USER = FIXTURES / "templates"


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_a_user_folder_defines_a_new_event_with_fake_and_helpers() -> None:
    payloads = list(generate("shop.refund.created", count=30, seed=8, now=NOW, templates=[USER]))
    first = payloads[0].data
    assert first["object"] == "refund" and first["created_at"] == NOW
    assert first["id"].startswith("re_") and len(first["id"]) == 27
    assert first["customer"]["id"].startswith("cust_")
    assert isinstance(first["reason"], str) and first["reason"].endswith(".")
    assert len({p.data["id"] for p in payloads}) == 30
    assert len({p.data["reason"] for p in payloads}) > 20
    # `fake` is reseeded per event, so user events are as reproducible as built-in ones.
    again = generate("shop.refund.created", count=30, seed=8, now=NOW, templates=[USER])
    assert [p.body for p in again] == [p.body for p in payloads]
    single = PayloadFactory("shop.refund.created", seed=8, now=NOW, templates=[USER])
    assert single.build(17).body == payloads[17].body


def test_fake_unique_is_unique_within_an_event_so_payload_n_stays_the_same(
    tmp_path: Path,
) -> None:
    _write(tmp_path, "uq.ev.json.j2", '{"a": {{ fake.unique.random_int(min=1, max=3) }}}')
    factory = PayloadFactory("uq.ev", seed=1, now=NOW, templates=[tmp_path])
    bodies = {factory.build(5).body for _ in range(3)}
    assert len(bodies) == 1
    # Three values in the pool, and ten events: memory across events would run out.
    run = [p.body for p in generate("uq.ev", count=10, seed=1, now=NOW, templates=[tmp_path])]
    assert run[5] in bodies


def test_a_user_event_defaults_to_no_envelope_and_can_have_one() -> None:
    (bare,) = generate("shop.refund.created", count=1, seed=1, now=NOW, templates=[USER])
    assert bare.data["object"] == "refund"
    (wrapped,) = generate(
        "shop.refund.created", count=1, seed=1, now=NOW, templates=[USER], envelope="v2024"
    )
    assert wrapped.data["event"]["type"] == "shop.refund.created"
    assert wrapped.data["data"]["object"] == "refund"


def test_a_user_file_with_a_built_in_name_overrides_it(tmp_path: Path) -> None:
    _write(tmp_path, "_customer.json.j2", '{"id": {{ customer.id }}, "vip": true}')
    (p,) = generate(count=1, seed=1, now=NOW, templates=[tmp_path], envelope="none")
    assert p.data["customer"] == {"id": p.data["order"]["customer_id"], "vip": True}
    assert set(p.data["order"]) >= {"id", "items", "total_amount"}  # the rest is built in


@pytest.mark.parametrize(
    "expression",
    [
        "''.__class__.__mro__[1].__subclasses__()",
        "fake.__class__.__init__.__globals__",
        "alnum_id.__globals__['os'].system('true')",
        "rng.__class__.__module__",
        "ts.__code__",
        # The entity filter's cache holds the environment: it must stay out of reach.
        '(customer | entity("customer")) and customer._rendered',
        '(product | entity("product")) and product._rendered[0].loader',
    ],
)
def test_user_templates_cannot_reach_python_internals(tmp_path: Path, expression: str) -> None:
    _write(tmp_path, "evil.json.j2", '{"x": {{ ' + expression + " }}}")
    with pytest.raises(TemplateError) as exc:
        list(generate("evil", count=1, seed=1, now=NOW, templates=[tmp_path]))
    assert "evil.json.j2:1" in str(exc.value)
    assert "unsafe" in str(exc.value) or "is undefined" in str(exc.value)


@pytest.mark.parametrize("name", ["/etc/passwd", "../../../../etc/passwd", "../conftest.py"])
def test_user_templates_cannot_include_files_outside_the_folders(tmp_path: Path, name: str) -> None:
    peek = _write(tmp_path, "peek.json.j2", '{"x": {% include "' + name + '" %}}')
    with pytest.raises(TemplateError) as caught:
        PayloadFactory("peek", seed=1, now=NOW, templates=[tmp_path])
    assert str(caught.value) == f"{peek}:1: includes '{name}', which is in no template folder"


def test_a_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "broken.json.j2", '{\n  "a": 1,\n  {% if %}\n}')
    with pytest.raises(TemplateError) as exc:
        PayloadFactory("broken", templates=[tmp_path])
    assert str(exc.value).startswith(f"{path}:3: template syntax error: ")


def test_a_syntax_error_in_an_included_partial_names_the_partial(tmp_path: Path) -> None:
    _write(tmp_path, "outer.json.j2", '{\n"a": {% include "_part.json.j2" %}\n}')
    part = _write(tmp_path, "_part.json.j2", "[\n1,\n{{ 2 + }}\n]")
    with pytest.raises(TemplateError) as exc:
        PayloadFactory("outer", templates=[tmp_path])
    assert str(exc.value).startswith(f"{part}:3: template syntax error: ")


def test_a_syntax_error_in_an_imported_macro_file_names_that_file(tmp_path: Path) -> None:
    _write(tmp_path, "caller.json.j2", '{% import "_m.json.j2" as m %}\n{"z": {{ m.f() }}}')
    macros = _write(tmp_path, "_m.json.j2", "{% macro f() %}\n1\n{{ 2 + }}\n{% endmacro %}")
    with pytest.raises(TemplateError) as exc:
        list(generate("caller", count=1, seed=1, templates=[tmp_path]))
    assert str(exc.value).startswith(f"{macros}:3: template syntax error: ")


def test_a_template_that_fails_to_compile_or_decode_is_one_clear_error(tmp_path: Path) -> None:
    big = _write(tmp_path, "big.json.j2", '{"a": {{ 10 ** 5000 }}}')  # folded when compiled
    with pytest.raises(TemplateError) as exc:
        PayloadFactory("big", templates=[tmp_path])
    assert str(exc.value).startswith(f"{big}: cannot compile: ValueError: ")
    (tmp_path / "_latin1.json.j2").write_bytes(b'{"x": "\xff"}')
    _write(tmp_path, "uses.json.j2", '{"y": {% include "_latin1.json.j2" %}}')
    with pytest.raises(TemplateError, match=r"template '_latin1.json.j2' is not UTF-8 text"):
        PayloadFactory("uses", templates=[tmp_path])


def test_an_undefined_name_names_the_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "typo.json.j2", '{\n  "a": 1,\n  "b": {{ custmer.id }}\n}')
    with pytest.raises(TemplateError) as exc:
        list(generate("typo", count=1, templates=[tmp_path]))
    assert str(exc.value) == f"{path}:3: 'custmer' is undefined"


def test_a_name_the_context_lacks_is_undefined_however_it_is_used(tmp_path: Path) -> None:
    text = (
        '{% macro m() %}{{ "x" if absent is defined else "-" }}{% endmacro %}'
        "{% if index > 0 %}{% set late = 1 %}{% endif %}"
        '{"defined": {{ absent is defined }}, "default": {{ absent | default(7) }},'
        ' "macro": {{ m() | raw }}, "late": {{ late | default("unset") }},'
        ' "loop": [{% for n in [1] %}{{ absent | default(n) }}{% endfor %}]}'
    )
    assert _one(tmp_path, "lacks", text) == {
        "defined": False, "default": 7, "macro": "-", "late": "unset", "loop": [1]
    }  # fmt: skip
    _write(tmp_path, "late.json.j2", "{% if index > 0 %}{% set late = 1 %}{% endif %}\n{{ late }}")
    with pytest.raises(TemplateError, match=r"late\.json\.j2:2: 'late' is undefined"):
        list(generate("late", count=1, templates=[tmp_path]))


def test_invalid_json_from_a_user_template_is_reported_not_sent(tmp_path: Path) -> None:
    path = _write(tmp_path, "quoted.json.j2", '{"name": "{{ customer.name }}"}')
    with pytest.raises(TemplateError) as exc:
        list(generate("quoted", count=1, seed=1, templates=[tmp_path]))
    assert str(exc.value).startswith(f"{path} rendered invalid JSON (")
    assert 'at \'{"name": ""' in str(exc.value)  # the text where it went wrong
    assert "do not quote it" in str(exc.value)


def test_a_quoted_expression_inside_a_string_gets_the_quoting_hint(tmp_path: Path) -> None:
    _write(tmp_path, "prefixed.json.j2", '{"ref": "id-{{ customer.id }}"}')
    with pytest.raises(TemplateError) as exc:
        list(generate("prefixed", count=1, seed=1, templates=[tmp_path]))
    assert 'at \'{"ref": "id-"cust_' in str(exc.value)
    assert str(exc.value).endswith("do not quote it")


@pytest.mark.parametrize(
    ("text", "near"),
    [
        ('{"a": {{ fake.name() }}, "b": }', '"b":}'),  # a value missing
        ('{"a": 1,}', '{"a":1,}'),  # a comma extra
        ('{"a": "x" "y"}', '{"a":"x""y"}'),  # a comma missing
        ('{"a": [1, 2}', '{"a":[1,2}'),  # a bracket missing
    ],
)
def test_other_invalid_json_does_not_get_the_quoting_hint(
    tmp_path: Path, text: str, near: str
) -> None:
    _write(tmp_path, "broken.json.j2", text)
    with pytest.raises(TemplateError) as exc:
        list(generate("broken", count=1, seed=1, templates=[tmp_path]))
    message = str(exc.value)
    assert f"{near}'); look there for a missing or extra value, comma or bracket" in message
    assert "quote" not in message


@pytest.mark.parametrize(
    "text", ['{"a": 1 2}', '{"a": {{ index }} 2}', '{"a": 1 {{ index }}}', '{"a": tru e}']
)
def test_two_values_a_space_apart_stay_invalid_json_when_compacted(
    tmp_path: Path, text: str
) -> None:
    # Dropping that space would turn a typo into a valid, wrong number (12).
    _write(tmp_path, "typo.json.j2", text)
    with pytest.raises(TemplateError, match="rendered invalid JSON"):
        list(generate("typo", count=1, seed=1, templates=[tmp_path]))


def test_compacting_still_drops_every_space_json_does_not_need(tmp_path: Path) -> None:
    _write(
        tmp_path, "spaced.json.j2", '{\n  "a": [ 1 , true ],\n  "b": {{ index }} ,\n  "c": " x "\n}'
    )
    (p,) = generate("spaced", count=1, seed=1, templates=[tmp_path])
    assert p.body == b'{"a":[1,true],"b":0,"c":" x "}'


def test_invalid_json_shows_the_text_at_the_error_after_non_ascii(tmp_path: Path) -> None:
    # orjson's position counts characters; slicing the bytes with it drifted left.
    _write(tmp_path, "accents.json.j2", '{"a": {{ "é" * 40 }}, "b": }')
    with pytest.raises(TemplateError) as exc:
        list(generate("accents", count=1, seed=1, templates=[tmp_path]))
    assert f'at \'{"é" * 24}","b":}}\')' in str(exc.value)


def test_a_missing_partial_names_the_file_and_line_that_asks_for_it(tmp_path: Path) -> None:
    included = _write(tmp_path, "inc.json.j2", '{"a": 1,\n "b": {% include "_nope.json.j2" %}}')
    entity = _write(tmp_path, "ent.json.j2", '{"a": 1,\n "b": {{ customer | entity("nope") }}}')
    with pytest.raises(TemplateError) as caught:
        PayloadFactory("inc", templates=[tmp_path])
    assert str(caught.value) == (
        f"{included}:2: includes '_nope.json.j2', which is in no template folder"
    )
    with pytest.raises(TemplateError) as caught:
        PayloadFactory("ent", seed=1, templates=[tmp_path]).build(0)
    assert str(caught.value) == (
        f"{entity}:2: entity(\"nope\") renders '_nope.json.j2', which is in no template folder"
    )


def test_a_missing_template_folder_is_reported() -> None:
    with pytest.raises(UsageError) as caught:
        PayloadFactory(templates=["no/such/dir"])
    assert str(caught.value) == (
        "Invalid value for '--templates': template folder 'no/such/dir' does not exist or is "
        "not a folder"
    )


def test_user_templates_call_dict_methods_whatever_the_keys(tmp_path: Path) -> None:
    # Built-in templates read keys first (and write order["items"]); user templates keep
    # Jinja's rule, so a key never hides a method.
    _write(
        tmp_path,
        "methods.json.j2",
        '{% set d = {"items": [1, 2], "get": "x"} %}'
        '{"pairs": {{ d.items() | list }}, "got": {{ d.get("get") }}, "key": {{ d["items"] }}}',
    )
    (p,) = generate("methods", count=1, templates=[tmp_path])
    assert p.data == {"pairs": [["items", [1, 2]], ["get", "x"]], "got": "x", "key": [1, 2]}


def test_expressions_render_as_json_values(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "values.json.j2",
        '{"s": {{ "say \\"hi\\"\\n" }}, "n": {{ none }}, "t": {{ true }}, "l": {{ [1, "a"] }},'
        ' "u": {{ "żółw" }}, "f": {{ 1.5 }}}',
    )
    (p,) = generate("values", count=1, templates=[tmp_path])
    assert p.data == {"s": 'say "hi"\n', "n": None, "t": True, "l": [1, "a"], "u": "żółw", "f": 1.5}
    assert json.loads(p.body) == p.data


def test_values_known_only_when_rendering_render_as_json_values(tmp_path: Path) -> None:
    # Not constants: each goes through the compiled template's inline conversions.
    _write(
        tmp_path,
        "runtime.json.j2",
        '{"i": {{ index }}, "big": {{ index + 2 ** 70 }}, "b": {{ index >= 0 }},'
        ' "f": {{ index / 2 }}, "n": {{ none if index >= 0 else 1 }},'
        ' "s": {{ "say \\"hi\\"" ~ index }}, "e": {{ {"x": [index]} | entity("e") }}}',
    )
    _write(tmp_path, "_e.json.j2", '{"x": {{ e.x }}}')
    (p,) = generate("runtime", count=1, seed=1, templates=[tmp_path])
    assert p.data == {"i": 0, "big": 2**70, "b": True, "f": 0.0, "n": None, "s": 'say "hi"0',
                      "e": {"x": [0]}}  # fmt: skip


class _Shelf:
    """Not a dict, but with a get: templates call it as they call any method."""

    def get(self, key: str, default: object = None) -> object:
        return {"a": 1}.get(key, default)


class _Vault:
    @jinja2.sandbox.unsafe
    def get(self, key: str) -> str:
        return "secret"


@pytest.mark.parametrize("sandboxed", [False, True])
def test_get_reads_dicts_and_calls_anything_else_s_get(tmp_path: Path, sandboxed: bool) -> None:
    text = (
        '{"d": {{ d.get("a") }}, "default": {{ d.get("z", 2) }}, "none": {{ d.get("z") }},'
        ' "shelf": {{ shelf.get("a") }}, "shelf_default": {{ shelf.get("z", 3) }},'
        ' "loop": [{% for k in ["a", "z"] %}{{ d.get(k, k) }}, {{ shelf.get(k) }}'
        "{% if not loop.last %},{% endif %}{% endfor %}]}"
    )
    context = {"d": {"a": 1}, "shelf": _Shelf()}
    if sandboxed:
        _write(tmp_path, "gets.json.j2", text)
        body = render_context("gets", context, templates=[tmp_path])
    else:
        env = render.make_environment()
        body = render.render(env.from_string(text), context).encode()
    assert json.loads(body) == {"d": 1, "default": 2, "none": None, "shelf": 1,
                                "shelf_default": 3, "loop": [1, 1, "z", None]}  # fmt: skip


def test_the_sandbox_still_judges_a_get_that_is_not_a_dict_s(tmp_path: Path) -> None:
    _write(tmp_path, "vault.json.j2", '{"v": {{ vault.get("key") }}}')
    with pytest.raises(TemplateError, match=r"vault\.json\.j2:1: .*not safely callable"):
        render_context("vault", {"vault": _Vault()}, templates=[tmp_path])


def _one(folder: Path, name: str, text: str) -> dict:
    _write(folder, f"{name}.json.j2", text)
    (p,) = generate(name, count=1, seed=3, now=NOW, templates=[folder])
    return p.data


def test_autoescape_changes_nothing_in_json(tmp_path: Path) -> None:
    fixed = '{% set v = "<a&b>" %}{% autoescape true %}{"c": {{ "<a&b>" }}, "v": {{ v }}}'
    assert _one(tmp_path, "fixed", fixed + "{% endautoescape %}") == {"c": "<a&b>", "v": "<a&b>"}
    runtime = '{% set v = "<a&b>" %}{% autoescape index >= 0 %}{"v": {{ v }}}{% endautoescape %}'
    assert _one(tmp_path, "runtime", runtime) == {"v": "<a&b>"}


def test_macros_loops_and_the_raw_filter(tmp_path: Path) -> None:
    _write(tmp_path, "_m.json.j2", '{% macro who() %}{"name": {{ fake.name() }}}{% endmacro %}')
    text = (
        '{% import "_m.json.j2" as m with context %}'
        '{"who": {{ m.who() | raw }}, "text": {{ m.who() }}, "first": ['
        "{% for n in range(9) %}{% if n == 3 %}{% break %}{% endif %}"
        "{{ n }}{% if n < 2 %},{% endif %}{% endfor %}]}"
    )
    data = _one(tmp_path, "macro", text)
    # `fake` reaches a macro of an imported file, though the event template never names it.
    assert isinstance(data["who"]["name"], str) and data["who"]["name"]
    assert set(json.loads(data["text"])) == {"name"}  # without `raw`: the text, as a string
    assert data["first"] == [0, 1, 2]
    again = _one(tmp_path, "macro", text)
    assert again == data


def test_includes_in_comments_and_raw_blocks_are_left_alone(tmp_path: Path) -> None:
    text = (
        '{#- {% include "_missing.json.j2" %} -#}\n'
        '{"raw": {% raw %}"{% include \'_missing.json.j2\' %}"{% endraw %}}'
    )
    assert _one(tmp_path, "commented", text) == {"raw": "{% include '_missing.json.j2' %}"}


def test_values_json_cannot_carry_are_errors_that_say_why(tmp_path: Path) -> None:
    _write(tmp_path, "inf.json.j2", '{"a": {{ 1e308 * (10 + index) }}}')
    with pytest.raises(TemplateError, match=r"inf.json.j2:1: TypeError: cannot render inf .*NaN"):
        list(generate("inf", count=1, templates=[tmp_path]))
    _write(tmp_path, "nan.json.j2", '{"a": {{ "nan" | float }}}')  # folded when compiled
    with pytest.raises(TemplateError, match=r"nan.json.j2:1: TypeError: cannot render nan "):
        list(generate("nan", count=1, templates=[tmp_path]))
    _write(tmp_path, "keys.json.j2", '{"a": {{ {1: "x"} }}}')
    with pytest.raises(TemplateError, match=r"cannot render a dict as JSON \(.*str"):
        list(generate("keys", count=1, templates=[tmp_path]))


def test_entity_renders_any_sequence_and_nulls(tmp_path: Path) -> None:
    _write(tmp_path, "_thing.json.j2", '{"n": {{ thing.n }}}')
    text = (
        '{% set xs = [{"n": 1}, {"n": 2}, {"n": 3}] %}'
        '{"all": {{ ([none] + xs) | entity("thing") }},'
        ' "odd": {{ xs | selectattr("n", "odd") | entity("thing") }}}'
    )
    data = _one(tmp_path, "things", text)
    assert data == {"all": [None, {"n": 1}, {"n": 2}, {"n": 3}], "odd": [{"n": 1}, {"n": 3}]}


def test_a_failure_in_an_imported_macro_names_the_macro_file(tmp_path: Path) -> None:
    macros = _write(
        tmp_path, "_m.json.j2", "{% macro f() %}\n{{ 1 // (index * 0) }}\n{% endmacro %}"
    )
    _write(tmp_path, "calls.json.j2", '{% import "_m.json.j2" as m with context %}\n{{ m.f() }}')
    with pytest.raises(TemplateError) as exc:
        list(generate("calls", count=1, templates=[tmp_path]))
    assert str(exc.value) == f"{macros}:2: ZeroDivisionError: integer division or modulo by zero"
