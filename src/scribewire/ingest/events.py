"""What a front door's protocol session makes of the platform's messages: typed events,
sans-I/O (the server feeds messages in and carries these out)."""

from __future__ import annotations

import msgspec

__all__ = ["Audio", "CallEnd", "CallStart", "Event", "Gap", "Reply"]


class CallStart(msgspec.Struct, frozen=True):
    """The platform opened a call.

    Attributes:
        call_id: the call's id in Redis (the platform's own: Twilio ``callSid``,
            AudioHook ``conversationId``, the generic start message's ``call_id``).
        sample_rate: Hz, one of :data:`~scribewire.ingest.limits.SAMPLE_RATES`.
        channels: 1 or 2 (interleaved frames; channel 0 is the caller / customer).
        encoding: ``"mulaw"`` (G.711 μ-law, 1 byte a sample) or ``"pcm"`` (int16 LE).
        language: the language code the call is transcribed in.
        continued: the platform continues a call this front door (or another) started
            (AudioHook ``continuedSessions``): its audio is appended, not started over.
        meta: platform fields kept in the call's ledger (no secrets).
    """

    call_id: str
    sample_rate: int
    channels: int
    encoding: str
    language: str
    continued: bool = False
    meta: dict[str, str] = {}

    @property
    def bytes_per_frame(self) -> int:
        """Bytes of one frame, all channels."""
        return self.channels * (1 if self.encoding == "mulaw" else 2)


class Audio(msgspec.Struct, frozen=True):
    """Audio of the call, in its encoding, whole frames, channels interleaved."""

    data: bytes


class Gap(msgspec.Struct, frozen=True):
    """The platform says ``frames`` of the call's audio will never come (AudioHook
    ``discarded``, a pause): the call's position moves on and the worker sends silence."""

    frames: int
    reason: str


class CallEnd(msgspec.Struct, frozen=True):
    """The platform ended the call (Twilio ``stop``, AudioHook ``close``, generic stop)."""

    reason: str


class Reply(msgspec.Struct, frozen=True):
    """A text message to send back to the platform (AudioHook ``opened``, ``pong``, ...)."""

    text: str


Event = CallStart | Audio | Gap | CallEnd | Reply
