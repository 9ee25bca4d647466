"""Pure twin of the pacing kernel (native twin: ``_pacing_c``); the API is in ``_pacing``.

A :class:`PacingWheel` holds :class:`Pacer` objects in slots of ``resolution`` seconds
and serves every pacer of every due slot from one ``loop.call_at`` timer. A pacer's
``pace(now)`` does whatever is due at loop time ``now`` (seconds, ``loop.time()``) and
returns the loop time of its next deadline, or ``None`` to leave the wheel.

Invariants (both twins):
- a pacer is in at most one wheel, at most once (``schedule`` of a pacer already in
  the wheel only moves it earlier); the slot is kept on the pacer itself;
- a pacer whose ``pace`` returns a deadline at or before ``now`` is served again at
  the next slot, never twice in one tick (no busy loop when a socket is blocked);
- an exception from ``pace`` is passed to the loop's exception handler and the
  pacer is dropped, the other pacers keep their schedule.

:class:`PacedWriter` is the pacer of a stream: a FIFO of ready-to-write frames (here
WebSocket frames of AudioEvents), written one per ``_step`` seconds, never more than
``_max_lag`` seconds behind schedule (a stall never turns into a burst), plus the
idle rules (keepalive silence after ``_keepalive_after`` seconds without queued audio,
the end frames once the queue has drained). What needs the stream's session or futures
is left to three hooks a subclass defines: ``_not_writable(now)``, ``_queue_silence()``
and ``_write_end()``.
"""

from __future__ import annotations

import asyncio
import collections
import heapq
import math
from typing import Any

__all__ = ["DEFAULT_RESOLUTION", "MessageCounter", "PacedWriter", "Pacer", "PacingWheel"]

DEFAULT_RESOLUTION = 0.005
"""Slot width of the wheel, in seconds (5 ms: 1/20 of a 100 ms chunk)."""

_NOT_IN = -1


class MessageCounter:
    """A count of frames written by :class:`PacedWriter` objects that share it."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


class Pacer:
    """Something a :class:`PacingWheel` serves; subclasses define :meth:`pace`."""

    __slots__ = ("_pacer_slot", "_pacer_wheel")

    _pacer_slot: int
    _pacer_wheel: PacingWheel | None

    def __new__(cls, *args: Any, **kwargs: Any) -> Pacer:  # noqa: ARG004 - as __cinit__
        self = super().__new__(cls)
        self._pacer_slot = _NOT_IN
        self._pacer_wheel = None
        return self

    def pace(self, now: float) -> float | None:
        """Do what is due at loop time ``now`` (s); return the next deadline (loop
        time, s) or ``None`` to leave the wheel."""
        raise NotImplementedError


class PacingWheel:
    """A timing wheel on one event loop, driven by a single timer handle.

    Args:
        loop: the event loop whose ``time()`` and ``call_at`` drive the wheel.
        resolution: slot width in seconds (> 0).

    Raises:
        ValueError: ``resolution`` is not a positive finite number.
    """

    __slots__ = ("_count", "_heap", "_loop", "_resolution", "_slots", "_timer", "_timer_slot")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, resolution: float = DEFAULT_RESOLUTION
    ) -> None:
        if not (resolution > 0 and math.isfinite(resolution)):
            raise ValueError(f"resolution must be a positive number of seconds, not {resolution!r}")
        self._loop = loop
        self._resolution = float(resolution)
        self._slots: dict[int, list[Pacer]] = {}
        self._heap: list[int] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_slot = _NOT_IN
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, pacer: object) -> bool:
        return (
            isinstance(pacer, Pacer)
            and pacer._pacer_wheel is self
            and pacer._pacer_slot != _NOT_IN
        )

    @property
    def resolution(self) -> float:
        """Slot width in seconds."""
        return self._resolution

    def schedule(self, pacer: Pacer, when: float) -> None:
        """Serve ``pacer`` at loop time ``when`` (s, rounded up to the next slot).

        A pacer already in the wheel keeps the earlier of its two deadlines.

        Raises:
            TypeError: ``pacer`` is not a :class:`Pacer`.
            ValueError: ``when`` is not finite, or the pacer is in another wheel.
        """
        if not isinstance(pacer, Pacer):
            raise TypeError(f"a PacingWheel serves Pacer objects, not {type(pacer).__name__}")
        if not math.isfinite(when):
            raise ValueError(f"deadline must be a finite loop time, not {when!r}")
        slot = math.ceil(when / self._resolution)
        if pacer._pacer_slot != _NOT_IN:
            if pacer._pacer_wheel is not self:
                raise ValueError("the pacer is in another wheel")
            bucket = self._slots.get(pacer._pacer_slot)
            if pacer._pacer_slot <= slot or bucket is None:  # None: its slot is being served
                return
            bucket.remove(pacer)
            self._count -= 1
        self._insert(pacer, slot)
        if self._timer_slot == _NOT_IN or slot < self._timer_slot:
            self._arm(slot)

    def discard(self, pacer: Pacer) -> None:
        """Take ``pacer`` out of the wheel (no error when it is not in it)."""
        if not isinstance(pacer, Pacer):
            return
        if pacer._pacer_wheel is not self or pacer._pacer_slot == _NOT_IN:
            return
        bucket = self._slots.get(pacer._pacer_slot)
        if bucket is not None:  # None: its bucket is being served right now
            bucket.remove(pacer)
        pacer._pacer_slot = _NOT_IN
        pacer._pacer_wheel = None
        self._count -= 1

    def close(self) -> None:
        """Cancel the timer and forget every pacer."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_slot = _NOT_IN
        for bucket in self._slots.values():
            for pacer in bucket:
                pacer._pacer_slot = _NOT_IN
                pacer._pacer_wheel = None
        self._slots.clear()
        self._heap.clear()
        self._count = 0

    # ------------------------------------------------------------------ internals

    def _insert(self, pacer: Pacer, slot: int) -> None:
        bucket = self._slots.get(slot)
        if bucket is None:
            self._slots[slot] = [pacer]
            heapq.heappush(self._heap, slot)
        else:
            bucket.append(pacer)
        pacer._pacer_slot = slot
        pacer._pacer_wheel = self
        self._count += 1

    def _arm(self, slot: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_slot = slot
        self._timer = self._loop.call_at(slot * self._resolution, self._tick)

    def _tick(self) -> None:
        self._timer = None
        self._timer_slot = _NOT_IN
        now = self._loop.time()
        resolution = self._resolution
        current = math.floor(now / resolution + 1e-9)
        after = current + 1
        heap = self._heap
        slots = self._slots
        while heap and heap[0] <= current:
            slot = heapq.heappop(heap)
            bucket = slots.pop(slot, None)
            if not bucket:
                continue
            for pacer in bucket:
                if pacer._pacer_slot != slot or pacer._pacer_wheel is not self:
                    continue  # discarded (or moved) during this tick
                pacer._pacer_slot = _NOT_IN
                pacer._pacer_wheel = None
                self._count -= 1
                try:
                    when = pacer.pace(now)
                except Exception as exc:  # noqa: BLE001 - one pacer must not stop the rest
                    self._loop.call_exception_handler(
                        {"message": "pacer failed", "exception": exc, "pacer": pacer}
                    )
                    continue
                if when is None or pacer._pacer_slot != _NOT_IN:  # done, or rescheduled inside
                    continue
                if not math.isfinite(when):
                    continue
                # the slot is later than ``current``: this tick never serves it again
                self._insert(pacer, max(math.ceil(when / resolution), after))
        while heap and heap[0] not in slots:  # slots emptied by discard()
            heapq.heappop(heap)
        if heap and (self._timer_slot == _NOT_IN or heap[0] < self._timer_slot):
            self._arm(heap[0])


class PacedWriter(Pacer):
    """A :class:`Pacer` that writes queued frames to a transport at a steady pace.

    State (read and set by the subclass): ``_writable`` (frames may be written now),
    ``_next_due`` (loop time of the next frame, s), ``_step`` (s between frames),
    ``_max_lag`` (s the schedule may slip before it is moved up), ``_blocked_since``,
    ``_idle_since`` (loop time the queue ran dry, or None), ``_keepalive_after`` (s of
    idleness before ``_queue_silence()``; ``math.inf`` for never), ``_ending`` (write
    the end with ``_write_end()`` once the queue is empty), ``_space`` (a future set
    when the queue falls to ``_low_water`` frames), ``_counter``.

    Args:
        counter: the :class:`MessageCounter` to add written frames to.
    """

    __slots__ = (
        "_blocked_since",
        "_counter",
        "_ending",
        "_idle_since",
        "_keepalive_after",
        "_low_water",
        "_max_lag",
        "_next_due",
        "_queue",
        "_space",
        "_step",
        "_transport",
        "_writable",
    )

    def __init__(self, counter: MessageCounter) -> None:
        self._counter = counter
        self._writable = False
        self._next_due = 0.0
        self._step = 0.0
        self._max_lag = 0.0
        self._blocked_since: float | None = None
        self._idle_since: float | None = 0.0
        self._keepalive_after = math.inf
        self._ending = False
        self._space: asyncio.Future[None] | None = None
        self._low_water = 0
        self._queue: collections.deque[bytes] = collections.deque()
        self._transport: asyncio.WriteTransport | None = None

    # ------------------------------------------------------------------ queue and transport

    def _attach(self, transport: asyncio.WriteTransport) -> None:
        """Write to ``transport`` from now on."""
        self._transport = transport

    @property
    def _direct(self) -> bool:
        """True while frames may bypass the transport (never, in this twin)."""
        return False

    def _detach(self) -> None:
        """The socket is going away: no more writes that bypass the transport."""

    def _transport_dirty(self) -> None:
        """Someone else wrote to the transport (its buffer may hold bytes)."""

    def _write(self, frame: bytes) -> None:
        """Write one whole frame to the transport, in order with every earlier write."""
        assert self._transport is not None
        self._transport.write(frame)

    def _queue_frames(self, frames: list[bytes]) -> None:
        """Append ready-to-write frames to the queue."""
        self._queue.extend(frames)

    def _queued(self) -> int:
        """Frames waiting in the queue."""
        return len(self._queue)

    def _clear_queue(self) -> None:
        self._queue.clear()

    # ------------------------------------------------------------------ pacing

    def _not_writable(self, now: float) -> float | None:
        """Hook: writing is paused or over; the next deadline or None."""
        return None

    def _queue_silence(self) -> None:
        """Hook: the queue has been empty for ``_keepalive_after`` s; queue silence."""

    def _write_end(self) -> None:
        """Hook: ``_ending`` and the queue has drained; write the end of the stream."""

    def pace(self, now: float) -> float | None:
        """Write the frames due at loop time ``now`` (s); the next deadline or None."""
        if not self._writable:
            return self._not_writable(now)
        queue = self._queue
        if queue:
            next_due = self._next_due
            if next_due > now:
                return next_due
            self._blocked_since = None
            floor = now - self._max_lag
            if next_due < floor:
                next_due = floor
            step = self._step
            sent = 0
            while True:
                self._write(queue.popleft())
                sent += 1
                next_due += step
                if not queue or next_due > now or not self._writable:
                    break
            self._next_due = next_due
            self._counter.value += sent
            space = self._space
            if space is not None and len(queue) <= self._low_water:
                self._space = None
                if not space.done():
                    space.set_result(None)
            if queue:
                return next_due if self._writable else self._not_writable(now)
        if self._ending:
            self._write_end()
            return None
        keepalive = self._keepalive_after
        if keepalive == math.inf:
            return None
        idle_since = self._idle_since
        if idle_since is None:
            if self._next_due > now:
                return self._next_due
            idle_since = self._idle_since = now  # the queue ran dry just now
        if now - idle_since < keepalive:
            return idle_since + keepalive
        if self._next_due > now:
            return self._next_due
        self._next_due = now  # the silence starts now, one chunk per step
        self._queue_silence()  # the caller's audio paused: silence at the normal pace
        if not queue:
            return None
        return self.pace(now)
