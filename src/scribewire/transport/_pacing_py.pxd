# C declarations for _pacing_py.py when Cython compiles it (as _pacing_c; see setup.py).
#
# The .py is the one source of the pacer; this file only adds C types to the names it
# defines: the classes become extension types, their state C fields, the per-message
# paths cdef methods called through the method table. Python never reads this file.
# Keep it in step with the .py: every class, method and module global named here must
# exist there, with the same arguments.

import cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE


cdef extern from "sendnow.h":
    ctypedef long sw_ssize_t
    sw_ssize_t sw_send_nowait(int fd, const char *buf, size_t n) nogil
    int SW_DIRECT_SEND


# the .py's pure stand-in for this one never runs: it has SW_DIRECT_SEND = 0
cdef inline sw_ssize_t _send_bytes(int fd, bytes frame) noexcept:
    return sw_send_nowait(fd, PyBytes_AS_STRING(frame), <size_t>PyBytes_GET_SIZE(frame))


cdef long long _NOT_IN
cdef double _NAN
cdef double _INF
cdef double _SLOT_LIMIT
cdef object _heappush
cdef object _heappop


cdef double _real(object x) except? -1.0


cdef class PacingWheel


cdef class MessageCounter:
    cdef public unsigned long long value


cdef class Pacer:
    cdef long long _pacer_slot
    cdef PacingWheel _pacer_wheel

    cdef double _pace(self, double now) except? -1.0


cdef class PacingWheel:
    cdef object _loop
    cdef double _resolution
    cdef dict _slots
    cdef list _heap
    cdef object _timer
    cdef long long _timer_slot
    cdef Py_ssize_t _count

    cdef bint _holds(self, Pacer pacer) noexcept

    @cython.locals(p=Pacer, bucket=list, q=double, slot="long long")
    cpdef schedule(self, object pacer, double when)

    @cython.locals(p=Pacer)
    cpdef discard(self, object pacer)

    @cython.locals(p=Pacer, bucket=list)
    cpdef close(self)

    cdef int _insert(self, Pacer pacer, long long slot) except -1

    cdef int _arm(self, long long slot) except -1

    @cython.locals(
        now=double,
        when=double,
        q=double,
        resolution=double,
        current="long long",
        after="long long",
        slot="long long",
        nxt="long long",
        heap=list,
        slots=dict,
        bucket=list,
        p=Pacer,
    )
    cpdef _tick(self)


cdef bint _direct_capable(object transport) except -1


cdef class PacedWriter(Pacer):
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
    # frames waiting: _queue[_head:]; popped entries are set to None and compacted away
    cdef list _queue
    cdef Py_ssize_t _head
    cdef int _fd
    cdef bint _check_buffer

    @cython.locals(data=bytes, n=sw_ssize_t)
    cdef int _write_frame(self, object frame) except -1

    @cython.locals(n=Py_ssize_t)
    cdef int _compact(self) except -1

    cdef double _hook_deadline(self, double now) except? -1.0

    @cython.locals(
        next_due=double,
        floor_=double,
        step=double,
        keepalive=double,
        idle_since=double,
        sent=Py_ssize_t,
        left=Py_ssize_t,
        queue=list,
    )
    cdef double _pace(self, double now) except? -1.0
