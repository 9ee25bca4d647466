"""AWS event-stream codec (``application/vnd.amazon.eventstream``, protocol.md §1).

Public API; the implementation is the native twin (``_eventstream_c``) unless
``SCRIBEWIRE_NO_EXTENSIONS`` is set or it is unavailable, then the pure twin
(``_eventstream_py``). ``IMPLEMENTATION`` says which (``"c"`` or ``"py"``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._kernels import _impl
from ._kernels._eventstream_types import (
    DEFAULT_MAX_HEADERS_LENGTH,
    DEFAULT_MAX_PAYLOAD_LENGTH,
    MAX_HEADER_VALUE_LENGTH,
    MIN_MESSAGE_LENGTH,
    PRELUDE_LENGTH,
    Byte,
    HeaderType,
    HeaderValue,
    Integer,
    Long,
    Message,
    Short,
    Timestamp,
)

if TYPE_CHECKING:
    from ._kernels._eventstream_py import (
        EventStreamDecoder,
        decode_message,
        encode_audio_event,
        encode_audio_events,
        encode_headers,
        encode_message,
    )

    IMPLEMENTATION: str
else:
    _mod = _impl.load("eventstream")
    EventStreamDecoder = _mod.EventStreamDecoder
    decode_message = _mod.decode_message
    encode_audio_event = _mod.encode_audio_event
    encode_audio_events = _mod.encode_audio_events
    encode_headers = _mod.encode_headers
    encode_message = _mod.encode_message
    IMPLEMENTATION = "c" if _mod.__name__.endswith("_c") else "py"

__all__ = [
    "DEFAULT_MAX_HEADERS_LENGTH",
    "DEFAULT_MAX_PAYLOAD_LENGTH",
    "IMPLEMENTATION",
    "MAX_HEADER_VALUE_LENGTH",
    "MIN_MESSAGE_LENGTH",
    "PRELUDE_LENGTH",
    "Byte",
    "EventStreamDecoder",
    "HeaderType",
    "HeaderValue",
    "Integer",
    "Long",
    "Message",
    "Short",
    "Timestamp",
    "decode_message",
    "encode_audio_event",
    "encode_audio_events",
    "encode_headers",
    "encode_message",
]
