"""Amazon Transcribe streaming's limits, each defined once (protocol.md §5, §6).

Every module that needs one imports it from here: the client session, the streaming
client's options, the local service and its server session.
"""

from __future__ import annotations

__all__ = [
    "IDLE_TIMEOUT_SECONDS",
    "MAX_CHUNK_DURATION",
    "MAX_COMPRESSED_CHUNK",
    "MAX_EVENT_NBYTES",
    "MAX_SAMPLE_RATE",
    "MAX_STREAM_SECONDS",
    "MIN_SAMPLE_RATE",
    "RECOMMENDED_CHUNK_DURATION",
]

#: The longest a stream may last, seconds of audio (4 h; protocol.md §5 limit table).
MAX_STREAM_SECONDS = 14_400.0
#: Most audio in one AudioEvent, seconds (protocol.md §5: "at most 1 s per event").
MAX_CHUNK_DURATION = 1.0
#: Seconds of audio per AudioEvent the client sends by default (AWS recommends
#: 50-200 ms, protocol.md §5).
RECOMMENDED_CHUNK_DURATION = 0.1
#: Largest AudioEvent payload for compressed encodings (no frame size to align to), bytes.
MAX_COMPRESSED_CHUNK = 32_768
#: Largest event-stream message the service accepts, bytes (24 MiB; protocol.md §1.4).
MAX_EVENT_NBYTES = 25_165_824
#: Seconds without audio after which the service ends a stream (protocol.md §5, §6.2.7).
IDLE_TIMEOUT_SECONDS = 15.0
#: Sample rates the service accepts, Hz (protocol.md §3.3 ``sample-rate``).
MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 48_000
