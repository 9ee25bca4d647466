"""Twilio Media Streams, the front door's side, sans-I/O.

Twilio opens a WebSocket to the front door and sends JSON text messages
(https://www.twilio.com/docs/voice/media-streams/websocket-messages): ``connected``
(first, once: ``protocol``, ``version``), ``start`` (once: ``streamSid``, ``accountSid``,
``callSid``, ``tracks`` - ``inbound`` / ``outbound`` -, ``customParameters``,
``mediaFormat`` ``{"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}``),
``media`` (``media.track``, ``media.chunk``, ``media.timestamp`` - ms from the stream's
start -, ``media.payload`` - base64 μ-law -, one track per message), ``dtmf``, ``mark``
(bidirectional streams only), ``stop`` (once, last). Every message but ``connected``
carries ``sequenceNumber`` and ``streamSid``. A unidirectional stream expects nothing
back.

The call is ``callSid``; its channels are the stream's ``tracks`` in the order inbound
(the caller, channel 0), outbound. With two tracks the session interleaves them into
stereo frames as both arrive; a track that falls more than
:data:`~scribewire.ingest.limits.MAX_TRACK_SKEW_MS` behind is filled with silence
(logged), so the buffer stays bounded. A ``timestamp`` that jumps ahead of the track's
audio (chunks Twilio did not send) is filled with silence up to
:data:`~scribewire.ingest.limits.MAX_GAP_FILL_MS`; a larger jump is an error.
"""

from __future__ import annotations

import logging

import msgspec

from ..audio import interleave
from ..errors import MediaStreamError
from .events import Audio, CallEnd, CallStart, Event, Reply
from .limits import MAX_GAP_FILL_MS, MAX_TRACK_SKEW_MS

__all__ = ["TwilioSession"]

logger = logging.getLogger("scribewire.ingest")

RATE = 8000  # audio/x-mulaw is 8000 Hz, mono per track (the message reference)
_SILENCE = 0xFF  # μ-law of 0
_TRACKS = ("inbound", "outbound")


class _MediaFormat(msgspec.Struct):
    encoding: str
    sampleRate: int  # noqa: N815 (Twilio's field names)
    channels: int = 1


class _StartBody(msgspec.Struct):
    callSid: str  # noqa: N815
    streamSid: str = ""  # noqa: N815
    accountSid: str = ""  # noqa: N815
    tracks: list[str] = msgspec.field(default_factory=lambda: ["inbound"])
    customParameters: dict[str, str] = {}  # noqa: N815
    mediaFormat: _MediaFormat | None = None  # noqa: N815


class _MediaBody(msgspec.Struct):
    payload: bytes  # base64 in the JSON: msgspec decodes it
    track: str = "inbound"
    timestamp: str | int | None = None
    chunk: str | int | None = None


class _Connected(msgspec.Struct, tag="connected", tag_field="event"):
    protocol: str = ""
    version: str = ""


class _Start(msgspec.Struct, tag="start", tag_field="event"):
    start: _StartBody
    streamSid: str = ""  # noqa: N815


class _Media(msgspec.Struct, tag="media", tag_field="event"):
    media: _MediaBody


class _Stop(msgspec.Struct, tag="stop", tag_field="event"):
    pass


class _Mark(msgspec.Struct, tag="mark", tag_field="event"):
    pass


class _Dtmf(msgspec.Struct, tag="dtmf", tag_field="event"):
    pass


_decoder = msgspec.json.Decoder(_Connected | _Start | _Media | _Stop | _Mark | _Dtmf)


class _Track:
    __slots__ = ("buf", "frames")

    def __init__(self) -> None:
        self.buf = bytearray()  # not yet interleaved (two tracks) or handed on
        self.frames = 0  # frames of this track received (and filled) so far


class TwilioSession:
    """One Twilio Media Stream: :meth:`receive_text` per message, events out.

    Args:
        language: the language code of the call (Twilio does not send one).
    """

    protocol = "twilio"

    def __init__(self, *, language: str = "en-US") -> None:
        self.language = language
        self.started: CallStart | None = None
        self.ended = False
        self.frames_filled = 0  # silence frames filled in (gaps, late tracks)
        self._tracks: dict[str, _Track] = {}
        self._order: list[str] = []

    def accept(self) -> list[Reply]:
        """The call started: nothing to answer (the protocol has no acceptance message)."""
        return []

    def receive_bytes(self, data: bytes) -> list[Event]:
        """Twilio sends text messages only.

        Raises:
            MediaStreamError: always (close code 1003).
        """
        raise MediaStreamError("Twilio Media Streams sends text messages only", 1003)

    def receive_text(self, text: str | bytes) -> list[Event]:
        """One JSON message from Twilio.

        Raises:
            MediaStreamError: not a message of the reference, a field of the wrong type,
                ``media`` before ``start`` or of an unknown track, a second ``start``,
                anything after ``stop``, a format other than 8000 Hz μ-law.
        """
        if self.ended:
            raise MediaStreamError("a Twilio message after stop")
        try:
            msg = _decoder.decode(text)
        except msgspec.DecodeError as exc:
            raise MediaStreamError(f"not a Twilio Media Streams message: {exc}", 1007) from None
        if isinstance(msg, _Media):
            return self._media(msg.media)
        if isinstance(msg, _Start):
            return self._start(msg.start)
        if isinstance(msg, _Stop):
            if self.started is None:
                raise MediaStreamError("Twilio stop before start")
            self.ended = True
            return [*self._drain(final=True), CallEnd("stop")]
        return []  # connected, mark, dtmf: nothing to do for a unidirectional stream

    # ------------------------------------------------------------------ internals

    def _start(self, body: _StartBody) -> list[Event]:
        if self.started is not None:
            raise MediaStreamError("a second Twilio start")
        fmt = body.mediaFormat
        if fmt is not None and (
            fmt.encoding != "audio/x-mulaw" or fmt.sampleRate != RATE or fmt.channels != 1
        ):
            raise MediaStreamError(
                f"Twilio mediaFormat {fmt.encoding} {fmt.sampleRate} Hz {fmt.channels} ch "
                "(the front door takes audio/x-mulaw 8000 Hz, one channel per track)"
            )
        tracks = [t for t in _TRACKS if t in body.tracks]
        if not tracks or len(tracks) != len(body.tracks) or not body.callSid:
            raise MediaStreamError(
                f"Twilio start: tracks {body.tracks!r} (inbound and/or outbound, once each) "
                "and a callSid are required"
            )
        self._order = tracks
        self._tracks = {t: _Track() for t in tracks}
        meta = {"source": "twilio", "stream_sid": body.streamSid, "account_sid": body.accountSid}
        meta.update({f"param:{k}": v for k, v in body.customParameters.items()})
        self.started = CallStart(
            call_id=body.callSid,
            sample_rate=RATE,
            channels=len(tracks),
            encoding="mulaw",
            language=self.language,
            meta=meta,
        )
        return [self.started]

    def _media(self, body: _MediaBody) -> list[Event]:
        if self.started is None:
            raise MediaStreamError("Twilio media before start")
        track = self._tracks.get(body.track)
        if track is None:
            raise MediaStreamError(f"Twilio media of track {body.track!r}, not in the start's")
        if body.timestamp is not None:
            try:
                at = int(body.timestamp) * (RATE // 1000)
            except ValueError:
                raise MediaStreamError(f"Twilio media timestamp {body.timestamp!r}") from None
            gap = at - track.frames
            if gap >= RATE // 50:  # a chunk (20 ms) or more that Twilio did not send
                if gap > MAX_GAP_FILL_MS * (RATE // 1000):
                    raise MediaStreamError(
                        f"Twilio {body.track} timestamp jumps {gap // 8} ms ahead of its audio"
                    )
                self._fill(track, gap, f"{body.track} track: no media for {gap // 8} ms")
        track.buf += body.payload
        track.frames += len(body.payload)
        return self._drain()

    def _fill(self, track: _Track, frames: int, why: str) -> None:
        logger.warning("twilio call %s: %s: silence filled", self.started.call_id, why)  # type: ignore[union-attr]
        track.buf += bytes([_SILENCE]) * frames
        track.frames += frames
        self.frames_filled += frames

    def _drain(self, final: bool = False) -> list[Event]:
        tracks = [self._tracks[t] for t in self._order]
        if len(tracks) == 1:
            (only,) = tracks
            if not only.buf:
                return []
            data = bytes(only.buf)
            only.buf.clear()
            return [Audio(data)]
        a, b = tracks
        skew = MAX_TRACK_SKEW_MS * (RATE // 1000)
        for late, early, name in ((a, b, "inbound"), (b, a, "outbound")):
            behind = len(early.buf) - len(late.buf)
            if behind > 0 and (final or behind > skew):
                self._fill(late, behind, f"{name} track {behind // 8} ms behind the other")
        n = min(len(a.buf), len(b.buf))
        if n == 0:
            return []
        frames = interleave([bytes(a.buf[:n]), bytes(b.buf[:n])], sample_width=1)
        del a.buf[:n]
        del b.buf[:n]
        return [Audio(bytes(frames))]
