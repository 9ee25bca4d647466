# How the native protocol kernels (_eventstream_c, _wsframe_c) take a caller's buffer, with
# the errors of their pure twins (_buffers.contiguous_bytes): TypeError for an object that
# is not a buffer and for a buffer that is not C-contiguous. A zero-size buffer of any
# shape is an empty payload.

from cpython.buffer cimport PyBUF_SIMPLE, PyObject_GetBuffer


cdef inline int get_contiguous(object data, Py_buffer *view, str name) except -1:
    try:
        PyObject_GetBuffer(data, view, PyBUF_SIMPLE)
    except (BufferError, ValueError):
        raise TypeError(f"{name} must be a C-contiguous buffer") from None
    return 0
