"""The one Jinja2 environment: template lookup (user folders, then built-in) and rendering."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
import orjson
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from simulator.errors import TemplateError


def _builtin_templates() -> Path:
    # Installed, `templates/` ships inside the package; in a checkout it sits beside it.
    here = Path(__file__).resolve().parent
    packaged = here / "templates"
    return packaged if packaged.is_dir() else here.parent / "templates"


BUILTIN_TEMPLATES = _builtin_templates()
SUFFIX = ".json.j2"


def _json_value(value: Any) -> str:
    # Every {{ expression }} is a JSON value, so templates never need a filter to be
    # correct JSON and cannot produce an unquoted string. orjson is ~10x faster than
    # Jinja's HTML-escaping tojson, and each expression pays this once.
    try:
        return orjson.dumps(value).decode()
    except TypeError as exc:
        raise TemplateError(f"cannot render {type(value).__name__} as JSON: {exc}") from None


class _DictFirst:
    """Look `a.b` up as a key first when `a` is a dict.

    Payload contexts are plain dicts, and Jinja's attribute-first lookup raises and
    catches an AttributeError for every `.` in a template: most of a render's cost. Keys
    of a dict are data, so reading them first is safe in the sandbox too.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)  # type: ignore[misc]


class JsonEnvironment(_DictFirst, jinja2.Environment):
    pass


class SandboxedJsonEnvironment(_DictFirst, SandboxedEnvironment):
    pass


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


def make_environment(user_dirs: Sequence[str | Path] = ()) -> jinja2.Environment:
    """The environment every payload is rendered in.

    It is sandboxed as soon as a user folder is on the search path: user templates must
    not reach the filesystem, `os` or `subprocess`. Built-in templates alone render in
    the plain environment, which skips the sandbox's per-attribute checks.
    """
    cls = SandboxedJsonEnvironment if user_dirs else JsonEnvironment
    return cls(
        loader=jinja2.FileSystemLoader([str(d) for d in template_dirs(user_dirs)]),
        finalize=_json_value,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        auto_reload=False,
        keep_trailing_newline=False,
        cache_size=-1,
    )


def load(env: jinja2.Environment, name: str) -> jinja2.Template:
    """Load a template, turning Jinja's errors into one line naming the file and line."""
    try:
        return env.get_template(name)
    except jinja2.TemplateSyntaxError as exc:
        where = exc.filename or exc.name or name
        raise TemplateError(f"{where}:{exc.lineno}: template syntax error: {exc.message}") from None
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"template '{exc.name}' not found") from None


def uses(env: jinja2.Environment, name: str, variable: str) -> bool:
    """Whether a template (or anything it includes) refers to `variable`."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        source = env.loader.get_source(env, current)[0]
        try:
            tree = env.parse(source)
        except jinja2.TemplateSyntaxError:
            continue  # load() reports it properly
        if variable in meta.find_undeclared_variables(tree):
            return True
        todo.extend(ref for ref in meta.find_referenced_templates(tree) if ref)
    return False


def render(template: jinja2.Template, context: dict) -> str:
    """Render, mapping any failure inside the template to a TemplateError with its line."""
    try:
        return template.render(context)
    except TemplateError:
        raise
    except jinja2.TemplateError as exc:
        raise TemplateError(f"{_where(exc, template)}: {exc}") from None
    except Exception as exc:  # a user template can raise anything (1/0, a bad call)
        raise TemplateError(f"{_where(exc, template)}: {type(exc).__name__}: {exc}") from None


def _where(exc: BaseException, template: jinja2.Template) -> str:
    # Jinja rewrites tracebacks so template frames carry the template's file and line.
    tb = exc.__traceback__
    location = template.filename or template.name or "template"
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(SUFFIX):
            location = f"{filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return location
