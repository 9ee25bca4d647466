# C declarations for _wsserver_py.py when Cython compiles it (as _wsserver_c; see setup.py).
#
# The .py is the one source of the server-side WebSocket framing; this file adds C types
# to the names it defines and the native _unmask (csrc/wsframe.h). Keep it in step with
# the .py: every class, method and module global named here must exist there, with the
# same arguments.

import cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdint cimport uint8_t


cdef extern from "wsframe.h" nogil:
    void sw_ws_mask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t *key)


# the .py's pure stand-in for this one is defined only when not compiled
cdef inline bytes _unmask(bytes data, Py_ssize_t start, Py_ssize_t n, Py_ssize_t key):
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    cdef const uint8_t *p = <const uint8_t *>PyBytes_AS_STRING(data)
    sw_ws_mask(<uint8_t *>PyBytes_AS_STRING(out), p + start, <size_t>n, p + key)
    return out


cdef int _READING
cdef int _CLOSED
cdef int _FAILED


cdef bint _close_code_ok(long code) noexcept


cdef void _fail(FrameReader reader, str message, int code) except *


cdef class FrameReader:
    cdef Py_ssize_t _max
    cdef int _state
    cdef bytes _head
    cdef bytearray _partial
    cdef Py_ssize_t _filled
    cdef bytes _key
    cdef int _opcode
    cdef bint _fin
    cdef list _frags
    cdef int _frag_opcode
    cdef Py_ssize_t _frag_nbytes

    @cython.locals(
        chunk=bytes,
        end=Py_ssize_t,
        pos=Py_ssize_t,
        b0=int,
        b1=int,
        opcode=int,
        fin=bint,
        n=Py_ssize_t,
        hlen=Py_ssize_t,
        i=Py_ssize_t,
        key=Py_ssize_t,
        start=Py_ssize_t,
        buf=bytearray,
    )
    cpdef feed(self, object data, list out)

    cdef void _check(self, int opcode, bint fin, Py_ssize_t n) except *

    @cython.locals(buf=bytearray, n=Py_ssize_t, take=Py_ssize_t, framed=bytes)
    cdef Py_ssize_t _fill(self, bytes data, list out) except -1

    cdef void _frame(self, int opcode, bint fin, bytes payload, list out) except *

    cdef object _message(self, int opcode, bytes payload)

    @cython.locals(n=Py_ssize_t, code=long)
    cdef tuple _close(self, bytes payload)
