"""Jinja2 compiled for JSON output: every expression renders as a JSON value, literal
text is compacted when a template loads, and dict lookups are inlined."""

from __future__ import annotations

import math
from collections.abc import Iterator
from json.encoder import encode_basestring
from typing import Any

import jinja2
import orjson
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.ext import Extension
from jinja2.idtracking import VAR_LOAD_RESOLVE
from jinja2.lexer import Token, TokenStream
from jinja2.sandbox import SandboxedEnvironment

from simulator.generation.values import Entity


class Json(str):
    """Text that is already JSON: an expression that yields it is rendered as it is."""

    __slots__ = ()


def json_value(value: Any) -> str:
    """What every {{ expression }} renders as: its JSON text (the environment's finalize).

    Templates so never need a filter to be correct JSON and cannot produce an unquoted
    string. orjson is ~10x faster than Jinja's HTML-escaping tojson, and each expression
    pays this once; the commonest types are tested for first. A str goes through the
    standard library's C string encoder: the same text as orjson's, in half the time,
    because orjson sizes every output buffer for a large document.
    """
    cls = type(value)
    if cls is Json:
        return value
    if cls is str:
        return encode_basestring(value)
    if cls is int:
        return str(value)
    if value is None:
        return "null"
    if cls is float and value - value != 0:  # nan and ±inf: orjson would write null
        raise TypeError(f"cannot render {value} as JSON, which has no NaN or Infinity")
    try:
        return orjson.dumps(value).decode()
    except TypeError as exc:
        if isinstance(value, jinja2.Undefined):
            value._fail_with_undefined_error()  # says which name, and why (e.g. unsafe)
        raise TypeError(f"cannot render a {type(value).__name__} as JSON ({exc})") from None


def _compact(text: str) -> str:
    """Drop JSON's insignificant whitespace from template text, once, at compile time.

    Templates stay indented for people; the bytes they render are compact JSON (what
    Voucherify sends) without a parse and re-dump per payload. Text whose quotes do not
    balance (a string continued by an expression) is left exactly as written.
    """
    out: list[str] = []
    in_string = escaped = spaced = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch in " \t\r\n":
            spaced = True
            continue
        elif ch == '"':
            in_string = True
        if spaced and _WORDY.get(ch) and (not out or _WORDY.get(out[-1])):
            # Between two values (`1 2`) the space is what makes the JSON invalid: dropped,
            # the typo would render a valid 12. A token's edge may meet an expression.
            out.append(" ")
        spaced = False
        out.append(ch)
    if spaced and out and _WORDY.get(out[-1]):
        out.append(" ")
    return text if in_string else "".join(out)


# Characters a JSON number or literal is made of: two of them never stand apart in JSON.
_WORDY = dict.fromkeys("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.+-", True)


class CompactJson(Extension):
    """Applies _compact to every piece of literal template text."""

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        for token in stream:
            if token.type == "data":
                yield Token(token.lineno, "data", _compact(token.value))
            else:
                yield token


# What `a.b` finds as an attribute of a dict: for these names Jinja's rule applies.
_DICT_ATTRIBUTES = frozenset(dir(Entity))


class _DictFirst:
    """Look `a.b` up as a key first when `a` is a dict and `b` is no attribute of dicts.

    Payload contexts are plain dicts, and Jinja's attribute-first lookup raises and
    catches an AttributeError for every `.` in a template: most of a render's cost. The
    result is Jinja's own: `d.items()` is still the method, and the sandbox still
    judges `d.__class__`. Compiled templates inline the same rule (_JsonCodeGenerator).
    """

    # What compiled templates read through `environment` (its only name in their module).
    json_dicts = frozenset((dict, Entity))
    json_str = staticmethod(encode_basestring)
    json_text = Json

    def getattr(self, obj: Any, attribute: str) -> Any:
        if (type(obj) is dict or type(obj) is Entity) and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)  # type: ignore[misc]


class _JsonCodeGenerator(CodeGenerator):
    """Compiles a template's output for what it is: JSON text, in as few steps as possible.

    Jinja writes `{{ a.b }}` as `str(environment.finalize(environment.getattr(a, "b")))`
    and yields every piece of output on its own. A payload has ~50 expressions and ~100
    pieces, so this writes instead:
    - `a.b`, when `b` is no attribute of dicts, as `a["b"]` for a dict that has the key,
      else the environment's getattr (so the sandbox still judges every other lookup);
    - an expression's value, when it is a str, an int, None or already JSON, as its JSON
      text inline, else through json_value;
    - `d.get(key)`, when `d` is a dict, as the dict's own get;
    - one `yield ''.join((...))` for each run of output between control statements.
    Together they cut a payload's render by about a sixth, with the same bytes out.
    """

    def write_commons(self) -> None:
        super().write_commons()
        self.writeline("json_value = environment.finalize")
        self.writeline("getattr_ = environment.getattr")
        self.writeline("dicts_ = environment.json_dicts")
        self.writeline("json_str = environment.json_str")
        self.writeline("json_ = environment.json_text")

    # JSON is not HTML: {% autoescape %} changes nothing, for constants and values alike.
    def _output_child_to_const(self, node: nodes.Expr, frame: Frame, finalize: Any) -> str:
        const = node.as_const(frame.eval_ctx)
        return str(const) if isinstance(node, nodes.TemplateData) else finalize.const(const)

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        # Template text is only evaluated at run time under {% autoescape <expression> %}.
        if isinstance(node, nodes.TemplateData):
            self.write("str(")
            self._post = ")"
            return
        # Most values are a str, an int, already JSON (a partial's) or None: their JSON
        # text inline, without a Python call to json_value.
        tmp, cls = self.temporary_identifier(), self.temporary_identifier()
        self.write(f"(json_str({tmp}) if ({cls} := type({tmp} := ")
        self._post = (
            f")) is str else str({tmp}) if {cls} is int else {tmp} if {cls} is json_"
            f" else 'null' if {tmp} is None else json_value({tmp}))"
        )

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        self.write(self._post)

    def visit_Output(self, node: nodes.Output, frame: Frame) -> None:
        if frame.buffer is not None or frame.require_output_check:
            super().visit_Output(node, frame)  # {% set %} blocks, macros, {% extends %}
            return
        finalize = self._make_finalize()
        parts: list[str | nodes.Expr] = []  # constant text, folded at compile time, or nodes
        for child in node.nodes:
            try:
                const = self._output_child_to_const(child, frame, finalize)
            except Exception:  # not constant (or fails): evaluated, and fails, at run time
                parts.append(child)
                continue
            if parts and isinstance(parts[-1], str):
                parts[-1] += const
            else:
                parts.append(const)
        many = len(parts) > 1
        if many:
            self.writeline("yield ''.join((")
        lead = "" if many else "yield "
        for part in parts:
            if isinstance(part, str):
                self.writeline(lead + repr(part))
            else:
                self.writeline(lead, part)  # one line per node: errors keep their line
                self._output_child_pre(part, frame, finalize)
                self.visit(part, frame)
                self._output_child_post(part, frame, finalize)
            if many:
                self.write(",")
        if many:
            self.writeline("))")

    def visit_Const(self, node: nodes.Const, frame: Frame) -> None:
        # Jinja writes a folded float as str(value), and `nan` or `inf` is no Python name.
        value = node.as_const(frame.eval_ctx)
        if isinstance(value, float) and not math.isfinite(value):
            self.write(f"float({str(value)!r})")
        else:
            super().visit_Const(node, frame)

    @optimizeconst
    def visit_Getattr(self, node: nodes.Getattr, frame: Frame) -> None:
        key = repr(node.attr)
        if node.attr in _DICT_ATTRIBUTES:  # `d.items` and the like: Jinja's rule
            self.write("getattr_(")
            self.visit(node.node, frame)
            self.write(f", {key})")
            return
        # _DictFirst.getattr, inlined: it was a Python call for each of ~45 lookups a payload.
        tmp = self.temporary_identifier()
        self.write(f"({tmp}[{key}] if type({tmp} := ")
        self.visit(node.node, frame)
        self.write(f") in dicts_ and {key} in {tmp} else getattr_({tmp}, {key}))")

    def enter_frame(self, frame: Frame) -> None:
        super().enter_frame(frame)
        # A name from the context that is not there is Undefined from the start, so that
        # each use of it need not ask (see visit_Name).
        for target, (action, param) in frame.symbols.loads.items():
            if action == VAR_LOAD_RESOLVE:
                self.writeline(f"if {target} is missing: {target} = undefined(name={param!r})")

    def visit_Name(self, node: nodes.Name, frame: Frame) -> None:
        if node.ctx == "load":
            ref = frame.symbols.ref(node.name)
            load = frame.symbols.find_load(ref)
            if load is not None and load[0] == VAR_LOAD_RESOLVE:
                self.write(ref)
                return
        super().visit_Name(node, frame)

    @optimizeconst
    def visit_Call(self, node: nodes.Call, frame: Frame, forward_caller: bool = False) -> None:
        callee = node.node
        if not (
            isinstance(callee, nodes.Getattr)
            and callee.attr == "get"
            and 1 <= len(node.args) <= 2
            and not (node.kwargs or node.dyn_args or node.dyn_kwargs or forward_caller)
            and not self.environment.is_async
        ):
            super().visit_Call(node, frame, forward_caller=forward_caller)
            return
        # `d.get(key)` on a dict, inlined: through context.call it costs four Python calls
        # (~1.5 % of a payload). Anything else that has a `get` is called as Jinja (and its
        # sandbox) calls it, with the loop's and block's variables Jinja passes along.
        tmp = self.temporary_identifier()
        self.write(f"({tmp}.get(")
        for i, arg in enumerate(node.args):
            self.write(", " if i else "")
            self.visit(arg, frame)
        self.write(f") if type({tmp} := ")
        self.visit(callee.node, frame)
        call = "environment.call(context, " if self.environment.sandboxed else "context.call("
        self.write(f") in dicts_ else {call}getattr_({tmp}, 'get')")
        extra = {}
        if frame.loop_frame:
            extra["_loop_vars"] = "_loop_vars"
        if frame.block_frame:
            extra["_block_vars"] = "_block_vars"
        self.signature(node, frame, extra or None)
        self.write("))")


class JsonEnvironment(_DictFirst, jinja2.Environment):
    code_generator_class = _JsonCodeGenerator


class SandboxedJsonEnvironment(_DictFirst, SandboxedEnvironment):
    code_generator_class = _JsonCodeGenerator
