"""Native twin of the event-stream codec (pure twin: ``_eventstream_py``).

Wire format: protocol.md §1 (Smithy "Amazon event stream" spec). Same names,
signatures and errors as the pure twin; both run the same test suite. Messages are
framed in one allocation of the final ``bytes`` object; CRCs come from the C kernel
(csrc/crc32.c); the decoder parses complete messages straight from the caller's buffer
and copies only a message that arrives in pieces. ``feed_events`` routes event messages
to their handlers without building a ``Message`` or a headers dict: common header names
and values are matched against interned strings, and the routing of the last headers
section is reused when the next one is byte-identical (Transcribe repeats it).
"""

import sys
import uuid
from collections.abc import Mapping

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer

from scribewire._kernels._bufview cimport get_contiguous
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.dict cimport PyDict_Contains, PyDict_GetItem, PyDict_SetItem
from cpython.list cimport PyList_Append
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.unicode cimport PyUnicode_AsUTF8AndSize, PyUnicode_DecodeUTF8
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from cpython.object cimport PyObject
from libc.string cimport memcmp, memcpy

from scribewire._kernels._crc32 cimport crc32_setup, sw_crc32

from scribewire._kernels._eventstream_types import (
    DEFAULT_MAX_HEADERS_LENGTH,
    DEFAULT_MAX_PAYLOAD_LENGTH,
    MAX_HEADER_VALUE_LENGTH,
    Byte,
    Integer,
    Long,
    Message,
    Short,
    Timestamp,
)
from scribewire.errors import (
    DecoderClosed,
    ReentrantFeed,
    DuplicateHeader,
    InvalidHeaderName,
    InvalidHeaderValue,
    InvalidLength,
    MessageChecksumMismatch,
    MessageTooLarge,
    PreludeChecksumMismatch,
    TruncatedHeader,
    UnknownHeaderType,
)


cdef extern from "endian.h" nogil:
    uint16_t sw_load_be16(const void *p)
    uint32_t sw_load_be32(const void *p)
    uint64_t sw_load_be64(const void *p)
    void sw_store_be16(void *p, uint16_t v)
    void sw_store_be32(void *p, uint32_t v)
    void sw_store_be64(void *p, uint64_t v)


cdef extern from "eventstream.h" nogil:
    void sw_es_write_message(
        uint8_t *w, const uint8_t *hdr, size_t hlen, const uint8_t *payload, size_t plen
    )


__all__ = [
    "EventStreamDecoder",
    "decode_message",
    "encode_audio_event",
    "encode_audio_events",
    "encode_headers",
    "encode_message",
]

crc32_setup()

DEF PRELUDE = 12
DEF MIN_MESSAGE = 16

cdef Py_ssize_t _MAX_HEADERS = DEFAULT_MAX_HEADERS_LENGTH
cdef Py_ssize_t _MAX_PAYLOAD = DEFAULT_MAX_PAYLOAD_LENGTH
cdef Py_ssize_t _MAX_VALUE = MAX_HEADER_VALUE_LENGTH
cdef object _int_new = int.__new__
cdef object _UUID = uuid.UUID
cdef object _Message = Message
cdef object _Mapping = Mapping
cdef object _Byte = Byte
cdef object _Short = Short
cdef object _Integer = Integer
cdef object _Long = Long
cdef object _Timestamp = Timestamp
cdef object _I32_MIN = -(2 ** 31)
cdef object _I32_END = 2 ** 31
cdef object _I64_MIN = -(2 ** 63)
cdef object _I64_END = 2 ** 63


# Header names and string values every Transcribe message repeats (protocol.md §1.6, §4):
# the decoder returns these very str objects (interned, hash cached) instead of decoding
# fresh copies, so building the headers dict and looking names up cost no allocation.
# Matching is by exact byte comparison, so every such value is valid UTF-8 by construction.
cdef tuple _COMMON = tuple(sys.intern(s) for s in (
    ":message-type", ":event-type", ":content-type", ":exception-type", ":error-code",
    ":error-message", "event", "exception", "error", "application/json",
    "application/octet-stream", "TranscriptEvent", "AudioEvent", "UtteranceEvent",
    "CategoryEvent", "ConfigurationEvent",
))
DEF _NCOMMON = 16
cdef const char *_common_p[_NCOMMON]
cdef Py_ssize_t _common_n[_NCOMMON]
cdef PyObject *_common_o[_NCOMMON]


cdef int _common_setup() except -1:
    cdef Py_ssize_t i, n
    if len(_COMMON) != _NCOMMON:
        raise AssertionError("_COMMON and _NCOMMON disagree")
    for i in range(_NCOMMON):
        _common_p[i] = PyUnicode_AsUTF8AndSize(_COMMON[i], &n)
        _common_n[i] = n
        _common_o[i] = <PyObject *>_COMMON[i]
    return 0


_common_setup()
cdef str _MESSAGE_TYPE = _COMMON[0]
cdef str _EVENT_TYPE = _COMMON[1]
cdef str _EVENT = _COMMON[6]


cdef inline PyObject *_common(const uint8_t *p, Py_ssize_t n) noexcept:
    """The interned str spelled by p[0..n), or NULL (borrowed reference)."""
    cdef int i
    for i in range(_NCOMMON):
        if _common_n[i] == n and memcmp(_common_p[i], p, <size_t>n) == 0:
            return _common_o[i]
    return NULL


# ------------------------------------------------------------------------------- encoding


cdef class _Writer:
    """A growable byte buffer (headers are small; no per-header allocation)."""

    cdef uint8_t *buf
    cdef Py_ssize_t len
    cdef Py_ssize_t cap

    def __dealloc__(self):
        PyMem_Free(self.buf)

    cdef uint8_t *reserve(self, Py_ssize_t n) except NULL:
        cdef Py_ssize_t need = self.len + n
        cdef Py_ssize_t cap
        cdef void *grown
        if need > self.cap:
            cap = self.cap * 2 if self.cap else 256
            if cap < need:
                cap = need
            grown = PyMem_Realloc(self.buf, <size_t>cap)
            if grown == NULL:
                raise MemoryError()
            self.buf = <uint8_t *>grown
            self.cap = cap
        cdef uint8_t *at = self.buf + self.len
        self.len = need
        return at


cdef inline const char *_utf8(str s, Py_ssize_t *n, str name, bint is_name) except NULL:
    cdef const char *p
    try:
        p = PyUnicode_AsUTF8AndSize(s, n)
    except UnicodeEncodeError as exc:
        if is_name:
            raise InvalidHeaderName(f"header name {name!r} is not encodable as UTF-8") from exc
        raise InvalidHeaderValue(f"header {name!r}: string value is not encodable as UTF-8") from exc
    return p


cdef int _encode_one(_Writer out, object name, object value) except -1:
    cdef Py_ssize_t name_len, n
    cdef const char *raw
    cdef uint8_t *w
    cdef Py_buffer view
    cdef int type_byte
    cdef object v
    if not isinstance(name, str):
        raise TypeError(f"header name must be str, not {type(name).__name__}")
    raw = _utf8(name, &name_len, name, True)
    if name_len < 1 or name_len > 255:
        raise InvalidHeaderName(f"header name {name!r} must be 1..255 UTF-8 bytes")
    w = out.reserve(1 + name_len)
    w[0] = <uint8_t>name_len
    memcpy(w + 1, raw, <size_t>name_len)
    if value is True:
        out.reserve(1)[0] = 0
    elif value is False:
        out.reserve(1)[0] = 1
    elif isinstance(value, int):
        tp = type(value)
        if tp is _Byte or isinstance(value, _Byte):
            w = out.reserve(2)
            w[0] = 2
            w[1] = <uint8_t><int8_t>value
        elif tp is _Short or isinstance(value, _Short):
            w = out.reserve(3)
            w[0] = 3
            sw_store_be16(w + 1, <uint16_t><int16_t>value)
        elif tp is _Integer or isinstance(value, _Integer):
            w = out.reserve(5)
            w[0] = 4
            sw_store_be32(w + 1, <uint32_t><int32_t>value)
        elif tp is _Long or isinstance(value, _Long):
            w = out.reserve(9)
            w[0] = 5
            sw_store_be64(w + 1, <uint64_t><int64_t>value)
        elif tp is _Timestamp or isinstance(value, _Timestamp):
            w = out.reserve(9)
            w[0] = 8
            sw_store_be64(w + 1, <uint64_t><int64_t>value)
        elif _I32_MIN <= value < _I32_END:
            w = out.reserve(5)
            w[0] = 4
            sw_store_be32(w + 1, <uint32_t><int32_t>value)
        elif _I64_MIN <= value < _I64_END:
            w = out.reserve(9)
            w[0] = 5
            sw_store_be64(w + 1, <uint64_t><int64_t>value)
        else:
            raise InvalidHeaderValue(f"header {name!r}: integer {value} does not fit in int64")
    elif isinstance(value, str):
        raw = _utf8(value, &n, name, False)
        if n > _MAX_VALUE:
            raise InvalidHeaderValue(
                f"header {name!r}: string of {n} bytes exceeds {MAX_HEADER_VALUE_LENGTH}"
            )
        w = out.reserve(3 + n)
        w[0] = 7
        sw_store_be16(w + 1, <uint16_t>n)
        memcpy(w + 3, raw, <size_t>n)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        if type(value) is not bytes:
            value = bytes(value)
        PyObject_GetBuffer(value, &view, PyBUF_SIMPLE)
        try:
            if view.len > _MAX_VALUE:
                raise InvalidHeaderValue(
                    f"header {name!r}: byte array of {view.len} bytes exceeds "
                    f"{MAX_HEADER_VALUE_LENGTH}"
                )
            w = out.reserve(3 + view.len)
            w[0] = 6
            sw_store_be16(w + 1, <uint16_t>view.len)
            memcpy(w + 3, view.buf, <size_t>view.len)
        finally:
            PyBuffer_Release(&view)
    elif isinstance(value, _UUID):
        v = value.bytes
        w = out.reserve(17)
        w[0] = 9
        memcpy(w + 1, PyBytes_AS_STRING(v), 16)
    else:
        raise TypeError(f"header {name!r}: unsupported value type {type(value).__name__}")
    return 0


cdef _Writer _encode_headers(object headers):
    cdef _Writer out = _Writer()
    cdef dict seen = {}
    items = headers.items() if isinstance(headers, _Mapping) else headers
    for item in items:
        name, value = item
        if PyDict_Contains(seen, name):
            raise DuplicateHeader(f"header {name!r} occurs twice")
        _encode_one(out, name, value)
        seen[name] = None
    return out


def encode_headers(headers):
    """Encode a headers section (protocol.md §1.3).

    Args:
        headers: a mapping or an iterable of (name, value) pairs; value types as in
            ``scribewire.eventstream`` (bool, Byte, Short, Integer, Long, int, bytes,
            str, Timestamp, uuid.UUID).

    Raises:
        DuplicateHeader: a name occurs twice.
        InvalidHeaderName, InvalidHeaderValue: a name or value out of range.
        TypeError: a name that is not a str or a value of an unsupported type.
    """
    cdef _Writer out = _encode_headers(headers)
    return PyBytes_FromStringAndSize(<char *>out.buf, out.len)


cdef bytes _frame(const uint8_t *hdr, Py_ssize_t hlen, const uint8_t *payload, Py_ssize_t plen):
    """One message: prelude, headers, payload, CRCs, written into the final bytes object
    (csrc/eventstream.h)."""
    if hlen > _MAX_HEADERS:
        raise MessageTooLarge("headers", hlen, DEFAULT_MAX_HEADERS_LENGTH)
    if plen > _MAX_PAYLOAD:
        raise MessageTooLarge("payload", plen, DEFAULT_MAX_PAYLOAD_LENGTH)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, MIN_MESSAGE + hlen + plen)
    sw_es_write_message(<uint8_t *>PyBytes_AS_STRING(out), hdr, <size_t>hlen, payload, <size_t>plen)
    return out


def encode_message(headers, payload=b""):
    """Encode one event-stream message (protocol.md §1.1).

    Args:
        headers: see ``encode_headers``.
        payload: any C-contiguous buffer (bytes, bytearray, memoryview, numpy array);
            its raw bytes are the payload. At most 24 MiB.

    Returns:
        The complete message: prelude, prelude CRC, headers, payload, message CRC.

    Raises:
        MessageTooLarge: headers over 128 KiB or payload over 24 MiB.
        DuplicateHeader, InvalidHeaderName, InvalidHeaderValue, TypeError: see ``encode_headers``.
    """
    cdef _Writer hdr = _encode_headers(headers)
    cdef Py_buffer view
    get_contiguous(payload, &view, "payload")
    try:
        return _frame(hdr.buf, hdr.len, <const uint8_t *>view.buf, view.len)
    finally:
        PyBuffer_Release(&view)


#: The three string headers of an AudioEvent, 88 bytes (protocol.md §4.1).
AUDIO_EVENT_HEADERS = encode_headers(
    [
        (":content-type", "application/octet-stream"),
        (":event-type", "AudioEvent"),
        (":message-type", "event"),
    ]
)
cdef bytes _AUDIO = AUDIO_EVENT_HEADERS
cdef const uint8_t *_AUDIO_P = <const uint8_t *>PyBytes_AS_STRING(_AUDIO)
cdef Py_ssize_t _AUDIO_N = len(_AUDIO)


def encode_audio_event(audio):
    """Frame raw audio bytes as a Transcribe ``AudioEvent`` (protocol.md §4.1).

    Args:
        audio: any C-contiguous buffer holding the audio in the stream's media encoding
            (for ``pcm``: int16 little-endian, channels interleaved). Empty = end of stream.

    Returns:
        The message: 104 bytes of overhead plus the audio.

    Raises:
        MessageTooLarge: more than 24 MiB of audio.
    """
    cdef Py_buffer view
    get_contiguous(audio, &view, "audio")
    try:
        return _frame(_AUDIO_P, _AUDIO_N, <const uint8_t *>view.buf, view.len)
    finally:
        PyBuffer_Release(&view)


def encode_audio_events(audio, Py_ssize_t nbytes):
    """Frame a long audio buffer as consecutive AudioEvents of ``nbytes`` each.

    The last event holds the remainder (shorter, never empty unless ``audio`` is empty,
    in which case the list is empty).

    Args:
        audio: any C-contiguous buffer.
        nbytes: payload bytes per event, >= 1.

    Raises:
        ValueError: ``nbytes`` < 1.
        MessageTooLarge: ``nbytes`` over 24 MiB (when an event would carry that much).
    """
    if nbytes < 1:
        raise ValueError(f"nbytes must be >= 1, got {nbytes}")
    cdef Py_buffer view
    cdef list out = []
    cdef Py_ssize_t i, n
    cdef const uint8_t *p
    get_contiguous(audio, &view, "audio")
    try:
        p = <const uint8_t *>view.buf
        i = 0
        while i < view.len:
            n = view.len - i
            if n > nbytes:
                n = nbytes
            PyList_Append(out, _frame(_AUDIO_P, _AUDIO_N, p + i, n))
            i += n
    finally:
        PyBuffer_Release(&view)
    return out


# ------------------------------------------------------------------------------- decoding


cdef inline str _decode_name(const uint8_t *p, Py_ssize_t n, Py_ssize_t offset):
    cdef PyObject *known = _common(p, n)
    if known != NULL:
        return <str>known
    try:
        return PyUnicode_DecodeUTF8(<const char *>p, n, NULL)
    except UnicodeDecodeError as exc:
        raise InvalidHeaderName(f"header name at offset {offset} is not valid UTF-8") from exc


DEF SCAN_MAX = 16


cdef struct _Scan:
    # what routing needs from a headers section, as offsets into it (no objects)
    Py_ssize_t count                  # names seen so far
    Py_ssize_t name_at[SCAN_MAX]
    Py_ssize_t name_len[SCAN_MAX]
    bint overflow                     # more than SCAN_MAX headers: parse into a dict
    bint is_event                     # ":message-type" is the string "event"
    Py_ssize_t etype_at               # ":event-type" string value, or -1
    Py_ssize_t etype_len


cdef dict _decode_headers(const uint8_t *block, Py_ssize_t end, Py_ssize_t base, _Scan *scan):
    """Parse and check a headers section of ``end`` bytes; ``base`` is its stream offset.

    Without ``scan``, return the headers as a dict. With it, check the same rules in the
    same order without building the dict (duplicate names are found by their bytes, the
    same test since UTF-8 decoding is one-to-one), fill ``scan`` and return None; after
    ``SCAN_MAX`` headers set ``scan.overflow`` and stop (the caller parses again).
    """
    cdef dict headers = {} if scan == NULL else None
    cdef Py_ssize_t pos = 0
    cdef Py_ssize_t name_len, length, width, name_at, value_at, i
    cdef uint8_t type_byte
    cdef str name
    cdef object value
    cdef PyObject *known
    while pos < end:
        name_len = block[pos]
        if name_len == 0:
            raise InvalidHeaderName(f"empty header name at offset {base + pos}")
        pos += 1
        if pos + name_len + 1 > end:
            raise TruncatedHeader(f"header name at offset {base + pos - 1} runs past the headers")
        name = _decode_name(block + pos, name_len, base + pos - 1)
        name_at = pos
        value_at = -1
        pos += name_len
        type_byte = block[pos]
        pos += 1
        if type_byte == 0:
            value = True
        elif type_byte == 1:
            value = False
        elif type_byte == 2 or type_byte == 3 or type_byte == 4 or type_byte == 5 or type_byte == 8:
            width = 1 if type_byte == 2 else 2 if type_byte == 3 else 4 if type_byte == 4 else 8
            if pos + width > end:
                raise TruncatedHeader(f"header {name!r} value runs past the headers")
            if type_byte == 2:
                value = _int_new(_Byte, <int8_t>block[pos])
            elif type_byte == 3:
                value = _int_new(_Short, <int16_t>sw_load_be16(block + pos))
            elif type_byte == 4:
                value = _int_new(_Integer, <int32_t>sw_load_be32(block + pos))
            elif type_byte == 5:
                value = _int_new(_Long, <int64_t>sw_load_be64(block + pos))
            else:
                value = _int_new(_Timestamp, <int64_t>sw_load_be64(block + pos))
            pos += width
        elif type_byte == 6 or type_byte == 7:
            if pos + 2 > end:
                raise TruncatedHeader(f"header {name!r} value length runs past the headers")
            length = sw_load_be16(block + pos)
            pos += 2
            if pos + length > end:
                raise TruncatedHeader(
                    f"header {name!r} value of {length} bytes runs past the headers"
                )
            if type_byte == 6:
                value = PyBytes_FromStringAndSize(<const char *>block + pos, length)
            else:
                value_at = pos
                known = _common(block + pos, length)
                if known != NULL:
                    value = <str>known
                else:
                    try:
                        value = PyUnicode_DecodeUTF8(<const char *>block + pos, length, NULL)
                    except UnicodeDecodeError as exc:
                        raise InvalidHeaderValue(
                            f"header {name!r} string value is not valid UTF-8"
                        ) from exc
            pos += length
        elif type_byte == 9:
            if pos + 16 > end:
                raise TruncatedHeader(f"header {name!r} UUID runs past the headers")
            value = _UUID(bytes=PyBytes_FromStringAndSize(<const char *>block + pos, 16))
            pos += 16
        else:
            raise UnknownHeaderType(
                f"header {name!r} has unknown value type {type_byte} at offset {base + pos - 1}"
            )
        if scan == NULL:
            if PyDict_Contains(headers, name):
                raise DuplicateHeader(f"header {name!r} occurs twice")
            PyDict_SetItem(headers, name, value)
            continue
        for i in range(scan.count):
            if scan.name_len[i] == name_len and memcmp(
                block + scan.name_at[i], block + name_at, <size_t>name_len
            ) == 0:
                raise DuplicateHeader(f"header {name!r} occurs twice")
        if scan.count == SCAN_MAX:
            scan.overflow = True
            return None
        scan.name_at[scan.count] = name_at
        scan.name_len[scan.count] = name_len
        scan.count += 1
        # known names and values are the interned objects of _COMMON
        if name is _MESSAGE_TYPE:
            scan.is_event = value is _EVENT
        elif name is _EVENT_TYPE and value_at >= 0:
            scan.etype_at = value_at
            scan.etype_len = length
    return headers


cdef object _event_type(const uint8_t *block, _Scan *scan):
    """The ``:event-type`` (str) of a scanned ``event`` message, or None."""
    cdef PyObject *known
    if not scan.is_event or scan.etype_at < 0:
        return None
    known = _common(block + scan.etype_at, scan.etype_len)
    if known != NULL:
        return <object>known
    # valid UTF-8: the scan decoded it already
    return PyUnicode_DecodeUTF8(<const char *>block + scan.etype_at, scan.etype_len, NULL)


cdef object _dict_event_type(dict headers):
    """As ``_event_type``, from a headers dict."""
    cdef object etype
    # a decoded "event" string is always the interned object (see _COMMON)
    if headers.get(_MESSAGE_TYPE) is not _EVENT:
        return None
    etype = headers.get(_EVENT_TYPE)
    return etype if type(etype) is str else None


DEF HDR_CACHE = 256


cdef object _interrupted(BaseException exc):
    """What a decoder raises after a ``BaseException`` (not an ``Exception``) escaped a
    handler mid-stream: it was re-raised once, and the bytes after it are lost."""
    err = DecoderClosed(
        f"EventStreamDecoder closed: a handler was interrupted by {type(exc).__name__} "
        "and the stream position is lost"
    )
    err.__cause__ = exc
    return err


cdef class EventStreamDecoder:
    """Incremental event-stream decoder (protocol.md §1.5, "recommended behaviour").

    Feed bytes of any size; complete, verified messages come out in order. Checks,
    in order: prelude CRC; ``16 <= total_length``; ``headers_length <= total_length - 16``;
    headers and payload limits (before buffering the body); message CRC (before any
    header is parsed); then each header. Any error is fatal: the decoder refuses
    further input.

    Complete messages are parsed in place from the fed buffer; only a message split
    across ``feed`` calls is copied, once, into a buffer sized for it (at most one
    message is ever buffered).

    Args:
        max_headers_length: bytes, default 131,072 (SPEC).
        max_payload_length: bytes, default 25,165,824 (SPEC).
    """

    cdef readonly Py_ssize_t max_headers_length
    cdef readonly Py_ssize_t max_payload_length
    cdef uint8_t *_buf          # the pending partial message
    cdef Py_ssize_t _len        # bytes of it held
    cdef Py_ssize_t _cap
    cdef Py_ssize_t _need       # 12 until its prelude is checked, then its total_length
    cdef Py_ssize_t _offset     # stream offset of the next message's first byte
    cdef object _failed
    cdef bint _feeding          # inside feed: a handler may not feed this decoder again
    # the last headers section routed by feed_events, byte for byte, and its event type:
    # a stream repeats the same few sections, and equal bytes pass the same checks
    cdef uint8_t _hdr[HDR_CACHE]
    cdef Py_ssize_t _hdr_len
    cdef object _hdr_etype

    def __cinit__(self):
        self._need = PRELUDE
        self._hdr_len = -1

    def __init__(
        self,
        Py_ssize_t max_headers_length=DEFAULT_MAX_HEADERS_LENGTH,
        Py_ssize_t max_payload_length=DEFAULT_MAX_PAYLOAD_LENGTH,
    ):
        if max_headers_length < 0 or max_payload_length < 0:
            raise ValueError("limits must be >= 0")
        self.max_headers_length = max_headers_length
        self.max_payload_length = max_payload_length

    def __dealloc__(self):
        PyMem_Free(self._buf)

    @property
    def buffered(self):
        """Bytes received but not yet part of a returned message."""
        return self._len

    cdef Py_ssize_t _prelude(self, const uint8_t *p) except -1:
        """Check a prelude at the next message's offset; return its total_length."""
        cdef uint64_t total = sw_load_be32(p)
        cdef uint64_t headers_len = sw_load_be32(p + 4)
        cdef uint32_t expected = sw_load_be32(p + 8)
        cdef uint32_t actual = sw_crc32(0, p, 8)
        cdef uint64_t payload_len
        if actual != expected:
            raise PreludeChecksumMismatch(expected, actual, self._offset)
        if total < MIN_MESSAGE:
            raise InvalidLength(f"total_length {total} < 16 at stream offset {self._offset}")
        if headers_len > total - MIN_MESSAGE:
            raise InvalidLength(
                f"headers_length {headers_len} > total_length {total} - 16 at stream offset "
                f"{self._offset}"
            )
        if headers_len > <uint64_t>self.max_headers_length:
            raise MessageTooLarge("headers", headers_len, self.max_headers_length)
        payload_len = total - MIN_MESSAGE - headers_len
        if payload_len > <uint64_t>self.max_payload_length:
            raise MessageTooLarge("payload", payload_len, self.max_payload_length)
        return <Py_ssize_t>total

    cdef object _message(self, const uint8_t *p, Py_ssize_t total, dict handlers, object fallback):
        """Verify the message CRC, then parse a complete, prelude-checked message; return
        the ``Message`` (``handlers`` None) or what ``feed_events`` makes of it."""
        cdef uint32_t prelude_crc = sw_load_be32(p + 8)
        cdef uint32_t expected = sw_load_be32(p + total - 4)
        cdef uint32_t actual = sw_crc32(prelude_crc, p + 8, <size_t>(total - 12))
        cdef Py_ssize_t hlen = <Py_ssize_t>sw_load_be32(p + 4)
        cdef Py_ssize_t base = self._offset + PRELUDE
        cdef _Scan scan
        cdef object handler = None
        cdef object etype
        cdef PyObject *found
        cdef dict headers = None
        if actual != expected:
            raise MessageChecksumMismatch(expected, actual, self._offset)
        if handlers is None:
            headers = _decode_headers(p + PRELUDE, hlen, base, NULL)
            payload = PyBytes_FromStringAndSize(<const char *>p + PRELUDE + hlen, total - MIN_MESSAGE - hlen)
            self._offset += total
            return _Message(headers, payload)
        if hlen == self._hdr_len and memcmp(self._hdr, p + PRELUDE, <size_t>hlen) == 0:
            etype = self._hdr_etype
        else:
            scan.count = 0
            scan.overflow = False
            scan.is_event = False
            scan.etype_at = -1
            scan.etype_len = 0
            _decode_headers(p + PRELUDE, hlen, base, &scan)
            if scan.overflow:  # too many headers to scan: the dict, checked in full
                headers = _decode_headers(p + PRELUDE, hlen, base, NULL)
                etype = _dict_event_type(headers)
            else:
                etype = _event_type(p + PRELUDE, &scan)
                if hlen <= HDR_CACHE:
                    memcpy(self._hdr, p + PRELUDE, <size_t>hlen)
                    self._hdr_len = hlen
                    self._hdr_etype = etype
        if etype is not None:
            found = PyDict_GetItem(handlers, etype)
            if found != NULL:
                handler = <object>found
        payload = PyBytes_FromStringAndSize(<const char *>p + PRELUDE + hlen, total - MIN_MESSAGE - hlen)
        self._offset += total
        if handler is not None:
            try:
                return handler(payload)
            except Exception:
                pass  # the fallback is authoritative: it decides what the failure means
        if headers is None:
            # p is still valid after a handler ran: feed cannot be re-entered
            headers = _decode_headers(p + PRELUDE, hlen, base, NULL)
        return fallback(_Message(headers, payload))

    cdef int _hold(self, const uint8_t *p, Py_ssize_t n) except -1:
        cdef Py_ssize_t need = self._len + n
        cdef Py_ssize_t cap
        cdef void *grown
        if need > self._cap:
            cap = self._need if self._need > need else need
            if cap < 2 * self._cap:
                cap = 2 * self._cap
            grown = PyMem_Realloc(self._buf, <size_t>cap)
            if grown == NULL:
                raise MemoryError()
            self._buf = <uint8_t *>grown
            self._cap = cap
        memcpy(self._buf + self._len, p, <size_t>n)
        self._len = need
        return 0

    def feed(self, data):
        """Add bytes; return every message completed by them (possibly none).

        Args:
            data: any C-contiguous buffer, any length (empty is allowed); partial
                messages are kept until the rest arrives.

        Raises:
            ProtocolError subclass: the stream is corrupt; the decoder is then closed
                and every later call raises the same error.
        """
        return self._feed(data, None, None, [])

    def feed_events(self, data, dict handlers not None, fallback, list out not None):
        """Add bytes and dispatch each message they complete, in stream order.

        The fast path for event streams (protocol.md §1.6): a message whose
        ``:message-type`` is the string ``event`` and whose ``:event-type`` string is a
        key of ``handlers`` becomes ``handlers[event_type](payload)`` (payload as
        ``bytes``), without building a ``Message``. Every other message, and any message
        whose handler raises an ``Exception``, becomes ``fallback(message)``: handlers
        must agree with ``fallback`` whenever they return, and ``fallback`` decides what a
        failure means. Framing, CRCs and headers are checked exactly as by ``feed``.

        Args:
            data: any C-contiguous buffer, any length (empty is allowed).
            handlers: ``{event_type: callable(payload: bytes)}``.
            fallback: ``callable(message: Message)``.
            out: each result is appended here as soon as it is made, so the results
                before an exception stay visible to the caller.

        Returns:
            ``out``.

        Raises:
            ProtocolError subclass: as ``feed``; the messages before the bad bytes have
                been dispatched into ``out``.
            Exception: whatever ``fallback`` raises, after the results before it. Either
                way the decoder is then closed and every later call raises the same error.
        """
        return self._feed(data, handlers, fallback, out)

    cdef list _feed(self, data, dict handlers, object fallback, list out):
        if self._failed is not None:
            raise self._failed
        if self._feeding:
            raise ReentrantFeed("EventStreamDecoder fed again from inside one of its handlers")
        cdef Py_buffer view
        cdef const uint8_t *p
        cdef Py_ssize_t n, take, total
        get_contiguous(data, &view, "data")
        self._feeding = True
        try:
            p = <const uint8_t *>view.buf
            n = view.len
            # 1. complete the message already in pieces, copying only its missing bytes
            while self._len and n:
                take = self._need - self._len
                if take > n:
                    take = n
                self._hold(p, take)
                p += take
                n -= take
                if self._len == self._need:
                    if self._need == PRELUDE:
                        self._need = self._prelude(self._buf)
                    else:
                        total = self._need
                        self._len = 0
                        self._need = PRELUDE
                        PyList_Append(out, self._message(self._buf, total, handlers, fallback))
            # 2. whole messages straight from the caller's buffer (held until we return)
            while n >= PRELUDE:
                total = self._prelude(p)
                if n < total:
                    self._need = total
                    break
                PyList_Append(out, self._message(p, total, handlers, fallback))
                p += total
                n -= total
            # 3. keep the start of the next message
            if n and not self._len:
                self._hold(p, n)
        except Exception as exc:
            self._failed = exc
            raise
        except BaseException as exc:  # KeyboardInterrupt in a handler: the position is lost
            self._failed = _interrupted(exc)
            raise
        finally:
            self._feeding = False
            PyBuffer_Release(&view)
        return out


def decode_message(data):
    """Decode exactly one complete message.

    Raises:
        InvalidLength: ``data`` is shorter or longer than the message it starts with.
        ProtocolError subclass: any check of ``EventStreamDecoder`` fails.
    """
    cdef EventStreamDecoder decoder = EventStreamDecoder()
    messages = decoder.feed(data)
    if len(messages) != 1 or decoder._len:
        raise InvalidLength(
            f"expected exactly one complete message, got {len(messages)} and "
            f"{decoder._len} trailing bytes"
        )
    return messages[0]
