"""Pure-Python twin of the event-stream codec (``_eventstream_c``).

Wire format: protocol.md §1 (Smithy "Amazon event stream" spec). Same names and
signatures as the native twin; tested by the same suite.
"""

from __future__ import annotations

import operator
import struct
import uuid
import zlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import (
    DecoderClosed,
    DuplicateHeader,
    InvalidHeaderName,
    InvalidHeaderValue,
    InvalidLength,
    MessageChecksumMismatch,
    MessageTooLarge,
    PreludeChecksumMismatch,
    ReentrantFeed,
    TruncatedHeader,
    UnknownHeaderType,
)
from ._buffers import contiguous_bytes
from ._eventstream_types import (
    DEFAULT_MAX_HEADERS_LENGTH,
    DEFAULT_MAX_PAYLOAD_LENGTH,
    MAX_HEADER_VALUE_LENGTH,
    MIN_MESSAGE_LENGTH,
    PRELUDE_LENGTH,
    Byte,
    HeaderValue,
    Integer,
    Long,
    Message,
    Short,
    Timestamp,
)

__all__ = [
    "EventStreamDecoder",
    "decode_message",
    "encode_audio_event",
    "encode_audio_events",
    "encode_headers",
    "encode_message",
]

Headers = Mapping[str, HeaderValue] | Iterable[tuple[str, HeaderValue]]

_PRELUDE = struct.Struct(">II")
_U32 = struct.Struct(">I")

_INT_TYPES: tuple[tuple[type, int, struct.Struct], ...] = (
    (Byte, 2, struct.Struct(">b")),
    (Short, 3, struct.Struct(">h")),
    (Integer, 4, struct.Struct(">i")),
    (Long, 5, struct.Struct(">q")),
    (Timestamp, 8, struct.Struct(">q")),
)
_I8 = struct.Struct(">b")
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")
_U16 = struct.Struct(">H")


def _utf8(text: str, name: str, is_name: bool) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        if is_name:
            raise InvalidHeaderName(f"header name {name!r} is not encodable as UTF-8") from exc
        raise InvalidHeaderValue(
            f"header {name!r}: string value is not encodable as UTF-8"
        ) from exc


def _encode_one(out: bytearray, name: str, value: HeaderValue) -> None:
    if not isinstance(name, str):
        raise TypeError(f"header name must be str, not {type(name).__name__}")
    raw_name = _utf8(name, name, True)
    if not 1 <= len(raw_name) <= 255:
        raise InvalidHeaderName(f"header name {name!r} must be 1..255 UTF-8 bytes")
    out.append(len(raw_name))
    out += raw_name
    if value is True:
        out.append(0)
    elif value is False:
        out.append(1)
    elif isinstance(value, int):
        for cls, type_byte, packer in _INT_TYPES:
            if isinstance(value, cls):
                out.append(type_byte)
                out += packer.pack(value)
                return
        if -(1 << 31) <= value < (1 << 31):
            out.append(4)
            out += _I32.pack(value)
        elif -(1 << 63) <= value < (1 << 63):
            out.append(5)
            out += _I64.pack(value)
        else:
            raise InvalidHeaderValue(f"header {name!r}: integer {value} does not fit in int64")
    elif isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        if len(raw) > MAX_HEADER_VALUE_LENGTH:
            raise InvalidHeaderValue(
                f"header {name!r}: byte array of {len(raw)} bytes exceeds {MAX_HEADER_VALUE_LENGTH}"
            )
        out.append(6)
        out += _U16.pack(len(raw))
        out += raw
    elif isinstance(value, str):
        raw = _utf8(value, name, False)
        if len(raw) > MAX_HEADER_VALUE_LENGTH:
            raise InvalidHeaderValue(
                f"header {name!r}: string of {len(raw)} bytes exceeds {MAX_HEADER_VALUE_LENGTH}"
            )
        out.append(7)
        out += _U16.pack(len(raw))
        out += raw
    elif isinstance(value, uuid.UUID):
        out.append(9)
        out += value.bytes
    else:
        raise TypeError(f"header {name!r}: unsupported value type {type(value).__name__}")


def encode_headers(headers: Headers) -> bytes:
    """Encode a headers section (protocol.md §1.3).

    Args:
        headers: a mapping or an iterable of (name, value) pairs; value types as in
            ``scribewire.eventstream`` (bool, Byte, Short, Integer, Long, int, bytes,
            str, Timestamp, uuid.UUID).

    Raises:
        DuplicateHeader: a name occurs twice.
        InvalidHeaderName, InvalidHeaderValue: a name or value out of range.
        TypeError: a value of an unsupported type.
    """
    items = headers.items() if isinstance(headers, Mapping) else headers
    out = bytearray()
    seen: set[str] = set()
    for name, value in items:
        if name in seen:
            raise DuplicateHeader(f"header {name!r} occurs twice")
        seen.add(name)
        _encode_one(out, name, value)
    return bytes(out)


def _frame(header_block: bytes, payload: object) -> bytes:
    view = contiguous_bytes(payload, "payload")
    if len(header_block) > DEFAULT_MAX_HEADERS_LENGTH:
        raise MessageTooLarge("headers", len(header_block), DEFAULT_MAX_HEADERS_LENGTH)
    if len(view) > DEFAULT_MAX_PAYLOAD_LENGTH:
        raise MessageTooLarge("payload", len(view), DEFAULT_MAX_PAYLOAD_LENGTH)
    total = MIN_MESSAGE_LENGTH + len(header_block) + len(view)
    prelude = _PRELUDE.pack(total, len(header_block))
    prelude_crc = zlib.crc32(prelude)
    out = bytearray(prelude)
    out += _U32.pack(prelude_crc)
    out += header_block
    out += view
    out += _U32.pack(zlib.crc32(memoryview(out)[8:], prelude_crc))
    return bytes(out)


def encode_message(headers: Headers, payload: object = b"") -> bytes:
    """Encode one event-stream message (protocol.md §1.1).

    Args:
        headers: see ``encode_headers``.
        payload: any contiguous buffer (bytes, bytearray, memoryview, numpy array);
            its raw bytes are the payload. At most 24 MiB.

    Returns:
        The complete message: prelude, prelude CRC, headers, payload, message CRC.

    Raises:
        MessageTooLarge: headers over 128 KiB or payload over 24 MiB.
        DuplicateHeader, InvalidHeaderName, InvalidHeaderValue, TypeError: see ``encode_headers``.
    """
    return _frame(encode_headers(headers), payload)


#: The three string headers of an AudioEvent, 88 bytes (protocol.md §4.1).
AUDIO_EVENT_HEADERS = encode_headers(
    [
        (":content-type", "application/octet-stream"),
        (":event-type", "AudioEvent"),
        (":message-type", "event"),
    ]
)


def encode_audio_event(audio: object) -> bytes:
    """Frame raw audio bytes as a Transcribe ``AudioEvent`` (protocol.md §4.1).

    Args:
        audio: any contiguous buffer holding the audio in the stream's media encoding
            (for ``pcm``: int16 little-endian, channels interleaved). Empty = end of stream.

    Returns:
        The message: 104 bytes of overhead plus the audio.
    """
    return _frame(AUDIO_EVENT_HEADERS, audio)


def encode_audio_events(audio: object, nbytes: int) -> list[bytes]:
    """Frame a long audio buffer as consecutive AudioEvents of ``nbytes`` each.

    The last event holds the remainder (shorter, never empty unless ``audio`` is empty,
    in which case the list is empty).

    Args:
        audio: any contiguous buffer.
        nbytes: payload bytes per event, >= 1.

    Raises:
        ValueError: ``nbytes`` < 1.
    """
    nbytes = operator.index(nbytes)
    if nbytes < 1:
        raise ValueError(f"nbytes must be >= 1, got {nbytes}")
    view = contiguous_bytes(audio, "audio")
    return [_frame(AUDIO_EVENT_HEADERS, view[i : i + nbytes]) for i in range(0, len(view), nbytes)]


def _decode_headers(block: bytes, base: int) -> dict[str, HeaderValue]:
    """Parse a headers section; ``base`` is its stream offset, for messages."""
    headers: dict[str, HeaderValue] = {}
    pos = 0
    end = len(block)
    while pos < end:
        name_len = block[pos]
        if name_len == 0:
            raise InvalidHeaderName(f"empty header name at offset {base + pos}")
        pos += 1
        if pos + name_len + 1 > end:
            raise TruncatedHeader(f"header name at offset {base + pos - 1} runs past the headers")
        try:
            name = str(block[pos : pos + name_len], "utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidHeaderName(
                f"header name at offset {base + pos - 1} is not valid UTF-8"
            ) from exc
        pos += name_len
        type_byte = block[pos]
        pos += 1
        value: HeaderValue
        if type_byte == 0:
            value = True
        elif type_byte == 1:
            value = False
        elif type_byte in (2, 3, 4, 5, 8):
            width = {2: 1, 3: 2, 4: 4, 5: 8, 8: 8}[type_byte]
            if pos + width > end:
                raise TruncatedHeader(f"header {name!r} value runs past the headers")
            if type_byte == 2:
                value = Byte(_I8.unpack_from(block, pos)[0])
            elif type_byte == 3:
                value = Short(_I16.unpack_from(block, pos)[0])
            elif type_byte == 4:
                value = Integer(_I32.unpack_from(block, pos)[0])
            elif type_byte == 5:
                value = Long(_I64.unpack_from(block, pos)[0])
            else:
                value = Timestamp(_I64.unpack_from(block, pos)[0])
            pos += width
        elif type_byte in (6, 7):
            if pos + 2 > end:
                raise TruncatedHeader(f"header {name!r} value length runs past the headers")
            length = _U16.unpack_from(block, pos)[0]
            pos += 2
            if pos + length > end:
                raise TruncatedHeader(
                    f"header {name!r} value of {length} bytes runs past the headers"
                )
            raw = block[pos : pos + length]
            pos += length
            if type_byte == 6:
                value = raw
            else:
                try:
                    value = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise InvalidHeaderValue(
                        f"header {name!r} string value is not valid UTF-8"
                    ) from exc
        elif type_byte == 9:
            if pos + 16 > end:
                raise TruncatedHeader(f"header {name!r} UUID runs past the headers")
            value = uuid.UUID(bytes=block[pos : pos + 16])
            pos += 16
        else:
            raise UnknownHeaderType(
                f"header {name!r} has unknown value type {type_byte} at offset {base + pos - 1}"
            )
        if name in headers:
            raise DuplicateHeader(f"header {name!r} occurs twice")
        headers[name] = value
    return headers


def _dispatch(
    msg: Message, handlers: dict[str, Callable[[bytes], Any]], fallback: Callable[[Message], Any]
) -> Any:
    """``feed_events``' routing of one message (see there)."""
    headers = msg.headers
    mtype = headers.get(":message-type")
    etype = headers.get(":event-type")
    if type(mtype) is str and mtype == "event" and type(etype) is str:
        handler = handlers.get(etype)
        if handler is not None:
            try:
                return handler(msg.payload)
            except Exception:  # noqa: BLE001 - the fallback is authoritative on failure
                pass
    return fallback(msg)


def _interrupted(exc: BaseException) -> DecoderClosed:
    """What a decoder raises after a ``BaseException`` (not an ``Exception``) escaped a
    handler mid-stream: it was re-raised once, and the bytes after it are lost."""
    err = DecoderClosed(
        f"EventStreamDecoder closed: a handler was interrupted by {type(exc).__name__} "
        "and the stream position is lost"
    )
    err.__cause__ = exc
    return err


class EventStreamDecoder:
    """Incremental event-stream decoder (protocol.md §1.5, "recommended behaviour").

    Feed bytes of any size; complete, verified messages come out in order. Checks,
    in order: prelude CRC; ``16 <= total_length``; ``headers_length <= total_length - 16``;
    headers and payload limits (before buffering the body); message CRC (before any
    header is parsed); then each header. Any error is fatal: the decoder refuses
    further input.

    Args:
        max_headers_length: bytes, default 131,072 (SPEC).
        max_payload_length: bytes, default 25,165,824 (SPEC).
    """

    __slots__ = (
        "_buf", "_pos", "_offset", "_failed", "_feeding", "max_headers_length", "max_payload_length"
    )

    def __init__(
        self,
        max_headers_length: int = DEFAULT_MAX_HEADERS_LENGTH,
        max_payload_length: int = DEFAULT_MAX_PAYLOAD_LENGTH,
    ) -> None:
        if max_headers_length < 0 or max_payload_length < 0:
            raise ValueError("limits must be >= 0")
        self.max_headers_length = max_headers_length
        self.max_payload_length = max_payload_length
        self._buf = bytearray()
        self._pos = 0
        self._offset = 0  # stream offset of _buf[0]
        self._failed: BaseException | None = None
        self._feeding = False  # inside feed: a handler may not feed this decoder again

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a returned message."""
        return len(self._buf) - self._pos

    def feed(self, data: object) -> list[Message]:
        """Add bytes; return every message completed by them (possibly none).

        Args:
            data: any contiguous buffer, any length (empty is allowed).

        Raises:
            ProtocolError subclass: the stream is corrupt; the decoder is then closed
                and every later call raises the same error.
        """
        return self._feed(data, None, None, [])

    def feed_events(
        self,
        data: object,
        handlers: dict[str, Callable[[bytes], Any]],
        fallback: Callable[[Message], Any],
        out: list[Any],
    ) -> list[Any]:
        """Add bytes and dispatch each message they complete, in stream order.

        The fast path for event streams (protocol.md §1.6): a message whose
        ``:message-type`` is the string ``event`` and whose ``:event-type`` string is a
        key of ``handlers`` becomes ``handlers[event_type](payload)`` (payload as
        ``bytes``). Every other message, and any message whose handler raises an
        ``Exception``, becomes ``fallback(message)``: handlers must agree with
        ``fallback`` whenever they return, and ``fallback`` decides what a failure
        means. Framing, CRCs and headers are checked exactly as by ``feed``.

        Args:
            data: any contiguous buffer, any length (empty is allowed).
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
        if not isinstance(handlers, dict) or not isinstance(out, list):
            raise TypeError("handlers must be a dict and out a list")
        return self._feed(data, handlers, fallback, out)

    def _feed(
        self,
        data: object,
        handlers: dict[str, Callable[[bytes], Any]] | None,
        fallback: Callable[[Message], Any] | None,
        out: list[Any],
    ) -> list[Any]:
        if self._failed is not None:
            raise self._failed
        if self._feeding:
            raise ReentrantFeed("EventStreamDecoder fed again from inside one of its handlers")
        self._buf += contiguous_bytes(data, "data")
        self._feeding = True
        try:
            while True:
                msg = self._next()
                if msg is None:
                    break
                if handlers is None:
                    out.append(msg)
                else:
                    out.append(_dispatch(msg, handlers, fallback))  # type: ignore[arg-type]
        except Exception as exc:
            self._failed = exc
            raise
        except BaseException as exc:  # KeyboardInterrupt in a handler: the position is lost
            self._failed = _interrupted(exc)
            raise
        finally:
            self._feeding = False
            if self._pos and self._pos * 2 >= len(self._buf):
                del self._buf[: self._pos]
                self._offset += self._pos
                self._pos = 0
        return out

    def _next(self) -> Message | None:
        buf = self._buf
        pos = self._pos
        avail = len(buf) - pos
        if avail < PRELUDE_LENGTH:
            return None
        total, headers_len = _PRELUDE.unpack_from(buf, pos)
        (prelude_crc,) = _U32.unpack_from(buf, pos + 8)
        actual = zlib.crc32(buf[pos : pos + 8])
        offset = self._offset + pos
        if actual != prelude_crc:
            raise PreludeChecksumMismatch(prelude_crc, actual, offset)
        if total < MIN_MESSAGE_LENGTH:
            raise InvalidLength(f"total_length {total} < 16 at stream offset {offset}")
        if headers_len > total - MIN_MESSAGE_LENGTH:
            raise InvalidLength(
                f"headers_length {headers_len} > total_length {total} - 16 "
                f"at stream offset {offset}"
            )
        if headers_len > self.max_headers_length:
            raise MessageTooLarge("headers", headers_len, self.max_headers_length)
        payload_len = total - MIN_MESSAGE_LENGTH - headers_len
        if payload_len > self.max_payload_length:
            raise MessageTooLarge("payload", payload_len, self.max_payload_length)
        if avail < total:
            return None
        (message_crc,) = _U32.unpack_from(buf, pos + total - 4)
        hstart = pos + PRELUDE_LENGTH
        with memoryview(buf) as view:
            actual = zlib.crc32(view[pos + 8 : pos + total - 4], prelude_crc)
            if actual != message_crc:
                raise MessageChecksumMismatch(message_crc, actual, offset)
            # a copy (at most 128 KiB): no export of the buffer outlives this block
            block = bytes(view[hstart : hstart + headers_len])
            payload = bytes(view[hstart + headers_len : pos + total - 4])
        headers = _decode_headers(block, self._offset + hstart)
        self._pos = pos + total
        return Message(headers=headers, payload=payload)


def decode_message(data: object) -> Message:
    """Decode exactly one complete message.

    Raises:
        InvalidLength: ``data`` is shorter or longer than the message it starts with.
        ProtocolError subclass: any check of ``EventStreamDecoder`` fails.
    """
    decoder = EventStreamDecoder()
    messages = decoder.feed(data)
    if len(messages) != 1 or decoder.buffered:
        raise InvalidLength(
            f"expected exactly one complete message, got {len(messages)} and "
            f"{decoder.buffered} trailing bytes"
        )
    return messages[0]
