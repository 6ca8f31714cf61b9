"""Resend: post a received request again, byte for byte, to a URL the user types."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from simulator.receiving.checks import ReceivedRequest

RESEND_TIMEOUT = 10.0  # seconds, as a Voucherify attempt
_SHOWN_BODY = 64 * 1024  # bytes of the answer the page shows
# Headers of the hop the request came in on, not of the request: the new connection
# sets its own (Host from the URL, the length of the same bytes).
_HOP_HEADERS = frozenset(
    {
        "host", "content-length", "transfer-encoding", "connection", "keep-alive", "te",
        "trailer", "upgrade", "proxy-connection", "expect",
    }
)  # fmt: skip
# Headers aiohttp would add on its own: only those the original request had are sent.
_AUTO_HEADERS = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")


async def resend(request: ReceivedRequest, url: str) -> dict[str, Any]:
    """POST (or the original method) `request`'s exact body and headers to `url`.

    Returns what the page shows: {url, status, reason, headers, body, body_truncated,
    elapsed_ms}, or {url, error} when no answer came. Redirects are not followed.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return {"url": url, "error": "use an http:// or https:// URL"}
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
    timeout = aiohttp.ClientTimeout(total=RESEND_TIMEOUT)
    started = time.perf_counter()
    try:
        async with (
            aiohttp.ClientSession(
                timeout=timeout, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
            ) as session,
            session.request(
                request.method,
                url,
                data=request.body,
                headers=headers,
                skip_auto_headers=_AUTO_HEADERS,
                allow_redirects=False,
            ) as answer,
        ):
            body = await answer.content.read(_SHOWN_BODY + 1)
            elapsed = time.perf_counter() - started
            return {
                "url": url,
                "status": answer.status,
                "reason": answer.reason,
                "headers": [[k, v] for k, v in answer.headers.items()],
                "body": body[:_SHOWN_BODY].decode("utf-8", "replace"),
                "body_truncated": len(body) > _SHOWN_BODY,
                "elapsed_ms": round(elapsed * 1000, 1),
            }
    except asyncio.TimeoutError:
        return {"url": url, "error": f"no answer within {RESEND_TIMEOUT:g} s"}
    except aiohttp.ClientError as exc:
        return {"url": url, "error": str(exc) or type(exc).__name__}
    except ValueError as exc:  # a URL aiohttp cannot use
        return {"url": url, "error": str(exc)}
