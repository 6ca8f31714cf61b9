"""What never leaves the process: secrets in headers, credentials and tokens in URLs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit, urlunsplit

REDACTED = "[redacted]"
# Headers whose values are credentials whatever they contain.
SENSITIVE_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key"})


def redact(headers: Mapping[str, str], secrets: Sequence[str]) -> dict[str, str]:
    """A copy of `headers` with credentials and every value containing a secret replaced."""
    out = {}
    for name, value in headers.items():
        hidden = name.lower() in SENSITIVE_HEADERS or any(s and s in value for s in secrets)
        out[name] = REDACTED if hidden else value
    return out


def public_url(url: str) -> str:
    """The URL fit for summaries, reports and records: without user:password, and with
    every query value redacted, since webhook URLs often carry a token there."""
    parts = urlsplit(url)
    if not parts.query and parts.username is None and parts.password is None:
        return url
    if parts.query:
        names = (pair.partition("=")[0] for pair in parts.query.split("&"))
        parts = parts._replace(query="&".join(f"{n}={REDACTED}" for n in names if n))
    if parts.username is None and parts.password is None:
        return urlunsplit(parts)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))
