"""Native CRC32 kernel (csrc/crc32.c): CRC-32/ISO-HDLC, the zlib CRC (protocol.md §1.2).

Pure twin: ``_crc32_py`` (``zlib.crc32``). The code path is picked at import by CPU
detection (``IMPLEMENTATION``); ``SCRIBEWIRE_CRC32_PATH=table|pclmulqdq|vpclmulqdq|armv8-crc``
forces one (a path this CPU cannot run raises ``ValueError`` at import).
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.long cimport PyLong_AsUnsignedLongMask
from libc.stdint cimport uint8_t, uint32_t

from scribewire._kernels._crc32 cimport (
    SW_CRC32_NPATHS,
    crc32_setup,
    sw_crc32,
    sw_crc32_impl_name,
    sw_crc32_path_available,
    sw_crc32_path_name,
    sw_crc32_with,
)

__all__ = ["IMPLEMENTATION", "crc32"]  # PATHS, GIL_RELEASE_NBYTES: native-only extras

crc32_setup()

#: Which CRC32 code path ``crc32`` runs: "vpclmulqdq", "pclmulqdq", "armv8-crc" or "table".
IMPLEMENTATION = sw_crc32_impl_name().decode()

#: The code paths this CPU can run (for tests: ``_crc32_with``).
PATHS = tuple(
    sw_crc32_path_name(p).decode() for p in range(1, SW_CRC32_NPATHS) if sw_crc32_path_available(p)
)

DEF _GIL_RELEASE = 65536

#: Inputs of at least this many bytes are checksummed with the GIL released (64 KiB).
GIL_RELEASE_NBYTES = _GIL_RELEASE


cdef inline uint32_t _run(int path, uint32_t crc, Py_buffer *view):
    cdef const uint8_t *p = <const uint8_t *>view.buf
    cdef size_t n = <size_t>view.len
    if n >= _GIL_RELEASE:
        with nogil:
            crc = sw_crc32_with(path, crc, p, n) if path else sw_crc32(crc, p, n)
        return crc
    return sw_crc32_with(path, crc, p, n) if path else sw_crc32(crc, p, n)


cdef inline int _get(object data, Py_buffer *view) except -1:
    try:
        PyObject_GetBuffer(data, view, PyBUF_SIMPLE)
    except BufferError as exc:
        raise BufferError(f"crc32 needs a C-contiguous buffer: {exc}") from None
    return 0


def crc32(data, value=0):
    """CRC-32 of ``data`` continuing from ``value``; same contract as ``zlib.crc32``.

    Args:
        data: any C-contiguous buffer (bytes, bytearray, memoryview, numpy array);
            its raw bytes are checksummed. Inputs of ``GIL_RELEASE_NBYTES`` (64 KiB) or
            more run with the GIL released.
        value: the running CRC of the bytes before ``data`` (0 to start); like zlib,
            only its low 32 bits are used.

    Returns:
        The unsigned 32-bit CRC.

    Raises:
        TypeError: ``data`` does not support the buffer protocol (e.g. ``str``).
        BufferError: ``data`` is not C-contiguous.
    """
    cdef Py_buffer view
    cdef uint32_t crc = 0 if value is 0 else <uint32_t>PyLong_AsUnsignedLongMask(value)
    _get(data, &view)
    crc = _run(0, crc, &view)
    PyBuffer_Release(&view)
    return crc


def _crc32_with(str path, data, value=0):
    """``crc32`` through one named code path (one of ``PATHS``); for tests."""
    cdef int idx
    cdef Py_buffer view
    cdef uint32_t crc = <uint32_t>PyLong_AsUnsignedLongMask(value)
    for idx in range(1, SW_CRC32_NPATHS):
        if sw_crc32_path_name(idx).decode() == path:
            break
    else:
        raise ValueError(f"unknown CRC32 path {path!r}")
    if not sw_crc32_path_available(idx):
        raise ValueError(f"this CPU cannot run the CRC32 path {path!r}")
    _get(data, &view)
    try:
        return _run(idx, crc, &view)
    finally:
        PyBuffer_Release(&view)
