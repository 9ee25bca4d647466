"""Per-stream counters of the local service (observability, exposed to tests and logged).

Each stream gets a :class:`StreamStats` when its WebSocket upgrade is accepted; the service
updates it as audio arrives and results leave, keeps it in ``service.streams`` while the
stream lives and moves it to ``service.finished_streams`` when the socket closes, logging a
one-line summary (logger ``scribewire.server``). No secret ever appears in it.
"""

from __future__ import annotations

import msgspec

__all__ = ["StreamStats"]


class StreamStats(msgspec.Struct, kw_only=True):
    """Counters of one stream.

    Attributes:
        stream_id: the service's id for the stream (also sent as ``x-amzn-RequestId``).
        path: the WebSocket path.
        session_id: the ``session-id`` query parameter (or the generated one).
        access_key_id: the access key that signed the URL.
        sample_rate: declared ``sample-rate``, Hz.
        channels: channels in the audio (1, or 2 with channel identification / Call
            Analytics).
        media_encoding: declared ``media-encoding``.
        recognizer: recognizer name.
        audio_nbytes: audio payload bytes received (all AudioEvents).
        audio_seconds: seconds of PCM received.
        audio_events: non-empty AudioEvents received.
        audio_sha256: hex SHA-256 of every audio payload byte received, in order.
        events_sent: event-stream messages sent (results and exceptions).
        partials_sent: partial result updates sent.
        finals_sent: final results sent.
        exceptions: exception types sent (``BadRequestException``, ...).
        exception_messages: their messages, in the same order.
        input_ended: whether the empty AudioEvent arrived.
        close_code: the WebSocket close code, once closed.
    """

    stream_id: str
    path: str
    session_id: str = ""
    access_key_id: str = ""
    sample_rate: int = 0
    channels: int = 1
    media_encoding: str = "pcm"
    recognizer: str = ""
    audio_nbytes: int = 0
    audio_seconds: float = 0.0
    audio_events: int = 0
    audio_sha256: str = ""
    events_sent: int = 0
    partials_sent: int = 0
    finals_sent: int = 0
    exceptions: list[str] = msgspec.field(default_factory=list)
    exception_messages: list[str] = msgspec.field(default_factory=list)
    input_ended: bool = False
    close_code: int | None = None

    def summary(self) -> str:
        """One log line (no secrets)."""
        exc = ",".join(self.exceptions) or "none"
        return (
            f"stream {self.stream_id} {self.path} session={self.session_id} "
            f"rate={self.sample_rate} ch={self.channels} audio={self.audio_nbytes}B/"
            f"{self.audio_seconds:.2f}s events_in={self.audio_events} "
            f"sha256={self.audio_sha256[:16]} "
            f"sent={self.events_sent} (partial={self.partials_sent} final={self.finals_sent}) "
            f"exceptions={exc} close={self.close_code}"
        )
