"""What the inspector page shows: the last requests, numbered, and answers per second."""

from __future__ import annotations

import collections
from typing import Any

from simulator.receiving.checks import ReceivedRequest

DEFAULT_KEEP = 1000
CHART_SECONDS = 300  # the live chart's window: the last five minutes
# A chart bucket: [epoch second, 2xx, 3xx, 4xx, 5xx, dropped connections].
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx", "dropped")


class History:
    """The last `keep` requests, numbered from 1 in arrival order, and how many were
    answered with each status class in each of the last CHART_SECONDS seconds.

    add() is on the receiver's hot path and does the least it can: an append and a
    counter. Rows are described (row()) only when a page asks for them. Older requests
    are forgotten, so memory stays flat; `dropped` says how many.
    """

    def __init__(self, keep: int = DEFAULT_KEEP) -> None:
        self.keep = keep
        self.total = 0
        self._requests: collections.deque[ReceivedRequest] = collections.deque(maxlen=keep)
        self._seconds: collections.deque[list[int]] = collections.deque(maxlen=CHART_SECONDS)
        self._bucket: list[int] = [0, 0, 0, 0, 0, 0]

    @property
    def dropped(self) -> int:
        """Requests received but no longer kept (older than the last `keep`)."""
        return self.total - len(self._requests)

    @property
    def first(self) -> int:
        """The number of the oldest request kept (total + 1 when none is)."""
        return self.total - len(self._requests) + 1

    def add(self, request: ReceivedRequest) -> int:
        """Keep `request`; its number."""
        self.total += 1
        self._requests.append(request)
        second = int(request.time)
        bucket = self._bucket
        if second > bucket[0]:  # a clock set back keeps counting in the current second
            bucket = self._bucket = [second, 0, 0, 0, 0, 0]
            self._seconds.append(bucket)
        status = request.status
        bucket[5 if status is None else min(max(status // 100 - 1, 1), 4)] += 1
        return self.total

    def get(self, number: int) -> ReceivedRequest | None:
        """Request `number`, or None when it was never received or is no longer kept."""
        offset = number - self.first
        if 0 <= offset < len(self._requests):
            return self._requests[offset]
        return None

    def since(self, number: int, limit: int | None = None) -> list[tuple[int, ReceivedRequest]]:
        """(number, request) of the kept requests after `number`, oldest first; with
        `limit`, only the newest `limit` of them."""
        first = max(number + 1, self.first)
        if limit is not None:
            first = max(first, self.total - limit + 1)
        start = first - self.first
        requests = self._requests
        return [(first + i, requests[start + i]) for i in range(len(requests) - start)]

    def chart(self, since: int = 0) -> list[list[int]]:
        """The chart's buckets of epoch second `since` and later, oldest first."""
        buckets = []
        for bucket in reversed(self._seconds):
            if bucket[0] < since:
                break
            buckets.append(list(bucket))
        buckets.reverse()
        return buckets


def row(number: int, request: ReceivedRequest) -> dict[str, Any]:
    """A request as one line of the page's list: what it is and every verdict."""
    return {
        "number": number,
        "time": request.time,
        "method": request.method,
        "path": request.path,
        "event_type": request.event_type,
        "event_id": request.event_id,
        "size": len(request.body),
        "status": request.status,
        "signature": request.signature,
        "duplicate": request.duplicate,
        # None: not checked (not JSON, no schema for the event, or --no-schema)
        "schema_errors": len(request.schema_problems) if request.schema_checked else None,
        "not_json": request.not_json,
        "fault": request.fault,
        "delay_ms": round(request.delay * 1000, 1),
    }
