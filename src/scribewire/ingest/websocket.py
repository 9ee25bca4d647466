"""The generic binary WebSocket front door (FreeSWITCH ``mod_audio_fork`` style), sans-I/O.

The media server opens a WebSocket per call; its first message is a JSON text message
naming the audio, then binary frames carry it (``mod_audio_fork`` sends its metadata as
one text frame, then L16 frames: drachtio/drachtio-freeswitch-modules
``modules/mod_audio_fork/README.md``)::

    {"call_id": "…", "sample_rate": 8000, "channels": 1, "encoding": "L16",
     "language": "en-US"}

- ``call_id``: the call's id (or the ``call_id`` query parameter of the URL);
- ``sample_rate``: Hz, one of :data:`~scribewire.ingest.limits.SAMPLE_RATES`;
- ``channels``: 1 or 2 (interleaved frames, channel 0 first; default 1);
- ``encoding``: ``L16`` (int16 little-endian, the default) or ``PCMU`` (G.711 μ-law);
- ``language``: default ``en-US``.

Binary frames must hold whole frames. A text ``{"event": "stop"}`` (or the socket's
close) ends the call.
"""

from __future__ import annotations

import msgspec

from ..errors import MediaStreamError
from .events import Audio, CallEnd, CallStart, Event, Reply
from .limits import SAMPLE_RATES

__all__ = ["WebSocketSession"]


class _Start(msgspec.Struct, forbid_unknown_fields=False):
    sample_rate: int
    call_id: str = ""
    channels: int = 1
    encoding: str = "L16"
    language: str = "en-US"


class _Stop(msgspec.Struct):
    event: str


_start = msgspec.json.Decoder(_Start)
_stop = msgspec.json.Decoder(_Stop)
_ENCODINGS = {"L16": "pcm", "PCMU": "mulaw"}


class WebSocketSession:
    """One generic media WebSocket.

    Args:
        call_id: the call id from the URL (``?call_id=``), used when the start message
            has none.
    """

    protocol = "websocket"

    def __init__(self, *, call_id: str = "") -> None:
        self.url_call_id = call_id
        self.started: CallStart | None = None
        self.ended = False
        self._bpf = 0

    def accept(self) -> list[Reply]:
        """The call started: nothing to answer (the protocol has no acceptance message)."""
        return []

    def receive_text(self, text: str | bytes) -> list[Event]:
        """The start message, or ``{"event": "stop"}``.

        Raises:
            MediaStreamError: not JSON of that shape, a rate, channel count or encoding
                the front door does not take, no call id, text after the stop.
        """
        if self.ended:
            raise MediaStreamError("a message after stop")
        if self.started is not None:
            try:
                stop = _stop.decode(text)
            except msgspec.DecodeError as exc:
                raise MediaStreamError(f'expected {{"event": "stop"}}: {exc}', 1007) from None
            if stop.event != "stop":
                raise MediaStreamError(f"event {stop.event!r} (only stop follows the start)")
            self.ended = True
            return [CallEnd("stop")]
        try:
            s = _start.decode(text)
        except msgspec.DecodeError as exc:
            raise MediaStreamError(f"not a start message: {exc}", 1007) from None
        call_id = s.call_id or self.url_call_id
        encoding = _ENCODINGS.get(s.encoding)
        if s.sample_rate not in SAMPLE_RATES or s.channels not in (1, 2) or encoding is None:
            raise MediaStreamError(
                f"start: sample_rate {s.sample_rate} (one of {SAMPLE_RATES}), channels "
                f"{s.channels} (1 or 2), encoding {s.encoding!r} (L16 or PCMU)"
            )
        if not call_id or len(call_id) > 200:
            raise MediaStreamError("start: a call_id (at most 200 characters) is required")
        self.started = CallStart(
            call_id=call_id,
            sample_rate=s.sample_rate,
            channels=s.channels,
            encoding=encoding,
            language=s.language,
            meta={"source": "websocket"},
        )
        self._bpf = self.started.bytes_per_frame
        return [self.started]

    def receive_bytes(self, data: bytes) -> list[Event]:
        """Audio: whole frames of the started format.

        Raises:
            MediaStreamError: audio before the start message or after the stop, or not
                whole frames.
        """
        if self.started is None or self.ended:
            raise MediaStreamError("audio before the start message or after the stop", 1003)
        if len(data) % self._bpf:
            raise MediaStreamError(
                f"audio of {len(data)} bytes: not whole {self._bpf}-byte frames", 1007
            )
        return [Audio(bytes(data))] if data else []
