"""Per-stream counters of the local service (observability, exposed to tests and logged).

Each stream gets a :class:`StreamStats` when its WebSocket upgrade is accepted; the service
keeps it in ``service.streams`` while the stream lives (its counters brought up to date by
``service.live_stats()``: not on every message, which would cost a digest copy each) and
moves it, up to date, to ``service.finished_streams`` when the socket closes, logging a
one-line summary (logger ``scribewire.server``). ``finished_streams`` is a ring of the most
recent ones (``keep_finished``); every finished stream is also added to the service's
:class:`ServiceTotals`, whose size does not grow with the number of streams. No secret ever
appears in either.
"""

from __future__ import annotations

import msgspec

__all__ = ["ServiceTotals", "StreamStats"]


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
        close_reason: why the service closed it when no exception says so (e.g. ``"client
            not reading"``: a send to the client missed its deadline).
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
    close_reason: str = ""

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
            + (f" ({self.close_reason})" if self.close_reason else "")
        )


class ServiceTotals(msgspec.Struct, kw_only=True):
    """Counters over every finished stream of a service (bounded: no per-stream entry).

    Attributes:
        streams: streams finished.
        audio_nbytes: audio payload bytes received.
        audio_seconds: seconds of PCM received.
        audio_events: non-empty AudioEvents received.
        events_sent: event-stream messages sent.
        exceptions: exception type -> streams that ended with it.
        close_codes: WebSocket close code (None: no close frame) -> streams.
        not_reading: streams closed because a send to the client missed its deadline.
    """

    streams: int = 0
    audio_nbytes: int = 0
    audio_seconds: float = 0.0
    audio_events: int = 0
    events_sent: int = 0
    exceptions: dict[str, int] = msgspec.field(default_factory=dict)
    close_codes: dict[int | None, int] = msgspec.field(default_factory=dict)
    not_reading: int = 0

    def add(self, stats: StreamStats) -> None:
        """Count one finished stream."""
        self.streams += 1
        self.audio_nbytes += stats.audio_nbytes
        self.audio_seconds += stats.audio_seconds
        self.audio_events += stats.audio_events
        self.events_sent += stats.events_sent
        for code in stats.exceptions:  # the service's own exception names: a few keys
            self.exceptions[code] = self.exceptions.get(code, 0) + 1
        self.close_codes[stats.close_code] = self.close_codes.get(stats.close_code, 0) + 1
        if stats.close_reason == NOT_READING:
            self.not_reading += 1


#: ``StreamStats.close_reason`` of a stream whose client stopped reading.
NOT_READING = "client not reading"
