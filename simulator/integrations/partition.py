"""Event indexes for users that share a run across processes and machines.

Payload n is a pure function of the seed and n, and its ids are a bijection of n, so a
run whose senders never use the same n sends no event twice. A distributed run's
senders are users: each worker process (index w, from its master) lends each running
user a slot s, and the user's k-th event is index (w, s, k) packed into one integer:

    index = w << 46 | s << 32 | k      w < 1024 workers, s < 16384 slots, k < 2**32

which stays below 2**56: templates derive more ids from an index by shifting it left
by up to 8 bits, within 64. A user that stops hands its slot back with the count it
reached, and the next user to start takes it up from there, so slots are bounded by the
users running at once, not by how many ever ran.
"""

from __future__ import annotations

import heapq

from simulator.errors import UsageError

WORKER_BITS = 10
SLOT_BITS = 14
SEQUENCE_BITS = 32
MAX_WORKERS = 1 << WORKER_BITS
MAX_SLOTS = 1 << SLOT_BITS
MAX_SEQUENCE = 1 << SEQUENCE_BITS


def event_index(worker: int, slot: int, sequence: int) -> int:
    """The run-wide index of the `sequence`-th event of `slot` on `worker`."""
    if not 0 <= worker < MAX_WORKERS:
        raise UsageError(f"worker index {worker} is beyond the {MAX_WORKERS} a run can have")
    if not 0 <= slot < MAX_SLOTS:
        raise UsageError(f"slot {slot} is beyond the {MAX_SLOTS} users a worker can run at once")
    if not 0 <= sequence < MAX_SEQUENCE:
        raise UsageError(f"a user has sent the {MAX_SEQUENCE:,} events its slot can number")
    return worker << (SLOT_BITS + SEQUENCE_BITS) | slot << SEQUENCE_BITS | sequence


def split_index(index: int) -> tuple[int, int, int]:
    """(worker, slot, sequence) of an index made by event_index()."""
    return (
        index >> (SLOT_BITS + SEQUENCE_BITS),
        index >> SEQUENCE_BITS & (MAX_SLOTS - 1),
        index & (MAX_SEQUENCE - 1),
    )


class Slots:
    """The slots of one worker process, lent to users while they run.

    Nothing in take() or give() waits, so under gevent (one thread, switching only where
    a greenlet waits) no two users can interleave in them: no lock is needed.
    """

    def __init__(self) -> None:
        self._free: list[tuple[int, int]] = []  # (slot, next sequence), lowest slot first
        self._next_slot = 0

    def take(self) -> tuple[int, int]:
        """A free slot and the sequence number its next event has."""
        if self._free:
            return heapq.heappop(self._free)
        if self._next_slot >= MAX_SLOTS:
            raise UsageError(f"more than {MAX_SLOTS} users at once in one worker process")
        slot, self._next_slot = self._next_slot, self._next_slot + 1
        return slot, 0

    def give(self, slot: int, sequence: int) -> None:
        """Hand `slot` back; its next event will be `sequence`."""
        heapq.heappush(self._free, (slot, sequence))

    @property
    def lent(self) -> int:
        return self._next_slot - len(self._free)
