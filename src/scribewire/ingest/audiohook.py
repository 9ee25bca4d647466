"""Genesys Cloud AudioHook (protocol version 2), the server's side, sans-I/O.

Genesys opens a WebSocket to the AudioHook server and speaks JSON text messages plus
binary audio frames (the protocol's message types: purecloudlabs/audiohook-reference-
implementation ``app/audiohook/src/protocol/message.ts``, ``core.ts``; Genesys'
AudioHook protocol specification). Every message carries ``version`` (``"2"``), ``id``
(the session, a UUID), ``type``, ``seq`` (1, 2, ... per sender) and ``parameters``;
the client's also carry ``serverseq`` (the last server ``seq`` seen) and ``position``
(an ISO 8601 duration, ``PT1.25S``), the server's ``clientseq``.

- client ``open`` (``organizationId``, ``conversationId``, ``participant``, ``media``: the
  offered formats, each ``{"type": "audio", "format": "PCMU" | "L16", "channels":
  ["external", "internal"] | ["external"] | ..., "rate": 8000}``, ``language``,
  ``continuedSessions``) -> server ``opened`` (:meth:`AudioHookSession.accept`, once the
  call started) with the one chosen ``media`` (stereo PCMU first, then stereo L16, then
  mono), or ``disconnect`` when the call is refused;
- client ``ping`` -> server ``pong``; client ``update`` (``language``) -> ``updated``;
- client ``paused`` / ``resumed`` (``start``, ``discarded``) and ``discarded``
  (``start``, ``discarded``): audio that will not come; the call's position moves on by
  the discarded duration (a :class:`~scribewire.ingest.events.Gap`);
- client ``close`` (``reason``) -> server ``closed``; client ``error`` (logged);
- binary frames between ``opened`` and ``close``: audio in the chosen format, whole
  frames, channels interleaved in the listed order (``external`` - the customer - is
  channel 0 when listed first); ``L16`` is int16 little-endian;
- the server may send ``disconnect`` (``reason``: ``completed`` | ``unauthorized`` |
  ``error``, ``info``) and ``reconnect`` (``info``): :meth:`AudioHookSession.disconnect`,
  :meth:`AudioHookSession.reconnect`.

The call is the ``conversationId``; a session that lists ``continuedSessions`` continues
it (its audio is appended after what the earlier session delivered).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import msgspec

from ..errors import MediaStreamError
from .events import Audio, CallEnd, CallStart, Event, Gap, Reply
from .limits import MAX_DISCARD_S

__all__ = ["AudioHookSession", "parse_duration"]

logger = logging.getLogger("scribewire.ingest")

VERSION = "2"
RATE = 8000  # MediaRate: 8000 (core.ts)
_DURATION = re.compile(r"PT(\d+(?:\.\d+)?)S")
_CHANNELS = ("external", "internal")


class _Message(msgspec.Struct):
    type: str
    seq: int
    id: str = ""
    version: str = ""
    serverseq: int = 0
    position: str = "PT0S"
    parameters: dict[str, Any] = {}


_decoder = msgspec.json.Decoder(_Message)
_encoder = msgspec.json.Encoder()


def parse_duration(text: object) -> float:
    """Seconds of an AudioHook duration (``PT<seconds>S``, seconds a non-negative decimal).

    Raises:
        MediaStreamError: any other text.
    """
    m = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise MediaStreamError(f"AudioHook duration {text!r} is not PT<seconds>S")
    return float(m.group(1))


def _choose(offers: object) -> dict[str, Any]:
    if not isinstance(offers, list) or not offers:
        raise MediaStreamError("AudioHook open: parameters.media must list the offered formats")
    usable = []
    for o in offers:
        if not isinstance(o, dict):
            raise MediaStreamError(f"AudioHook open: media offer {o!r} is not an object")
        ch = o.get("channels")
        if (
            o.get("type") == "audio"
            and o.get("format") in ("PCMU", "L16")
            and o.get("rate") == RATE
            and isinstance(ch, list)
            and 1 <= len(ch) <= 2
            and len(set(ch)) == len(ch)
            and all(c in _CHANNELS for c in ch)
        ):
            usable.append(o)
    if not usable:
        raise MediaStreamError(
            f"AudioHook open: no offer the front door takes (PCMU or L16, 8000 Hz, "
            f"external/internal channels) in {offers!r}"
        )
    return min(usable, key=lambda o: (-len(o["channels"]), o["format"] != "PCMU"))


class AudioHookSession:
    """One AudioHook session: :meth:`receive_text` / :meth:`receive_bytes`, events out."""

    protocol = "audiohook"

    def __init__(self) -> None:
        self.started: CallStart | None = None
        self.session_id = ""
        self.closed = False
        self._client_seq = 0
        self._server_seq = 0
        self._bpf = 0
        self._chosen: dict[str, Any] = {}
        self.paused = False

    # ------------------------------------------------------------------ server messages

    def _reply(self, type_: str, parameters: dict[str, Any]) -> Reply:
        self._server_seq += 1
        return Reply(
            _encoder.encode(
                {
                    "version": VERSION,
                    "type": type_,
                    "seq": self._server_seq,
                    "clientseq": self._client_seq,
                    "id": self.session_id,
                    "parameters": parameters,
                }
            ).decode()
        )

    def disconnect(self, reason: str, info: str = "") -> Reply:
        """The server's ``disconnect`` (``reason``: ``completed``, ``unauthorized`` or
        ``error``): Genesys closes the session."""
        params: dict[str, Any] = {"reason": reason}
        if info:
            params["info"] = info
        return self._reply("disconnect", params)

    def reconnect(self, info: str = "") -> Reply:
        """The server's ``reconnect``: Genesys opens a new session continuing this one
        (a front door going away asks this, so the call moves on without loss)."""
        return self._reply("reconnect", {"info": info} if info else {})

    # ------------------------------------------------------------------ client messages

    def receive_text(self, text: str | bytes) -> list[Event]:
        """One JSON message from the client.

        Raises:
            MediaStreamError: not an AudioHook message, a ``version`` other than 2, a
                ``seq`` out of order, an ``id`` not the session's, a message before
                ``open`` or after ``close``, an ``open`` without a usable format.
        """
        try:
            msg = _decoder.decode(text)
        except msgspec.DecodeError as exc:
            raise MediaStreamError(f"not an AudioHook message: {exc}", 1007) from None
        if msg.version != VERSION:
            raise MediaStreamError(f"AudioHook version {msg.version!r} (the front door speaks 2)")
        if msg.seq != self._client_seq + 1:
            raise MediaStreamError(f"AudioHook seq {msg.seq} after {self._client_seq}")
        self._client_seq = msg.seq
        if self.closed:
            raise MediaStreamError(f"AudioHook {msg.type} after close")
        if msg.type == "open":
            return self._open(msg)
        if self.started is None:
            raise MediaStreamError(f"AudioHook {msg.type} before open")
        if msg.id != self.session_id:
            raise MediaStreamError("AudioHook message of another session id")
        p = msg.parameters
        if msg.type == "ping":
            return [self._reply("pong", {})]
        if msg.type == "close":
            self.closed = True
            return [CallEnd(str(p.get("reason", "end"))), self._reply("closed", {})]
        if msg.type == "paused":
            self.paused = True
            return []
        if msg.type in ("resumed", "discarded"):
            self.paused = False if msg.type == "resumed" else self.paused
            lost = parse_duration(p.get("discarded", "PT0S"))
            if lost > MAX_DISCARD_S:
                raise MediaStreamError(
                    f"AudioHook {msg.type}: {lost:g} s discarded (at most {MAX_DISCARD_S:g} s)"
                )
            frames = round(lost * RATE)
            return [Gap(frames, msg.type)] if frames else []
        if msg.type == "update":
            return [self._reply("updated", {})]
        if msg.type == "error":
            logger.warning(
                "audiohook session %s: client error %s: %s",
                self.session_id,
                p.get("code"),
                str(p.get("message", ""))[:200],
            )
            return []
        raise MediaStreamError(f"AudioHook message type {msg.type!r} is not a client message")

    def receive_bytes(self, data: bytes) -> list[Event]:
        """One binary audio frame.

        Raises:
            MediaStreamError: audio before ``opened`` or after ``close``, or not a whole
                number of frames of the chosen format (close code 1007).
        """
        if self.started is None or self.closed:
            raise MediaStreamError("AudioHook audio outside an open session", 1003)
        if len(data) % self._bpf:
            raise MediaStreamError(
                f"AudioHook audio of {len(data)} bytes: not whole {self._bpf}-byte frames", 1007
            )
        return [Audio(bytes(data))] if data else []

    def _open(self, msg: _Message) -> list[Event]:
        if self.started is not None:
            raise MediaStreamError("a second AudioHook open")
        p = msg.parameters
        conversation = p.get("conversationId")
        if not isinstance(conversation, str) or not conversation or not msg.id:
            raise MediaStreamError("AudioHook open without id and parameters.conversationId")
        chosen = _choose(p.get("media"))
        language = p.get("language") or "en-US"
        if not isinstance(language, str):
            raise MediaStreamError(f"AudioHook open: language {language!r}")
        self.session_id = msg.id
        encoding = "mulaw" if chosen["format"] == "PCMU" else "pcm"
        channels = len(chosen["channels"])
        participant = p.get("participant") if isinstance(p.get("participant"), dict) else {}
        continued = p.get("continuedSessions")
        self.started = CallStart(
            call_id=conversation,
            sample_rate=RATE,
            channels=channels,
            encoding=encoding,
            language=language,
            continued=bool(continued),
            meta={
                "source": "audiohook",
                "session_id": msg.id,
                "organization_id": str(p.get("organizationId", "")),
                "participant_id": str(participant.get("id", "")),  # type: ignore[union-attr]
                "channel_names": ",".join(chosen["channels"]),
            },
        )
        self._bpf = channels * (1 if encoding == "mulaw" else 2)
        self._chosen = chosen
        return [self.started]

    def accept(self) -> list[Reply]:
        """The call started: the ``opened`` reply (with the chosen ``media``). A call the
        front door refuses gets :meth:`disconnect` instead, never an ``opened``."""
        return [self._reply("opened", {"startPaused": False, "media": [self._chosen]})]
