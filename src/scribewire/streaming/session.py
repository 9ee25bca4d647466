"""What every provider's sans-I/O pieces offer the streaming core (typing Protocols).

The layers above (the replay ledger, the supervisor, the asyncio ``Stream`` of
``scribewire.transport``) never branch on the provider: they drive a
:class:`ProviderSession` per connection and an :class:`AckRule` per logical stream.
Amazon Transcribe implements both in ``scribewire.transcribe`` (``TranscribeSession``,
``TranscribeAck``), AssemblyAI in ``scribewire.assemblyai``.

Conventions shared by both:

- audio is bytes in the session's wire encoding (int16 little-endian PCM, channels
  interleaved, or 8-bit G.711), ``bytes_per_frame`` bytes per frame of all channels;
- every method that produces output returns the bytes to write, one item per WebSocket
  message (with a client framer, each item is a complete masked WebSocket frame);
- a peer fault (a service exception, a close code, malformed bytes) is a typed
  ``scribewire.errors`` exception: raised by ``receive_message`` when it comes before any
  event of that call, else the events are returned and the fault is left in ``error``
  for the caller to raise after delivering them (nothing received is lost);
- time never enters a session: it is passed in where a rule needs it.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from ..errors import ScribewireError

__all__ = ["AckRule", "ProviderSession"]

@runtime_checkable
class ProviderSession(Protocol):
    """The client side of one connection of one logical stream, without I/O."""

    @property
    def bytes_per_frame(self) -> int | None:
        """Bytes of one frame of all channels in the wire encoding (int16 mono: 2;
        None for a compressed encoding)."""
        ...

    @property
    def chunk_bytes(self) -> int:
        """Audio bytes in each full audio message."""
        ...

    @property
    def buffered_bytes(self) -> int:
        """Audio accepted by ``send_audio`` and not framed yet (a partial chunk), bytes."""
        ...

    @property
    def audio_bytes_sent(self) -> int:
        """Audio framed so far on this connection, bytes."""
        ...

    @property
    def error(self) -> ScribewireError | None:
        """The peer fault that ended the session after events it also delivered."""
        ...

    def send_audio(self, audio: object) -> list[bytes]:
        """Whole chunks of ``audio`` as messages ready to write (the rest is held)."""
        ...

    def end_of_stream(self) -> list[bytes]:
        """The held remainder, then the provider's end-of-audio message."""
        ...

    def receive_message(self, data: bytes | str) -> list[Any]:
        """One whole WebSocket message from the service (``str`` for a text frame)."""
        ...

    def receive_close(self, code: int | None, reason: str) -> ScribewireError | None:
        """What a close from the service means: None for the normal end of the stream."""
        ...

    def close(self) -> None:
        """The connection is gone: no more input or output."""
        ...


@runtime_checkable
class AckRule(Protocol):
    """A provider's rule for the audio the service has finished with, and its time base.

    One rule lives for the whole logical stream; ``reset`` starts each new connection.
    """

    @property
    def ack_seconds(self) -> float:
        """Connection time (s) through which the current connection's audio is
        acknowledged, as of the latest event (the ledger's position, capped at the audio
        recorded, never moves backwards)."""
        ...

    def observe(self, event: Any) -> bool | None:
        """One event received on the current connection (connection times); a rule may
        return whether the point moved (the ledger reads ``ack_seconds`` either way)."""
        ...

    def reset(self) -> None:
        """A new connection starts: its times start at 0; open results are forgotten."""
        ...

    def shift(self, event: Any, seconds: float) -> Any:
        """``event`` with every time moved ``seconds`` later (onto the stream's base)."""
        ...
