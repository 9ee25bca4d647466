# cython: annotation_typing=False
"""The pacing kernel, in one source for both twins; the API is in ``pacing``.

One file, two modules. Imported as it is, this is the pure twin ``_pacing_py``. Built,
the same file is the native twin ``_pacing_c``: setup.py copies it and
``_pacing_py.pxd`` to ``_pacing_c.py`` / ``_pacing_c.pxd`` in the build tree (the copies
are never committed) and Cython compiles them in pure-Python mode, the ``.pxd`` adding
the C types (extension types, C fields, ``cdef`` methods). Python annotations here are
for readers and mypy only (``annotation_typing=False``); every C type is in the
``.pxd``. A few lines exist only in one form and sit under ``if cython.compiled:``
(the direct ``send(2)``, C conversions) or ``if not cython.compiled:`` (what Cython
does by itself: ``__cinit__``, argument checks of C-typed parameters), so both twins
have one behaviour and raise the same errors.

A :class:`PacingWheel` holds :class:`Pacer` objects in slots of ``resolution`` seconds
and serves every pacer of every due slot from one ``loop.call_at`` timer. A pacer's
``pace(now)`` does whatever is due at loop time ``now`` (seconds, ``loop.time()``) and
returns the loop time of its next deadline, or ``None`` to leave the wheel.

Invariants:
- a pacer is in at most one wheel, at most once (``schedule`` of a pacer already in
  the wheel only moves it earlier); the slot is kept on the pacer itself;
- a pacer whose ``pace`` returns a deadline at or before ``now`` is served again at
  the next slot, never twice in one tick (no busy loop when a socket is blocked);
- an exception from ``pace`` is passed to the loop's exception handler and the
  pacer is dropped, the other pacers keep their schedule (so is a deadline that is
  not a number); a deadline that is not finite leaves the wheel.

:class:`PacedWriter` is the pacer of a stream: a FIFO of ready-to-write frames (here
WebSocket frames of AudioEvents), written one per ``_step`` seconds, never more than
``_max_lag`` seconds behind schedule (a stall never turns into a burst), plus the
idle rules (keepalive silence after ``_keepalive_after`` seconds without queued audio,
the end frames once the queue has drained). What needs the stream's session or futures
is left to three hooks a subclass defines: ``_not_writable(now)``, ``_queue_silence()``
and ``_write_end()``. The wheel paces a PacedWriter by these rules (its ``_pace``, a
C method when compiled); a subclass changes them through the hooks, not by overriding
``pace``.

Native only: the wheel's tick calls each due PacedWriter through its C method table,
and the writer pops, writes and reschedules frames without entering the interpreter;
only the hooks and plain :class:`Pacer` subclasses go through Python calls. While the
transport's own buffer is empty, a frame goes to the socket with one ``send(2)``
(``MSG_DONTWAIT | MSG_NOSIGNAL``, ``csrc/sendnow.h``) instead of ``transport.write``
(whose Python bookkeeping costs about 1 µs per message). Whatever the kernel does not
take at once (a partial send, ``EAGAIN``) and any error goes to ``transport.write``,
which buffers it, applies flow control (``pause_writing``) or reports the error exactly
as before; after that every write goes through the transport until its buffer is empty
again, so bytes never overtake each other. The direct path is used only on plain TCP or
Unix stream transports of asyncio's selector loop and of uvloop (never TLS), and ends
when the connection is lost (``_detach``), before the socket is closed. The pure twin
always writes with ``transport.write`` (``_direct`` is False).
"""

from __future__ import annotations

import heapq
import math
from typing import TYPE_CHECKING, Any

try:
    import cython  # type: ignore[import-not-found, import-untyped, unused-ignore]
except ImportError:  # Cython builds the native twin; the pure one runs without it
    globals()["cython"] = type("cython", (), {"compiled": False})

if cython.compiled:
    from cython.cimports.libc.math import ceil, floor, isfinite  # type: ignore[import-not-found, import-untyped, unused-ignore]
else:
    from math import ceil, floor, isfinite

    # The .pxd's C names (csrc/sendnow.h) as the pure twin sees them: like a platform
    # without send(2) of our own, it always writes through the transport.
    SW_DIRECT_SEND = 0

    def _send_bytes(fd: int, frame: bytes) -> int:
        return -1

if TYPE_CHECKING:
    import asyncio

__all__ = ["DEFAULT_RESOLUTION", "MessageCounter", "PacedWriter", "Pacer", "PacingWheel"]

DEFAULT_RESOLUTION = 0.005
"""Slot width of the wheel, in seconds (5 ms: 1/20 of a 100 ms chunk)."""

_NOT_IN = -1  # the slot of a pacer in no wheel
_NAN = math.nan  # what _pace returns for None: leave the wheel
_INF = math.inf
_SLOT_LIMIT = 2.0**62  # slot numbers fit a C long long with room to spare
_heappush = heapq.heappush
_heappop = heapq.heappop


def _real(x: float) -> float:
    """``x`` as a C ``double`` takes it: a TypeError unless ``x`` is a real number."""
    if not cython.compiled:
        isfinite(x)  # the conversion a C double parameter makes, and its TypeError
        return float(x)
    return x  # converted by the declared return type


class MessageCounter:
    """A count of frames written by :class:`PacedWriter` objects that share it."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


class Pacer:
    """Something a :class:`PacingWheel` serves; subclasses define :meth:`pace`."""

    __slots__ = ("_pacer_slot", "_pacer_wheel")

    def __cinit__(self, *args: Any, **kwargs: Any) -> None:
        # run before any __init__ (a subclass need not call Pacer.__init__)
        self._pacer_slot: int = _NOT_IN
        self._pacer_wheel: PacingWheel | None = None

    def pace(self, now: float) -> float | None:
        """Do what is due at loop time ``now`` (s); return the next deadline (loop
        time, s) or ``None`` to leave the wheel."""
        raise NotImplementedError

    def _pace(self, now: float) -> float:
        """``pace(now)`` as a float; NaN for None (leave the wheel)."""
        when = self.pace(now)
        if when is None:
            return _NAN
        return _real(when)


if not cython.compiled:

    def _pacer_new(cls: type[Pacer], *args: Any, **kwargs: Any) -> Pacer:
        self = object.__new__(cls)
        self.__cinit__()
        return self

    # what Cython does for the native twin: __cinit__ before __init__
    type.__setattr__(Pacer, "__new__", staticmethod(_pacer_new))


class PacingWheel:
    """A timing wheel on one event loop, driven by a single timer handle.

    Args:
        loop: the event loop whose ``time()`` and ``call_at`` drive the wheel (and
            whose ``call_exception_handler`` hears of a failing pacer).
        resolution: slot width in seconds (> 0).

    Raises:
        ValueError: ``resolution`` is not a positive finite number.
    """

    __slots__ = ("_count", "_heap", "_loop", "_resolution", "_slots", "_timer", "_timer_slot")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, resolution: float = DEFAULT_RESOLUTION
    ) -> None:
        if not (resolution > 0 and isfinite(resolution)):
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
        return isinstance(pacer, Pacer) and self._holds(pacer)

    def _holds(self, pacer: Pacer) -> bool:
        return pacer._pacer_wheel is self and pacer._pacer_slot != _NOT_IN

    @property
    def resolution(self) -> float:
        """Slot width in seconds."""
        return self._resolution

    def schedule(self, pacer: Pacer, when: float) -> None:
        """Serve ``pacer`` at loop time ``when`` (s, rounded up to the next slot).

        A pacer already in the wheel keeps the earlier of its two deadlines.

        Raises:
            TypeError: ``pacer`` is not a :class:`Pacer`, or ``when`` not a number.
            ValueError: ``when`` is not finite, or the pacer is in another wheel.
        """
        if not isinstance(pacer, Pacer):
            raise TypeError(f"a PacingWheel serves Pacer objects, not {type(pacer).__name__}")
        if not cython.compiled:
            when = _real(when)
        q = when / self._resolution
        if not -_SLOT_LIMIT < q < _SLOT_LIMIT:  # NaN, the infinities, or out of range
            raise ValueError(f"deadline must be a finite loop time, not {when!r}")
        slot = int(ceil(q))
        p = pacer
        if p._pacer_slot != _NOT_IN:
            if p._pacer_wheel is not self:
                raise ValueError("the pacer is in another wheel")
            bucket = self._slots.get(p._pacer_slot)
            if p._pacer_slot <= slot or bucket is None:  # None: its slot is being served
                return
            bucket.remove(p)
            self._count -= 1
        self._insert(p, slot)
        if self._timer_slot == _NOT_IN or slot < self._timer_slot:
            self._arm(slot)

    def discard(self, pacer: Pacer) -> None:
        """Take ``pacer`` out of the wheel (no error when it is not in it)."""
        if not isinstance(pacer, Pacer):
            return
        p = pacer
        if p._pacer_wheel is not self or p._pacer_slot == _NOT_IN:
            return
        bucket = self._slots.get(p._pacer_slot)
        if bucket is not None:  # None: its bucket is being served right now
            bucket.remove(p)
        p._pacer_slot = _NOT_IN
        p._pacer_wheel = None
        self._count -= 1

    def close(self) -> None:
        """Cancel the timer and forget every pacer."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_slot = _NOT_IN
        for bucket in self._slots.values():
            for p in bucket:
                p._pacer_slot = _NOT_IN
                p._pacer_wheel = None
        self._slots.clear()
        del self._heap[:]
        self._count = 0

    # ------------------------------------------------------------------ internals

    def _insert(self, pacer: Pacer, slot: int) -> int:
        key = slot
        bucket = self._slots.get(key)
        if bucket is None:
            self._slots[key] = [pacer]
            _heappush(self._heap, key)
        else:
            bucket.append(pacer)
        pacer._pacer_slot = slot
        pacer._pacer_wheel = self
        self._count += 1
        return 0

    def _arm(self, slot: int) -> int:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_slot = slot
        self._timer = self._loop.call_at(slot * self._resolution, self._tick)
        return 0

    def _tick(self) -> None:
        resolution = self._resolution
        heap = self._heap
        slots = self._slots
        self._timer = None
        self._timer_slot = _NOT_IN
        now = self._loop.time()
        current = int(floor(now / resolution + 1e-9))
        after = current + 1
        while heap and heap[0] <= current:
            key = _heappop(heap)
            slot = key
            bucket = slots.pop(key, None)
            if not bucket:
                continue
            for p in bucket:
                if p._pacer_slot != slot or p._pacer_wheel is not self:
                    continue  # discarded (or moved) during this tick
                p._pacer_slot = _NOT_IN
                p._pacer_wheel = None
                self._count -= 1
                try:
                    when = p._pace(now)
                except Exception as exc:  # noqa: BLE001 - one pacer must not stop the rest
                    self._loop.call_exception_handler(
                        {"message": "pacer failed", "exception": exc, "pacer": p}
                    )
                    continue
                if p._pacer_slot != _NOT_IN:
                    continue  # rescheduled inside pace()
                q = when / resolution
                if not -_SLOT_LIMIT < q < _SLOT_LIMIT:
                    continue  # None (NaN), never again (infinite), or out of range
                # the slot is later than ``current``: this tick never serves it again
                nxt = int(ceil(q))
                if nxt < after:
                    nxt = after
                self._insert(p, nxt)
        while heap and heap[0] not in slots:  # slots emptied by discard()
            _heappop(heap)
        if heap and (self._timer_slot == _NOT_IN or heap[0] < self._timer_slot):
            self._arm(heap[0])


def _direct_capable(transport: object) -> bool:
    """A plain (not TLS) stream socket transport whose buffer we can observe."""
    if not SW_DIRECT_SEND:
        return False
    cls = type(transport)
    name = cls.__module__ + "." + cls.__qualname__
    if name not in (
        "asyncio.selector_events._SelectorSocketTransport",
        "uvloop.loop.TCPTransport",
        "uvloop.loop.UnixTransport",
    ):
        return False
    get_extra_info = transport.get_extra_info  # type: ignore[attr-defined]
    if get_extra_info("sslcontext") is not None:
        return False
    return get_extra_info("socket") is not None


class PacedWriter(Pacer):
    """A :class:`Pacer` that writes queued frames to a transport at a steady pace.

    State (read and set by the subclass): ``_writable`` (frames may be written now),
    ``_next_due`` (loop time of the next frame, s), ``_step`` (s between frames),
    ``_max_lag`` (s the schedule may slip before it is moved up), ``_blocked_since``,
    ``_idle_since`` (loop time the queue ran dry, or None), ``_keepalive_after`` (s of
    idleness before ``_queue_silence()``; ``math.inf`` for never), ``_ending`` (write
    the end with ``_write_end()`` once the queue is empty), ``_space`` (a future set
    when the queue falls to ``_low_water`` frames), ``_counter``, ``_transport``.

    Args:
        counter: the :class:`MessageCounter` to add written frames to.

    Raises:
        TypeError: ``counter`` is not a :class:`MessageCounter`.
    """

    __slots__ = (
        "_blocked_since",
        "_check_buffer",
        "_counter",
        "_ending",
        "_fd",
        "_head",
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
        if not isinstance(counter, MessageCounter):
            raise TypeError(f"counter must be a MessageCounter, not {type(counter).__name__}")
        self._counter = counter
        self._writable = False
        self._next_due = 0.0
        self._step = 0.0
        self._max_lag = 0.0
        self._blocked_since: float | None = None
        self._idle_since: float | None = 0.0
        self._keepalive_after = _INF
        self._ending = False
        self._space: asyncio.Future[None] | None = None
        self._low_water = 0
        # frames waiting: _queue[_head:]; popped entries are set to None, then compacted
        self._queue: list[bytes | None] = []
        self._head = 0
        self._transport: asyncio.WriteTransport | None = None
        self._fd = -1  # the socket written directly (native twin), or -1
        self._check_buffer = False  # look at the transport's buffer before a direct send

    # ------------------------------------------------------------------ queue and transport

    def _attach(self, transport: asyncio.WriteTransport) -> None:
        """Write to ``transport`` from now on."""
        self._transport = transport
        self._fd = -1
        self._check_buffer = False
        if _direct_capable(transport):
            fd = transport.get_extra_info("socket").fileno()
            if fd >= 0:
                self._fd = fd
                self._check_buffer = True  # whatever was written before us

    @property
    def _direct(self) -> bool:
        """True while frames may bypass the transport (``send(2)`` on its socket)."""
        return self._fd >= 0

    def _detach(self) -> None:
        """The socket is going away: no more writes that bypass the transport."""
        self._fd = -1

    def _transport_dirty(self) -> None:
        """Someone else wrote to the transport (its buffer may hold bytes)."""
        self._check_buffer = True

    def _write(self, frame: bytes) -> None:
        """Write one whole frame to the transport, in order with every earlier write."""
        self._write_frame(frame)

    def _write_frame(self, frame: bytes) -> int:
        transport: Any = self._transport
        if self._fd >= 0 and type(frame) is bytes:
            if self._check_buffer:
                if transport.get_write_buffer_size():
                    transport.write(frame)
                    return 0
                self._check_buffer = False
            data = frame
            n = _send_bytes(self._fd, data)
            if n == len(data):
                return 0
            # the rest, the would-block case and every error: the transport's own path
            # (it buffers, pauses the protocol, or fails the connection as it always does)
            self._check_buffer = True
            if n > 0:
                transport.write(data[n:])
                return 0
            if n < 0:
                self._fd = -1  # a broken socket: the transport reports it from here on
        transport.write(frame)
        return 0

    def _queue_frames(self, frames: list[bytes]) -> None:
        """Append ready-to-write frames to the queue."""
        self._queue.extend(frames)

    def _queued(self) -> int:
        """Frames waiting in the queue."""
        return len(self._queue) - self._head

    def _clear_queue(self) -> None:
        del self._queue[:]
        self._head = 0

    def _compact(self) -> int:
        """Drop the popped entries once they are all or at least half of the list."""
        n = len(self._queue)
        if self._head == n:
            del self._queue[:]
            self._head = 0
        elif self._head >= 64 and self._head * 2 >= n:
            del self._queue[: self._head]
            self._head = 0
        return 0

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
        if not cython.compiled:
            now = _real(now)
        when = self._pace(now)
        return None if when != when else when  # NaN: leave the wheel

    def _hook_deadline(self, now: float) -> float:
        when = self._not_writable(now)
        return _NAN if when is None else _real(when)

    def _pace(self, now: float) -> float:
        if not self._writable:
            return self._hook_deadline(now)
        queue = self._queue
        if self._head < len(queue):
            next_due = self._next_due
            if next_due > now:
                return next_due
            self._blocked_since = None
            floor_ = now - self._max_lag
            if next_due < floor_:
                next_due = floor_
            step = self._step
            sent = 0
            while True:
                frame = queue[self._head]
                queue[self._head] = None
                self._head += 1
                self._write_frame(frame)  # type: ignore[arg-type]
                sent += 1
                next_due += step
                if self._head == len(queue) or next_due > now or not self._writable:
                    break
            if self._head >= 64 or self._head == len(queue):
                self._compact()
            self._next_due = next_due
            self._counter.value += sent
            left = len(queue) - self._head
            space = self._space
            if space is not None and left <= self._low_water:
                self._space = None
                if not space.done():
                    space.set_result(None)
            if left:
                return next_due if self._writable else self._hook_deadline(now)
        if self._ending:
            self._write_end()
            return _NAN
        keepalive = self._keepalive_after
        if keepalive == _INF:
            return _NAN
        if self._idle_since is None:
            if self._next_due > now:
                return self._next_due
            self._idle_since = now  # the queue ran dry just now
        idle_since = self._idle_since
        if now - idle_since < keepalive:
            return idle_since + keepalive
        if self._next_due > now:
            return self._next_due
        self._next_due = now  # the silence starts now, one chunk per step
        self._queue_silence()  # the caller's audio paused: silence at the normal pace
        if self._head == len(self._queue):
            return _NAN
        if self._step <= 0.0:
            # unpaced (speed inf): no pace to keep, so one chunk per keepalive period
            # (a flood of silence at no pace would never return to the loop)
            self._idle_since = now
        return self._pace(now)
