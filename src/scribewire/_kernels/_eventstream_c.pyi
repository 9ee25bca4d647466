"""Type stub for the native event-stream codec (same API as ``_eventstream_py``)."""

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, final

from typing_extensions import Buffer

from ._eventstream_types import HeaderValue, Message

__all__ = [
    "EventStreamDecoder",
    "decode_message",
    "encode_audio_event",
    "encode_audio_events",
    "encode_headers",
    "encode_message",
]

Headers = Mapping[str, HeaderValue] | Iterable[tuple[str, HeaderValue]]

AUDIO_EVENT_HEADERS: Final[bytes]

def encode_headers(headers: Headers) -> bytes: ...
def encode_message(headers: Headers, payload: Buffer = b"") -> bytes: ...
def encode_audio_event(audio: Buffer) -> bytes: ...
def encode_audio_events(audio: Buffer, nbytes: int) -> list[bytes]: ...
def decode_message(data: Buffer) -> Message: ...
@final
class EventStreamDecoder:
    @property
    def max_headers_length(self) -> int: ...
    @property
    def max_payload_length(self) -> int: ...
    def __init__(
        self, max_headers_length: int = 131_072, max_payload_length: int = 25_165_824
    ) -> None: ...
    @property
    def buffered(self) -> int: ...
    def feed(self, data: Buffer) -> list[Message]: ...
    def feed_events(
        self,
        data: Buffer,
        handlers: dict[str, Callable[[bytes], Any]],
        fallback: Callable[[Message], Any],
        out: list[Any],
    ) -> list[Any]: ...
