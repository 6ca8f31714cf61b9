"""The one Jinja2 environment: template lookup (user folders, then built-in) and rendering."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from types import GeneratorType
from typing import Any
from weakref import WeakKeyDictionary

import jinja2
import orjson
from jinja2 import nodes

from simulator.errors import TemplateError
from simulator.generation.jsonjinja import (
    CompactJson,
    Json,
    JsonEnvironment,
    SandboxedJsonEnvironment,
    json_value,
)
from simulator.generation.values import Entity


def _builtin_templates() -> Path:
    # Installed, `templates/` ships inside the package; in a checkout it sits beside it.
    package = Path(__file__).resolve().parent.parent
    packaged = package / "templates"
    return packaged if packaged.is_dir() else package.parent / "templates"


BUILTIN_TEMPLATES = _builtin_templates()
SUFFIX = ".json.j2"


def _loader(env: jinja2.Environment) -> jinja2.BaseLoader:
    if env.loader is None:  # every environment make_environment() makes has one
        raise TemplateError("the template environment has no loader")
    return env.loader


def _partial(env: jinja2.Environment, obj: Any, kind: str) -> Json:
    """`_<kind>.json.j2` rendered with only `obj`, under the name `kind`."""
    shortcuts = _SHORTCUTS.get(env)
    if shortcuts is None:
        shortcuts = _SHORTCUTS[env] = {}
    shortcut = shortcuts.get(kind, _UNKNOWN)
    if shortcut is not None and shortcut is not _UNKNOWN:
        return fields(env, obj, *shortcut[0], **shortcut[1])
    name = f"_{kind}.json.j2"
    try:
        template = load(env, name)
    except TemplateError:
        if name in _loader(env).list_templates():
            raise  # there, but broken: its own error says where
        # Raised as Jinja's own, so that render() names the file and line of the call.
        raise jinja2.TemplateRuntimeError(
            f"entity(\"{kind}\") renders '{name}', which is in no template folder"
        ) from None
    if shortcut is _UNKNOWN:
        shortcut = shortcuts[kind] = _fields_only(env, name, kind)
        if shortcut is not None:
            return fields(env, obj, *shortcut[0], **shortcut[1])
    return Json(render(template, with_globals(env, {kind: obj})))


Shortcut = tuple[tuple[str, ...], dict[str, Any]]
_UNKNOWN: Shortcut = ((), {})  # a kind whose partial has not been looked at yet
# environment -> kind -> the fields() call its partial is made of, if that is all it is.
_SHORTCUTS: WeakKeyDictionary[jinja2.Environment, dict[str, Shortcut | None]] = WeakKeyDictionary()


def _fields_only(env: jinja2.Environment, name: str, kind: str) -> Shortcut | None:
    """(names, constants) when partial `name` is one `{{ kind | fields(...) }}` and nothing
    else: then a Template and its context would only call fields(), ~5 µs a partial."""
    body = env.parse(_loader(env).get_source(env, name)[0]).body
    found = [
        node
        for output in body
        if isinstance(output, nodes.Output)
        for node in output.nodes
        if not (isinstance(node, nodes.TemplateData) and not node.data.strip())
    ]
    if len(body) != 1 or len(found) != 1:
        return None
    call = found[0]
    if not (
        isinstance(call, nodes.Filter)
        and call.name == "fields"
        and isinstance(call.node, nodes.Name)
        and call.node.name == kind
        and call.dyn_args is None
        and call.dyn_kwargs is None
        and all(isinstance(arg, nodes.Const) for arg in call.args)
        and all(isinstance(kw.value, nodes.Const) for kw in call.kwargs)
    ):
        return None
    names = tuple(arg.value for arg in call.args)  # type: ignore[attr-defined]
    constants: dict[str, Any] = {kw.key: kw.value.value for kw in call.kwargs}  # type: ignore[attr-defined,misc]
    return names, constants


@jinja2.pass_environment
def entity(env: jinja2.Environment, obj: Any, kind: str) -> Json | None:
    """`{{ customer | entity("customer") }}`: render `_customer.json.j2` once per object.

    Customers, products and campaigns recur across a run's events; their JSON is the same
    every time, so it is rendered on first use and reused. The partial sees only the
    object, under the name `kind`. A list renders as a JSON array of such objects: that
    spares a template's `for` loop the LoopContext it needs for its commas (~6 µs).
    """
    if type(obj) is Entity:
        done = obj._rendered
        if done is not None and done[0] is env:
            text = done[1].get(kind)
            if text is None:
                text = done[1][kind] = _partial(env, obj, kind)
            return text
        text = _partial(env, obj, kind)
        obj._rendered = (env, {kind: text})
        return text
    if obj is None:
        return None
    if type(obj) is list or isinstance(obj, (tuple, GeneratorType)):  # and map/select's
        return Json("[" + ",".join([entity(env, item, kind) or "null" for item in obj]) + "]")
    # A per-event value (a discounted line, a user's dict): rendered every time.
    return _partial(env, obj, kind)


@jinja2.pass_environment
def fields(env: jinja2.Environment, obj: Any, *names: str, **constants: Any) -> Json:
    """`{{ voucher | fields("id", "code", "holder:customer", object="voucher") }}`.

    A JSON object of the named keys that `obj` has, in the order given, then the
    constants. Voucherify shows an object with more or fewer keys from one event to the
    next: the partial lists every key the object can have, and the builder (or a
    context fixture) gives the ones the event shows. `key:kind` renders the value
    through `_<kind>.json.j2`, as `entity(kind)` does; `?key` leaves the key out when
    its value is null (the spec has no null there). One orjson call writes the object
    (the same text as `{{ }}` expressions write), the partials' output as it is.
    """
    if obj is None:
        return Json("null")
    plan = _FIELD_PLANS.get(names)
    if plan is None:
        plan = _FIELD_PLANS[names] = _plan(names)
    keys, optional, kinds = plan
    if kinds:
        picked = {}
        for key in keys:
            if key in obj and ((value := obj[key]) is not None or key not in optional):
                kind = kinds.get(key)
                if kind:
                    value = orjson.Fragment(str(entity(env, value, kind) or "null"))
                picked[key] = value
    elif optional:  # a comprehension: most partials, twice as fast as the loop
        picked = {
            k: v for k in keys if k in obj and ((v := obj[k]) is not None or k not in optional)
        }
    else:
        picked = {k: obj[k] for k in keys if k in obj}
    if constants:
        picked.update(constants)
    try:
        return Json(orjson.dumps(picked).decode())
    except TypeError as exc:
        raise TypeError(f"cannot render {sorted(picked)} as JSON ({exc})") from None


FieldPlan = tuple[tuple[str, ...], frozenset[str], dict[str, str]]
# Each partial's list of names, parsed once: keys, those left out when null, their kinds.
_FIELD_PLANS: dict[tuple[str, ...], FieldPlan] = {}


def _plan(names: tuple[str, ...]) -> FieldPlan:
    parsed = [(key.lstrip("?"), key.startswith("?"), kind) for key, _, kind in
              (name.partition(":") for name in names)]  # fmt: skip
    return (
        tuple(key for key, _, _ in parsed),
        frozenset(key for key, optional, _ in parsed if optional),
        {key: kind for key, _, kind in parsed if kind},
    )


def template_dirs(user_dirs: Sequence[str | Path] = ()) -> list[Path]:
    """Folders searched in order: each user folder, then each built-in source folder."""
    dirs: list[Path] = []
    for raw in user_dirs:
        path = Path(raw)
        if not path.is_dir():
            raise TemplateError(f"template folder '{raw}' does not exist or is not a folder")
        dirs.append(path)
    dirs.extend(sorted(p for p in BUILTIN_TEMPLATES.iterdir() if p.is_dir()))
    return dirs


# Comments and {% raw %} blocks are not template code: an include in them is left alone.
_NOT_CODE = re.compile(r"\{#.*?#\}|\{%-?\s*raw\s*-?%\}.*?\{%-?\s*endraw\s*-?%\}", re.S)
_HIDDEN = "\x00%"  # stands for "{%" inside them while includes are expanded
_INCLUDE = re.compile(r"""\{%-?\s*include\s+(?:"([^"]+)"|'([^']+)'|(data_template))\s*-?%\}""")
ENVELOPE_SEP = "@"  # "customer.order.created.json.j2@v2024": that event in that envelope


class InliningLoader(jinja2.FileSystemLoader):
    """Resolve `{% include "name" %}` with a constant name when a template is loaded.

    An include costs a new context and a generator per render; inlined, the partials
    still live in one file each but a payload renders as one flat template, about three
    times faster. Each line of the result remembers the file and line it came from, so
    errors still point at the partial the author wrote.
    """

    def __init__(self, searchpath: list[str]) -> None:
        super().__init__(searchpath)
        self.origins: dict[str, list[tuple[str, int]]] = {}
        self.names: dict[str, str] = {}  # file → template name, for files that are imported

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple:
        name, _, envelope = template.partition(ENVELOPE_SEP)
        outer = f"_envelope.{envelope}.json.j2" if envelope else name
        lines = self._expand(environment, outer, data=name, stack=())
        self.origins[template] = [origin for _, origin in lines]
        filename = super().get_source(environment, outer)[1]
        if not envelope and filename:
            self.names[filename] = template
        source = "\n".join(text for text, _ in lines).replace(_HIDDEN, "{%")
        return source, filename, lambda: False

    def _expand(
        self, env: jinja2.Environment, name: str, data: str, stack: tuple[str, ...]
    ) -> list[tuple[str, tuple[str, int]]]:
        if name in stack:
            raise TemplateError(f"{name} includes itself: {' -> '.join((*stack, name))}")
        try:
            source, filename = super().get_source(env, name)[:2]
        except UnicodeDecodeError as exc:
            raise TemplateError(
                f"template '{name}' is not UTF-8 text (byte {exc.start}: {exc.reason})"
            ) from None
        source = _NOT_CODE.sub(lambda m: m.group(0).replace("{%", _HIDDEN), source)
        out: list[tuple[str, tuple[str, int]]] = []
        for lineno, line in enumerate(source.split("\n"), start=1):
            origin = (filename or name, lineno)
            parts = _INCLUDE.split(line)
            if len(parts) == 1:
                out.append((line, origin))
                continue
            text = parts[0]
            for i in range(1, len(parts), 4):
                inner = parts[i] or parts[i + 1] or data
                try:
                    sub = self._expand(env, inner, data, (*stack, name))
                except jinja2.TemplateNotFound as exc:
                    if exc.name != inner:
                        raise
                    raise TemplateError(
                        f"{origin[0]}:{lineno}: includes '{inner}', which is in no template folder"
                    ) from None
                if len(sub) == 1:
                    text += sub[0][0]
                else:
                    out.append((text + sub[0][0], origin))
                    out.extend(sub[1:-1])
                    text = sub[-1][0]
                text += parts[i + 3]
            out.append((text, origin))
        return out


def make_environment(user_dirs: Sequence[str | Path] = ()) -> jinja2.Environment:
    """The environment every payload is rendered in.

    It is sandboxed as soon as a user folder is on the search path: user templates must
    not reach the filesystem, `os` or `subprocess`. Built-in templates alone render in
    the plain environment, which skips the sandbox's per-attribute checks.
    """
    cls = SandboxedJsonEnvironment if user_dirs else JsonEnvironment
    env = cls(
        loader=InliningLoader([str(d) for d in template_dirs(user_dirs)]),
        finalize=json_value,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        auto_reload=False,
        keep_trailing_newline=False,
        cache_size=-1,
        extensions=[CompactJson, "jinja2.ext.loopcontrols"],
    )
    env.filters["entity"] = entity
    env.filters["fields"] = fields
    # {{ m() | raw }}: text that is already JSON (a macro's output), inserted as it is.
    env.filters["raw"] = lambda text: Json(text)
    return env


def origin(env: jinja2.Environment, template: str, line: int) -> str:
    """`file:line` that line `line` of a loaded (inlined) template came from."""
    origins = getattr(env.loader, "origins", {}).get(template)
    if origins and 1 <= line <= len(origins):
        filename, lineno = origins[line - 1]
        return f"{filename}:{lineno}"
    return f"{template}:{line}"


def load(env: jinja2.Environment, name: str) -> jinja2.Template:
    """Load a template, turning Jinja's errors into one line naming the file and line."""
    try:
        return env.get_template(name)
    except TemplateError:
        raise
    except jinja2.TemplateSyntaxError as exc:
        raise _syntax_error(env, exc, name) from None
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"template '{exc.name}' not found") from None
    except Exception as exc:  # compiling folds constants: {{ 10 ** 5000 }} fails here
        where = origin(env, name, 1).rsplit(":", 1)[0]
        raise TemplateError(f"{where}: cannot compile: {type(exc).__name__}: {exc}") from None


def _syntax_error(
    env: jinja2.Environment, exc: jinja2.TemplateSyntaxError, name: str
) -> TemplateError:
    where = origin(env, exc.name or name, exc.lineno)
    return TemplateError(f"{where}: template syntax error: {exc.message}")


def render(template: jinja2.Template, context: dict) -> str:
    """Render, mapping any failure inside the template to a TemplateError with its line.

    The context is used as it is (Jinja's `shared` mode): Template.render copies the
    environment's globals into a fresh dict for every call, which costs ~7 µs a payload.
    A context that needs them includes them (see `with_globals`). The Context is made
    without `globals`, which only `{% import %}` reads: Template.new_context lists the
    template's globals (a ChainMap, slow to iterate) into a set for every render.
    """
    env = template.environment
    try:
        ctx = env.context_class(env, context, template.name, template.blocks)
        return "".join(template.root_render_func(ctx))
    except TemplateError:
        raise
    except jinja2.TemplateSyntaxError as exc:  # in a template imported while rendering
        raise _syntax_error(env, exc, template.name or "template") from None
    except Exception:
        try:
            template.environment.handle_exception()  # re-raises with template line numbers
        except jinja2.TemplateError as exc:
            raise TemplateError(f"{_where(exc, template)}: {exc}") from None
        except Exception as exc:  # a user template can raise anything (1/0, a bad call)
            raise TemplateError(f"{_where(exc, template)}: {type(exc).__name__}: {exc}") from None
        raise  # handle_exception always raises; this keeps type checkers honest


def with_globals(env: jinja2.Environment, context: dict) -> dict:
    """The context plus the environment's globals (range, namespace, …) it does not shadow."""
    return {**env.globals, **context}


def _where(exc: BaseException, template: jinja2.Template) -> str:
    # Jinja rewrites tracebacks so template frames carry the template's line numbers. The
    # deepest template frame is where it failed: this template, or a file it imported.
    env = template.environment
    names = getattr(env.loader, "names", {})
    where: tuple[str, int] | None = None
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename == template.filename and template.name is not None:
            where = (template.name, tb.tb_lineno)
        elif filename in names:
            where = (names[filename], tb.tb_lineno)
        tb = tb.tb_next
    if where is None:
        return template.name or "template"
    return origin(env, *where)
