"""One pacing scheduler per event loop: a timing wheel with a single timer.

Real-time streaming means each stream sends one AudioEvent every ``chunk_duration``
seconds (protocol.md §5: "pace as close to real time as possible"). A timer or a
task per stream costs ~9 µs of CPU per message in asyncio (DESIGN.md, "Performance
goals"); here one ``loop.call_at`` handle serves every stream that is due at a tick.

The wheel holds *pacers*: objects with a ``pace(now)`` method that does whatever
is due at loop time ``now`` (seconds, ``loop.time()``) and returns the loop time of
its next deadline, or ``None`` to leave the wheel. Deadlines are rounded up to
slots of ``resolution`` seconds, so a tick serves everything due within one slot.

Invariants:
- a pacer is in the wheel at most once (``schedule`` of a pacer already in the
  wheel only moves it earlier);
- a pacer whose ``pace`` returns a deadline at or before ``now`` is served again at
  the next slot, never twice in one tick (no busy loop when a socket is blocked);
- an exception from ``pace`` is passed to the loop's exception handler and the
  pacer is dropped, the other pacers keep their schedule.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import weakref
from typing import Protocol

__all__ = ["DEFAULT_RESOLUTION", "Pacer", "PacingWheel", "wheel_for_loop"]

DEFAULT_RESOLUTION = 0.005
"""Slot width of the wheel, in seconds (5 ms: 1/20 of a 100 ms chunk)."""


class Pacer(Protocol):
    """Something the wheel serves: a stream with paced output."""

    def pace(self, now: float) -> float | None:
        """Do what is due at loop time ``now``; return the next deadline or ``None``."""
        ...


class PacingWheel:
    """A timing wheel on one event loop, driven by a single timer handle.

    Args:
        loop: the event loop whose ``time()`` and ``call_at`` drive the wheel.
        resolution: slot width in seconds (> 0).

    Raises:
        ValueError: ``resolution`` is not a positive finite number.
    """

    __slots__ = ("_heap", "_loop", "_resolution", "_slot_of", "_slots", "_timer", "_timer_slot")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, resolution: float = DEFAULT_RESOLUTION
    ) -> None:
        if not (resolution > 0 and math.isfinite(resolution)):
            raise ValueError(f"resolution must be a positive number of seconds, not {resolution!r}")
        self._loop = loop
        self._resolution = resolution
        self._slots: dict[int, list[Pacer]] = {}
        self._slot_of: dict[Pacer, int] = {}
        self._heap: list[int] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_slot: int | None = None

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, pacer: object) -> bool:
        return pacer in self._slot_of

    @property
    def resolution(self) -> float:
        """Slot width in seconds."""
        return self._resolution

    def schedule(self, pacer: Pacer, when: float) -> None:
        """Serve ``pacer`` at loop time ``when`` (rounded up to the next slot).

        A pacer already in the wheel keeps the earlier of its two deadlines.
        """
        slot = math.ceil(when / self._resolution)
        old = self._slot_of.get(pacer)
        if old is not None:
            bucket = self._slots.get(old)
            if old <= slot or bucket is None:  # None: it is being served right now
                return
            bucket.remove(pacer)
        self._insert(pacer, slot)

    def discard(self, pacer: Pacer) -> None:
        """Take ``pacer`` out of the wheel (no error when it is not in it)."""
        slot = self._slot_of.pop(pacer, None)
        if slot is not None:
            bucket = self._slots.get(slot)
            if bucket is not None:  # None: its bucket is being served right now
                bucket.remove(pacer)

    def close(self) -> None:
        """Cancel the timer and forget every pacer."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_slot = None
        self._slots.clear()
        self._slot_of.clear()
        self._heap.clear()

    # ------------------------------------------------------------------ internals

    def _insert(self, pacer: Pacer, slot: int) -> None:
        bucket = self._slots.get(slot)
        if bucket is None:
            self._slots[slot] = [pacer]
            heapq.heappush(self._heap, slot)
        else:
            bucket.append(pacer)
        self._slot_of[pacer] = slot
        if self._timer_slot is None or slot < self._timer_slot:
            self._arm(slot)

    def _arm(self, slot: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_slot = slot
        self._timer = self._loop.call_at(slot * self._resolution, self._tick)

    def _tick(self) -> None:
        self._timer = None
        self._timer_slot = None
        now = self._loop.time()
        resolution = self._resolution
        current = math.floor(now / resolution + 1e-9)
        after = current + 1
        heap = self._heap
        slots = self._slots
        slot_of = self._slot_of
        ceil = math.ceil
        heappop = heapq.heappop
        heappush = heapq.heappush
        while heap and heap[0] <= current:
            slot = heappop(heap)
            bucket = slots.pop(slot, None)
            if not bucket:
                continue
            for pacer in bucket:
                served = slot_of.pop(pacer, None)
                if served != slot:  # discarded during this tick (or moved: put it back)
                    if served is not None:
                        slot_of[pacer] = served
                    continue
                try:
                    when = pacer.pace(now)
                except Exception as exc:  # noqa: BLE001 - one pacer must not stop the rest
                    self._loop.call_exception_handler(
                        {"message": "pacer failed", "exception": exc, "pacer": pacer}
                    )
                    continue
                if when is None or pacer in slot_of:  # done, or rescheduled from inside pace()
                    continue
                # re-insert at once (inlined _insert; the timer is armed once, below): the
                # slot is later than ``current``, so this tick never serves it again
                nxt = ceil(when / resolution)
                if nxt < after:
                    nxt = after
                later = slots.get(nxt)
                if later is None:
                    slots[nxt] = [pacer]
                    heappush(heap, nxt)
                else:
                    later.append(pacer)
                slot_of[pacer] = nxt
        while heap and heap[0] not in slots:  # slots emptied by discard()
            heappop(heap)
        if heap and (self._timer_slot is None or heap[0] < self._timer_slot):
            self._arm(heap[0])


_WHEELS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, PacingWheel] = (
    weakref.WeakKeyDictionary()
)


def wheel_for_loop(loop: asyncio.AbstractEventLoop | None = None) -> PacingWheel:
    """The shared wheel of ``loop`` (default: the running loop), created on first use."""
    if loop is None:
        loop = asyncio.get_running_loop()
    wheel = _WHEELS.get(loop)
    if wheel is None:
        wheel = _WHEELS[loop] = PacingWheel(loop)
    return wheel
