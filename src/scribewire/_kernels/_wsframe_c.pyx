"""Native twin of the WebSocket client frame kernel (pure twin: ``_wsframe_py``).

Same names, signatures and errors as the pure twin. A frame (RFC 6455 §5.2: ``0x82``,
MASK bit and length, 4-byte masking key, payload XOR key, §5.3) is written in one
allocation of the final ``bytes`` object by the C kernel in ``csrc/wsframe.h``; the
masking loop works a word at a time and the compiler vectorises it. AudioEvent frames
are fused: the event-stream message (csrc/eventstream.h, CRCs from csrc/crc32.c) is
written in place behind the WebSocket header and masked there. Keys come from
``os.urandom`` blocks of ``KEY_POOL_NBYTES`` bytes (RFC 6455 §10.3: unpredictable),
1,024 keys per system call, each used once.
"""

import os

from cpython.buffer cimport PyBuffer_Release
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uint8_t, uint64_t
from libc.string cimport memcpy

from scribewire._kernels._bufview cimport get_contiguous
from scribewire._kernels._crc32 cimport crc32_setup

from scribewire._kernels._eventstream_c import AUDIO_EVENT_HEADERS
from scribewire._kernels._eventstream_types import DEFAULT_MAX_PAYLOAD_LENGTH
from scribewire.errors import MessageTooLarge


cdef extern from "wsframe.h" nogil:
    size_t sw_ws_header_len(uint64_t n)
    size_t sw_ws_write_header(uint8_t *out, unsigned opcode, uint64_t n, const uint8_t *key)
    void sw_ws_mask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t *key)


cdef extern from "eventstream.h" nogil:
    enum:
        SW_ES_OVERHEAD
    void sw_es_write_message(
        uint8_t *w, const uint8_t *hdr, size_t hlen, const uint8_t *payload, size_t plen
    )


__all__ = ["KEY_POOL_NBYTES", "ClientFramer", "encode_binary_frame"]

DEF POOL = 4096
DEF OPCODE_BINARY = 0x2

#: Bytes of entropy drawn at a time for masking keys (1,024 keys of 4 bytes).
KEY_POOL_NBYTES = POOL

crc32_setup()

#: The three string headers of an AudioEvent (protocol.md §4.1), from the codec.
cdef bytes _AUDIO = AUDIO_EVENT_HEADERS
cdef const uint8_t *_AUDIO_P = <const uint8_t *>PyBytes_AS_STRING(_AUDIO)
cdef Py_ssize_t _AUDIO_N = PyBytes_GET_SIZE(_AUDIO)
cdef Py_ssize_t _MAX_PAYLOAD = DEFAULT_MAX_PAYLOAD_LENGTH


cdef inline int _get(object payload, Py_buffer *view) except -1:
    return get_contiguous(payload, view, "payload")


cdef bytes _frame(const uint8_t *p, Py_ssize_t n, const uint8_t *key):
    cdef size_t head = sw_ws_header_len(<uint64_t>n)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>head + n)
    cdef uint8_t *w = <uint8_t *>PyBytes_AS_STRING(out)
    sw_ws_write_header(w, OPCODE_BINARY, <uint64_t>n, key)
    sw_ws_mask(w + head, p, <size_t>n, key)
    return out


def encode_binary_frame(payload, mask_key):
    """One masked client frame holding ``payload`` as a whole binary message.

    Args:
        payload: any C-contiguous buffer; its raw bytes are the message (any length,
            empty allowed).
        mask_key: the 4-byte masking key (RFC 6455 §5.3: it must be unpredictable; use
            :class:`ClientFramer` to draw keys).

    Returns:
        The frame: 6, 8 or 14 header bytes (length < 126, < 65,536, or larger), then the
        masked payload.

    Raises:
        TypeError: ``payload`` or ``mask_key`` is not a bytes-like object, or ``payload``
            is not C-contiguous.
        ValueError: ``mask_key`` is not exactly 4 bytes.
    """
    cdef Py_buffer view, kview
    cdef uint8_t key[4]
    _get(mask_key, &kview)
    try:
        if kview.len != 4:
            raise ValueError(f"mask_key must be 4 bytes, not {kview.len}")
        memcpy(key, kview.buf, 4)
    finally:
        PyBuffer_Release(&kview)
    _get(payload, &view)
    try:
        return _frame(<const uint8_t *>view.buf, view.len, key)
    finally:
        PyBuffer_Release(&view)


cdef class ClientFramer:
    """Frames client binary messages, each with a fresh masking key.

    Keys are consecutive 4-byte pieces of ``urandom(KEY_POOL_NBYTES)`` blocks; a new
    block is drawn when one is used up. One framer may serve many connections: a key is
    never handed out twice.

    Args:
        urandom: the entropy source, called as ``urandom(nbytes)`` and returning that
            many bytes; ``os.urandom`` unless a test needs known keys.
    """

    cdef uint8_t _pool[POOL]
    cdef Py_ssize_t _next
    cdef object _urandom

    def __init__(self, urandom=os.urandom):
        self._urandom = urandom
        self._next = POOL

    cdef int _draw(self) except -1:
        block = self._urandom(POOL)
        if not isinstance(block, bytes):
            raise TypeError(f"urandom() must return bytes, not {type(block).__name__}")
        if PyBytes_GET_SIZE(block) != POOL:
            raise ValueError(f"urandom({POOL}) returned {PyBytes_GET_SIZE(block)} bytes")
        # no Python code runs from here to the key being taken: a key is used once
        memcpy(self._pool, PyBytes_AS_STRING(block), POOL)
        self._next = 0
        return 0

    cdef inline int _key(self, uint8_t *key) except -1:
        if self._next >= POOL:
            self._draw()
        memcpy(key, self._pool + self._next, 4)
        self._next += 4
        return 0

    cdef bytes _audio_frame(self, const uint8_t *p, Py_ssize_t n):
        cdef Py_ssize_t length = SW_ES_OVERHEAD + _AUDIO_N + n
        cdef size_t head = sw_ws_header_len(<uint64_t>length)
        cdef uint8_t key[4]
        self._key(key)
        cdef bytes out = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>head + length)
        cdef uint8_t *w = <uint8_t *>PyBytes_AS_STRING(out)
        sw_ws_write_header(w, OPCODE_BINARY, <uint64_t>length, key)
        sw_es_write_message(w + head, _AUDIO_P, <size_t>_AUDIO_N, p, <size_t>n)
        sw_ws_mask(w + head, w + head, <size_t>length, key)  # after the CRCs, in place
        return out

    def audio_event_frames(self, audio, Py_ssize_t nbytes):
        """Frame audio as consecutive AudioEvents of ``nbytes`` each, every one in its
        own masked client frame: ``binary_frame(m)`` for each ``m`` of
        ``eventstream.encode_audio_events(audio, nbytes)``, in one pass per frame.

        Args:
            audio: any C-contiguous buffer of audio in the stream's media encoding (for
                ``pcm``: int16 little-endian, channels interleaved). Empty gives ``[]``.
            nbytes: audio bytes per AudioEvent, >= 1; the last event holds the remainder.

        Returns:
            One frame per AudioEvent (104 bytes of event-stream overhead and 8 bytes of
            WebSocket header per event for events under 65,416 audio bytes).

        Raises:
            TypeError: ``audio`` is not a C-contiguous bytes-like object.
            ValueError: ``nbytes`` < 1, or a bad entropy source (see ``binary_frame``).
            MessageTooLarge: an event would carry more than 24 MiB.
        """
        if nbytes < 1:
            raise ValueError(f"nbytes must be >= 1, got {nbytes}")
        cdef Py_buffer view
        cdef list out = []
        cdef Py_ssize_t i = 0, n
        cdef const uint8_t *p
        _get(audio, &view)
        try:
            p = <const uint8_t *>view.buf
            while i < view.len:
                n = view.len - i
                if n > nbytes:
                    n = nbytes
                if n > _MAX_PAYLOAD:
                    raise MessageTooLarge("payload", n, DEFAULT_MAX_PAYLOAD_LENGTH)
                out.append(self._audio_frame(p + i, n))
                i += n
        finally:
            PyBuffer_Release(&view)
        return out

    def binary_frame(self, payload):
        """One masked client frame holding ``payload`` as a whole binary message.

        Args:
            payload: any C-contiguous buffer (any length, empty allowed).

        Returns:
            The frame, as :func:`encode_binary_frame` with the next key.

        Raises:
            TypeError: ``payload`` is not a C-contiguous bytes-like object, or the
                entropy source returned something other than ``bytes``.
            ValueError: the entropy source returned other than ``KEY_POOL_NBYTES`` bytes.
        """
        cdef Py_buffer view
        cdef uint8_t key[4]
        _get(payload, &view)
        try:
            self._key(key)
            return _frame(<const uint8_t *>view.buf, view.len, key)
        finally:
            PyBuffer_Release(&view)
