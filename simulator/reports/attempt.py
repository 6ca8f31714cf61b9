"""One HTTP attempt of one event: the value stats count and records log."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple


class Attempt(NamedTuple):
    """An attempt and its outcome. Times are seconds on the sender's clock: `scheduled`
    when it was due (for a retry, when the retry was), `started` when it went out,
    `finished` when the answer (or the error) came. `number` counts the event's attempts
    from 1; a `retry` is one the retry policy scheduled, a `resend` one the client sent
    again at once on a new connection (neither a retry nor a send). No `status` means no
    answer: `error` is its kind and `detail` the reason in words. `injected` names the
    fault a request was sent for (sending/faults.py): a duplicate or a forged request is
    an extra one, not one of the event's attempts; "reorder" marks the event's own first
    attempt, sent at another event's time."""

    payload: Any  # .id, .event, .body
    index: int  # type: ignore[assignment]  # the event's index, not tuple.index
    number: int
    scheduled: float
    started: float
    finished: float
    status: int | None
    error: str | None
    detail: str | None
    headers: Mapping[str, str]
    retry: bool = False
    resend: bool = False
    injected: str | None = None
