# cython: boundscheck=False, wraparound=False, initializedcheck=False
"""Native twin of the pacing kernel (pure twin: ``_pacing_py``); the API is in ``_pacing``.

Same names, behaviour and errors as the pure twin. The wheel's tick calls each due
:class:`PacedWriter` through its C method table and the writer pops, writes and
reschedules frames without entering the interpreter; only the hooks
(``_not_writable``, ``_queue_silence``, ``_write_end``) and plain :class:`Pacer`
subclasses go through Python calls.

Writes: while the transport's own buffer is empty, a frame goes to the socket with one
``send(2)`` (``MSG_DONTWAIT``) from here instead of ``transport.write`` (whose Python
bookkeeping costs about 1 µs per message). Whatever the kernel does not take at once
(a partial send, ``EAGAIN``) and any error goes to ``transport.write``, which buffers
it, applies flow control (``pause_writing``) or reports the error exactly as before;
after that every write goes through the transport until its buffer is empty again,
so bytes never overtake each other. The direct path is used only on plain TCP or Unix
stream transports of asyncio's selector loop and of uvloop (never TLS), and ends when
the connection is lost (``_detach``), before the socket is closed.
"""

import heapq
import math

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_GET_SIZE
from libc.math cimport INFINITY, NAN, ceil, floor, isfinite, isnan


cdef extern from *:
    """
    /* Bytes sent (0 when the socket would block or a signal interrupted), or -1 on
       any other error (left for the transport to meet and report). */
    #if defined(_WIN32)
    #include <stddef.h>
    typedef long sw_ssize_t;
    static sw_ssize_t sw_send_nowait(int fd, const char *buf, size_t n)
    { (void)fd; (void)buf; (void)n; return -1; }
    #define SW_DIRECT_SEND 0
    #else
    #include <errno.h>
    #include <sys/types.h>
    #include <sys/socket.h>
    #ifndef MSG_NOSIGNAL
    #define MSG_NOSIGNAL 0
    #endif
    typedef ssize_t sw_ssize_t;
    static sw_ssize_t sw_send_nowait(int fd, const char *buf, size_t n)
    {
        sw_ssize_t r = send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return 0;
        return r;
    }
    #define SW_DIRECT_SEND 1
    #endif
    """
    ctypedef long sw_ssize_t
    sw_ssize_t sw_send_nowait(int fd, const char *buf, size_t n) nogil
    int SW_DIRECT_SEND


__all__ = ["DEFAULT_RESOLUTION", "MessageCounter", "PacedWriter", "Pacer", "PacingWheel"]

DEFAULT_RESOLUTION = 0.005

cdef long long NOT_IN = -1
cdef object _heappush = heapq.heappush
cdef object _heappop = heapq.heappop


cdef class MessageCounter:
    """A count of frames written by :class:`PacedWriter` objects that share it."""

    cdef public unsigned long long value

    def __init__(self):
        self.value = 0


cdef class Pacer:
    """Something a :class:`PacingWheel` serves; subclasses define :meth:`pace`."""

    cdef long long _pacer_slot
    cdef PacingWheel _pacer_wheel

    def __cinit__(self, *args, **kwargs):
        self._pacer_slot = NOT_IN
        self._pacer_wheel = None

    cdef double _pace(self, double now) except? -1.0:
        """``pace(now)`` as a double; NaN for None (leave the wheel)."""
        r = self.pace(now)
        if r is None:
            return NAN
        return <double>r

    def pace(self, now):
        """Do what is due at loop time ``now`` (s); return the next deadline (loop
        time, s) or ``None`` to leave the wheel."""
        raise NotImplementedError


cdef class PacingWheel:
    """A timing wheel on one event loop, driven by a single timer handle.

    Args:
        loop: the event loop whose ``time()`` and ``call_at`` drive the wheel.
        resolution: slot width in seconds (> 0).

    Raises:
        ValueError: ``resolution`` is not a positive finite number.
    """

    cdef object _loop
    cdef double _resolution
    cdef dict _slots
    cdef list _heap
    cdef object _timer
    cdef long long _timer_slot
    cdef Py_ssize_t _count

    def __init__(self, loop, resolution=DEFAULT_RESOLUTION):
        if not (resolution > 0 and math.isfinite(resolution)):
            raise ValueError(f"resolution must be a positive number of seconds, not {resolution!r}")
        self._loop = loop
        self._resolution = float(resolution)
        self._slots = {}
        self._heap = []
        self._timer = None
        self._timer_slot = NOT_IN
        self._count = 0

    def __len__(self):
        return self._count

    def __contains__(self, pacer):
        return (
            isinstance(pacer, Pacer)
            and (<Pacer>pacer)._pacer_wheel is self
            and (<Pacer>pacer)._pacer_slot != NOT_IN
        )

    @property
    def resolution(self):
        """Slot width in seconds."""
        return self._resolution

    def schedule(self, pacer, double when):
        """Serve ``pacer`` at loop time ``when`` (s, rounded up to the next slot).

        A pacer already in the wheel keeps the earlier of its two deadlines.

        Raises:
            TypeError: ``pacer`` is not a :class:`Pacer`.
            ValueError: ``when`` is not finite, or the pacer is in another wheel.
        """
        cdef Pacer p
        cdef list bucket
        if not isinstance(pacer, Pacer):
            raise TypeError(f"a PacingWheel serves Pacer objects, not {type(pacer).__name__}")
        if not isfinite(when):
            raise ValueError(f"deadline must be a finite loop time, not {when!r}")
        p = <Pacer>pacer
        cdef long long slot = <long long>ceil(when / self._resolution)
        if p._pacer_slot != NOT_IN:
            if p._pacer_wheel is not self:
                raise ValueError("the pacer is in another wheel")
            bucket = self._slots.get(p._pacer_slot)
            if p._pacer_slot <= slot or bucket is None:  # None: its slot is being served
                return
            bucket.remove(p)
            self._count -= 1
        self._insert(p, slot)
        if self._timer_slot == NOT_IN or slot < self._timer_slot:
            self._arm(slot)

    def discard(self, pacer):
        """Take ``pacer`` out of the wheel (no error when it is not in it)."""
        cdef Pacer p
        if not isinstance(pacer, Pacer):
            return
        p = <Pacer>pacer
        if p._pacer_wheel is not self or p._pacer_slot == NOT_IN:
            return
        bucket = self._slots.get(p._pacer_slot)
        if bucket is not None:  # None: its bucket is being served right now
            (<list>bucket).remove(p)
        p._pacer_slot = NOT_IN
        p._pacer_wheel = None
        self._count -= 1

    def close(self):
        """Cancel the timer and forget every pacer."""
        cdef Pacer p
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_slot = NOT_IN
        for bucket in self._slots.values():
            for pacer in <list>bucket:
                p = <Pacer>pacer
                p._pacer_slot = NOT_IN
                p._pacer_wheel = None
        self._slots.clear()
        del self._heap[:]
        self._count = 0

    # ------------------------------------------------------------------ internals

    cdef int _insert(self, Pacer p, long long slot) except -1:
        key = slot
        bucket = self._slots.get(key)
        if bucket is None:
            self._slots[key] = [p]
            _heappush(self._heap, key)
        else:
            (<list>bucket).append(p)
        p._pacer_slot = slot
        p._pacer_wheel = self
        self._count += 1
        return 0

    cdef int _arm(self, long long slot) except -1:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_slot = slot
        self._timer = self._loop.call_at(slot * self._resolution, self._tick)
        return 0

    def _tick(self):
        cdef double now, when, resolution = self._resolution
        cdef long long current, after, slot, nxt
        cdef list heap = self._heap
        cdef dict slots = self._slots
        cdef Pacer p
        self._timer = None
        self._timer_slot = NOT_IN
        now = self._loop.time()
        current = <long long>floor(now / resolution + 1e-9)
        after = current + 1
        while heap and <long long>heap[0] <= current:
            key = _heappop(heap)
            slot = key
            bucket = slots.pop(key, None)
            if not bucket:
                continue
            for pacer in <list>bucket:
                p = <Pacer>pacer
                if p._pacer_slot != slot or p._pacer_wheel is not self:
                    continue  # discarded (or moved) during this tick
                p._pacer_slot = NOT_IN
                p._pacer_wheel = None
                self._count -= 1
                try:
                    when = p._pace(now)
                except Exception as exc:  # one pacer must not stop the rest
                    self._loop.call_exception_handler(
                        {"message": "pacer failed", "exception": exc, "pacer": p}
                    )
                    continue
                if isnan(when) or p._pacer_slot != NOT_IN or not isfinite(when):
                    continue  # done, rescheduled inside pace(), or never again
                # the slot is later than ``current``: this tick never serves it again
                nxt = <long long>ceil(when / resolution)
                if nxt < after:
                    nxt = after
                self._insert(p, nxt)
        while heap and heap[0] not in slots:  # slots emptied by discard()
            _heappop(heap)
        if heap and (self._timer_slot == NOT_IN or <long long>heap[0] < self._timer_slot):
            self._arm(heap[0])


cdef bint _direct_capable(object transport) except -1:
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
    if transport.get_extra_info("sslcontext") is not None:
        return False
    return transport.get_extra_info("socket") is not None


cdef class PacedWriter(Pacer):
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

    cdef public bint _writable
    cdef public double _next_due
    cdef public double _step
    cdef public double _max_lag
    cdef public object _blocked_since
    cdef public object _idle_since
    cdef public double _keepalive_after
    cdef public bint _ending
    cdef public object _space
    cdef public Py_ssize_t _low_water
    cdef public MessageCounter _counter
    cdef public object _transport
    # frames waiting: _queue[_head:]; popped slots are set to None and compacted away
    cdef list _queue
    cdef Py_ssize_t _head
    cdef int _fd
    cdef bint _check_buffer

    def __init__(self, MessageCounter counter not None):
        self._counter = counter
        self._writable = False
        self._next_due = 0.0
        self._step = 0.0
        self._max_lag = 0.0
        self._blocked_since = None
        self._idle_since = 0.0
        self._keepalive_after = INFINITY
        self._ending = False
        self._space = None
        self._low_water = 0
        self._queue = []
        self._head = 0
        self._transport = None
        self._fd = -1
        self._check_buffer = False

    # ------------------------------------------------------------------ queue and transport

    def _attach(self, transport):
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
    def _direct(self):
        """True while frames may bypass the transport (``send(2)`` on its socket)."""
        return self._fd >= 0

    def _detach(self):
        """The socket is going away: no more writes that bypass the transport."""
        self._fd = -1

    def _transport_dirty(self):
        """Someone else wrote to the transport (its buffer may hold bytes)."""
        self._check_buffer = True

    def _write(self, frame):
        """Write one whole frame to the transport, in order with every earlier write."""
        self._write_frame(frame)

    cdef int _write_frame(self, object frame) except -1:
        cdef sw_ssize_t n
        cdef Py_ssize_t size
        transport = self._transport
        if self._fd >= 0 and PyBytes_CheckExact(frame):
            if self._check_buffer:
                if transport.get_write_buffer_size():
                    transport.write(frame)
                    return 0
                self._check_buffer = False
            size = PyBytes_GET_SIZE(frame)
            n = sw_send_nowait(self._fd, PyBytes_AS_STRING(frame), <size_t>size)
            if n == size:
                return 0
            # the rest, the would-block case and every error: the transport's own path
            # (it buffers, pauses the protocol, or fails the connection as it always does)
            self._check_buffer = True
            if n > 0:
                transport.write(frame[n:])
            else:
                if n < 0:
                    self._fd = -1  # a broken socket: the transport reports it from here on
                transport.write(frame)
            return 0
        transport.write(frame)
        return 0

    def _queue_frames(self, frames):
        """Append ready-to-write frames to the queue."""
        self._queue.extend(frames)

    def _queued(self):
        """Frames waiting in the queue."""
        return len(self._queue) - self._head

    def _clear_queue(self):
        del self._queue[:]
        self._head = 0

    cdef inline void _compact(self):
        cdef Py_ssize_t n = len(self._queue)
        if self._head == n:
            del self._queue[:]
            self._head = 0
        elif self._head >= 64 and self._head * 2 >= n:
            del self._queue[:self._head]
            self._head = 0

    # ------------------------------------------------------------------ pacing

    def _not_writable(self, now):
        """Hook: writing is paused or over; the next deadline or None."""
        return None

    def _queue_silence(self):
        """Hook: the queue has been empty for ``_keepalive_after`` s; queue silence."""

    def _write_end(self):
        """Hook: ``_ending`` and the queue has drained; write the end of the stream."""

    def pace(self, double now):
        """Write the frames due at loop time ``now`` (s); the next deadline or None."""
        cdef double when = self._pace(now)
        return None if isnan(when) else when

    cdef double _hook_deadline(self, double now) except? -1.0:
        r = self._not_writable(now)
        return NAN if r is None else <double>r

    cdef double _pace(self, double now) except? -1.0:
        cdef double next_due, floor_, step
        cdef Py_ssize_t sent, left
        cdef list queue = self._queue
        if not self._writable:
            return self._hook_deadline(now)
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
                self._write_frame(frame)
                sent += 1
                next_due += step
                if self._head == len(queue) or next_due > now or not self._writable:
                    break
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
            return NAN
        cdef double keepalive = self._keepalive_after
        if keepalive == INFINITY:
            return NAN
        if self._idle_since is None:
            if self._next_due > now:
                return self._next_due
            self._idle_since = now  # the queue ran dry just now
        cdef double idle_since = self._idle_since
        if now - idle_since < keepalive:
            return idle_since + keepalive
        if self._next_due > now:
            return self._next_due
        self._next_due = now  # the silence starts now, one chunk per step
        self._queue_silence()  # the caller's audio paused: silence at the normal pace
        if self._head == len(self._queue):
            return NAN
        return self._pace(now)
